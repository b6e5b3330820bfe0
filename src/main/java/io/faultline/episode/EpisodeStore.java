package io.faultline.episode;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.classify.SeverityPolicy;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.Severity;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Folds failures into episodes inside the caller's transaction. Each fingerprint is serialised by a transaction-level
 * advisory lock, taken in sorted order so that concurrent batches (or replicas) cannot deadlock or open two episodes
 * for one burst.
 */
@ApplicationScoped
public class EpisodeStore {

    private final ObjectMapper json;
    private final SeverityPolicy severities;
    private final Duration window;

    public EpisodeStore(ObjectMapper json, SeverityPolicy severities, EpisodeConfig config) {
        this.json = json;
        this.severities = severities;
        this.window = config.dedupWindow();
    }

    /** What happened to one episode in this batch. */
    public record EpisodeChange(UUID failureId, String fingerprint, boolean opened, long added, Severity severity) {
    }

    public List<EpisodeChange> record(Connection connection, List<Failure> failures) throws SQLException {
        Map<String, List<Failure>> byFingerprint = new TreeMap<>();
        for (Failure failure : failures) {
            byFingerprint.computeIfAbsent(failure.fingerprint(), k -> new ArrayList<>()).add(failure);
        }
        List<EpisodeChange> changes = new ArrayList<>();
        try (PreparedStatement lock = connection.prepareStatement("select pg_advisory_xact_lock(hashtextextended(?, 7))")) {
            for (Map.Entry<String, List<Failure>> entry : byFingerprint.entrySet()) {
                lock.setString(1, entry.getKey());
                lock.execute();
                List<Failure> group = new ArrayList<>(entry.getValue());
                group.sort(Comparator.comparing(Failure::timestamp));
                for (List<Failure> burst : bursts(group)) {
                    changes.add(upsert(connection, entry.getKey(), burst));
                }
            }
        }
        return changes;
    }

    /** Splits time-ordered failures where the gap exceeds the dedup window (relevant for replays and backfills). */
    private List<List<Failure>> bursts(List<Failure> sorted) {
        List<List<Failure>> bursts = new ArrayList<>();
        List<Failure> current = new ArrayList<>();
        Instant previous = null;
        for (Failure failure : sorted) {
            if (previous != null && Duration.between(previous, failure.timestamp()).compareTo(window) > 0) {
                bursts.add(current);
                current = new ArrayList<>();
            }
            current.add(failure);
            previous = failure.timestamp();
        }
        bursts.add(current);
        return bursts;
    }

    private EpisodeChange upsert(Connection connection, String fingerprint, List<Failure> burst) throws SQLException {
        Failure first = burst.get(0);
        Failure last = burst.get(burst.size() - 1);
        Severity incoming = Severity.P4;
        for (Failure failure : burst) {
            incoming = incoming.max(failure.severity());
        }
        UUID id;
        boolean opened;
        long occurrences;
        Severity current;
        try (PreparedStatement find = connection.prepareStatement(
                "select failure_id, severity, occurrences from failure_events where fingerprint = ? and last_seen >= ?"
                        + " and first_seen <= ? order by last_seen desc limit 1")) {
            find.setString(1, fingerprint);
            find.setTimestamp(2, Timestamp.from(first.timestamp().minus(window)));
            find.setTimestamp(3, Timestamp.from(last.timestamp().plus(window)));
            try (ResultSet rs = find.executeQuery()) {
                if (rs.next()) {
                    id = rs.getObject(1, UUID.class);
                    current = Severity.valueOf(rs.getString(2));
                    occurrences = rs.getLong(3) + burst.size();
                    opened = false;
                } else {
                    id = first.failureId();
                    current = Severity.P4;
                    occurrences = burst.size();
                    opened = true;
                }
            }
        }
        Severity severity = current.max(incoming).max(severities.forEpisode(first.type(), occurrences));
        long newUsers;
        if (opened) {
            insertEpisode(connection, id, fingerprint, first, last, burst.size(), severity);
            newUsers = linkCallsAndUsers(connection, id, burst);
            setAffectedUsers(connection, id, newUsers);
        } else {
            newUsers = linkCallsAndUsers(connection, id, burst);
            updateEpisode(connection, id, first, last, burst.size(), newUsers, severity);
        }
        Severity wide = providerWide(connection, first, severity);
        return new EpisodeChange(id, fingerprint, opened, burst.size(), severity.max(wide));
    }

    private void insertEpisode(Connection connection, UUID id, String fingerprint, Failure first, Failure last, int count,
            Severity severity) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement("insert into failure_events (failure_id, fingerprint,"
                + " category, type, severity, provider, deployment, detection_method, evidence, impact_scope, first_seen,"
                + " last_seen, occurrences, affected_requests, affected_users)"
                + " values (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?, 0)")) {
            insert.setObject(1, id);
            insert.setString(2, fingerprint);
            insert.setString(3, first.category().name());
            insert.setString(4, first.type().code());
            insert.setString(5, severity.name());
            insert.setString(6, first.provider());
            insert.setString(7, first.deployment());
            insert.setString(8, last.detectionMethod());
            insert.setString(9, toJson(last.evidence()));
            insert.setString(10, toJson(scopeOf(first)));
            insert.setTimestamp(11, Timestamp.from(first.timestamp()));
            insert.setTimestamp(12, Timestamp.from(last.timestamp()));
            insert.setLong(13, count);
            insert.setLong(14, countCalls(first, last, count));
            insert.executeUpdate();
        }
    }

    private void updateEpisode(Connection connection, UUID id, Failure first, Failure last, int count, long newUsers,
            Severity severity) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("update failure_events set"
                + " occurrences = occurrences + ?, affected_requests = affected_requests + ?,"
                + " affected_users = affected_users + ?, severity = ?, detection_method = ?, evidence = ?::jsonb,"
                + " first_seen = least(first_seen, ?), last_seen = greatest(last_seen, ?) where failure_id = ?")) {
            update.setLong(1, count);
            update.setLong(2, countCalls(first, last, count));
            update.setLong(3, newUsers);
            update.setString(4, severity.name());
            update.setString(5, last.detectionMethod());
            update.setString(6, toJson(last.evidence()));
            update.setTimestamp(7, Timestamp.from(first.timestamp()));
            update.setTimestamp(8, Timestamp.from(last.timestamp()));
            update.setObject(9, id);
            update.executeUpdate();
        }
    }

    private static long countCalls(Failure first, Failure last, int count) {
        return first.impactScope().callId() == null ? 0 : count;
    }

    /** Links the burst's calls and users; returns how many users are new to the episode. */
    private long linkCallsAndUsers(Connection connection, UUID id, List<Failure> burst) throws SQLException {
        try (PreparedStatement calls = connection.prepareStatement(
                "insert into failure_event_calls (failure_id, call_id, seen_at) values (?, ?, ?) on conflict do nothing");
                PreparedStatement users = connection.prepareStatement(
                        "insert into failure_event_users (failure_id, user_ref) values (?, ?) on conflict do nothing")) {
            boolean anyCall = false;
            boolean anyUser = false;
            for (Failure failure : burst) {
                if (failure.impactScope().callId() != null) {
                    calls.setObject(1, id);
                    calls.setString(2, failure.impactScope().callId());
                    calls.setTimestamp(3, Timestamp.from(failure.timestamp()));
                    calls.addBatch();
                    anyCall = true;
                }
                if (failure.impactScope().userRef() != null) {
                    users.setObject(1, id);
                    users.setString(2, failure.impactScope().userRef());
                    users.addBatch();
                    anyUser = true;
                }
            }
            if (anyCall) {
                calls.executeBatch();
            }
            long added = 0;
            if (anyUser) {
                for (int n : users.executeBatch()) {
                    added += Math.max(0, n);
                }
            }
            return added;
        }
    }

    private static void setAffectedUsers(Connection connection, UUID id, long users) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(
                "update failure_events set affected_users = ? where failure_id = ?")) {
            update.setLong(1, users);
            update.setObject(2, id);
            update.executeUpdate();
        }
    }

    /**
     * When every recently active deployment of the provider has an open episode of this type, raises all of those
     * episodes to the type's provider-wide severity (e.g. an outage everywhere is P1).
     */
    private Severity providerWide(Connection connection, Failure failure, Severity severity) throws SQLException {
        Severity wide = severities.providerWide(failure.type());
        if (wide == null || wide.ordinal() >= severity.ordinal()) {
            return severity;
        }
        Timestamp openSince = Timestamp.from(failure.timestamp().minus(window));
        long failing;
        long occurrences;
        try (PreparedStatement st = connection.prepareStatement("select count(distinct deployment), sum(occurrences)"
                + " from failure_events where provider = ? and category = ? and type = ? and last_seen >= ?")) {
            st.setString(1, failure.provider());
            st.setString(2, failure.category().name());
            st.setString(3, failure.type().code());
            st.setTimestamp(4, openSince);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                failing = rs.getLong(1);
                occurrences = rs.getLong(2);
            }
        }
        if (occurrences < severities.providerWideMinOccurrences()) {
            return severity;
        }
        long active;
        try (PreparedStatement st = connection.prepareStatement(
                "select count(*) from provider_deployments where provider = ? and last_seen >= ?")) {
            st.setString(1, failure.provider());
            st.setTimestamp(2, Timestamp.from(failure.timestamp().minus(severities.deploymentActivityWindow())));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                active = rs.getLong(1);
            }
        }
        if (failing < Math.max(1, active)) {
            return severity;
        }
        try (PreparedStatement raise = connection.prepareStatement("update failure_events set severity = ?"
                + " where provider = ? and category = ? and type = ? and last_seen >= ? and severity > ?")) {
            raise.setString(1, wide.name());
            raise.setString(2, failure.provider());
            raise.setString(3, failure.category().name());
            raise.setString(4, failure.type().code());
            raise.setTimestamp(5, openSince);
            raise.setString(6, wide.name());
            raise.executeUpdate();
        }
        return wide;
    }

    private Map<String, Object> scopeOf(Failure failure) {
        Map<String, Object> scope = new LinkedHashMap<>();
        scope.put("model", failure.impactScope().model());
        scope.put("model_group", failure.impactScope().modelGroup());
        scope.put("team_id", failure.impactScope().teamId());
        return scope;
    }

    private String toJson(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("evidence is built from plain values and always serialises", e);
        }
    }
}
