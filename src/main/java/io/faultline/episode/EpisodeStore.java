package io.faultline.episode;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.classify.SeverityPolicy;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
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
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Folds failures into episodes inside the caller's transaction. Each fingerprint is serialised by a transaction-level
 * advisory lock, taken in sorted order so that concurrent folds (or replicas) cannot deadlock or open two episodes
 * for one burst. Writes are batched across fingerprints: one round trip per fingerprint to lock and look up its open
 * episode, then one batch each for new episodes, call links, user links and updates.
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

    /** What happened to one episode in this fold. */
    public record EpisodeChange(UUID failureId, String fingerprint, boolean opened, Severity severity) {
    }

    /** One burst of a fingerprint and the episode it goes to. */
    private static final class Burst {
        final String fingerprint;
        final List<Failure> failures;
        UUID episode;
        boolean opened;
        long occurrencesBefore;
        Severity severity;
        long newUsers;

        Burst(String fingerprint, List<Failure> failures) {
            this.fingerprint = fingerprint;
            this.failures = failures;
        }

        Failure first() {
            return failures.get(0);
        }

        Failure last() {
            return failures.get(failures.size() - 1);
        }
    }

    public List<EpisodeChange> record(Connection connection, List<Failure> failures) throws SQLException {
        Map<String, List<Failure>> byFingerprint = new TreeMap<>();
        for (Failure failure : failures) {
            byFingerprint.computeIfAbsent(failure.fingerprint(), k -> new ArrayList<>()).add(failure);
        }
        List<Burst> bursts = new ArrayList<>();
        List<Burst> firsts = new ArrayList<>();
        for (Map.Entry<String, List<Failure>> entry : byFingerprint.entrySet()) {
            List<Failure> sorted = new ArrayList<>(entry.getValue());
            sorted.sort(Comparator.comparing(Failure::timestamp));
            List<List<Failure>> split = split(sorted);
            for (int i = 0; i < split.size(); i++) {
                Burst burst = new Burst(entry.getKey(), split.get(i));
                bursts.add(burst);
                if (i == 0) {
                    // Only the earliest burst can continue a stored episode; later ones are past the window.
                    firsts.add(burst);
                }
            }
        }
        lockAndFindOpen(connection, firsts);
        for (Burst burst : bursts) {
            if (burst.episode == null) {
                burst.episode = burst.first().failureId();
                burst.opened = true;
                burst.severity = Severity.P4;
            }
            for (Failure f : burst.failures) {
                burst.severity = burst.severity.max(f.severity());
            }
            burst.severity = burst.severity.max(severities.forEpisode(burst.first().type(),
                    burst.occurrencesBefore + burst.failures.size()));
        }
        insertOpened(connection, bursts);
        linkCalls(connection, bursts);
        linkUsers(connection, bursts);
        updateContinued(connection, bursts);
        List<EpisodeChange> changes = new ArrayList<>(bursts.size());
        for (Burst burst : bursts) {
            Severity severity = providerWide(connection, burst);
            changes.add(new EpisodeChange(burst.episode, burst.fingerprint, burst.opened,
                    severity));
        }
        return changes;
    }

    /**
     * One round trip for every fingerprint of the fold: takes the advisory locks in the (sorted) order of the array and
     * looks up each fingerprint's open episode.
     */
    private void lockAndFindOpen(Connection connection, List<Burst> firsts) throws SQLException {
        String[] fingerprints = new String[firsts.size()];
        Timestamp[] from = new Timestamp[firsts.size()];
        Timestamp[] to = new Timestamp[firsts.size()];
        for (int i = 0; i < firsts.size(); i++) {
            Burst b = firsts.get(i);
            fingerprints[i] = b.fingerprint;
            from[i] = Timestamp.from(b.first().timestamp().minus(window));
            to[i] = Timestamp.from(b.last().timestamp().plus(window));
        }
        try (PreparedStatement st = connection.prepareStatement("select f.ord, e.failure_id, e.severity, e.occurrences"
                + " from unnest(?::text[], ?::timestamptz[], ?::timestamptz[]) with ordinality as f(fp, lo, hi, ord)"
                + " cross join lateral (select pg_advisory_xact_lock(hashtextextended(f.fp, 7))) lock"
                + " left join lateral (select failure_id, severity, occurrences from failure_events"
                + " where fingerprint = f.fp and last_seen >= f.lo and first_seen <= f.hi"
                + " order by last_seen desc limit 1) e on true order by f.ord")) {
            st.setArray(1, connection.createArrayOf("text", fingerprints));
            st.setArray(2, connection.createArrayOf("timestamptz", from));
            st.setArray(3, connection.createArrayOf("timestamptz", to));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    UUID existing = rs.getObject(2, UUID.class);
                    if (existing != null) {
                        Burst burst = firsts.get(rs.getInt(1) - 1);
                        burst.episode = existing;
                        burst.severity = Severity.valueOf(rs.getString(3));
                        burst.occurrencesBefore = rs.getLong(4);
                    }
                }
            }
        }
    }

    /** Splits time-ordered failures where the gap exceeds the dedup window (relevant for replays and backfills). */
    private List<List<Failure>> split(List<Failure> sorted) {
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

    private void insertOpened(Connection connection, List<Burst> bursts) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement("insert into failure_events (failure_id, fingerprint,"
                + " category, type, severity, provider, deployment, detection_method, evidence, impact_scope, first_seen,"
                + " last_seen, occurrences, affected_requests, affected_users)"
                + " values (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?, ?)")) {
            boolean any = false;
            for (Burst b : bursts) {
                if (!b.opened) {
                    continue;
                }
                Failure first = b.first();
                insert.setObject(1, b.episode);
                insert.setString(2, b.fingerprint);
                insert.setString(3, first.category().name());
                insert.setString(4, first.type().code());
                insert.setString(5, b.severity.name());
                insert.setString(6, first.provider());
                insert.setString(7, first.deployment());
                insert.setString(8, b.last().detectionMethod());
                insert.setString(9, toJson(b.last().evidence()));
                insert.setString(10, toJson(scopeOf(first)));
                insert.setTimestamp(11, Timestamp.from(first.timestamp()));
                insert.setTimestamp(12, Timestamp.from(b.last().timestamp()));
                insert.setLong(13, b.failures.size());
                insert.setLong(14, callCount(b));
                // Every user of a brand-new episode is new to it.
                insert.setLong(15, b.failures.stream().map(f -> f.impactScope().userRef()).filter(Objects::nonNull)
                        .distinct().count());
                insert.addBatch();
                any = true;
            }
            if (any) {
                insert.executeBatch();
            }
        }
    }

    private static void linkCalls(Connection connection, List<Burst> bursts) throws SQLException {
        try (PreparedStatement calls = connection.prepareStatement(
                "insert into failure_event_calls (failure_id, call_id, seen_at, trace_id, call_started_at, model)"
                + " values (?, ?, ?, ?, ?, ?) on conflict do nothing")) {
            boolean any = false;
            for (Burst b : bursts) {
                for (Failure failure : b.failures) {
                    ImpactScope scope = failure.impactScope();
                    if (scope.callId() != null) {
                        calls.setObject(1, b.episode);
                        calls.setString(2, scope.callId());
                        calls.setTimestamp(3, Timestamp.from(failure.timestamp()));
                        // The failed attempt, so that a trace walk starts from it without looking it up
                        calls.setString(4, scope.traceId());
                        calls.setTimestamp(5, scope.callStartedAt() == null ? null
                                : Timestamp.from(scope.callStartedAt()));
                        calls.setString(6, scope.callStartedAt() == null ? null : scope.model());
                        calls.addBatch();
                        any = true;
                    }
                }
            }
            if (any) {
                calls.executeBatch();
            }
        }
    }

    /** Links users; counts, per continued episode, the users it had not seen before. */
    private static void linkUsers(Connection connection, List<Burst> bursts) throws SQLException {
        List<Burst> owners = new ArrayList<>();
        try (PreparedStatement users = connection.prepareStatement(
                "insert into failure_event_users (failure_id, user_ref, seen_at) values (?, ?, ?)"
                        + " on conflict do nothing")) {
            for (Burst b : bursts) {
                Set<String> distinct = new HashSet<>();
                for (Failure failure : b.failures) {
                    String user = failure.impactScope().userRef();
                    if (user != null && distinct.add(user)) {
                        users.setObject(1, b.episode);
                        users.setString(2, user);
                        // First sighting: the retention job forgets the link once that is older than call retention.
                        users.setTimestamp(3, Timestamp.from(failure.timestamp()));
                        users.addBatch();
                        owners.add(b);
                    }
                }
            }
            if (owners.isEmpty()) {
                return;
            }
            int[] inserted = users.executeBatch();
            for (int i = 0; i < inserted.length; i++) {
                owners.get(i).newUsers += Math.max(0, inserted[i]);
            }
        }
    }

    private void updateContinued(Connection connection, List<Burst> bursts) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement("update failure_events set"
                + " occurrences = occurrences + ?, affected_requests = affected_requests + ?,"
                + " affected_users = affected_users + ?, severity = ?, detection_method = ?, evidence = ?::jsonb,"
                + " first_seen = least(first_seen, ?), last_seen = greatest(last_seen, ?) where failure_id = ?")) {
            boolean any = false;
            for (Burst b : bursts) {
                if (b.opened) {
                    continue;
                }
                update.setLong(1, b.failures.size());
                update.setLong(2, callCount(b));
                update.setLong(3, b.newUsers);
                update.setString(4, b.severity.name());
                update.setString(5, b.last().detectionMethod());
                update.setString(6, toJson(b.last().evidence()));
                update.setTimestamp(7, Timestamp.from(b.first().timestamp()));
                update.setTimestamp(8, Timestamp.from(b.last().timestamp()));
                update.setObject(9, b.episode);
                update.addBatch();
                any = true;
            }
            if (any) {
                update.executeBatch();
            }
        }
    }

    private static long callCount(Burst b) {
        return b.failures.stream().filter(f -> f.impactScope().callId() != null).count();
    }

    /**
     * When every recently active deployment of the provider has an open episode of this type, raises all of those
     * episodes to the type's provider-wide severity (e.g. an outage everywhere is P1). Checked only when the spread
     * can have changed: an episode opened, or one crossed a multiple of the minimum occurrences.
     */
    private Severity providerWide(Connection connection, Burst burst) throws SQLException {
        Failure failure = burst.first();
        Severity wide = severities.providerWide(failure.type());
        if (wide == null || wide.ordinal() >= burst.severity.ordinal()) {
            return burst.severity;
        }
        long min = Math.max(1, severities.providerWideMinOccurrences());
        long after = burst.occurrencesBefore + burst.failures.size();
        if (!burst.opened && burst.occurrencesBefore / min == after / min) {
            return burst.severity;
        }
        Timestamp openSince = Timestamp.from(burst.last().timestamp().minus(window));
        try (PreparedStatement st = connection.prepareStatement("select count(distinct e.deployment),"
                + " coalesce(sum(e.occurrences), 0), (select count(*) from provider_deployments d where d.provider = ?"
                + " and d.last_seen >= ?) from failure_events e where e.provider = ? and e.category = ? and e.type = ?"
                + " and e.last_seen >= ?")) {
            st.setString(1, failure.provider());
            st.setTimestamp(2, Timestamp.from(burst.last().timestamp().minus(severities.deploymentActivityWindow())));
            st.setString(3, failure.provider());
            st.setString(4, failure.category().name());
            st.setString(5, failure.type().code());
            st.setTimestamp(6, openSince);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                long failing = rs.getLong(1);
                long occurrences = rs.getLong(2);
                long active = rs.getLong(3);
                if (occurrences < severities.providerWideMinOccurrences() || failing < Math.max(1, active)) {
                    return burst.severity;
                }
            }
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
