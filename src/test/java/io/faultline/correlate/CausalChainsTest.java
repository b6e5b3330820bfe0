package io.faultline.correlate;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.agroal.api.AgroalDataSource;
import io.faultline.cost.UsageWindows;
import io.faultline.testing.Api;
import io.faultline.testing.Correlations;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.path.json.config.JsonPathConfig;
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
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The causal chains besides fallback → quality, each from ingested LiteLLM payloads and signals on the test clock:
 * one scenario where the cause explains the effect (a strong edge and one cascade cluster), one where the effect would
 * have happened anyway (a weak edge, no cluster), and a cause on an unrelated scope in the same minutes (no edge).
 * Every scenario has its own time, deployments, indexes and teams.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CausalChainsTest {

    @Inject
    TestClock clock;

    @Inject
    UsageWindows windows;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    CorrelateConfig config;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    static void ingest(List<Payloads> calls) {
        for (int from = 0; from < calls.size(); from += 500) {
            Api.ingest(Payloads.array(calls.subList(from, Math.min(calls.size(), from + 500))
                    .toArray(Payloads[]::new))).statusCode(200);
        }
        Correlations.drain();
    }

    static String episode(String query) {
        JsonPath list = Api.failures(query).statusCode(200).extract().jsonPath();
        assertThat(list.getList("items")).as(query).hasSize(1);
        return list.getString("items[0].failureId");
    }

    static List<String> clustersOf(String failureId) {
        Correlations.drain(); // the drain job's run before anyone looks (episodes also come from ticks and runs)
        return given().when().get("/api/v1/failures/" + failureId).then().statusCode(200).extract().jsonPath()
                .getList("clusters", String.class);
    }

    static JsonPath cluster(String id) {
        Correlations.drain();
        return given().when().get("/api/v1/failures/correlations/" + id).then().statusCode(200).extract().jsonPath();
    }

    /** A stored edge between two episodes, whether or not it joined a cluster. */
    record Edge(String kind, double confidence, Map<String, Object> evidence, boolean clustered) {
    }

    @SuppressWarnings("unchecked")
    List<Edge> edges(String from, String to) throws Exception {
        Correlations.drain();
        List<Edge> edges = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select kind,"
                + " confidence, evidence::text, cluster_id from correlation_edges where from_failure_id = ?"
                + " and to_failure_id = ? order by edge_id")) {
            st.setObject(1, UUID.fromString(from));
            st.setObject(2, UUID.fromString(to));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    edges.add(new Edge(rs.getString(1), rs.getDouble(2), Payloads.JSON.readValue(rs.getString(3),
                            Map.class), rs.getObject(4) != null));
                }
            }
        }
        return edges;
    }

    Edge onlyEdge(String from, String to) throws Exception {
        List<Edge> edges = edges(from, to);
        assertThat(edges).as(from + " -> " + to).hasSize(1);
        return edges.get(0);
    }

    long edgesFrom(String from) throws Exception {
        Correlations.drain();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from correlation_edges where from_failure_id = ?")) {
            st.setObject(1, UUID.fromString(from));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    // ---- rate limit → retry storm → token spike ------------------------------------------------------------------

    static Payloads call(String provider, String deployment, Instant at, long prompt, long completion) {
        return Payloads.success(provider, "gpt-4o-mini", deployment, at).tokens(prompt, completion, 0, 0);
    }

    static Payloads rateLimited(String provider, String deployment, Instant at, String trace) {
        return Payloads.failure(provider, "gpt-4o-mini", deployment, at, 429, "RateLimitError",
                "Rate limit reached for requests").set("trace_id", trace);
    }

    /** Twelve 5-minute windows of 20 calls × 1,000 tokens on the deployment: an hour of steady traffic. */
    static List<Payloads> steadyHour(String deployment, Instant start) {
        List<Payloads> calls = new ArrayList<>();
        for (int w = 0; w < 12; w++) {
            for (int i = 0; i < 20; i++) {
                calls.add(call("openai", deployment, start.plus(Duration.ofMinutes(5L * w)).plusSeconds(i * 10), 600,
                        400));
            }
        }
        return calls;
    }

    /** Requests rate-limited once and retried 2 s later on the same deployment (one trace each). */
    static List<Payloads> retried(String provider, String deployment, Instant start, int requests) {
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            String trace = UUID.randomUUID().toString();
            Instant at = start.plusSeconds(i * 5);
            calls.add(rateLimited(provider, deployment, at, trace));
            calls.add(call(provider, deployment, at.plusSeconds(2), 600, 400).set("trace_id", trace));
        }
        return calls;
    }

    /** The hour, then the 13th window with the given extra calls; closes it and returns (rate limit, spike). */
    String[] retryStormScenario(Instant start, String deployment, List<Payloads> thirteenth) {
        clock.set(start.plus(Duration.ofMinutes(60)));
        ingest(steadyHour(deployment, start));
        Instant w13 = start.plus(Duration.ofMinutes(60));
        List<Payloads> window = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            window.add(call("openai", deployment, w13.plusSeconds(i * 10), 600, 400));
        }
        window.addAll(thirteenth);
        clock.set(w13.plus(Duration.ofMinutes(4)));
        ingest(window);
        clock.set(w13.plus(Duration.ofMinutes(5)).plusSeconds(31));
        windows.tick();
        return new String[] {episode("type=rate_limit&deployment=" + deployment),
                episode("type=token_spike&deployment=" + deployment)};
    }

    @Test
    void requests_retried_after_a_rate_limit_that_make_up_a_token_spike_are_a_cascade() throws Exception {
        Instant start = Instant.parse("2029-05-02T01:00:00Z");
        String dep = unique("rl");
        String other = unique("rl-other");
        Instant w13 = start.plus(Duration.ofMinutes(60));
        List<Payloads> thirteenth = new ArrayList<>(retried("openai", dep, w13.plusSeconds(5), 30));
        // Another deployment is rate-limited in the same minutes and retries on itself: not this spike's cause. (On
        // another provider the two rate limits would also be an upstream candidate, which is not what this tests.)
        thirteenth.addAll(retried("openai", other, w13.plusSeconds(7), 10));
        String[] ids = retryStormScenario(start, dep, thirteenth);
        String otherRateLimit = episode("type=rate_limit&deployment=" + other);

        Edge edge = onlyEdge(ids[0], ids[1]);
        assertThat(edge.kind()).isEqualTo("caused");
        assertThat(edge.evidence()).containsEntry("via", "retry_storm").containsEntry("retried_traces", 30)
                .containsEntry("retried_calls", 30).containsEntry("failed_attempts", 30)
                .containsEntry("attempts_per_trace", 2.0).containsEntry("lag_ms_median", 2000)
                .containsEntry("span_tokens", 50_000).containsEntry("retry_tokens", 30_000)
                .containsEntry("expected_tokens", 20_000).containsEntry("excess_tokens", 30_000)
                .containsEntry("baseline_tokens", 240_000).containsEntry("spike_deployment", dep);
        // coverage min(1, 30,000 / 30,000) = 1, support 30/31
        assertThat(edge.confidence()).isCloseTo(30 / 31.0, within(1e-3));
        assertThat(edge.clustered()).isTrue();

        List<String> clusters = clustersOf(ids[1]);
        assertThat(clusters).hasSize(1).isEqualTo(clustersOf(ids[0]));
        JsonPath c = cluster(clusters.get(0));
        assertThat(c.getString("type")).isEqualTo("cascade");
        assertThat(c.getList("nodes.failureId")).containsExactlyInAnyOrder(ids[0], ids[1]);
        assertThat(c.getString("rootCandidate.failureId")).isEqualTo(ids[0]);
        assertThat(c.getString("rootCandidate.reason")).contains("openai rate_limit").contains("retried into a token"
                + " spike");
        assertThat(edgesFrom(otherRateLimit)).as("a rate limit retried elsewhere links to no spike").isZero();
        assertThat(clustersOf(otherRateLimit)).isEmpty();

        // Impact: the spike has no request of its own; it is priced by its window, 50,000 tokens against the earlier
        // windows' p99 of 20,000, at the window's cost per token (50 answered calls at $0.00012 each; the 30
        // rate-limited attempts cost nothing): 0.006 x (1 - 20,000 / 50,000).
        JsonPath spike = impact("/api/v1/failures/" + ids[1] + "/impact");
        assertThat(spike.getLong("costImpact.tokenSpikeWindows.spikingWindows")).isEqualTo(1);
        assertThat(spike.getLong("costImpact.tokenSpikeWindows.calls")).isEqualTo(80);
        assertThat(spike.getLong("costImpact.tokenSpikeWindows.zeroCostCalls")).isEqualTo(30);
        assertThat(spike.getLong("costImpact.tokenSpikeWindows.tokens")).isEqualTo(50_000);
        assertThat(spike.getLong("costImpact.tokenSpikeWindows.p99WindowTokens")).isEqualTo(20_000);
        assertThat(spike.getLong("costImpact.tokenSpikeWindows.extraTokens")).isEqualTo(30_000);
        assertThat(spike.getDouble("costImpact.spikeExtraCostUsd")).isCloseTo(0.0036, within(1e-9));
        assertThat(spike.getDouble("costImpact.totalUsd")).isCloseTo(0.0036, within(1e-9));
        // The cluster counts its spike member's windows once, beside the rate limit's 30 requests (each attempt here
        // has a call id of its own, so they count as failed responses; their failed attempts cost nothing).
        JsonPath cascade = impact("/api/v1/failures/correlations/" + clusters.get(0) + "/impact");
        assertThat(cascade.getList("costImpact.memberCosts.failureId")).containsExactly(ids[1]);
        assertThat(cascade.getDouble("costImpact.memberCosts[0].extraCostUsd")).isCloseTo(0.0036, within(1e-9));
        assertThat(cascade.getLong("userImpact.affectedRequests")).isEqualTo(30);
        assertThat(cascade.getDouble("costImpact.wastedCostUsd")).isZero();
        assertThat(cascade.getDouble("costImpact.spikeExtraCostUsd")).isCloseTo(0.0036, within(1e-9));
        assertThat(cascade.getDouble("costImpact.totalUsd")).isCloseTo(0.0036, within(1e-9));
    }

    @Test
    void a_baseline_retry_after_a_resource_exhausted_with_no_status_counts_as_retried_traffic() throws Exception {
        // Gemini's RESOURCE_EXHAUSTED reported by LiteLLM's catch-all class with no status is a rate limit for the
        // classifier (RateLimit); the baseline's retried traffic counts the calls that followed one too.
        Instant start = Instant.parse("2029-05-02T09:00:00Z");
        String dep = unique("rl");
        String elsewhere = unique("rl-exhausted");
        clock.set(start.plus(Duration.ofMinutes(60)));
        List<Payloads> before = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String trace = UUID.randomUUID().toString();
            Instant at = start.plus(Duration.ofMinutes(30)).plusSeconds(i * 5);
            Payloads exhausted = Payloads.failure("openai", "gpt-4o-mini", elsewhere, at, 0, "APIError",
                    "GeminiException - {\"error\": {\"code\": 429, \"status\": \"RESOURCE_EXHAUSTED\"}}")
                    .set("trace_id", trace);
            ((ObjectNode) exhausted.node().get("error_information")).remove("error_code");
            ((ObjectNode) exhausted.node().get("faultline")).remove("http_status");
            before.add(exhausted);
            before.add(call("openai", dep, at.plusSeconds(2), 600, 400).set("trace_id", trace));
        }
        ingest(before);
        Instant w13 = start.plus(Duration.ofMinutes(60));
        String[] ids = retryStormScenario(start, dep, retried("openai", dep, w13.plusSeconds(5), 30));

        assertThat(onlyEdge(ids[0], ids[1]).evidence()).containsEntry("baseline_retry_tokens", 3_000);
    }

    static JsonPath impact(String path) {
        Correlations.drain();
        return given().when().get(path).then().statusCode(200).extract().jsonPath()
                .using(JsonPathConfig.jsonPathConfig().numberReturnType(JsonPathConfig.NumberReturnType.DOUBLE));
    }

    @Test
    void a_token_spike_made_of_new_traffic_gets_low_confidence_from_a_few_retries_in_it() throws Exception {
        Instant start = Instant.parse("2029-05-02T05:00:00Z");
        String dep = unique("rl");
        Instant w13 = start.plus(Duration.ofMinutes(60));
        List<Payloads> thirteenth = new ArrayList<>(retried("openai", dep, w13.plusSeconds(5), 3));
        for (int i = 0; i < 40; i++) {
            thirteenth.add(call("openai", dep, w13.plusSeconds(30 + i * 5), 600, 400)); // a burst of new requests
        }
        String[] ids = retryStormScenario(start, dep, thirteenth);

        Edge edge = onlyEdge(ids[0], ids[1]);
        assertThat(edge.evidence()).containsEntry("retried_traces", 3).containsEntry("span_tokens", 63_000)
                .containsEntry("excess_tokens", 43_000).containsEntry("retry_tokens", 3_000);
        // coverage 3,000 / 43,000, support 3/4
        assertThat(edge.confidence()).isCloseTo(3 / 43.0 * 0.75, within(1e-3)).isLessThan(config.chainMinConfidence());
        assertThat(edge.clustered()).isFalse();
        assertThat(clustersOf(ids[1])).isEmpty();
    }

    // ---- stale index → retrieval drop → low faithfulness ---------------------------------------------------------

    static final String CONTEXT = "The Eiffel Tower was completed in 1889 for the World's Fair in Paris. It was"
            + " designed by the engineering company of Gustave Eiffel.";
    static final String FAITHFUL = "The Eiffel Tower was completed in 1889 and was designed by the engineering company"
            + " of Gustave Eiffel.";
    static final String INVENTED = "The Eiffel Tower was completed in 1925 and was designed by Thomas Edison for the"
            + " Chicago Exposition.";

    static Payloads grounded(String deployment, String index, Instant at, double topScore, boolean invented) {
        Payloads p = Payloads.success("openai", "gpt-4o-mini", deployment, at)
                .answer(invented ? INVENTED : FAITHFUL, "stop")
                .metadata(Map.of("context", CONTEXT, "retrieval", Map.of("index", index, "top_score", topScore,
                        "hits", 5)));
        ((ObjectNode) p.node().get("messages").get(0)).put("content",
                "When was the Eiffel Tower completed, and who designed it?");
        return p;
    }

    /** Samples carried by calls count only for a registered index. */
    static void registerIndex(String index) {
        given().header("Authorization", "Bearer " + Api.KEY).when().put("/api/v1/retrieval-indexes/" + index).then()
                .statusCode(org.hamcrest.Matchers.anyOf(org.hamcrest.Matchers.is(200), org.hamcrest.Matchers.is(201)));
    }

    static void staleReport(String index, Instant lastUpdatedAt) {
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body(Map.of("signalId", UUID.randomUUID().toString(), "index", index, "lastUpdatedAt",
                        lastUpdatedAt.toString()))
                .when().post("/api/v1/signals/index").then().statusCode(200);
    }

    /** 40 calls on the index over the hour before t0, then a stale report at t0, then 10 calls after it. */
    void indexScenario(Instant t0, String deployment, String index, boolean[] inventedBefore, double scoreAfter,
            boolean[] inventedAfter) {
        registerIndex(index);
        clock.set(t0.minus(Duration.ofMinutes(2)));
        List<Payloads> before = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            before.add(grounded(deployment, index, t0.minus(Duration.ofMinutes(55)).plusSeconds(i * 75), 0.85,
                    inventedBefore[i % inventedBefore.length]));
        }
        ingest(before);
        clock.set(t0);
        staleReport(index, t0.minus(Duration.ofHours(30)));
        clock.set(t0.plus(Duration.ofMinutes(4)));
        for (int i = 0; i < 10; i++) {
            ingest(List.of(grounded(deployment, index, t0.plusSeconds(20 + i * 20), scoreAfter,
                    inventedAfter[i % inventedAfter.length])));
        }
    }

    @Test
    void a_stale_index_whose_retrieval_dropped_and_whose_answers_turned_unfaithful_is_one_cascade() throws Exception {
        Instant t0 = Instant.parse("2029-05-03T06:00:00Z");
        String dep = unique("rag");
        String index = unique("kb");
        String unrelated = unique("kb-other");
        indexScenario(t0, dep, index, new boolean[] {false}, 0.3, new boolean[] {true});
        staleReport(unrelated, t0.minus(Duration.ofHours(30))); // at t0 + 4 min, on an index no call carries

        String stale = episode("type=stale_index&deployment=" + index);
        String drop = episode("type=retrieval_quality_drop&deployment=" + index);
        String quality = episode("type=hallucination&deployment=" + dep);
        String otherStale = episode("type=stale_index&deployment=" + unrelated);

        Edge staleToQuality = onlyEdge(stale, quality);
        assertThat(staleToQuality.kind()).isEqualTo("caused");
        assertThat(staleToQuality.evidence()).containsEntry("via", "stale_index").containsEntry("index", index)
                .containsEntry("quality_type", "hallucination").containsEntry("calls", 10)
                .containsEntry("failures", 10).containsEntry("baseline_calls", 40)
                .containsEntry("baseline_failures", 0).containsEntry("episode_calls_on_index", 10);
        // (1 - r_base / 1) * 10/11 with r_base = (0 + 4 * 0.02) / 44
        assertThat(staleToQuality.confidence()).isCloseTo((1 - 0.08 / 44) * 10 / 11.0, within(1e-3));
        Edge dropToQuality = onlyEdge(drop, quality);
        assertThat(dropToQuality.evidence()).containsEntry("via", "retrieval_quality_drop");
        assertThat(dropToQuality.confidence()).isGreaterThan(0.6);
        Edge staleToDrop = onlyEdge(stale, drop);
        assertThat(staleToDrop.evidence()).containsEntry("via", "stale_index").containsEntry("prior_drops", 0);
        assertThat(staleToDrop.confidence()).isGreaterThan(0.8);

        List<String> clusters = clustersOf(quality);
        assertThat(clusters).hasSize(1);
        JsonPath c = cluster(clusters.get(0));
        assertThat(c.getString("type")).isEqualTo("cascade");
        assertThat(c.getList("nodes.failureId")).containsExactlyInAnyOrder(stale, drop, quality);
        assertThat(c.getString("rootCandidate.failureId")).isEqualTo(stale);
        assertThat(c.getString("rootCandidate.reason")).contains("pipeline stale_index")
                .contains("calls retrieving from " + index + " showed hallucination");
        assertThat(edgesFrom(otherStale)).as("a stale index no call carried links to nothing").isZero();
        assertThat(clustersOf(otherStale)).isEmpty();
    }

    @Test
    void answers_on_an_index_as_unfaithful_before_it_went_stale_get_low_confidence() throws Exception {
        Instant t0 = Instant.parse("2029-05-03T10:00:00Z");
        String dep = unique("rag");
        String index = unique("kb");
        // Edges are recomputed when either end changes: the last call after the report is a hallucination, so the
        // edge has seen all ten.
        indexScenario(t0, dep, index, new boolean[] {true, false}, 0.85, new boolean[] {false, true});

        String stale = episode("type=stale_index&deployment=" + index);
        // The hallucinations before and after the report are two episodes (7.8 min apart): the later one.
        String quality = episode("type=hallucination&deployment=" + dep + "&since=" + t0);
        Edge edge = onlyEdge(stale, quality);
        assertThat(edge.evidence()).containsEntry("calls", 10).containsEntry("failures", 5)
                .containsEntry("baseline_calls", 40).containsEntry("baseline_failures", 20);
        // (1 - r_base / 0.5) * 5/6 with r_base = (20 + 0.08) / 44
        assertThat(edge.confidence()).isCloseTo((1 - (20.08 / 44) / 0.5) * 5 / 6.0, within(1e-3))
                .isLessThan(config.chainMinConfidence());
        assertThat(edge.clustered()).isFalse();
        assertThat(Api.failures("type=retrieval_quality_drop&deployment=" + index).extract().jsonPath()
                .getList("items")).as("scores held").isEmpty();
    }

    /**
     * A stale index whose next ten answers were all invented, against one in four before it: the caused edge (0.70)
     * forms a cascade. Then forty faithful answers on the index and one more invented one (the quality episode goes
     * on): recomputed, the edge finds 11 of 51 invented, under the baseline's rate, and drops to 0. The cluster that
     * the edge formed follows it: its confidence and strength are those of the edges it lists, not the 0.70 gone.
     */
    @Test
    void a_cascade_whose_chain_edge_is_recomputed_below_the_threshold_follows_its_edge() throws Exception {
        Instant t0 = Instant.parse("2029-05-12T06:00:00Z");
        String dep = unique("rag");
        String index = unique("kb");
        indexScenario(t0, dep, index, new boolean[] {true, false, false, false}, 0.85, new boolean[] {true});
        String stale = episode("type=stale_index&deployment=" + index);
        String quality = episode("type=hallucination&deployment=" + dep + "&since=" + t0);
        // (1 - r_base / 1) * 10/11 with r_base = (10 + 0.08) / 44
        assertThat(onlyEdge(stale, quality).confidence()).isCloseTo((1 - 10.08 / 44) * 10 / 11.0, within(1e-3));
        List<String> clusters = clustersOf(quality);
        assertThat(clusters).hasSize(1);
        assertThat(cluster(clusters.get(0)).getDouble("confidence")).isGreaterThan(0.6);

        clock.set(t0.plus(Duration.ofMinutes(9)));
        List<Payloads> after = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            after.add(grounded(dep, index, t0.plusSeconds(205 + i * 5), 0.85, false));
        }
        after.add(grounded(dep, index, t0.plusSeconds(410), 0.85, true));
        ingest(after);
        assertThat(episode("type=hallucination&deployment=" + dep + "&since=" + t0)).isEqualTo(quality);
        Edge edge = onlyEdge(stale, quality);
        assertThat(edge.evidence()).containsEntry("calls", 51).containsEntry("failures", 11);
        assertThat(edge.confidence()).isLessThan(config.chainMinConfidence());

        JsonPath c = cluster(clusters.get(0));
        List<Double> confidences = c.getList("edges.confidence", Double.class);
        assertThat(confidences).isNotEmpty();
        double strongest = confidences.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
        double none = confidences.stream().mapToDouble(x -> 1 - x).reduce(1, (a, b) -> a * b);
        assertThat(c.getDouble("confidence")).as("the strongest edge it lists").isCloseTo(strongest, within(1e-4));
        assertThat(c.getDouble("strength")).as("the noisy-or of the edges it lists").isCloseTo(1 - none,
                within(1e-4));
    }

    // ---- ingestion failure → stale index / retrieval drop / low faithfulness -------------------------------------

    /** A failed run of the pipeline, finished at {@code at}, naming the indexes it feeds (none when empty). */
    static void failedRun(String pipeline, Instant at, String... indexes) {
        Map<String, Object> run = new java.util.LinkedHashMap<>(Map.of("signalId", UUID.randomUUID().toString(),
                "pipeline", pipeline, "runId", UUID.randomUUID().toString(), "status", "failed", "startedAt",
                at.minus(Duration.ofMinutes(1)).toString(), "finishedAt", at.toString(), "error", "embedding job"
                        + " crashed"));
        if (indexes.length > 0) {
            run.put("indexes", List.of(indexes));
        }
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON).body(run).when()
                .post("/api/v1/signals/ingestion").then().statusCode(200).body("failures", org.hamcrest.Matchers
                        .equalTo(1));
    }

    /** 40 calls on the index over the hour before t0, with the answers given. */
    void hourOnIndex(Instant t0, String deployment, String index, boolean[] invented) {
        registerIndex(index);
        clock.set(t0.minus(Duration.ofMinutes(2)));
        List<Payloads> before = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            before.add(grounded(deployment, index, t0.minus(Duration.ofMinutes(55)).plusSeconds(i * 75), 0.85,
                    invented[i % invented.length]));
        }
        ingest(before);
    }

    /** 10 calls on the index in the 4 minutes after t0, one request each, with the answers given. */
    void callsAfter(Instant t0, String deployment, String index, double score, boolean[] invented) {
        clock.set(t0.plus(Duration.ofMinutes(4)));
        for (int i = 0; i < 10; i++) {
            ingest(List.of(grounded(deployment, index, t0.plusSeconds(20 + i * 20), score,
                    invented[i % invented.length])));
        }
    }

    @Test
    void a_failed_ingestion_whose_index_went_stale_and_whose_answers_turned_unfaithful_roots_one_cascade()
            throws Exception {
        Instant t0 = Instant.parse("2029-05-05T06:00:00Z");
        String dep = unique("rag");
        String index = unique("kb");
        String pipeline = unique("pipe");
        String unrelated = unique("pipe-other");
        hourOnIndex(t0, dep, index, new boolean[] {false});
        clock.set(t0);
        failedRun(pipeline, t0, index);
        // Another pipeline fails in the same minute, feeding an index no call carries.
        failedRun(unrelated, t0, unique("kb-other"));
        clock.set(t0.plus(Duration.ofMinutes(1)));
        staleReport(index, t0.minus(Duration.ofHours(30)));
        callsAfter(t0, dep, index, 0.3, new boolean[] {true});

        String ingestion = episode("type=ingestion_failure&deployment=" + pipeline);
        String stale = episode("type=stale_index&deployment=" + index);
        String drop = episode("type=retrieval_quality_drop&deployment=" + index);
        String quality = episode("type=hallucination&deployment=" + dep);
        String otherIngestion = episode("type=ingestion_failure&deployment=" + unrelated);

        Edge toStale = onlyEdge(ingestion, stale);
        assertThat(toStale.kind()).isEqualTo("caused");
        assertThat(toStale.evidence()).containsEntry("via", "ingestion_failure").containsEntry("pipeline", pipeline)
                .containsEntry("index", index).containsEntry("effect_type", "stale_index")
                .containsEntry("prior_effects", 0).containsEntry("onset_lag_s", 60.0);
        // (1 - p_chance) * tightness: p_chance = 1 - exp(-(1/7d) * (30 + 5) min), tightness = 1 - 0.5 * 60 s / 30 min
        double chance = 1 - Math.exp(-(1.0 / Duration.ofDays(7).toSeconds()) * Duration.ofMinutes(35).toSeconds());
        assertThat(toStale.confidence()).isCloseTo((1 - chance) * (1 - 0.5 * 60 / 1800.0), within(1e-3));
        assertThat(toStale.clustered()).isTrue();

        Edge toDrop = onlyEdge(ingestion, drop);
        assertThat(toDrop.evidence()).containsEntry("via", "ingestion_failure")
                .containsEntry("effect_type", "retrieval_quality_drop");
        assertThat(toDrop.confidence()).isGreaterThan(0.5);

        Edge toQuality = onlyEdge(ingestion, quality);
        assertThat(toQuality.evidence()).containsEntry("via", "ingestion_failure").containsEntry("pipeline", pipeline)
                .containsEntry("index", index).containsEntry("quality_type", "hallucination")
                .containsEntry("calls", 10).containsEntry("failures", 10).containsEntry("baseline_calls", 40)
                .containsEntry("baseline_failures", 0).containsEntry("episode_calls_on_index", 10);
        // the rate lift of the stale-index edge, measured from the failure's onset: (1 - r_base / 1) * 10/11
        assertThat(toQuality.confidence()).isCloseTo((1 - 0.08 / 44) * 10 / 11.0, within(1e-3));
        assertThat(onlyEdge(stale, quality).evidence()).containsEntry("via", "stale_index");

        List<String> clusters = clustersOf(quality);
        assertThat(clusters).hasSize(1).isEqualTo(clustersOf(ingestion));
        JsonPath c = cluster(clusters.get(0));
        assertThat(c.getString("type")).isEqualTo("cascade");
        assertThat(c.getList("nodes.failureId")).containsExactlyInAnyOrder(ingestion, stale, drop, quality);
        assertThat(c.getString("rootCandidate.failureId")).isEqualTo(ingestion);
        assertThat(c.getString("rootCandidate.reason")).contains("pipeline ingestion_failure");
        assertThat(edgesFrom(otherIngestion)).as("a pipeline feeding another index links to nothing here").isZero();
        assertThat(clustersOf(otherIngestion)).isEmpty();
    }

    @Test
    void answers_on_a_fed_index_as_unfaithful_before_the_ingestion_failed_get_low_confidence() throws Exception {
        Instant t0 = Instant.parse("2029-05-05T10:00:00Z");
        String dep = unique("rag");
        String index = unique("kb");
        String pipeline = unique("pipe");
        String unnamed = unique("pipe-unnamed");
        hourOnIndex(t0, dep, index, new boolean[] {true, false});
        callsAfter(t0, dep, index, 0.85, new boolean[] {false, true});
        // Reported late: the edge is found from the failure's side, after its effects were stored.
        clock.set(t0.plus(Duration.ofMinutes(5)));
        failedRun(pipeline, t0, index);
        failedRun(unnamed, t0); // names no index: nothing is known to depend on it

        String ingestion = episode("type=ingestion_failure&deployment=" + pipeline);
        String quality = episode("type=hallucination&deployment=" + dep + "&since=" + t0);
        Edge edge = onlyEdge(ingestion, quality);
        assertThat(edge.evidence()).containsEntry("via", "ingestion_failure").containsEntry("calls", 10)
                .containsEntry("failures", 5).containsEntry("baseline_calls", 40)
                .containsEntry("baseline_failures", 20);
        // (1 - r_base / 0.5) * 5/6 with r_base = (20 + 0.08) / 44
        assertThat(edge.confidence()).isCloseTo((1 - (20.08 / 44) / 0.5) * 5 / 6.0, within(1e-3))
                .isLessThan(config.chainMinConfidence());
        assertThat(edge.clustered()).isFalse();
        assertThat(clustersOf(ingestion)).isEmpty();
        assertThat(edgesFrom(episode("type=ingestion_failure&deployment=" + unnamed))).isZero();
    }

    // ---- budget exceeded → refused calls -------------------------------------------------------------------------

    static Payloads ofTeam(Payloads p, String team) {
        ((ObjectNode) p.node().get("metadata")).put("user_api_key_team_id", team);
        return p;
    }

    static Payloads refused(String deployment, String team, Instant at) {
        return ofTeam(Payloads.failure("openai", "gpt-4o-mini", deployment, at, 401, "AuthenticationError",
                "Incorrect API key provided"), team);
    }

    static void budget(String team) {
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"period\":\"day\",\"amountUsd\":1}").when().put("/api/v1/budgets/team/" + team).then()
                .statusCode(200);
    }

    /** The team's budget is crossed by one call at t0; returns the budget episode. */
    String crossBudget(String team, String deployment, Instant t0) {
        budget(team);
        clock.set(t0.plusSeconds(1));
        ingest(List.of(ofTeam(Payloads.success("openai", "gpt-4o-mini", deployment, t0).set("response_cost", 1.5),
                team)));
        return episode("type=budget_exceeded&deployment=team:" + team);
    }

    @Test
    void a_team_refused_right_after_crossing_its_budget_is_a_cascade() throws Exception {
        Instant t0 = Instant.parse("2029-05-04T09:00:00Z");
        String dep = unique("auth");
        String team = unique("team");
        String bystander = unique("team");
        clock.set(t0.minus(Duration.ofMinutes(30)));
        List<Payloads> before = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            before.add(ofTeam(Payloads.success("openai", "gpt-4o-mini", dep, t0.minus(Duration.ofMinutes(50))
                    .plusSeconds(i * 60)), team));
        }
        ingest(before);
        String budgetEpisode = crossBudget(team, dep, t0);
        String bystanderBudget = crossBudget(bystander, unique("auth-other"), t0.plusSeconds(5));
        clock.set(t0.plus(Duration.ofMinutes(5)));
        List<Payloads> after = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            after.add(refused(dep, team, t0.plusSeconds(30 + i * 20)));
        }
        ingest(after);
        String refusals = episode("type=unauthorized_model_access&deployment=" + dep);

        Edge edge = onlyEdge(budgetEpisode, refusals);
        assertThat(edge.kind()).isEqualTo("caused");
        assertThat(edge.evidence()).containsEntry("via", "budget").containsEntry("scope", "team")
                .containsEntry("scope_id", team).containsEntry("refused_after", 8)
                .containsEntry("refused_before", 0);
        // 8 refusals in the 30 min horizon = 16/h against (0 + 1)/h before: (1 - 1/16) * 8/9
        assertThat(edge.confidence()).isCloseTo((1 - 1 / 16.0) * 8 / 9.0, within(1e-3));
        List<String> clusters = clustersOf(refusals);
        assertThat(clusters).hasSize(1).isEqualTo(clustersOf(budgetEpisode));
        JsonPath c = cluster(clusters.get(0));
        assertThat(c.getString("type")).isEqualTo("cascade");
        assertThat(c.getString("rootCandidate.failureId")).isEqualTo(budgetEpisode);
        assertThat(c.getString("rootCandidate.reason")).contains("budget budget_exceeded")
                .contains("was refused 8 times");
        assertThat(edgesFrom(bystanderBudget)).as("another team's budget links to this team's refusals").isZero();
    }

    @Test
    void litellm_refusing_a_team_whose_budget_faultline_saw_crossed_is_one_cascade_without_a_self_loop()
            throws Exception {
        Instant t0 = Instant.parse("2029-05-04T17:00:00Z");
        String team = unique("team");
        String bystander = unique("team");
        String budgetEpisode = crossBudget(team, unique("spend"), t0);
        clock.set(t0.plus(Duration.ofMinutes(5)));
        StringBuilder refusals = new StringBuilder("[");
        for (int i = 0; i < 8; i++) {
            refusals.append(i == 0 ? "" : ",").append(io.faultline.testing.LiteLlmPayloads.teamBudgetRefusal(team,
                    t0.plusSeconds(30 + i * 20)));
        }
        // Another team refused by LiteLLM in the same minutes, with no Faultline budget crossed.
        refusals.append(",").append(io.faultline.testing.LiteLlmPayloads.teamBudgetRefusal(bystander,
                t0.plusSeconds(40))).append("]");
        Api.ingest(refusals.toString()).statusCode(200);
        Correlations.drain();
        String refused = episode("type=budget_exceeded&provider=litellm&deployment=team:" + team);
        String bystanderRefused = episode("type=budget_exceeded&provider=litellm&deployment=team:" + bystander);

        Edge edge = onlyEdge(budgetEpisode, refused);
        assertThat(edge.kind()).isEqualTo("caused");
        assertThat(edge.evidence()).containsEntry("via", "budget").containsEntry("scope", "team")
                .containsEntry("scope_id", team).containsEntry("refused_by", "litellm_budget")
                .containsEntry("refused_after", 8).containsEntry("refused_before", 0);
        assertThat(edge.confidence()).isCloseTo((1 - 1 / 16.0) * 8 / 9.0, within(1e-3));
        assertThat(edges(refused, budgetEpisode)).as("no edge back").isEmpty();
        assertThat(edges(refused, refused)).as("no self-loop").isEmpty();
        assertThat(edges(budgetEpisode, budgetEpisode)).as("no self-loop").isEmpty();
        // Each refused call is one budget failure: neither an access refusal nor a rate limit besides.
        assertThat(Api.failures("category=SECURITY&deployment=litellm-proxy&since=" + t0).extract().jsonPath()
                .getList("items")).isEmpty();
        assertThat(Api.failures("type=rate_limit&deployment=openai:gpt-4o-mini&since=" + t0).extract().jsonPath()
                .getList("items")).isEmpty();
        List<String> clusters = clustersOf(refused);
        assertThat(clusters).hasSize(1).isEqualTo(clustersOf(budgetEpisode));
        JsonPath c = cluster(clusters.get(0));
        assertThat(c.getString("type")).isEqualTo("cascade");
        assertThat(c.getList("nodes.failureId")).containsExactlyInAnyOrder(budgetEpisode, refused);
        assertThat(c.getString("rootCandidate.failureId")).isEqualTo(budgetEpisode);
        assertThat(edgesFrom(bystanderRefused)).isZero();
        assertThat(clustersOf(bystanderRefused)).isEmpty();
        assertThat(edges(budgetEpisode, bystanderRefused)).isEmpty();
    }

    @Test
    void a_team_refused_as_often_before_its_budget_was_crossed_gets_low_confidence() throws Exception {
        Instant t0 = Instant.parse("2029-05-04T13:00:00Z");
        String dep = unique("auth");
        String team = unique("team");
        clock.set(t0.minus(Duration.ofMinutes(1)));
        List<Payloads> before = new ArrayList<>();
        for (int i = 0; i < 12; i++) { // refused every 4 minutes all along: one long episode
            before.add(refused(dep, team, t0.minus(Duration.ofMinutes(48)).plus(Duration.ofMinutes(4L * i))));
        }
        ingest(before);
        String budgetEpisode = crossBudget(team, dep, t0);
        clock.set(t0.plus(Duration.ofMinutes(10)));
        ingest(List.of(refused(dep, team, t0.plus(Duration.ofMinutes(3))),
                refused(dep, team, t0.plus(Duration.ofMinutes(7)))));
        // The refusals 7 minutes apart around the crossing are two episodes: the later one.
        String refusals = episode("type=unauthorized_model_access&deployment=" + dep + "&since=" + t0);

        Edge edge = onlyEdge(budgetEpisode, refusals);
        assertThat(edge.evidence()).containsEntry("refused_after", 2).containsEntry("refused_before", 12);
        // 4/h after against 13/h before: nothing attributable
        assertThat(edge.confidence()).isZero();
        assertThat(edge.clustered()).isFalse();
        assertThat(clustersOf(budgetEpisode)).isEmpty();
    }
}
