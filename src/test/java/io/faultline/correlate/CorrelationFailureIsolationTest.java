package io.faultline.correlate;

import io.agroal.api.AgroalDataSource;
import io.faultline.episode.EpisodeObserver;
import io.faultline.episode.EpisodeStore.EpisodeChange;
import io.faultline.testing.Api;
import io.faultline.testing.Correlations;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.arc.lookup.LookupIfProperty;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * What follows a fold never undoes it, and a failing correlation loses nothing: an episode observer that throws
 * leaves the ingest answered, the calls stored, the episodes folded and queued for correlation; while another
 * replica holds the correlation lock the drain skips and the queue keeps its episodes; and an episode whose
 * correlation step fails (a real PostgreSQL error, raised by a trigger on the cluster members it would write) is
 * isolated from the batch, counted, backed off on the TestClock and, after {@code max-attempts}, left queued until
 * its next change, while the other episodes of its batch are correlated. Runs in an application of its own (a
 * profile) with a throwing observer beside the engine.
 */
@QuarkusTest
@TestProfile(CorrelationFailureIsolationTest.Breaking.class)
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CorrelationFailureIsolationTest {

    static final String FAILURES = "faultline_correlate_failures_total";
    static final String BACKLOG = "faultline_correlation_backlog";
    static final String BACKLOG_FAILED = "faultline_correlation_backlog_failed";
    static final String OLDEST = "faultline_correlation_backlog_oldest_seconds";

    public static class Breaking implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "faultline.correlate.lock-timeout", "1s",
                    "faultline.correlate.max-attempts", "3",
                    // The close job takes the same lock; kept out of the way so that only the drain counts.
                    "faultline.correlate.close-every", "1h",
                    "faultline.test.throwing-observer", "true");
        }
    }

    /**
     * An observer that always throws after the commit, beside the engine (not instead of it: an enabled
     * alternative would shadow every other observer), looked up by the folder only in this profile; it counts the
     * folds it was told about.
     */
    @LookupIfProperty(name = "faultline.test.throwing-observer", stringValue = "true")
    @Singleton
    public static class ThrowingObserver implements EpisodeObserver {

        final AtomicInteger thrown = new AtomicInteger();

        @Override
        public void folded(List<EpisodeChange> changes) {
            thrown.incrementAndGet();
            throw new IllegalStateException("this observer always fails");
        }
    }

    @Inject
    TestClock clock;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    ThrowingObserver throwing;

    @Inject
    FailureCorrelationEngine engine;

    @Inject
    CorrelationMetrics metrics;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    static String dep(String name) {
        return CorrelationTest.dep(name);
    }

    static Payloads outage(String provider, String model, String deployment, Instant at) {
        return CorrelationTest.outage(provider, model, deployment, at);
    }

    /** Outages at three providers 0 s, 30 s and 60 s after {@code t0}, three calls each; the deployments. */
    List<String> threeProviderOutage(Instant t0) {
        List<String> deps = List.of(dep("oa"), dep("an"), dep("ge"));
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            calls.add(outage("openai", "gpt-4o-mini", deps.get(0), t0.plusSeconds(i * 5)));
            calls.add(outage("anthropic", "claude-3-5-haiku", deps.get(1), t0.plusSeconds(30 + i * 5)));
            calls.add(outage("gemini", "gemini-2.0-flash", deps.get(2), t0.plusSeconds(60 + i * 5)));
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200).body("accepted", equalTo(9))
                .body("failures", equalTo(9));
        return deps;
    }

    @Test
    void an_observer_that_throws_fails_neither_the_ingest_nor_the_fold_nor_the_correlation_after_it() {
        Instant t0 = Instant.parse("2031-05-11T04:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(2)));
        int before = throwing.thrown.get();
        double failuresBefore = failures();

        List<String> deps = threeProviderOutage(t0);

        assertThat(throwing.thrown.get()).as("the throwing observer was told of the fold").isGreaterThan(before);
        for (String deployment : deps) {
            assertThat(storedCalls(deployment)).as("calls of " + deployment).isEqualTo(3);
            assertThat(Api.failures("deployment=" + deployment).statusCode(200).extract().jsonPath()
                    .getLong("items[0].occurrences")).as("episode of " + deployment).isEqualTo(3);
            assertThat(queued(episodeId(deployment))).as("queued in the fold: " + deployment).isTrue();
        }
        // The engine, the other observer, queued the fold's episodes in its transaction; the drain correlates them.
        assertThat(Correlations.drain()).isGreaterThanOrEqualTo(3);
        List<String> clusters = clustersOf(episodeId(deps.get(0)));
        assertThat(clusters).hasSize(1);
        for (String deployment : deps) {
            assertThat(clustersOf(episodeId(deployment))).isEqualTo(clusters);
            assertThat(queued(episodeId(deployment))).as("done: " + deployment).isFalse();
        }
        assertThat(failures()).as("the engine itself did not fail").isEqualTo(failuresBefore);
    }

    @Test
    void while_another_replica_holds_the_lock_the_drain_skips_and_the_queue_keeps_the_episodes()
            throws SQLException {
        Instant t0 = Instant.parse("2031-05-12T06:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(2)));
        double failuresBefore = failures();
        List<String> deps = threeProviderOutage(t0);
        try (Connection otherReplica = dataSource.getConnection()) {
            hold(otherReplica);
            try {
                assertThat(engine.drainBatch(false).skipped()).as("the drain does not wait for the lock").isTrue();
            } finally {
                release(otherReplica);
            }
        }
        for (String deployment : deps) {
            assertThat(clustersOf(episodeId(deployment))).as("not correlated yet: " + deployment).isEmpty();
            assertThat(queued(episodeId(deployment))).as("still queued: " + deployment).isTrue();
        }

        assertThat(Correlations.drain()).isGreaterThanOrEqualTo(3);
        List<String> clusters = clustersOf(episodeId(deps.get(0)));
        assertThat(clusters).hasSize(1);
        for (String deployment : deps) {
            assertThat(clustersOf(episodeId(deployment))).as(deployment).isEqualTo(clusters);
        }
        var cluster = given().when().get("/api/v1/failures/correlations/" + clusters.get(0)).then().statusCode(200)
                .extract().jsonPath();
        assertThat(cluster.getString("type")).isEqualTo("upstream");
        assertThat(cluster.getList("nodes")).hasSize(3);
        assertThat(failures()).as("skipping is no failure").isEqualTo(failuresBefore);
    }

    @Test
    void an_episode_whose_correlation_fails_is_isolated_backed_off_and_retried_a_bounded_number_of_times()
            throws SQLException {
        Instant t0 = Instant.parse("2031-05-14T06:00:00Z");
        // A healthy incident two hours earlier, queued first: it shares the drain's batch with the failing one.
        clock.set(t0.minus(Duration.ofHours(2)).plus(Duration.ofMinutes(2)));
        List<String> healthy = threeProviderOutage(t0.minus(Duration.ofHours(2)));
        clock.set(t0.plus(Duration.ofMinutes(2)));
        List<String> failing = threeProviderOutage(t0);
        String poisoned = episodeId(failing.get(0));
        double failuresBefore = failures();
        poison(poisoned);
        try {
            Correlations.drain();
            List<String> clusters = clustersOf(episodeId(healthy.get(0)));
            assertThat(clusters).as("the healthy incident is correlated beside the failing one").hasSize(1);
            for (String deployment : healthy) {
                assertThat(clustersOf(episodeId(deployment))).as(deployment).isEqualTo(clusters);
                assertThat(queued(episodeId(deployment))).as("done: " + deployment).isFalse();
            }
            // Every episode of the failing incident links to the poisoned one, so each of their steps fails.
            for (String deployment : failing) {
                assertThat(clustersOf(episodeId(deployment))).as(deployment).isEmpty();
                assertThat(attempts(episodeId(deployment))).as("one failed attempt: " + deployment).isEqualTo(1);
            }
            assertThat(failures()).isEqualTo(failuresBefore + 3);
            assertThat(lastError(poisoned)).contains("poisoned for the test");

            // Backed off: not retried at the same instant, retried once the back-off (1 s, then 2 s) has passed.
            assertThat(Correlations.drain()).isZero();
            assertThat(attempts(poisoned)).isEqualTo(1);
            clock.set(t0.plus(Duration.ofMinutes(2)).plusSeconds(1));
            Correlations.drain();
            assertThat(attempts(poisoned)).isEqualTo(2);
            metrics.refresh(); // what the scheduled refresh does every few seconds, at the TestClock's time
            assertThat(Metrics.value(Metrics.scrape(), OLDEST)).as("an episode still being retried is lag")
                    .isGreaterThanOrEqualTo(1);
            clock.set(t0.plus(Duration.ofMinutes(2)).plusSeconds(3));
            Correlations.drain();
            assertThat(attempts(poisoned)).as("max-attempts").isEqualTo(3);
            // Bounded: after max-attempts the episodes wait for their next change, however long the drain runs.
            clock.set(t0.plus(Duration.ofMinutes(10)));
            Correlations.drain();
            assertThat(attempts(poisoned)).isEqualTo(3);
            assertThat(failures()).isEqualTo(failuresBefore + 9);
            metrics.refresh(); // what the scheduled refresh does every few seconds, at the TestClock's time
            String scrape = Metrics.scrape();
            assertThat(Metrics.value(scrape, BACKLOG_FAILED)).isGreaterThanOrEqualTo(3);
            assertThat(Metrics.value(scrape, BACKLOG)).isGreaterThanOrEqualTo(3);
            // Episodes past max-attempts are FaultlineCorrelationEpisodesFailing's: counted as lag too, one of them
            // kept FaultlineCorrelationLagging firing until its next change, whatever the drain did meanwhile.
            assertThat(Metrics.value(scrape, OLDEST)).as("no change still being retried waits").isZero();
        } finally {
            unpoison();
        }

        // The outage goes on at all three providers: those changes give each episode a fresh set of attempts.
        clock.set(t0.plus(Duration.ofMinutes(11)));
        Api.ingest(Payloads.array(outage("openai", "gpt-4o-mini", failing.get(0), t0.plusSeconds(90)),
                outage("anthropic", "claude-3-5-haiku", failing.get(1), t0.plusSeconds(100)),
                outage("gemini", "gemini-2.0-flash", failing.get(2), t0.plusSeconds(110)))).statusCode(200)
                .body("accepted", equalTo(3));
        assertThat(attempts(poisoned)).isZero();
        Correlations.drain();
        List<String> clusters = clustersOf(poisoned);
        assertThat(clusters).hasSize(1);
        for (String deployment : failing) {
            assertThat(clustersOf(episodeId(deployment))).as(deployment).isEqualTo(clusters);
            assertThat(queued(episodeId(deployment))).as("done: " + deployment).isFalse();
        }
        assertThat(failures()).as("no further failure").isEqualTo(failuresBefore + 9);
    }

    /** A real PostgreSQL error whenever the episode is written into a cluster. */
    private void poison(String failureId) throws SQLException {
        try (Connection c = dataSource.getConnection(); var st = c.createStatement()) {
            st.execute("create table if not exists test_poisoned (failure_id uuid primary key)");
            st.execute("insert into test_poisoned values ('" + java.util.UUID.fromString(failureId) + "')");
            st.execute("create or replace function test_poison() returns trigger language plpgsql as $$ begin"
                    + " if exists (select 1 from test_poisoned p where p.failure_id = new.failure_id) then"
                    + " raise exception 'episode % poisoned for the test', new.failure_id; end if; return new; end $$");
            st.execute("create trigger test_poison before insert on correlation_members for each row"
                    + " execute function test_poison()");
        }
    }

    private void unpoison() throws SQLException {
        try (Connection c = dataSource.getConnection(); var st = c.createStatement()) {
            st.execute("drop trigger if exists test_poison on correlation_members");
            st.execute("drop function if exists test_poison()");
            st.execute("drop table if exists test_poisoned");
        }
    }

    private boolean queued(String failureId) {
        return queueColumn(failureId, "attempts") != null;
    }

    private int attempts(String failureId) {
        Object attempts = queueColumn(failureId, "attempts");
        assertThat(attempts).as("queued: " + failureId).isNotNull();
        return ((Number) attempts).intValue();
    }

    private String lastError(String failureId) {
        return String.valueOf(queueColumn(failureId, "last_error"));
    }

    private Object queueColumn(String failureId, String column) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select " + column
                + " from correlation_queue where failure_id = ?")) {
            st.setObject(1, java.util.UUID.fromString(failureId));
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? rs.getObject(1) : null;
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void hold(Connection c) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select pg_advisory_lock(?)")) {
            st.setLong(1, FailureCorrelationEngine.LOCK_KEY);
            st.execute();
        }
    }

    private static void release(Connection c) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select pg_advisory_unlock(?)")) {
            st.setLong(1, FailureCorrelationEngine.LOCK_KEY);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                assertThat(rs.getBoolean(1)).as("the lock was held").isTrue();
            }
        }
    }

    private long storedCalls(String deployment) {
        try (Connection c = dataSource.getConnection();
                PreparedStatement st = c.prepareStatement("select count(*) from llm_calls where deployment = ?")) {
            st.setString(1, deployment);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static double failures() {
        return Metrics.valueOrZero(Metrics.scrape(), FAILURES);
    }

    static String episodeId(String deployment) {
        List<String> ids = Api.failures("deployment=" + deployment).statusCode(200).extract().jsonPath()
                .getList("items.failureId", String.class);
        assertThat(ids).as("episodes of " + deployment).hasSize(1);
        return ids.get(0);
    }

    static List<String> clustersOf(String failureId) {
        return given().log().ifValidationFails().when().get("/api/v1/failures/" + failureId).then()
                .log().ifValidationFails().statusCode(200).extract().jsonPath().getList("clusters", String.class);
    }
}
