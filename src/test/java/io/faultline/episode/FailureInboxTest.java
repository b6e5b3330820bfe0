package io.faultline.episode;

import io.agroal.api.AgroalDataSource;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
import io.faultline.taxonomy.ProviderFailure;
import io.faultline.taxonomy.Severity;
import io.faultline.testing.PostgresResource;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A request that dies between committing its calls and folding them loses nothing, and nothing is folded twice. */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FailureInboxTest {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    FailureInbox inbox;

    @Inject
    EpisodeFolder folder;

    private static final Instant STARTED = Instant.parse("2026-11-30T10:15:30.123456Z");

    private static Failure outage(String deployment, String callId) {
        return new ProviderFailure(UUID.randomUUID(), Instant.now(), Severity.P3, "openai", deployment,
                ProviderFailure.Type.OUTAGE, "provider.status", Map.of("http_status", 503),
                new ImpactScope("gpt", "gpt", callId, "user-" + callId, "team", "trace-" + callId, STARTED));
    }

    @Test
    void stranded_failures_are_folded_by_the_recovery_job() throws Exception {
        String dep = "dep-" + UUID.randomUUID();
        List<Failure> stranded = List.of(outage(dep, "c1"), outage(dep, "c2"));
        QuarkusTransaction.requiringNew().run(() -> write(stranded, "now() - interval '1 minute'"));

        folder.recoverStranded();

        assertThat(count("select count(*) from failure_inbox where failure_id in (?, ?)", stranded)).isZero();
        assertThat(episode(dep)).containsExactly(2L, 2L);
        // The failed attempt travels through the inbox to the episode's calls, where the trace walks start from it
        assertThat(attempts(dep)).containsExactly("c1 trace-c1 " + STARTED + " gpt", "c2 trace-c2 " + STARTED + " gpt");
    }

    private List<String> attempts(String deployment) throws Exception {
        List<String> rows = new java.util.ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select f.call_id, f.trace_id, f.call_started_at, f.model from failure_event_calls f"
                        + " join failure_events e using (failure_id) where e.deployment = ? order by f.call_id")) {
            st.setString(1, deployment);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    rows.add(rs.getString(1) + " " + rs.getString(2) + " " + rs.getTimestamp(3).toInstant() + " "
                            + rs.getString(4));
                }
            }
        }
        return rows;
    }

    @Test
    void a_fresh_inbox_row_is_left_to_the_request_that_wrote_it_and_folded_once() throws Exception {
        String dep = "dep-" + UUID.randomUUID();
        List<Failure> fresh = List.of(outage(dep, "c1"));
        QuarkusTransaction.requiringNew().run(() -> write(fresh, "now()"));

        folder.recoverStranded();
        assertThat(episode(dep)).isEmpty();

        assertThat(folder.fold(fresh, List.of())).isEqualTo(1);
        assertThat(folder.fold(fresh, List.of())).as("already claimed: not folded again").isZero();
        assertThat(episode(dep)).containsExactly(1L, 1L);
    }

    @Test
    void a_fold_folds_only_the_rows_it_claimed_and_counts_only_new_users() throws Exception {
        String dep = "dep-" + UUID.randomUUID();
        Failure first = outage(dep, "c1");
        QuarkusTransaction.requiringNew().run(() -> write(List.of(first), "now()"));
        assertThat(folder.fold(List.of(first), List.of())).isEqualTo(1);

        // The same user again, a new user, and a failure whose row another transaction (the recovery job) took
        Failure sameUser = withUser(outage(dep, "c2"), "user-c1");
        Failure newUser = outage(dep, "c3");
        Failure takenElsewhere = outage(dep, "c4");
        List<Failure> batch = List.of(sameUser, newUser, takenElsewhere);
        QuarkusTransaction.requiringNew().run(() -> write(batch, "now()"));
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "delete from failure_inbox where failure_id = ?")) {
            st.setObject(1, takenElsewhere.failureId());
            assertThat(st.executeUpdate()).isOne();
        }

        assertThat(folder.fold(batch, List.of())).as("continued, not opened").isZero();

        assertThat(episode(dep)).as("occurrences and users of the one episode").containsExactly(3L, 2L);
        assertThat(attempts(dep)).extracting(row -> row.split(" ")[0]).containsExactly("c1", "c2", "c3");
        assertThat(count("select count(*) from failure_inbox where failure_id in (?, ?, ?)", batch)).isZero();
    }

    @Test
    void a_fold_that_waited_for_another_replicas_fold_continues_the_episode_that_fold_committed() throws Exception {
        String dep = "dep-" + UUID.randomUUID();
        Failure mine = outage(dep, "c2");
        QuarkusTransaction.requiringNew().run(() -> write(List.of(mine), "now()"));
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (Connection other = dataSource.getConnection()) {
            other.setAutoCommit(false);
            // Another replica's fold of the same fingerprint holds its lock and opens the episode ...
            try (PreparedStatement st = other.prepareStatement(
                    "select pg_advisory_xact_lock(hashtextextended(?, 7))")) {
                st.setString(1, mine.fingerprint());
                st.execute();
            }
            try (PreparedStatement st = other.prepareStatement("insert into failure_events (failure_id, fingerprint,"
                    + " category, type, severity, provider, deployment, detection_method, evidence, impact_scope,"
                    + " first_seen, last_seen, occurrences, affected_requests, affected_users) values (?, ?, ?, ?,"
                    + " 'P3', 'openai', ?, 'provider.status', '{}', '{}', ?, ?, 1, 1, 1)")) {
                st.setObject(1, UUID.randomUUID());
                st.setString(2, mine.fingerprint());
                st.setString(3, mine.category().name());
                st.setString(4, mine.type().code());
                st.setString(5, dep);
                st.setTimestamp(6, java.sql.Timestamp.from(mine.timestamp()));
                st.setTimestamp(7, java.sql.Timestamp.from(mine.timestamp()));
                st.executeUpdate();
            }
            // ... while this replica's fold waits for that lock; then the other fold commits.
            Future<Integer> fold = pool.submit(() -> folder.fold(List.of(mine), List.of()));
            await().atMost(Duration.ofSeconds(60)).until(() -> waitingFor(mine.fingerprint()));
            other.commit();
            assertThat(fold.get(60, TimeUnit.SECONDS)).as("episodes this fold opened").isZero();
        } finally {
            pool.shutdownNow();
        }
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*), sum(occurrences) from failure_events where deployment = ?")) {
            st.setString(1, dep);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                assertThat(List.of(rs.getLong(1), rs.getLong(2))).as("episodes, occurrences")
                        .containsExactly(1L, 2L);
            }
        }
    }

    /** Whether a transaction waits for the advisory lock of this fingerprint. */
    private boolean waitingFor(String fingerprint) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select count(*)"
                + " from pg_locks where locktype = 'advisory' and not granted"
                + " and ((classid::bigint << 32) | objid::bigint) = hashtextextended(?, 7)")) {
            st.setString(1, fingerprint);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1) > 0;
            }
        }
    }

    private static Failure withUser(Failure f, String user) {
        ImpactScope s = f.impactScope();
        return new ProviderFailure(f.failureId(), f.timestamp(), f.severity(), f.provider(), f.deployment(),
                ProviderFailure.Type.OUTAGE, f.detectionMethod(), f.evidence(),
                new ImpactScope(s.model(), s.modelGroup(), s.callId(), user, s.teamId(), s.traceId(),
                        s.callStartedAt()));
    }

    private void write(List<Failure> failures, String createdAt) {
        try (Connection c = dataSource.getConnection()) {
            inbox.add(c, failures);
            try (PreparedStatement st = c.prepareStatement("update failure_inbox set created_at = " + createdAt
                    + " where deployment = ?")) {
                st.setString(1, failures.get(0).deployment());
                st.executeUpdate();
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private List<Long> episode(String deployment) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select occurrences, affected_users from failure_events where deployment = ?")) {
            st.setString(1, deployment);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? List.of(rs.getLong(1), rs.getLong(2)) : List.of();
            }
        }
    }

    private long count(String sql, List<Failure> failures) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            for (int i = 0; i < failures.size(); i++) {
                st.setObject(i + 1, failures.get(i).failureId());
            }
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }
}
