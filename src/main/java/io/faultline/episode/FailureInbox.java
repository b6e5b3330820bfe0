package io.faultline.episode;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.FailureType;
import io.faultline.taxonomy.ImpactScope;
import io.faultline.taxonomy.Severity;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** The durable hand-over of classified failures from the ingest transaction to episode folding. */
@ApplicationScoped
public class FailureInbox {

    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {
    };

    private final ObjectMapper json;

    public FailureInbox(ObjectMapper json) {
        this.json = json;
    }

    /** Rows per statement: 16 parameters each, well below PostgreSQL's 65535 bind parameters. */
    private static final int CHUNK = 500;

    /** One multi-row INSERT per 500 failures: one statement for PostgreSQL to run, not one per failure. */
    public void add(Connection connection, List<Failure> failures) throws SQLException {
        for (int from = 0; from < failures.size(); from += CHUNK) {
            List<Failure> chunk = failures.subList(from, Math.min(failures.size(), from + CHUNK));
            StringBuilder sql = new StringBuilder(200 + chunk.size() * 48).append("insert into failure_inbox"
                    + " (failure_id, category, type, severity, provider, deployment, detection_method, evidence,"
                    + " occurred_at, call_id, user_ref, model, model_group, team_id, trace_id, call_started_at)"
                    + " values ");
            for (int i = 0; i < chunk.size(); i++) {
                sql.append(i == 0 ? "" : ",").append("(?,?,?,?,?,?,?,?::jsonb,?,?,?,?,?,?,?,?)");
            }
            try (PreparedStatement insert = connection.prepareStatement(sql.toString())) {
                int p = 1;
                for (Failure f : chunk) {
                    insert.setObject(p++, f.failureId());
                    insert.setString(p++, f.category().name());
                    insert.setString(p++, f.type().code());
                    insert.setString(p++, f.severity().name());
                    insert.setString(p++, f.provider());
                    insert.setString(p++, f.deployment());
                    insert.setString(p++, f.detectionMethod());
                    insert.setString(p++, toJson(f.evidence()));
                    insert.setTimestamp(p++, Timestamp.from(f.timestamp()));
                    insert.setString(p++, f.impactScope().callId());
                    insert.setString(p++, f.impactScope().userRef());
                    insert.setString(p++, f.impactScope().model());
                    insert.setString(p++, f.impactScope().modelGroup());
                    insert.setString(p++, f.impactScope().teamId());
                    insert.setString(p++, f.impactScope().traceId());
                    Instant started = f.impactScope().callStartedAt();
                    insert.setTimestamp(p++, started == null ? null : Timestamp.from(started));
                }
                insert.executeUpdate();
            }
        }
    }

    /**
     * Deletes the given rows (one parameter: their ids) and returns the ids this transaction deleted, and so owns:
     * the fold's claim ({@link EpisodeStore#claimAndRecord}).
     */
    static final String CLAIM = "delete from failure_inbox where failure_id = any (?::uuid[]) returning failure_id";

    public void remove(Connection connection, Collection<UUID> failureIds) throws SQLException {
        try (PreparedStatement delete = connection.prepareStatement(
                "delete from failure_inbox where failure_id = any (?)")) {
            Array ids = connection.createArrayOf("uuid", failureIds.toArray());
            delete.setArray(1, ids);
            delete.executeUpdate();
        }
    }

    /**
     * Failures left behind by a request that died between committing its calls and folding them, oldest first.
     * Rows younger than {@code minAge} may still be folded by the request that wrote them, so they are skipped.
     */
    public List<Failure> stranded(Connection connection, Duration minAge, int limit) throws SQLException {
        List<Failure> failures = new ArrayList<>();
        try (PreparedStatement select = connection.prepareStatement("select failure_id, type, severity, provider,"
                + " deployment, detection_method, evidence::text, occurred_at, call_id, user_ref, model, model_group,"
                + " team_id, trace_id, call_started_at from failure_inbox"
                + " where created_at < now() - ? * interval '1 millisecond'"
                + " order by created_at limit ? for update skip locked")) {
            select.setLong(1, minAge.toMillis());
            select.setInt(2, limit);
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    Timestamp started = rs.getTimestamp(15);
                    failures.add(Failure.of(FailureType.byCode(rs.getString(2)), rs.getObject(1, UUID.class),
                            rs.getTimestamp(8).toInstant(), Severity.valueOf(rs.getString(3)), rs.getString(4),
                            rs.getString(5), rs.getString(6), fromJson(rs.getString(7)), new ImpactScope(
                                    rs.getString(11), rs.getString(12), rs.getString(9), rs.getString(10),
                                    rs.getString(13), rs.getString(14), started == null ? null : started.toInstant())));
                }
            }
        }
        return failures;
    }

    private String toJson(Map<String, Object> evidence) {
        try {
            return json.writeValueAsString(evidence);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("evidence is built from plain values and always serialises", e);
        }
    }

    private Map<String, Object> fromJson(String text) {
        try {
            return json.readValue(text, MAP);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("failure_inbox.evidence is written by this class as JSON", e);
        }
    }
}
