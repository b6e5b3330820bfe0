package io.faultline.correlate;

import io.agroal.api.AgroalDataSource;
import io.faultline.episode.EpisodeObserver;
import io.faultline.episode.EpisodeStore.EpisodeChange;
import io.faultline.testing.Api;
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
 * What follows a fold never undoes it: an episode observer that throws, and a correlation step that fails inside the
 * engine (it cannot get the correlation lock that another replica holds), leave the ingest answered, the calls stored
 * and the episodes folded; the failed step is counted, and the episode is correlated when it next changes. Runs in an
 * application of its own (a profile) with a throwing observer beside the engine and a lock timeout on connections.
 */
@QuarkusTest
@TestProfile(CorrelationFailureIsolationTest.Breaking.class)
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CorrelationFailureIsolationTest {

    static final String FAILURES = "faultline_correlate_failures_total";

    public static class Breaking implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    // The engine's own bound on the lock wait, shortened: how a step fails when another replica
                    // holds the correlation lock too long (the default waits 5 s).
                    "faultline.correlate.lock-timeout", "1s",
                    // The close job takes the same lock; kept out of the way so that only folds count failures.
                    "faultline.correlate.close-every", "1h",
                    "faultline.test.throwing-observer", "true");
        }
    }

    /**
     * An observer that always throws, beside the engine (not instead of it: an enabled alternative would shadow
     * every other observer), looked up by the folder only in this profile; it counts the folds it was told about.
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
        }
        // The engine, the other observer, still ran on the same fold.
        List<String> clusters = clustersOf(episodeId(deps.get(0)));
        assertThat(clusters).hasSize(1);
        for (String deployment : deps) {
            assertThat(clustersOf(episodeId(deployment))).isEqualTo(clusters);
        }
        assertThat(failures()).as("the engine itself did not fail").isEqualTo(failuresBefore);
    }

    @Test
    void a_correlation_step_that_fails_is_counted_and_the_episode_is_correlated_on_its_next_change()
            throws SQLException {
        Instant t0 = Instant.parse("2031-05-12T06:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(2)));
        double failuresBefore = failures();
        List<String> deps;
        try (Connection otherReplica = dataSource.getConnection()) {
            hold(otherReplica);
            try {
                deps = threeProviderOutage(t0);
            } finally {
                release(otherReplica);
            }
        }
        assertThat(failures()).as(FAILURES + " after one fold whose correlation failed")
                .isEqualTo(failuresBefore + 1);
        for (String deployment : deps) {
            assertThat(storedCalls(deployment)).as("calls of " + deployment).isEqualTo(3);
            assertThat(Api.failures("deployment=" + deployment).statusCode(200).extract().jsonPath()
                    .getLong("items[0].occurrences")).as("episode of " + deployment).isEqualTo(3);
            assertThat(clustersOf(episodeId(deployment))).as("not correlated yet: " + deployment).isEmpty();
        }

        // The openai outage goes on: that change correlates its episode, and the window brings the other two.
        clock.set(t0.plus(Duration.ofMinutes(3)));
        Api.ingest(Payloads.array(outage("openai", "gpt-4o-mini", deps.get(0), t0.plusSeconds(90))))
                .statusCode(200).body("accepted", equalTo(1));
        List<String> clusters = clustersOf(episodeId(deps.get(0)));
        assertThat(clusters).hasSize(1);
        for (String deployment : deps) {
            assertThat(clustersOf(episodeId(deployment))).as(deployment).isEqualTo(clusters);
        }
        var cluster = given().when().get("/api/v1/failures/correlations/" + clusters.get(0)).then().statusCode(200)
                .extract().jsonPath();
        assertThat(cluster.getString("type")).isEqualTo("upstream");
        assertThat(cluster.getList("nodes")).hasSize(3);
        assertThat(failures()).as("no further failure").isEqualTo(failuresBefore + 1);
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
