package io.faultline.baseline;

import io.faultline.testing.Api;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.anyOf;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.is;

/**
 * The bounds on paid baseline traffic: one run per normalised provider and per model group, a global cap on runs at
 * once and on requests per rolling day, and finished runs dropped from memory after a bounded time. An application
 * of its own (small caps); runs go to a closed loopback port at 1 request/s, so they stay running until cancelled.
 */
@QuarkusTest
@TestProfile(BaselineLimitsTest.SmallCaps.class)
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BaselineLimitsTest {

    public static class SmallCaps implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.baseline.max-concurrent-runs", "2", "faultline.baseline.max-requests-per-day",
                    "200", "faultline.baseline.finished-run-retention", "10m");
        }
    }

    @Inject
    TestClock clock;

    @Inject
    BaselineProfiler profiler;

    @Inject
    io.agroal.api.AgroalDataSource dataSource;

    @Inject
    BaselineConfig config;

    @Inject
    BaselineStore store;

    @Inject
    com.fasterxml.jackson.databind.ObjectMapper json;

    private final List<String> started = new ArrayList<>();

    @AfterEach
    void cancelEverything() {
        for (String runId : started) {
            // 409: the run had already ended (a test cancelled it, or it finished).
            api().delete("/api/v1/baselines/runs/" + runId).then().statusCode(anyOf(is(200), is(409)));
        }
        for (String runId : started) {
            awaitStatus(runId, "cancelled", "completed", "failed");
        }
        clock.release();
    }

    private static RequestSpecification api() {
        return given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON);
    }

    private io.restassured.response.ValidatableResponse start(String provider, String modelGroup, int requests) {
        var response = api().body(Map.of("provider", provider, "modelGroup", modelGroup, "requests", requests,
                "ratePerSecond", 1)).post("/api/v1/baselines/runs").then();
        String runId = response.extract().path("runId");
        if (runId != null) {
            started.add(runId);
        }
        return response;
    }

    private void awaitStatus(String runId, String... statuses) {
        Awaitility.await("run " + runId + " finished").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(200)).until(() -> List.of(statuses).contains(
                        given().get("/api/v1/baselines/runs/" + runId).then().extract().path("status")));
    }

    @Test
    void a_renamed_provider_label_or_the_same_model_group_is_still_one_run_at_a_time() {
        clock.set(Instant.parse("2031-01-01T00:00:00Z"));
        start("openai", "gpt-x", 60).statusCode(202).body("provider", equalTo("openai"));
        start("text-completion-openai", "gpt-y", 10).statusCode(409).contentType("application/problem+json")
                .body("detail", containsString("openai"));
        start("claude", "gpt-x", 10).statusCode(409).body("detail", containsString("gpt-x"));
        assertThat(BaselineProfiler.normaliseProvider("Vertex_AI_Beta")).isEqualTo("vertex_ai");
        assertThat(BaselineProfiler.normaliseProvider("azure-openai")).isEqualTo("azure");
        // A different provider and model group is another run.
        start("anthropic", "claude-x", 10).statusCode(202).body("provider", equalTo("anthropic"));
    }

    @Test
    void no_more_runs_at_once_than_the_global_cap() {
        clock.set(Instant.parse("2031-02-01T00:00:00Z"));
        start("p1", "g1", 60).statusCode(202);
        start("p2", "g2", 60).statusCode(202);
        start("p3", "g3", 10).statusCode(429).contentType("application/problem+json")
                .body("detail", containsString("max-concurrent-runs = 2"));
        String first = started.get(0);
        api().delete("/api/v1/baselines/runs/" + first).then().statusCode(200);
        awaitStatus(first, "cancelled");
        start("p3", "g3", 10).statusCode(202);
    }

    @Test
    void no_more_requests_per_rolling_day_than_the_daily_cap() {
        // Later than every other test's runs: the window looks back 24 hours from now.
        clock.set(Instant.parse("2032-03-01T00:00:00Z"));
        start("q1", "h1", 500).statusCode(400).body("errors[0].field", equalTo("requests"));
        start("q1", "h1", 150).statusCode(202);
        // The running run reserves its whole total: 150 + 60 > 200.
        start("q2", "h2", 60).statusCode(429).body("detail", containsString("150 of 200"));
        start("q2", "h2", 50).statusCode(202);
        String first = started.get(0);
        api().delete("/api/v1/baselines/runs/" + first).then().statusCode(200);
        awaitStatus(first, "cancelled");
        // A cancelled run counts what it sent, not its total.
        int sent = given().get("/api/v1/baselines/runs/" + first).then().extract().path("sent");
        assertThat(sent).isLessThan(150);
        start("q3", "h3", 200 - 50 - sent).statusCode(202);
        start("q4", "h4", 1).statusCode(429);
        // A day later the window is empty again (the runs still running count their totals).
        clock.advance(Duration.ofHours(25));
        for (String runId : List.copyOf(started.subList(1, started.size()))) { // the first is cancelled already
            api().delete("/api/v1/baselines/runs/" + runId).then().statusCode(200);
            awaitStatus(runId, "cancelled");
        }
        start("q5", "h5", 150).statusCode(202);
    }

    /**
     * The rolling day looks back 24 hours from now and no further forward: a run dated after now (written by a
     * replica whose clock ran ahead, or by hand) counted against the cap until a day after its date, so one run
     * dated a year ahead locked profiling for a year.
     */
    @Test
    void a_run_dated_after_now_does_not_count_against_the_daily_cap() throws Exception {
        Instant now = Instant.parse("2033-02-01T00:00:00Z");
        clock.set(now);
        UUID ahead = UUID.randomUUID();
        try (var c = dataSource.getConnection(); var st = c.prepareStatement("insert into baseline_runs (run_id,"
                + " provider, model_group, total, sent, status, workload, started_at, finished_at)"
                + " values (?, 'f1', 'fut1', 200, 200, 'completed', 'v1', ?, ?)")) {
            st.setObject(1, ahead);
            st.setTimestamp(2, java.sql.Timestamp.from(now.plus(Duration.ofDays(365))));
            st.setTimestamp(3, java.sql.Timestamp.from(now.plus(Duration.ofDays(365))));
            st.executeUpdate();
        }
        try {
            start("f2", "fut2", 150).statusCode(202);
        } finally {
            try (var c = dataSource.getConnection(); var st = c.prepareStatement(
                    "delete from baseline_runs where run_id = ?")) {
                st.setObject(1, ahead);
                st.executeUpdate();
            }
        }
    }

    @Test
    void a_finished_run_leaves_memory_after_the_retention_and_is_still_read_from_the_database() {
        clock.set(Instant.parse("2031-04-01T00:00:00Z"));
        String runId = start("r1", "k1", 1).statusCode(202).extract().path("runId");
        awaitStatus(runId, "completed");
        assertThat(profiler.held()).contains(UUID.fromString(runId));
        clock.advance(Duration.ofMinutes(9));
        profiler.evictFinished();
        assertThat(profiler.held()).as("within the retention").contains(UUID.fromString(runId));
        // The test profile's proxy is port 9 on loopback, where nothing listens: the one call got no answer, and the
        // run says so from the database as it did from memory.
        String detail = "1 error: no answer (ConnectException) x1";
        assertThat(profiler.status(UUID.fromString(runId)).orElseThrow().detail()).isEqualTo(detail);
        clock.advance(Duration.ofMinutes(2));
        given().get("/api/v1/baselines/runs/" + runId).then().statusCode(200).body("status", equalTo("completed"))
                .body("sent", equalTo(1)).body("errors", equalTo(1)).body("detail", equalTo(detail));
        assertThat(profiler.held()).as("past the retention").doesNotContain(UUID.fromString(runId));
    }

    /**
     * Two replicas: one restarts while the other sends a run. The starting replica releases the runs a dead replica
     * left running, not the live one (which went on sending, its provider unlocked and the caps lifted); a run whose
     * replica stopped beating is released when the next run is admitted, as no restart may ever come.
     */
    @Test
    void a_starting_replica_releases_only_runs_whose_replica_stopped_sending_them() throws Exception {
        Instant t0 = Instant.parse("2031-05-01T00:00:00Z");
        clock.set(t0);
        String live = start("s1", "l1", 60).statusCode(202).extract().path("runId");
        UUID dead = abandonedRun("s2", "l2", t0.minus(Duration.ofMinutes(10)));

        profiler.releaseAbandoned(new io.faultline.common.DatabaseReady());
        start("s1", "l9", 10).statusCode(409).body("detail", containsString("s1"));
        given().get("/api/v1/baselines/runs/" + dead).then().statusCode(200).body("status", equalTo("failed"));

        Instant t1 = clock.advance(Duration.ofMinutes(5));
        Awaitility.await("heartbeat").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                .until(() -> !heartbeat(UUID.fromString(live)).isBefore(t1));
        UUID deadLater = abandonedRun("s3", "l3", t1.minus(BaselineStore.STALE).minusSeconds(1));
        start("s3", "l3", 10).statusCode(202);
        given().get("/api/v1/baselines/runs/" + deadLater).then().statusCode(200).body("status", equalTo("failed"));
        start("s4", "l4", 10).statusCode(429).body("detail", containsString("max-concurrent-runs = 2"));
    }

    /**
     * Two replicas behind one service: the DELETE of a run reaches the replica that does not send it. It answered
     * 200 and the run went on sending paid traffic to its end; the replica sending it now stops at its next
     * heartbeat.
     */
    @Test
    void a_run_is_cancelled_by_a_delete_that_reaches_another_replica() {
        clock.set(Instant.parse("2031-06-01T00:00:00Z"));
        String runId = start("c1", "x1", 60).statusCode(202).extract().path("runId");
        BaselineProfiler otherReplica = new BaselineProfiler(config, store, clock, json);

        assertThat(otherReplica.cancel(UUID.fromString(runId))).isPresent();
        awaitStatus(runId, "cancelled");
        assertThat(given().get("/api/v1/baselines/runs/" + runId).then().extract().<Integer>path("sent"))
                .isLessThan(60);
    }

    /** A run a replica that died left running, started at {@code startedAt} and never beating since. */
    private UUID abandonedRun(String provider, String modelGroup, Instant startedAt) throws Exception {
        UUID runId = UUID.randomUUID();
        try (var c = dataSource.getConnection(); var st = c.prepareStatement("insert into baseline_runs (run_id,"
                + " provider, model_group, total, status, workload, started_at) values (?, ?, ?, 10, 'running', 'v1',"
                + " ?)")) {
            st.setObject(1, runId);
            st.setString(2, provider);
            st.setString(3, modelGroup);
            st.setTimestamp(4, java.sql.Timestamp.from(startedAt));
            st.executeUpdate();
        }
        return runId;
    }

    private Instant heartbeat(UUID runId) throws Exception {
        try (var c = dataSource.getConnection(); var st = c.prepareStatement(
                "select heartbeat_at from baseline_runs where run_id = ?")) {
            st.setObject(1, runId);
            try (var rs = st.executeQuery()) {
                rs.next();
                return rs.getTimestamp(1).toInstant();
            }
        }
    }
}
