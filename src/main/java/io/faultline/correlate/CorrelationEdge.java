package io.faultline.correlate;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A directed link between two episodes (a row of {@code correlation_edges}): {@code temporal} (earlier onset to
 * later), {@code fallback} (the failing episode's requests were retried on another deployment; {@code to} is that
 * deployment's episode, or null with the deployment in the evidence) or {@code caused}.
 */
@Entity
@Table(name = "correlation_edges")
public class CorrelationEdge extends PanacheEntityBase {

    @Id
    @Column(name = "edge_id")
    public Long edgeId;
    @Column(name = "edge_key")
    public String edgeKey;
    @Column(name = "from_failure_id")
    public UUID fromFailureId;
    @Column(name = "to_failure_id")
    public UUID toFailureId;
    public String kind;
    public double confidence;
    @JdbcTypeCode(SqlTypes.JSON)
    public Map<String, Object> evidence;
    @Column(name = "cluster_id")
    public UUID clusterId;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;

    public static List<CorrelationEdge> ofClusters(Collection<UUID> clusterIds) {
        return list("clusterId in ?1 order by edgeId", clusterIds);
    }
}
