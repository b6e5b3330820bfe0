package io.faultline.correlate;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Correlations;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

/**
 * Failures ingested as LiteLLM payloads are linked into incidents: outages at several providers at once into one
 * upstream cluster, a timeout whose traffic fell back to a model that then broke its format into a cascade, and
 * nothing for failures that merely happen on the same day. Each scenario runs at its own test-clock time, far from
 * the other test classes' data, on deployments of its own. The graph lives in PostgreSQL, so it survives a restart
 * by construction (RestartIT covers restarts of the stored tables in general).
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CorrelationTest {

    static final String PROBLEM = "application/problem+json";

    @Inject
    TestClock clock;

    @Inject
    FailureCorrelationEngine engine;

    @Inject
    CorrelateConfig config;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    static String dep(String name) {
        return name + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    static Payloads outage(String provider, String model, String deployment, Instant at) {
        return Payloads.failure(provider, model, deployment, at, 503, "ServiceUnavailableError",
                "upstream connect error or disconnect/reset before headers");
    }

    /** Runs between each ingest and its drain (a test may change what the fold stored). */
    static Runnable beforeDrain = () -> { };

    /** Episodes per drain batch in {@link #ingest}; 0: the configured batch. */
    static int drainSize;

    static void ingest(List<Payloads> calls) {
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        beforeDrain.run();
        if (drainSize == 0) {
            Correlations.drain();
            return;
        }
        FailureCorrelationEngine engine = engine();
        while (engine.drainBatch(true, drainSize).taken() > 0) {
            // until no queued episode is due
        }
    }

    /** The engine, for the static helpers (the drain's batch size and read-ahead). */
    static FailureCorrelationEngine engine() {
        return io.quarkus.arc.Arc.container().instance(FailureCorrelationEngine.class).get();
    }

    /** The one episode of a deployment. */
    static JsonPath episodeOf(String deployment) {
        JsonPath list = Api.failures("deployment=" + deployment).statusCode(200).extract().jsonPath();
        assertThat(list.getList("items")).as("episodes of " + deployment).hasSize(1);
        return list;
    }

    static String episodeId(String deployment) {
        return episodeOf(deployment).getString("items[0].failureId");
    }

    static List<String> clustersOf(String failureId) {
        return given().log().ifValidationFails().when().get("/api/v1/failures/" + failureId).then()
                .log().ifValidationFails().statusCode(200).extract().jsonPath().getList("clusters", String.class);
    }

    static ValidatableResponse correlations(String query) {
        return given().log().ifValidationFails().when().get("/api/v1/failures/correlations?" + query).then().log()
                .ifValidationFails();
    }

    static JsonPath cluster(String id) {
        return given().log().ifValidationFails().when().get("/api/v1/failures/correlations/" + id).then().log()
                .ifValidationFails().statusCode(200).extract().jsonPath();
    }

    /** Outages at openai, anthropic and gemini starting at 0 s, 40 s and 90 s after {@code t0}; the deployments. */
    List<String> threeProviderOutage(Instant t0) {
        clock.set(t0.plus(Duration.ofMinutes(2)));
        List<String> deps = List.of(dep("oa"), dep("an"), dep("ge"));
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            calls.add(outage("openai", "gpt-4o-mini", deps.get(0), t0.plusSeconds(i * 5)));
            calls.add(outage("anthropic", "claude-3-5-haiku", deps.get(1), t0.plusSeconds(40 + i * 5)));
            calls.add(outage("gemini", "gemini-2.0-flash", deps.get(2), t0.plusSeconds(90 + i * 5)));
        }
        ingest(calls);
        return deps;
    }

    @Test
    void outages_at_three_providers_within_90_seconds_are_one_upstream_cluster() {
        Instant t0 = Instant.parse("2029-03-17T03:00:00Z");
        List<String> deps = threeProviderOutage(t0);
        List<String> episodes = deps.stream().map(CorrelationTest::episodeId).toList();

        List<String> clusters = clustersOf(episodes.get(0));
        assertThat(clusters).hasSize(1);
        for (String episode : episodes) {
            assertThat(clustersOf(episode)).as("every outage is in the one cluster").isEqualTo(clusters);
        }
        JsonPath c = cluster(clusters.get(0));
        assertThat(c.getString("type")).isEqualTo("upstream");
        assertThat(c.getString("status")).isEqualTo("active");
        assertThat(c.getList("providers")).containsExactly("anthropic", "gemini", "openai");
        assertThat(c.getList("nodes.failureId")).containsExactlyInAnyOrderElementsOf(episodes);
        assertThat(c.getList("nodes.type")).containsOnly("outage");
        assertThat(c.getDouble("confidence")).isGreaterThan(config.minConfidence());
        // (1 - ~1e-6) * tightness(95 s spread of 300 s: 0.842) * breadth(3 providers: 0.75)
        assertThat(c.getDouble("confidence")).isCloseTo(0.75 * (1 - 0.5 * 95 / 300.0), within(0.01));
        assertThat(c.getString("rootCandidate.failureId")).isEqualTo(episodes.get(0));
        assertThat(c.getString("rootCandidate.reason")).contains("openai outage").contains("3 providers");
        assertThat(c.getList("edges.kind")).isNotEmpty().containsOnly("temporal");
        assertThat(c.getDouble("strength")).isGreaterThanOrEqualTo(c.getDouble("confidence"));
        Map<String, Object> evidence = c.getMap("edges[0].evidence");
        assertThat(evidence).containsKeys("formula", "p_chance", "tightness", "onset_lag_s");
        assertThat(c.getMap("evidence.temporal")).containsEntry("providers", 3);

        correlations("status=active&type=upstream&since=" + t0).statusCode(200)
                .body("items.clusterId", hasItem(clusters.get(0)));
        correlations("type=cascade&since=" + t0).statusCode(200)
                .body("items.clusterId", org.hamcrest.Matchers.not(hasItem(clusters.get(0))));
    }

    @Test
    void failures_at_two_providers_hours_apart_or_with_onsets_far_apart_in_a_window_form_no_cluster() {
        Instant t0 = Instant.parse("2029-03-18T05:00:00Z");
        clock.set(t0.plus(Duration.ofHours(4)));
        String a = dep("oa");
        String b = dep("an");
        String c = dep("oa");
        String d = dep("ge");
        ingest(List.of(outage("openai", "gpt-4o-mini", a, t0),
                outage("anthropic", "claude-3-5-haiku", b, t0.plus(Duration.ofHours(3))),
                // 4.5 minutes apart: in one window, but (1 - 0.5 * 270/300) * 0.5 = 0.275 < 0.4
                outage("openai", "gpt-4o-mini", c, t0.plus(Duration.ofHours(1))),
                outage("gemini", "gemini-2.0-flash", d, t0.plus(Duration.ofHours(1)).plusSeconds(270))));
        for (String deployment : List.of(a, b, c, d)) {
            assertThat(clustersOf(episodeId(deployment))).as(deployment).isEmpty();
        }
    }

    /** Four requests: each times out on openai and falls back (same trace) to a model on anthropic. */
    @Test
    void an_episode_within_the_window_of_a_cluster_joins_it_only_through_a_link_of_its_own() {
        Instant t0 = Instant.parse("2029-03-21T03:00:00Z");
        List<String> deps = threeProviderOutage(t0);
        String clusterId = clustersOf(episodeId(deps.get(0))).get(0);
        // Four minutes after the last onset: within the 5-minute window of the gemini member, but the pair scores
        // posterior (~1) * tightness (1 - 0.5 * 240 / 300 = 0.6) * breadth (0.5) = 0.3, under the 0.4 threshold.
        String late = dep("oa-late");
        clock.set(t0.plus(Duration.ofMinutes(8)));
        ingest(List.of(outage("openai", "gpt-4o", late, t0.plusSeconds(90 + 240))));
        // And one on another anthropic deployment 20 s after the openai onset: a pair of its own with openai.
        String tight = dep("an-tight");
        ingest(List.of(outage("anthropic", "claude-3-5-sonnet", tight, t0.plusSeconds(20))));

        assertThat(clustersOf(episodeId(late))).as("a neighbour in time only").isEmpty();
        assertThat(clustersOf(episodeId(tight))).containsExactly(clusterId);
        JsonPath c = cluster(clusterId);
        assertThat(c.getList("nodes.failureId")).hasSize(4).doesNotContain(episodeId(late));
        assertThat(c.getList("edges.to", String.class)).doesNotContain(episodeId(late));
    }

    @Test
    void rate_limits_at_two_providers_at_once_are_no_upstream_incident() {
        Instant t0 = Instant.parse("2029-03-22T03:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(2)));
        String oa = dep("oa-429");
        String an = dep("an-429");
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            calls.add(Payloads.failure("openai", "gpt-4o-mini", oa, t0.plusSeconds(i), 429, "RateLimitError",
                    "Rate limit reached for requests"));
            calls.add(Payloads.failure("anthropic", "claude-3-5-haiku", an, t0.plusSeconds(5 + i), 429,
                    "RateLimitError", "Number of requests has exceeded your rate limit"));
        }
        ingest(calls);

        assertThat(episodeOf(oa).getString("items[0].type")).isEqualTo("rate_limit");
        assertThat(clustersOf(episodeId(oa))).isEmpty();
        assertThat(clustersOf(episodeId(an))).isEmpty();
    }

    private record Cascade(String timeoutEpisode, String qualityEpisode, JsonPath cluster) {
    }

    /** One request asking for JSON: a timed-out OpenAI attempt, then LiteLLM's fallback to Anthropic 2 s later. */
    static List<Payloads> timeoutThenFallback(String primary, String fallback, Instant at, String answer) {
        String trace = UUID.randomUUID().toString();
        Map<String, Object> json = Map.of("response_format", Map.of("type", "json_object"));
        return List.of(Payloads.failure("openai", "gpt-4o-mini", primary, at, 408, "Timeout", "Request timed out.")
                        .set("trace_id", trace).set("model_parameters", json),
                Payloads.success("anthropic", "claude-3-5-haiku", fallback, at.plusSeconds(2))
                        .set("trace_id", trace).set("model_parameters", json).answer(answer, "stop"));
    }

    private Cascade timeoutFallingBackToBrokenFormat(Instant t0, boolean targetAlwaysBroken) {
        return timeoutFallingBackToBrokenFormat(t0, targetAlwaysBroken, List.of());
    }

    private Cascade timeoutFallingBackToBrokenFormat(Instant t0, boolean targetAlwaysBroken, List<Payloads> also) {
        return timeoutFallingBackToBrokenFormat(t0, targetAlwaysBroken, also, Duration.ZERO);
    }

    /** {@code late}: how long after the calls they arrive (the clock of the ingest and the drain). */
    private Cascade timeoutFallingBackToBrokenFormat(Instant t0, boolean targetAlwaysBroken, List<Payloads> also,
            Duration late) {
        clock.set(t0.plus(Duration.ofMinutes(3)).plus(late));
        String primary = dep("oa");
        String fallback = dep("an");
        Map<String, Object> json = Map.of("response_format", Map.of("type", "json_object"));
        // The target's own traffic before the incident: valid JSON, or as broken as during the fallback.
        List<Payloads> before = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            before.add(Payloads.success("anthropic", "claude-3-5-haiku", fallback,
                    t0.minus(Duration.ofMinutes(40)).plusSeconds(i * 20)).set("model_parameters", json)
                    .answer(targetAlwaysBroken ? "Sure! city: Paris" : "{\"city\": \"Paris\"}", "stop"));
        }
        ingest(before);
        List<Payloads> incident = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            incident.addAll(timeoutThenFallback(primary, fallback, t0.plusSeconds(i * 10),
                    "Sure! Here is the data you asked for: city Paris"));
        }
        incident.addAll(also);
        ingest(incident);
        String timeout = episodeId(primary);
        JsonPath quality = Api.failures("deployment=" + fallback + "&type=format_non_compliance&since="
                + t0.minusSeconds(1)).statusCode(200).extract().jsonPath();
        assertThat(quality.getList("items")).hasSize(1);
        String qualityEpisode = quality.getString("items[0].failureId");
        List<String> clusters = clustersOf(timeout);
        assertThat(clusters).hasSize(1);
        assertThat(clustersOf(qualityEpisode)).isEqualTo(clusters);
        return new Cascade(timeout, qualityEpisode, cluster(clusters.get(0)));
    }

    @Test
    void a_timeout_whose_requests_fell_back_to_a_model_that_broke_the_format_is_a_cascade() {
        Cascade cascade = timeoutFallingBackToBrokenFormat(Instant.parse("2029-03-19T07:00:00Z"), false);
        JsonPath c = cascade.cluster();
        assertThat(c.getString("type")).isEqualTo("cascade");
        assertThat(c.getList("nodes.failureId")).containsExactlyInAnyOrder(cascade.timeoutEpisode(),
                cascade.qualityEpisode());
        assertThat(c.getList("nodes.type")).containsExactlyInAnyOrder("timeout", "format_non_compliance");
        assertThat(c.getString("rootCandidate.failureId")).isEqualTo(cascade.timeoutEpisode());
        assertThat(c.getString("rootCandidate.reason")).contains("openai timeout").contains("fell back to anthropic")
                .contains("format_non_compliance");

        List<Map<String, Object>> edges = c.getList("edges");
        Map<String, Object> fallback = edges.stream().filter(e -> "fallback".equals(e.get("kind"))).findFirst()
                .orElseThrow();
        assertThat(fallback.get("from")).isEqualTo(cascade.timeoutEpisode());
        assertThat(fallback.get("to")).isEqualTo(cascade.qualityEpisode());
        @SuppressWarnings("unchecked")
        Map<String, Object> fallbackEvidence = (Map<String, Object>) fallback.get("evidence");
        assertThat(fallbackEvidence).containsEntry("shared_traces", 4).containsEntry("target_provider", "anthropic")
                .containsEntry("lag_ms_median", 2000);
        assertThat(((Number) fallback.get("confidence")).doubleValue()).isCloseTo(1 - 1 / 16.0, within(1e-6));

        Map<String, Object> caused = edges.stream().filter(e -> "caused".equals(e.get("kind"))).findFirst()
                .orElseThrow();
        assertThat(caused.get("from")).isEqualTo(cascade.timeoutEpisode());
        assertThat(caused.get("to")).isEqualTo(cascade.qualityEpisode());
        @SuppressWarnings("unchecked")
        Map<String, Object> evidence = (Map<String, Object>) caused.get("evidence");
        assertThat(evidence).containsEntry("shared_traces", 4).containsEntry("fallback_quality_failures", 4)
                .containsEntry("baseline_calls", 10).containsEntry("baseline_quality_failures", 0)
                .containsEntry("quality_type", "format_non_compliance").containsKey("rate_lift");
        assertThat(((Number) evidence.get("rate_lift")).doubleValue()).isGreaterThan(50);
        // (1 - r_base / r_fallback) * 4/5, r_base = 0.08 / 14
        double expected = (1 - (0.08 / 14) / 1.0) * 0.8;
        assertThat(((Number) caused.get("confidence")).doubleValue()).isCloseTo(expected, within(1e-3));
        assertThat(c.getDouble("confidence")).isCloseTo(1 - 1 / 16.0, within(1e-6));
    }

    /**
     * Calls that arrive three days late (a plugin's spool after an outage): their episodes are older than the
     * drain's read-ahead horizon, so each step walks its traces on its own, unbounded, and finds the same cascade.
     */
    @Test
    void a_cascade_whose_calls_arrive_days_late_is_found_by_the_steps_own_walks() {
        Cascade cascade = timeoutFallingBackToBrokenFormat(Instant.parse("2029-03-21T07:00:00Z"), false, List.of(),
                Duration.ofDays(3));
        JsonPath c = cascade.cluster();
        assertThat(c.getString("type")).isEqualTo("cascade");
        assertThat(c.getString("rootCandidate.failureId")).isEqualTo(cascade.timeoutEpisode());
        List<Map<String, Object>> edges = c.getList("edges");
        assertThat(edges).extracting(e -> e.get("kind")).containsExactlyInAnyOrder("fallback", "caused");
        for (Map<String, Object> edge : edges) {
            assertThat(edge.get("from")).isEqualTo(cascade.timeoutEpisode());
            assertThat(edge.get("to")).isEqualTo(cascade.qualityEpisode());
            @SuppressWarnings("unchecked")
            Map<String, Object> evidence = (Map<String, Object>) edge.get("evidence");
            assertThat(evidence).containsEntry("shared_traces", 4);
        }
    }

    /**
     * The fallback target answers well at first and breaks later: the timeout's first steps find fallback calls in
     * no episode (an edge to the deployment), its later ones find them in the quality episode. The cluster holds one
     * fallback edge per target, pointing at the episode and counting every trace, not the first edge beside it.
     */
    @Test
    void a_fallback_target_that_breaks_later_keeps_one_fallback_edge_that_follows_it_to_its_episode() {
        Instant t0 = Instant.parse("2029-03-22T07:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(3)));
        String primary = dep("oa");
        String fallback = dep("an");
        int[] requests = {2, 1, 3}; // answered well, then broken once (one trace: too few to link), then broken
        for (int stage = 0; stage < requests.length; stage++) {
            List<Payloads> calls = new ArrayList<>();
            for (int i = 0; i < requests[stage]; i++) {
                calls.addAll(timeoutThenFallback(primary, fallback, t0.plusSeconds(stage * 60 + i * 10),
                        stage == 0 ? "{\"city\": \"Paris\"}" : "Sure! Here is the data: city Paris"));
            }
            ingest(calls);
            if (stage == 1) {
                // The quality episode exists but shares one trace: the edge still names the deployment alone.
                assertThat(fallbackEdges(episodeId(primary))).containsExactly("to null, 3 traces");
            }
        }
        String timeout = episodeId(primary);
        String quality = episodeId(fallback);
        assertThat(fallbackEdges(timeout)).containsExactly("to " + quality + ", 6 traces");
        List<String> clusters = clustersOf(timeout);
        assertThat(clusters).hasSize(1);
        JsonPath c = cluster(clusters.get(0));
        assertThat(c.getList("nodes.failureId")).containsExactlyInAnyOrder(timeout, quality);
        List<Map<String, Object>> edges = c.getList("edges");
        assertThat(edges).extracting(e -> e.get("kind")).containsExactlyInAnyOrder("fallback", "caused");
        Map<String, Object> edge = edges.stream().filter(e -> "fallback".equals(e.get("kind"))).findFirst()
                .orElseThrow();
        assertThat(edge.get("from")).isEqualTo(timeout);
        assertThat(edge.get("to")).isEqualTo(quality);
        @SuppressWarnings("unchecked")
        Map<String, Object> evidence = (Map<String, Object>) edge.get("evidence");
        assertThat(evidence).containsEntry("shared_traces", 6).containsEntry("fallback_calls", 6)
                .containsEntry("target_deployment", fallback);
        assertThat(((Number) edge.get("confidence")).doubleValue()).isCloseTo(1 - 1 / 64.0, within(1e-6));
    }

    /** The stored fallback edges of an episode, wherever they are (in a cluster or not yet). */
    private List<String> fallbackEdges(String failureId) {
        List<String> edges = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select"
                + " to_failure_id, evidence ->> 'shared_traces' from correlation_edges where kind = 'fallback'"
                + " and from_failure_id = ?::uuid order by edge_id")) {
            st.setString(1, failureId);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    edges.add("to " + rs.getString(1) + ", " + rs.getString(2) + " traces");
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return edges;
    }

    @Test
    void a_cascade_that_starts_with_another_providers_outage_is_mixed() {
        Instant t0 = Instant.parse("2029-03-20T08:00:00Z");
        String gemini = dep("ge");
        Cascade cascade = timeoutFallingBackToBrokenFormat(t0, false, List.of(
                outage("gemini", "gemini-2.0-flash", gemini, t0.minusSeconds(20)),
                outage("gemini", "gemini-2.0-flash", gemini, t0.plusSeconds(10))));
        JsonPath c = cascade.cluster();
        String outage = episodeId(gemini);
        assertThat(c.getString("type")).isEqualTo("mixed");
        assertThat(c.getList("nodes.failureId")).containsExactlyInAnyOrder(outage, cascade.timeoutEpisode(),
                cascade.qualityEpisode());
        assertThat(c.getList("edges.kind")).contains("temporal", "fallback", "caused");
        assertThat(c.getList("providers")).containsExactly("anthropic", "gemini", "openai");
        // The gemini outage began first and nothing causal points into it.
        assertThat(c.getString("rootCandidate.failureId")).isEqualTo(outage);
    }

    /**
     * The pipelined drain (reads with the lock, writes at the end; the default) against the drain that sends each
     * read and write as it comes: the same mixed incident, a day apart on deployments of its own, then an update of
     * its clustered outage, gives the same cluster, nodes, edges, confidences and evidence, ids and names aside.
     */
    @Test
    void the_pipelined_drain_builds_the_same_graph_as_one_round_trip_per_statement() {
        String pipelined = mixedIncidentThenUpdate(Instant.parse("2029-03-23T08:00:00Z"));
        engine.pipelined(false);
        String plain;
        try {
            plain = mixedIncidentThenUpdate(Instant.parse("2029-03-24T08:00:00Z"));
        } finally {
            engine.pipelined(config.pipelined());
        }
        assertThat(plain.replace("2029-03-24", "2029-03-23")).isEqualTo(pipelined);
        assertThat(pipelined).contains("\"type\":\"mixed\"").contains("\"kind\":\"temporal\"")
                .contains("\"kind\":\"fallback\"").contains("\"kind\":\"caused\"");
    }

    /**
     * A batch's later episodes take their active clusters from what the step's joins did (read once, with the lock),
     * and a join whose members all sit in one active cluster already writes nothing: the same mixed incident drained
     * in one batch and one episode per batch gives the same cluster, nodes, edges, confidences and evidence.
     */
    @Test
    void a_batch_builds_the_same_graph_as_one_episode_per_drain() {
        String batched = batchedAndSingleAgree(this::mixedIncidentThenUpdate, "2029-03-27", "2029-03-28");
        assertThat(batched).contains("\"type\":\"mixed\"").contains("\"kind\":\"temporal\"")
                .contains("\"kind\":\"fallback\"").contains("\"kind\":\"caused\"");
    }

    /**
     * Two active clusters that a new episode bridges are merged into the older one. In one batch whose episodes are
     * the bridge and a member of each cluster, the step knows every member's clusters and merges in memory (written
     * with its next round trip); one episode per batch, the join's statement merges. Both give one cluster with the
     * three outages and their temporal edges, the same way. The two clusters are made by splitting an upstream
     * cluster of two outages (a state the engine reaches when links arrive in another order).
     */
    @Test
    void a_batch_that_bridges_two_clusters_merges_them_as_one_episode_per_drain_does() {
        batchedAndSingleAgree(this::splitThenBridge, "2029-03-29", "2029-03-30");
    }

    /**
     * The drain reads ahead with the lock after a batch of several episodes and not after a lone one (the read-ahead
     * pays only across several), and never for a batch of at most one episode. Both paths give the same graph (the
     * two tests above).
     */
    @Test
    void the_drain_reads_ahead_after_a_batch_of_several_episodes_and_not_after_a_lone_one() {
        FailureCorrelationEngine engine = engine();
        Instant t0 = Instant.parse("2029-03-31T08:00:00Z");
        threeProviderOutage(t0); // three episodes, drained in one batch
        assertThat(engine.readsAhead(config.drainBatch())).isTrue();
        assertThat(engine.readsAhead(1)).isFalse();

        Instant later = t0.plus(Duration.ofHours(2));
        clock.set(later.plus(Duration.ofMinutes(1)));
        ingest(List.of(outage("openai", "gpt-4o-mini", dep("lone"), later)));
        assertThat(engine.readsAhead(config.drainBatch())).isFalse();

        threeProviderOutage(later.plus(Duration.ofHours(2)));
        assertThat(engine.readsAhead(config.drainBatch())).isTrue();
    }

    /**
     * Runs the scenario at 08:00 on the first day with the configured drain batch and the read-ahead, and on the
     * second day one episode per drain batch without it (as a drain at quiet times runs); asserts that both give the
     * same normalised cluster (the day aside) and returns it.
     */
    private static String batchedAndSingleAgree(java.util.function.Function<Instant, String> scenario, String day,
            String nextDay) {
        FailureCorrelationEngine engine = engine();
        String batched;
        String single;
        try {
            engine.readAhead(FailureCorrelationEngine.ReadAhead.ALWAYS);
            batched = scenario.apply(Instant.parse(day + "T08:00:00Z"));
            engine.readAhead(FailureCorrelationEngine.ReadAhead.NEVER);
            drainSize = 1;
            single = scenario.apply(Instant.parse(nextDay + "T08:00:00Z"));
        } finally {
            drainSize = 0;
            engine.readAhead(FailureCorrelationEngine.ReadAhead.ADAPTIVE);
        }
        assertThat(single.replace(nextDay, day)).isEqualTo(batched);
        return batched;
    }

    private String splitThenBridge(Instant t0) {
        clock.set(t0.plus(Duration.ofMinutes(2)));
        String oa = dep("oa");
        String an = dep("an");
        String ge = dep("ge");
        ingest(List.of(outage("openai", "gpt-4o-mini", oa, t0), outage("anthropic", "claude-3-5-haiku", an,
                t0.plusSeconds(30))));
        String openai = episodeId(oa);
        String anthropic = episodeId(an);
        List<String> first = clustersOf(openai);
        assertThat(first).hasSize(1);
        assertThat(clustersOf(anthropic)).isEqualTo(first);
        UUID split = UUID.randomUUID();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("insert into"
                + " correlation_clusters (cluster_id, type, status, strength, confidence, providers, evidence,"
                + " first_seen, last_seen, last_activity, opened_at) select ?, type, status, strength, confidence,"
                + " providers, evidence, first_seen, last_seen, last_activity, opened_at + interval '1 second'"
                + " from correlation_clusters where cluster_id = ?::uuid; update correlation_members set cluster_id = ?"
                + " where cluster_id = ?::uuid and failure_id = ?::uuid")) {
            st.setObject(1, split);
            st.setString(2, first.get(0));
            st.setObject(3, split);
            st.setString(4, first.get(0));
            st.setString(5, anthropic);
            st.execute();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        assertThat(clustersOf(anthropic)).containsExactly(split.toString());
        // One ingest, one batch by default: a call more for each clustered outage, and a gemini outage between them.
        clock.set(t0.plus(Duration.ofMinutes(3)));
        ingest(List.of(outage("openai", "gpt-4o-mini", oa, t0.plusSeconds(40)), outage("anthropic",
                "claude-3-5-haiku", an, t0.plusSeconds(50)), outage("gemini", "gemini-2.0-flash", ge,
                t0.plusSeconds(60))));
        String gemini = episodeId(ge);
        List<String> merged = clustersOf(gemini);
        assertThat(merged).as("the older cluster absorbed the split one").containsExactly(first.get(0));
        assertThat(clustersOf(openai)).isEqualTo(merged);
        assertThat(clustersOf(anthropic)).isEqualTo(merged);
        correlations("status=all&since=" + t0.minusSeconds(1)).statusCode(200)
                .body("items.clusterId", org.hamcrest.Matchers.not(hasItem(split.toString())));
        JsonPath c = cluster(merged.get(0));
        assertThat(c.getList("nodes.failureId")).containsExactlyInAnyOrder(openai, anthropic, gemini);
        assertThat(c.getList("edges.kind")).containsOnly("temporal").hasSizeGreaterThanOrEqualTo(2);
        return canonical(c.prettify().replace(merged.get(0), "CLUSTER").replace(openai, "OPENAI")
                .replace(anthropic, "ANTHROPIC").replace(gemini, "GEMINI").replace(oa, "OA").replace(an, "AN")
                .replace(ge, "GE"));
    }

    /** A cluster's JSON with its ids replaced, as one comparable string: edge order follows ids, so edges sorted. */
    private static String canonical(String text) {
        List<String> edges = new ArrayList<>();
        JsonPath normalised = JsonPath.from(text);
        for (Object edge : normalised.getList("edges")) {
            edges.add(io.faultline.testing.Payloads.JSON.valueToTree(edge).toString());
        }
        edges.sort(null);
        Map<String, Object> rest = new java.util.TreeMap<>(normalised.getMap(""));
        rest.remove("edges");
        return io.faultline.testing.Payloads.JSON.valueToTree(rest).toString() + edges;
    }

    /**
     * The fold keeps each call's failed attempt (trace, start, model) with the episode, and the walks start from it.
     * Calls linked without it, before V30 or by a replica of an older version during a rolling upgrade, have their
     * attempt looked up among the stored calls: the same incident gives the same graph either way.
     */
    @Test
    void episode_calls_linked_without_their_attempt_give_the_same_graph() {
        String stored = mixedIncidentThenUpdate(Instant.parse("2029-03-25T08:00:00Z"));
        assertThat(attemptsStored("2029-03-25")).as("calls linked with their attempt").isGreaterThanOrEqualTo(8);
        beforeDrain = this::forgetAttempts;
        String lookedUp;
        try {
            lookedUp = mixedIncidentThenUpdate(Instant.parse("2029-03-26T08:00:00Z"));
        } finally {
            beforeDrain = () -> { };
        }
        assertThat(attemptsStored("2029-03-26")).as("calls linked with their attempt").isZero();
        assertThat(lookedUp.replace("2029-03-26", "2029-03-25")).isEqualTo(stored);
        assertThat(stored).contains("\"kind\":\"fallback\"").contains("\"kind\":\"caused\"");
    }

    private int attemptsStored(String day) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select count(*)"
                + " from failure_event_calls where seen_at::date = ?::date and call_started_at is not null"
                + " and trace_id is not null")) {
            st.setString(1, day);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What an episode's calls look like when linked by a version before V30. */
    private void forgetAttempts() {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.executeUpdate("update failure_event_calls set trace_id = null, call_started_at = null, model = null"
                    + " where call_started_at is not null and seen_at >= '2029-03-26' and seen_at < '2029-03-27'");
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The mixed incident's cluster as JSON after an update of its outage, with ids and deployments replaced. */
    private String mixedIncidentThenUpdate(Instant t0) {
        String gemini = dep("ge");
        Cascade cascade = timeoutFallingBackToBrokenFormat(t0, false, List.of(
                outage("gemini", "gemini-2.0-flash", gemini, t0.minusSeconds(20)),
                outage("gemini", "gemini-2.0-flash", gemini, t0.plusSeconds(10))));
        clock.set(t0.plus(Duration.ofMinutes(4)));
        ingest(List.of(outage("gemini", "gemini-2.0-flash", gemini, t0.plusSeconds(70))));
        String outage = episodeId(gemini);
        List<String> clusters = clustersOf(outage);
        assertThat(clusters).hasSize(1);
        JsonPath c = cluster(clusters.get(0));
        String text = c.prettify().replace(clusters.get(0), "CLUSTER").replace(outage, "OUTAGE")
                .replace(cascade.timeoutEpisode(), "TIMEOUT").replace(cascade.qualityEpisode(), "QUALITY")
                .replace(gemini, "GEMINI");
        for (Object d : c.getList("nodes.deployment")) {
            text = text.replace(String.valueOf(d), "DEP-" + c.getList("nodes.deployment").indexOf(d));
        }
        return canonical(text);
    }

    @Test
    void a_quality_failure_the_target_has_anyway_gets_low_caused_confidence() {
        Cascade clean = timeoutFallingBackToBrokenFormat(Instant.parse("2029-03-19T09:00:00Z"), false);
        Cascade broken = timeoutFallingBackToBrokenFormat(Instant.parse("2029-03-19T11:00:00Z"), true);
        double cleanConfidence = causedConfidence(clean.cluster());
        double brokenConfidence = causedConfidence(broken.cluster());
        assertThat(brokenConfidence).isLessThan(0.3).isLessThan(cleanConfidence / 3);
        assertThat(cleanConfidence).isGreaterThan(0.7);
    }

    private static double causedConfidence(JsonPath cluster) {
        List<Map<String, Object>> edges = cluster.getList("edges");
        return edges.stream().filter(e -> "caused".equals(e.get("kind")))
                .mapToDouble(e -> ((Number) e.get("confidence")).doubleValue()).findFirst().orElseThrow();
    }

    @Test
    void a_cluster_closes_after_the_quiet_period_and_stays_queryable() {
        Instant t0 = Instant.parse("2029-03-21T13:00:00Z");
        List<String> deps = threeProviderOutage(t0);
        String id = clustersOf(episodeId(deps.get(0))).get(0);

        // Member activity at +4 min (the openai episode continues) keeps it open for 15 min from then.
        clock.set(t0.plus(Duration.ofMinutes(4)));
        ingest(List.of(outage("openai", "gpt-4o-mini", deps.get(0), t0.plus(Duration.ofMinutes(4)))));
        assertThat(episodeOf(deps.get(0)).getLong("items[0].occurrences")).isEqualTo(4);
        clock.set(t0.plus(Duration.ofMinutes(18)));
        engine.closeQuiet();
        assertThat(cluster(id).getString("status")).isEqualTo("active");

        clock.set(t0.plus(Duration.ofMinutes(19)).plusSeconds(1));
        engine.closeQuiet();
        JsonPath closed = cluster(id);
        assertThat(closed.getString("status")).isEqualTo("closed");
        assertThat(Instant.parse(closed.getString("closedAt"))).isEqualTo(t0.plus(Duration.ofMinutes(19))
                .plusSeconds(1));
        assertThat(closed.getList("nodes")).hasSize(3);
        correlations("status=closed&since=" + t0).statusCode(200).body("items.clusterId", hasItem(id));
        correlations("since=" + t0).statusCode(200)
                .body("items.clusterId", org.hamcrest.Matchers.not(hasItem(id)));
        correlations("status=all&since=" + t0).statusCode(200).body("items.clusterId", hasItem(id));
    }

    @Test
    void the_active_cluster_gauges_count_clusters_from_the_database() throws Exception {
        Instant t0 = Instant.parse("2029-03-22T15:00:00Z");
        clock.set(t0);
        engine.closeQuiet(); // what other classes left active at earlier times is closed first
        double before = Metrics.valueOrZero(Metrics.scrape(), "failure_correlation_clusters_active",
                "cluster_type", "upstream");
        List<String> deps = threeProviderOutage(t0);
        JsonPath c = cluster(clustersOf(episodeId(deps.get(0))).get(0));
        String scrape = Metrics.scrape();
        assertThat(Metrics.value(scrape, "failure_correlation_clusters_active", "cluster_type", "upstream"))
                .isEqualTo(before + 1);
        assertThat(Metrics.value(scrape, "failure_correlation_strength", "cluster_type", "upstream"))
                .isGreaterThanOrEqualTo(c.getDouble("strength") - 1e-6);
        for (String type : Set.of("upstream", "cascade", "mixed")) {
            assertThat(Metrics.value(scrape, "failure_correlation_clusters_active", "cluster_type", type))
                    .as(type).isNotNaN();
            assertThat(Metrics.value(scrape, "failure_correlation_strength", "cluster_type", type))
                    .as(type).isBetween(0.0, 1.0);
        }
        assertThat(promtoolCheck(scrape)).as("promtool check metrics on the correlation families").isEmpty();

        clock.set(t0.plus(Duration.ofHours(1)));
        engine.closeQuiet();
        assertThat(Metrics.value(Metrics.scrape(), "failure_correlation_clusters_active", "cluster_type", "upstream"))
                .as("closed: back to what was active at later times").isEqualTo(before);
    }

    /** promtool's complaints about the correlation and drain backlog families of a scrape (text format 0.0.4). */
    private static String promtoolCheck(String ignored) throws Exception {
        String families = Metrics.families("failure_correlation_", "faultline_correlation_");
        assertThat(families).contains("# TYPE failure_correlation_clusters_active gauge")
                .contains("# TYPE failure_correlation_strength gauge")
                .contains("# TYPE faultline_correlation_backlog gauge")
                .contains("# TYPE faultline_correlation_backlog_failed gauge")
                .contains("# TYPE faultline_correlation_backlog_oldest_seconds gauge");
        return Metrics.promtool(families);
    }

    @Test
    void clusters_page_with_a_cursor() {
        Instant t0 = Instant.parse("2029-03-23T17:00:00Z");
        threeProviderOutage(t0);
        threeProviderOutage(t0.plus(Duration.ofMinutes(30)));
        String since = t0.toString();
        JsonPath first = correlations("limit=1&since=" + since).statusCode(200).extract().jsonPath();
        assertThat(first.getList("items")).hasSize(1);
        String cursor = first.getString("nextCursor");
        assertThat(cursor).isNotNull();
        JsonPath second = correlations("limit=1&since=" + since + "&cursor=" + cursor).statusCode(200).extract()
                .jsonPath();
        assertThat(second.getList("items")).hasSize(1);
        assertThat(second.getString("items[0].clusterId")).isNotEqualTo(first.getString("items[0].clusterId"));
        assertThat(Instant.parse(second.getString("items[0].lastSeen")))
                .isBefore(Instant.parse(first.getString("items[0].lastSeen")));
        correlations("minConfidence=0.99&since=" + since).statusCode(200).body("items.size()", equalTo(0));
    }

    @Test
    void bad_parameters_are_problems_naming_the_parameter() {
        for (String[] bad : List.of(new String[] {"status=open", "status"}, new String[] {"type=chain", "type"},
                new String[] {"minConfidence=1.5", "minConfidence"}, new String[] {"minConfidence=high",
                        "minConfidence"}, new String[] {"since=yesterday", "since"},
                new String[] {"cursor=%21%21", "cursor"})) {
            correlations(bad[0]).statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo(bad[1]));
        }
        given().when().get("/api/v1/failures/correlations/not-a-uuid").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("clusterId"));
        given().when().get("/api/v1/failures/correlations/" + UUID.randomUUID()).then().statusCode(404)
                .contentType(PROBLEM);
    }
}
