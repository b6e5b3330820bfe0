package io.faultline.correlate;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** One incident: episodes linked by temporal or causal edges (a row of {@code correlation_clusters}). */
@Entity
@Table(name = "correlation_clusters")
public class CorrelationCluster extends PanacheEntityBase {

    @Id
    @Column(name = "cluster_id")
    public UUID clusterId;
    /** upstream (temporal only), cascade (causal only) or mixed. */
    public String type;
    /** active or closed. */
    public String status;
    public double strength;
    public double confidence;
    @Column(name = "root_failure_id")
    public UUID rootFailureId;
    @Column(name = "root_reason")
    public String rootReason;
    @JdbcTypeCode(SqlTypes.JSON)
    public List<String> providers;
    @JdbcTypeCode(SqlTypes.JSON)
    public Map<String, Object> evidence;
    @Column(name = "first_seen")
    public Instant firstSeen;
    @Column(name = "last_seen")
    public Instant lastSeen;
    @Column(name = "last_activity")
    public Instant lastActivity;
    @Column(name = "opened_at")
    public Instant openedAt;
    @Column(name = "closed_at")
    public Instant closedAt;

    /** The ids of the clusters an episode belongs to, newest first. */
    @SuppressWarnings("unchecked")
    public static List<UUID> containing(UUID failureId) {
        return getEntityManager().createNativeQuery("select m.cluster_id from correlation_members m"
                + " join correlation_clusters c on c.cluster_id = m.cluster_id where m.failure_id = ?1"
                + " order by c.last_seen desc, c.cluster_id desc", UUID.class).setParameter(1, failureId)
                .getResultList();
    }
}
