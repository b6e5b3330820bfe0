package io.faultline.episode;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/** A failure episode (one row of {@code failure_events}); written by {@link EpisodeStore}, read through here. */
@Entity
@Table(name = "failure_events")
public class FailureEvent extends PanacheEntityBase {

    @Id
    @Column(name = "failure_id")
    public UUID failureId;
    public String fingerprint;
    public String category;
    public String type;
    public String severity;
    public String provider;
    public String deployment;
    @Column(name = "detection_method")
    public String detectionMethod;
    @JdbcTypeCode(SqlTypes.JSON)
    public Map<String, Object> evidence;
    @JdbcTypeCode(SqlTypes.JSON)
    @Column(name = "impact_scope")
    public Map<String, Object> impactScope;
    @Column(name = "first_seen")
    public Instant firstSeen;
    @Column(name = "last_seen")
    public Instant lastSeen;
    public long occurrences;
    @Column(name = "affected_requests")
    public long affectedRequests;
    @Column(name = "affected_users")
    public long affectedUsers;
}
