package io.faultline.episode;

import io.agroal.api.AgroalDataSource;
import io.faultline.correlate.FailureCorrelationEngine;
import io.faultline.impact.FailureImpactAssessor;
import io.faultline.testing.Api;
import io.faultline.testing.Correlations;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.not;

/**
 * A failure delivered late (another proxy's spool) whose time lies within the dedup window (5 min) of two stored
 * episodes of its fingerprint: the two are one episode, the older survives and the absorbed one's address redirects.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class LateFailureMergeTest {

    @Inject
    TestClock clock;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    FailureImpactAssessor assessor;

    @Inject
    FailureCorrelationEngine engine;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    private static Payloads outage(String deployment, Instant at, String user) {
        return Payloads.failure("openai", "merge-grp", deployment, at, 503, "ServiceUnavailableError",
                "Service Unavailable").user(user);
    }

    /** Two episodes of {@code deployment} 8 minutes apart; the newer in an upstream cluster with {@code other}'s. */
    private record Apart(String older, String newer, String cluster) {
    }

    /**
     * An outage of {@code deployment} at {@code t0}, drained alone, and another 8 minutes later beside an Anthropic
     * outage of {@code other}, drained into one cluster.
     */
    private Apart apart(Instant t0, String deployment, String other) {
        return apart(t0, deployment, other, 5);
    }

    /** {@link #apart(Instant, String, String)} with the Anthropic outage {@code lagSeconds} after the newer one. */
    private Apart apart(Instant t0, String deployment, String other, int lagSeconds) {
        clock.set(t0.plusSeconds(30));
        Api.ingest(Payloads.array(outage(deployment, t0, "user-a"))).statusCode(200);
        String older = onlyEpisode(deployment);
        Correlations.drain();
        Instant later = t0.plus(Duration.ofMinutes(8));
        clock.set(later.plusSeconds(30));
        Api.ingest(Payloads.array(outage(deployment, later, "user-b"), Payloads.failure("anthropic", "claude-3-5-haiku",
                other, later.plusSeconds(lagSeconds), 503, "ServiceUnavailableError", "Service Unavailable")))
                .statusCode(200);
        Correlations.drain();
        String newer = Api.failures("deployment=" + deployment).statusCode(200).body("items", hasSize(2)).extract()
                .jsonPath().getString("items[0].failureId");
        String cluster = given().when().get("/api/v1/failures/" + newer).then().statusCode(200).extract()
                .jsonPath().getString("clusters[0]");
        return new Apart(older, newer, cluster);
    }

    private static String onlyEpisode(String deployment) {
        return Api.failures("deployment=" + deployment).statusCode(200).body("items", hasSize(1)).extract()
                .jsonPath().getString("items[0].failureId");
    }

    @Test
    void a_late_failure_between_two_episodes_merges_them_into_the_older_and_the_absorbed_id_redirects_to_it()
            throws Exception {
        Instant t0 = Instant.parse("2033-05-01T10:00:00Z");
        String dep = "merge-" + UUID.randomUUID().toString().substring(0, 8);
        clock.set(t0.plusSeconds(30));
        Api.ingest(Payloads.array(outage(dep, t0, "user-a"))).statusCode(200);
        String older = onlyEpisode(dep);
        // 8 min later, more than the dedup window after it: an episode of its own.
        clock.set(t0.plus(Duration.ofMinutes(8)).plusSeconds(30));
        Api.ingest(Payloads.array(outage(dep, t0.plus(Duration.ofMinutes(8)), "user-b"))).statusCode(200);
        List<String> both = Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(2)).extract()
                .jsonPath().getList("items.failureId");
        String newer = both.get(0);
        assertThat(newer).isNotEqualTo(older);

        // A cost alert that names the newer episode (as a budget crossing's failure does).
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("insert into"
                + " budget_alerts (scope, scope_id, period, period_start, amount_usd, threshold, spent_usd,"
                + " crossed_at, failure_id) values ('team', ?, 'day', ?, 10, 0.8, 8, ?, ?)")) {
            st.setString(1, dep);
            st.setTimestamp(2, java.sql.Timestamp.from(t0.minus(Duration.ofHours(10))));
            st.setTimestamp(3, java.sql.Timestamp.from(t0.plus(Duration.ofMinutes(8))));
            st.setObject(4, UUID.fromString(newer));
            st.executeUpdate();
        }

        // Another proxy's spool delivers the failure it had at minute 4: within 5 min of both episodes.
        clock.set(t0.plus(Duration.ofMinutes(9)));
        Api.ingest(Payloads.array(outage(dep, t0.plus(Duration.ofMinutes(4)), "user-a"))).statusCode(200);

        Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(1))
                .body("items[0].failureId", equalTo(older))
                .body("items[0].occurrences", equalTo(3))
                .body("items[0].firstSeen", equalTo(t0.plusMillis(200).toString()))
                .body("items[0].lastSeen", equalTo(t0.plus(Duration.ofMinutes(8)).plusMillis(200).toString()))
                .body("items[0].impactScope.affected_requests", equalTo(3))
                .body("items[0].impactScope.affected_users", equalTo(2));
        assertThat(links("failure_event_calls", older)).as("every call of both, and the bridge").isEqualTo(3);
        assertThat(links("failure_event_users", older)).as("user-a once, user-b").isEqualTo(2);
        assertThat(links("budget_alerts", older)).as("the alert names the survivor").isEqualTo(1);
        assertThat(links("budget_alerts", newer)).isZero();

        // The absorbed episode's address answers where it went, as a merged correlation cluster's does.
        given().redirects().follow(false).when().get("/api/v1/failures/" + newer).then().log().ifValidationFails()
                .statusCode(308).contentType("application/problem+json")
                .header("Location", endsWith("/api/v1/failures/" + older))
                .body("status", equalTo(308)).body("mergedInto", equalTo(older))
                .body("detail", containsString(older));
        given().when().get("/api/v1/failures/" + newer).then().statusCode(200).body("failureId", equalTo(older));
        given().redirects().follow(false).when().get("/api/v1/failures/" + UUID.randomUUID()).then()
                .statusCode(404).contentType("application/problem+json");
    }

    /**
     * Two late failures in one delivery bridge three episodes 8 minutes apart: the oldest absorbs the other two, and
     * the counter of merged episodes grows by the two it absorbed, in a family promtool accepts.
     */
    @Test
    void episodes_a_merge_absorbs_are_counted_in_faultline_episodes_merged_total() throws Exception {
        Instant t0 = Instant.parse("2033-05-08T10:00:00Z");
        String dep = "merge-m-" + UUID.randomUUID().toString().substring(0, 8);
        for (int i = 0; i < 3; i++) {
            Instant at = t0.plus(Duration.ofMinutes(8L * i));
            clock.set(at.plusSeconds(30));
            Api.ingest(Payloads.array(outage(dep, at, "user-a"))).statusCode(200);
        }
        Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(3));
        String oldest = Api.failures("deployment=" + dep).extract().jsonPath().getString("items[2].failureId");
        double before = Metrics.valueOrZero(Metrics.scrape(), "faultline_episodes_merged_total");

        clock.set(t0.plus(Duration.ofMinutes(17)));
        Api.ingest(Payloads.array(outage(dep, t0.plus(Duration.ofMinutes(4)), "user-b"),
                outage(dep, t0.plus(Duration.ofMinutes(12)), "user-b"))).statusCode(200);

        Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(1))
                .body("items[0].failureId", equalTo(oldest)).body("items[0].occurrences", equalTo(5));
        assertThat(Metrics.value(Metrics.scrape(), "faultline_episodes_merged_total")).as("the two absorbed")
                .isEqualTo(before + 2);
        String family = Metrics.families("faultline_episodes_merged");
        assertThat(family).contains("# TYPE faultline_episodes_merged_total counter");
        assertThat(Metrics.promtool(family)).as("promtool's lint of the family").isEmpty();
    }

    /**
     * One late burst (a failure every 3 minutes for 3 hours and a quarter) lies within the dedup window of 34 stored
     * episodes 6 minutes apart, more than one look-up returns (32): the fold looks up again after merging and all 34
     * are one episode.
     */
    @Test
    void a_burst_that_bridges_more_episodes_than_one_look_up_returns_merges_them_all_in_one_fold() {
        Instant t0 = Instant.parse("2033-05-10T10:00:00Z");
        String dep = "merge-w-" + UUID.randomUUID().toString().substring(0, 8);
        int stored = 34;
        for (int i = 0; i < stored; i++) {
            Instant at = t0.plus(Duration.ofMinutes(6L * i));
            clock.set(at.plusSeconds(30));
            Api.ingest(Payloads.array(outage(dep, at, "user-a"))).statusCode(200);
        }
        Api.failures("deployment=" + dep + "&limit=100").statusCode(200).body("items", hasSize(stored));
        String oldest = Api.failures("deployment=" + dep + "&limit=100").extract().jsonPath()
                .getString("items[" + (stored - 1) + "].failureId");
        double before = Metrics.valueOrZero(Metrics.scrape(), "faultline_episodes_merged_total");

        List<Payloads> late = new ArrayList<>();
        for (int j = 1; j < 2 * stored; j++) {
            late.add(outage(dep, t0.plus(Duration.ofMinutes(3L * j)), "user-b"));
        }
        clock.set(t0.plus(Duration.ofMinutes(6L * stored)));
        Api.ingest(Payloads.array(late.toArray(Payloads[]::new))).statusCode(200);

        Api.failures("deployment=" + dep + "&limit=100").statusCode(200).body("items", hasSize(1))
                .body("items[0].failureId", equalTo(oldest))
                .body("items[0].occurrences", equalTo(stored + late.size()));
        assertThat(Metrics.value(Metrics.scrape(), "faultline_episodes_merged_total")).as("every absorbed episode")
                .isEqualTo(before + stored - 1);
    }

    @Test
    void the_absorbed_episodes_correlation_cluster_membership_and_edges_move_to_the_survivor() throws Exception {
        Instant t0 = Instant.parse("2033-05-02T10:00:00Z");
        String dep = "merge-c-" + UUID.randomUUID().toString().substring(0, 8);
        String other = "merge-o-" + UUID.randomUUID().toString().substring(0, 8);
        // The newer episode fails beside another provider's outage: one cluster of the two.
        Apart apart = apart(t0, dep, other);
        String older = apart.older();
        String newer = apart.newer();
        Instant later = t0.plus(Duration.ofMinutes(8));
        String neighbour = onlyEpisode(other);
        List<String> clusters = given().when().get("/api/v1/failures/" + newer).then().statusCode(200).extract()
                .jsonPath().getList("clusters");
        assertThat(clusters).as("the newer episode and its neighbour correlate").hasSize(1);
        assertThat(edgesOf(newer)).as("an edge with its neighbour").isNotEmpty();
        given().queryParam("status", "all").queryParam("since", t0.toString()).queryParam("limit", 500).when()
                .get("/api/v1/failures/correlations").then().statusCode(200)
                .body("items.nodes.flatten().failureId", hasItem(newer));

        clock.set(later.plus(Duration.ofMinutes(1)));
        Api.ingest(Payloads.array(outage(dep, t0.plus(Duration.ofMinutes(4)), "user-a"))).statusCode(200);
        Correlations.drain();

        given().when().get("/api/v1/failures/" + older).then().statusCode(200)
                .body("clusters", org.hamcrest.Matchers.hasItem(clusters.get(0)));
        // The correlations list shows the cluster with the survivor as its node where the absorbed episode was.
        given().queryParam("status", "all").queryParam("since", t0.toString()).queryParam("limit", 500).when()
                .get("/api/v1/failures/correlations").then().log().ifValidationFails().statusCode(200)
                .body("items.nodes.flatten().failureId", not(hasItem(newer)))
                .body("items.find { it.clusterId == '" + clusters.get(0) + "' }.nodes.failureId",
                        contains(older, neighbour));
        assertThat(edgesOf(newer)).as("no edge names the absorbed episode").isEmpty();
        assertThat(edgesOf(older)).as("the survivor's edges link it with the neighbour").contains(neighbour);
    }

    @Test
    void the_survivors_cluster_is_summarised_again_from_the_merged_episode_after_the_drain() {
        Instant t0 = Instant.parse("2033-05-03T10:00:00Z");
        String dep = "merge-s-" + UUID.randomUUID().toString().substring(0, 8);
        String other = "merge-n-" + UUID.randomUUID().toString().substring(0, 8);
        Apart apart = apart(t0, dep, other);
        String older = apart.older();
        String newer = apart.newer();
        String cluster = apart.cluster();
        Instant later = t0.plus(Duration.ofMinutes(8));
        String neighbourSeen = Api.failures("deployment=" + other).statusCode(200).extract().jsonPath()
                .getString("items[0].firstSeen");
        given().when().get("/api/v1/failures/correlations/" + cluster).then().statusCode(200)
                .body("firstSeen", equalTo(later.plusMillis(200).toString()));

        clock.set(later.plus(Duration.ofMinutes(1)));
        Api.ingest(Payloads.array(outage(dep, t0.plus(Duration.ofMinutes(4)), "user-a"))).statusCode(200);
        Correlations.drain();

        assertSummarisedFrom(cluster, older, neighbourSeen);
    }

    /**
     * The temporal edge the survivor took over was scored from the absorbed episode's onset (5 s from the neighbour's):
     * after the drain it is scored from the survivor's (8 min 5 s earlier), as a fresh edge between the two would be,
     * and the cluster's strength is the noisy-or of its edges as they are now.
     */
    @Test
    void the_temporal_edge_moved_to_the_survivor_is_scored_again_from_its_onset_and_the_strength_follows() {
        assertEdgeScoredFromTheSurvivor(Instant.parse("2033-05-06T10:00:00Z"), 5, 485.0f);
    }

    /**
     * The neighbour started 5 s before the absorbed episode, so the edge ran from the neighbour to it; the survivor
     * started before the neighbour, so the edge runs from the survivor now, under its new key, and only that one.
     */
    @Test
    void a_moved_temporal_edge_whose_ends_swap_order_runs_from_the_survivor_after_the_drain() {
        assertEdgeScoredFromTheSurvivor(Instant.parse("2033-05-07T10:00:00Z"), -5, 475.0f);
    }

    /**
     * Two episodes apart with the neighbour {@code lagSeconds} after the newer one, merged by a late failure and
     * drained: the cluster's one edge runs from the survivor to the neighbour, its lag {@code lag} seconds, scored
     * lower than before, and the cluster's strength is that edge's confidence.
     */
    private void assertEdgeScoredFromTheSurvivor(Instant t0, int lagSeconds, float lag) {
        String dep = "merge-e-" + UUID.randomUUID().toString().substring(0, 8);
        String other = "merge-f-" + UUID.randomUUID().toString().substring(0, 8);
        Apart apart = apart(t0, dep, other, lagSeconds);
        String older = apart.older();
        String cluster = apart.cluster();
        String neighbour = onlyEpisode(other);
        Instant later = t0.plus(Duration.ofMinutes(8));
        JsonPath before = given().when().get("/api/v1/failures/correlations/" + cluster).then().statusCode(200)
                .body("edges", hasSize(1)).body("edges[0].evidence.onset_lag_s", equalTo(5.0f)).extract().jsonPath();
        float confidenceBefore = before.getFloat("edges[0].confidence");

        clock.set(later.plus(Duration.ofMinutes(1)));
        Api.ingest(Payloads.array(outage(dep, t0.plus(Duration.ofMinutes(4)), "user-a"))).statusCode(200);
        Correlations.drain();

        JsonPath after = given().when().get("/api/v1/failures/correlations/" + cluster).then().log()
                .ifValidationFails().statusCode(200)
                .body("edges", hasSize(1))
                .body("edges[0].from", equalTo(older))
                .body("edges[0].to", equalTo(neighbour))
                .body("edges[0].evidence.onset_lag_s", equalTo(lag))
                .extract().jsonPath();
        float confidence = after.getFloat("edges[0].confidence");
        assertThat(confidence).as("an onset 8 min away scores lower than one 5 s away").isLessThan(confidenceBefore);
        assertThat(after.getFloat("strength")).as("the noisy-or of its one edge").isEqualTo(confidence);
    }

    /** The advisory lock a trigger makes the drain wait for before it opens a cluster (the test holds it). */
    private static final long LATCH = 0x4D65_7267_6552_6163L;

    /**
     * A drain has read the newer episode and its neighbour from the queue and is about to write their cluster when a
     * late failure merges the newer episode into the older one: the drain's cluster, edge and all, ends up with the
     * survivor, as if the drain had committed before the merge, and nothing fails. The drain is held before its first
     * write by a trigger that waits for a lock this test holds, and let go once the fold has either finished or
     * waits itself.
     */
    @Test
    void a_merge_racing_a_drain_that_read_the_absorbed_episode_leaves_its_correlation_with_the_survivor()
            throws Exception {
        Instant t0 = Instant.parse("2033-05-09T10:00:00Z");
        String dep = "race-" + UUID.randomUUID().toString().substring(0, 8);
        String other = "race-o-" + UUID.randomUUID().toString().substring(0, 8);
        clock.set(t0.plusSeconds(30));
        Api.ingest(Payloads.array(outage(dep, t0, "user-a"))).statusCode(200);
        String older = onlyEpisode(dep);
        Correlations.drain();
        Instant later = t0.plus(Duration.ofMinutes(8));
        clock.set(later.plusSeconds(30));
        Api.ingest(Payloads.array(outage(dep, later, "user-b"), Payloads.failure("anthropic", "claude-3-5-haiku",
                other, later.plusSeconds(5), 503, "ServiceUnavailableError", "Service Unavailable")))
                .statusCode(200);
        String neighbour = onlyEpisode(other);
        double failuresBefore = Metrics.valueOrZero(Metrics.scrape(), "faultline_correlate_failures_total");
        clock.set(later.plus(Duration.ofMinutes(1)));

        ExecutorService pool = Executors.newFixedThreadPool(2);
        Connection latch = dataSource.getConnection();
        try {
            execute(latch, "select pg_advisory_lock(" + LATCH + ")");
            execute(latch, "create function merge_race_latch() returns trigger language plpgsql as $$ begin"
                    + " perform pg_advisory_xact_lock_shared(" + LATCH + "); return null; end $$;"
                    + " create trigger merge_race_latch before insert on correlation_clusters"
                    + " for each statement execute function merge_race_latch()");
            Future<FailureCorrelationEngine.Drained> drained = pool.submit(() -> engine.drainBatch(true));
            await().atMost(Duration.ofSeconds(60)).until(() -> advisoryWaits(true) > 0);
            Future<Integer> merged = pool.submit(() -> Api.ingest(Payloads.array(outage(dep,
                    t0.plus(Duration.ofMinutes(4)), "user-a"))).extract().statusCode());
            await().atMost(Duration.ofSeconds(60)).until(() -> merged.isDone() || advisoryWaits(false) > 0);
            execute(latch, "select pg_advisory_unlock(" + LATCH + ")");
            assertThat(drained.get(60, TimeUnit.SECONDS)).as("the batch's episodes, none failed")
                    .isEqualTo(new FailureCorrelationEngine.Drained(2, 0, false));
            assertThat(merged.get(60, TimeUnit.SECONDS)).as("the bridging failure's ingest").isEqualTo(200);
        } finally {
            execute(latch, "select pg_advisory_unlock_all()");
            pool.shutdown();
            assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
            execute(latch, "drop trigger if exists merge_race_latch on correlation_clusters;"
                    + " drop function if exists merge_race_latch()");
            latch.close();
        }
        Correlations.drain();

        Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(1))
                .body("items[0].failureId", equalTo(older));
        String cluster = given().when().get("/api/v1/failures/" + older).then().statusCode(200)
                .body("clusters", hasSize(1)).extract().jsonPath().getString("clusters[0]");
        JsonPath view = given().when().get("/api/v1/failures/correlations/" + cluster).then().log()
                .ifValidationFails().statusCode(200)
                .body("nodes.failureId", contains(older, neighbour))
                .body("edges", hasSize(1)).body("edges[0].from", equalTo(older))
                .body("edges[0].to", equalTo(neighbour)).extract().jsonPath();
        assertThat(view.getString("rootCandidate.failureId")).isEqualTo(older);
        assertThat(queued(List.of(older, neighbour))).as("every queue row done").isZero();
        assertThat(Metrics.valueOrZero(Metrics.scrape(), "faultline_correlate_failures_total"))
                .as("no correlation step failed").isEqualTo(failuresBefore);
    }

    private static void execute(Connection c, String sql) throws Exception {
        try (PreparedStatement st = c.prepareStatement(sql)) {
            st.execute();
        }
    }

    /** Transactions waiting for the latch ({@code latch}), or for any other advisory lock. */
    private long advisoryWaits(boolean latch) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select count(*)"
                + " from pg_locks where locktype = 'advisory' and not granted and (((classid::bigint << 32)"
                + " | objid::bigint) = ?) = ?")) {
            st.setLong(1, LATCH);
            st.setBoolean(2, latch);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private long queued(List<String> episodes) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from correlation_queue where failure_id = any (?::uuid[])")) {
            st.setArray(1, c.createArrayOf("uuid", episodes.stream().map(UUID::fromString).toArray()));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /**
     * A late burst within the dedup window before an episode's start, without a merge, moves the episode's start back:
     * its cluster's first sighting, onset spread and root candidate follow once the drain has run.
     */
    @Test
    void a_late_burst_that_starts_an_episode_earlier_summarises_its_cluster_again() {
        Instant t0 = Instant.parse("2033-05-05T10:00:00Z");
        String dep = "early-s-" + UUID.randomUUID().toString().substring(0, 8);
        String other = "early-n-" + UUID.randomUUID().toString().substring(0, 8);
        clock.set(t0.plusSeconds(30));
        Api.ingest(Payloads.array(outage(dep, t0, "user-a"), Payloads.failure("anthropic", "claude-3-5-haiku",
                other, t0.plusSeconds(5), 503, "ServiceUnavailableError", "Service Unavailable"))).statusCode(200);
        Correlations.drain();
        String episode = onlyEpisode(dep);
        String cluster = given().when().get("/api/v1/failures/" + episode).then().statusCode(200).extract()
                .jsonPath().getString("clusters[0]");
        String neighbourSeen = Api.failures("deployment=" + other).statusCode(200).extract().jsonPath()
                .getString("items[0].firstSeen");
        given().when().get("/api/v1/failures/correlations/" + cluster).then().statusCode(200)
                .body("firstSeen", equalTo(t0.plusMillis(200).toString()));

        clock.set(t0.plus(Duration.ofMinutes(2)));
        Api.ingest(Payloads.array(outage(dep, t0.minus(Duration.ofMinutes(3)), "user-b"))).statusCode(200);
        Correlations.drain();

        assertThat(onlyEpisode(dep)).as("the late burst continued the episode").isEqualTo(episode);
        Instant episodeSeen = assertSummarisedFrom(cluster, episode, neighbourSeen);
        assertThat(episodeSeen).isBefore(t0);
    }

    /**
     * The cluster's summary is the episode's as it is now: its first sighting, the episode as root candidate, and the
     * onset spread from it to the neighbour's. Returns the episode's first sighting.
     */
    private static Instant assertSummarisedFrom(String cluster, String episode, String neighbourSeen) {
        String seen = given().when().get("/api/v1/failures/" + episode).then().statusCode(200).extract()
                .jsonPath().getString("firstSeen");
        double spread = Duration.between(Instant.parse(seen), Instant.parse(neighbourSeen)).toMillis() / 1000.0;
        given().when().get("/api/v1/failures/correlations/" + cluster).then().log().ifValidationFails()
                .statusCode(200)
                .body("firstSeen", equalTo(seen))
                .body("rootCandidate.failureId", equalTo(episode))
                .body("evidence.temporal.onset_spread_s", equalTo((float) spread));
        return Instant.parse(seen);
    }

    @Test
    void a_closed_cluster_that_held_the_absorbed_episode_is_assessed_again_with_the_merged_episodes_requests_once()
            throws Exception {
        Instant t0 = Instant.parse("2033-05-04T10:00:00Z");
        String dep = "merge-i-" + UUID.randomUUID().toString().substring(0, 8);
        String other = "merge-j-" + UUID.randomUUID().toString().substring(0, 8);
        Apart apart = apart(t0, dep, other);
        String older = apart.older();
        String newer = apart.newer();
        String cluster = apart.cluster();
        Instant later = t0.plus(Duration.ofMinutes(8));
        assessor.refreshOpen();
        assertThat(assessedRequests(cluster)).as("the newer episode's request and its neighbour's").isEqualTo(2);
        assertThat(assessedRequests(older)).isEqualTo(1);

        // The spool delivers the bridging failure after both episodes and the cluster stopped being open (30 min).
        clock.set(later.plus(Duration.ofMinutes(50)));
        Api.ingest(Payloads.array(outage(dep, t0.plus(Duration.ofMinutes(4)), "user-a"))).statusCode(200);
        Correlations.drain();
        assessor.refreshOpen();

        assertThat(assessedRequests(cluster)).as("the merged episode's three requests once, and the neighbour's")
                .isEqualTo(4);
        assertThat(assessedRequests(older)).as("the survivor's own assessment").isEqualTo(3);
    }

    @Test
    void a_user_both_episodes_had_keeps_the_earlier_of_its_two_first_sightings() throws Exception {
        Instant t0 = Instant.parse("2033-05-05T10:00:00Z");
        String dep = "merge-u-" + UUID.randomUUID().toString().substring(0, 8);
        clock.set(t0.plusSeconds(30));
        Api.ingest(Payloads.array(outage(dep, t0, "user-b"))).statusCode(200);
        String older = onlyEpisode(dep);
        Instant later = t0.plus(Duration.ofMinutes(8));
        clock.set(later.plusSeconds(30));
        Api.ingest(Payloads.array(outage(dep, later, "user-a"))).statusCode(200);
        String newer = Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(2)).extract()
                .jsonPath().getString("items[0].failureId");
        // user-a also failed in the older episode, but later than in the newer one (a spool's late delivery).
        Instant survivorsSighting = later.plusSeconds(20);
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("insert into"
                + " failure_event_users (failure_id, user_ref, seen_at) values (?, 'user-a', ?)")) {
            st.setObject(1, UUID.fromString(older));
            st.setTimestamp(2, java.sql.Timestamp.from(survivorsSighting));
            st.executeUpdate();
        }
        Instant absorbedSighting = userSeenAt(newer, "user-a");
        assertThat(absorbedSighting).isBefore(survivorsSighting);

        clock.set(later.plus(Duration.ofMinutes(1)));
        Api.ingest(Payloads.array(outage(dep, t0.plus(Duration.ofMinutes(4)), "user-c"))).statusCode(200);

        assertThat(userSeenAt(older, "user-a")).as("the first sighting of either").isEqualTo(absorbedSighting);
    }

    private Instant userSeenAt(String failureId, String user) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select seen_at from failure_event_users where failure_id = ? and user_ref = ?")) {
            st.setObject(1, UUID.fromString(failureId));
            st.setString(2, user);
            try (ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).as(user + " is linked with " + failureId).isTrue();
                return rs.getTimestamp(1).toInstant();
            }
        }
    }

    /** The requests the stored assessment of an episode or a cluster counts. */
    private long assessedRequests(String subject) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select affected_requests from failure_impacts where subject_id = ?")) {
            st.setObject(1, UUID.fromString(subject));
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? rs.getLong(1) : -1;
            }
        }
    }

    private long links(String table, String failureId) throws Exception {
        try (Connection c = dataSource.getConnection();
                PreparedStatement st = c.prepareStatement("select count(*) from " + table + " where failure_id = ?")) {
            st.setObject(1, UUID.fromString(failureId));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /** The episodes an episode's correlation edges link it with (either end). */
    private List<String> edgesOf(String failureId) throws Exception {
        List<String> ends = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select case when from_failure_id = ? then to_failure_id else from_failure_id end"
                        + " from correlation_edges where from_failure_id = ? or to_failure_id = ?")) {
            UUID id = UUID.fromString(failureId);
            st.setObject(1, id);
            st.setObject(2, id);
            st.setObject(3, id);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    ends.add(String.valueOf(rs.getObject(1)));
                }
            }
        }
        return ends;
    }
}
