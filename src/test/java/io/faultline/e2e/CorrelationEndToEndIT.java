package io.faultline.e2e;

import io.faultline.simulator.DeploymentStats;
import io.faultline.simulator.Fault;
import io.faultline.simulator.FaultKind;
import io.faultline.simulator.Script;
import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LiteLlmClient.Answer;
import io.faultline.stack.LocalStack;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The correlation engine on real traffic: calls through the real LiteLLM proxy (its router's {@code fallbacks} and
 * trace ids, the Faultline plugin) into the provider simulator, stored and correlated by the packaged Faultline.
 * The cascade and the upstream incident run on stacks of their own: on one database, an OpenAI timeout storm and a
 * three-provider outage a minute later would rightly be one incident, which is not what either proof is about.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CorrelationEndToEndIT {

    /** The dedicated model group of litellm/config.yaml that falls back to {@link #FALLBACK_GROUP}. */
    private static final String PRIMARY_GROUP = "gpt-4o-mini-with-fallback";
    private static final String FALLBACK_GROUP = "gemini-flash-lite";
    /** Its LiteLLM timeout (config.yaml), in ms. */
    private static final long PRIMARY_TIMEOUT_MS = 2_000;
    private static final int STORM = 6;

    private static LocalStack cascadeStack;
    private static LocalStack upstreamStack;
    /** Prompt and completion tokens of each answer the fallback gave in the cascade, as LiteLLM reported them. */
    private static final List<long[]> cascadeUsage = new ArrayList<>();
    /** What LiteLLM billed for those answers (x-litellm-response-cost). */
    private static double cascadeBilled;
    private static String cascadeTimeout;
    private static String cascadeClusterId;
    /** The upstream cluster as the API showed it before Faultline was restarted. */
    private static JsonPath upstreamBeforeRestart;

    @AfterAll
    static void stopStacks() {
        for (LocalStack stack : new LocalStack[] { cascadeStack, upstreamStack }) {
            if (stack != null) {
                stack.close();
            }
        }
    }

    @Test
    @Order(1)
    void an_openai_timeout_storm_falling_back_to_a_model_that_hallucinates_is_one_cascade() throws Exception {
        cascadeStack = StackFixture.start("corr_cascade");
        LocalStack stack = cascadeStack;
        LiteLlmClient client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        // OpenAI hangs (LiteLLM times out and falls back), the fallback answers against its context.
        stack.simulator().script("openai", Script.faults(Fault.untilReset(FaultKind.HANG).withHangMs(10_000)));
        stack.simulator().script("gemini", Script.success().withContent("The Eiffel Tower was completed in 1925 and"
                + " was designed by Thomas Edison for the Chicago Exposition."));
        List<Map<String, String>> messages = List.of(
                Map.of("role", "system", "content", "Answer only from the context.\n<context>The Eiffel Tower was"
                        + " completed in 1889 for the World's Fair in Paris. It was designed by the engineering"
                        + " company of Gustave Eiffel.</context>"),
                Map.of("role", "user", "content", "When was the Eiffel Tower completed, and who designed it?"));
        int answered = 0;
        for (int i = 0; i < STORM; i++) {
            Answer answer = client.chat(PRIMARY_GROUP, messages, Map.of());
            assertThat(answer.status()).as("the fallback answers: " + answer.body()).isEqualTo(200);
            JsonPath usage = JsonPath.from(answer.body());
            cascadeUsage.add(new long[] { usage.getLong("usage.prompt_tokens"), usage.getLong("usage.completion_tokens") });
            cascadeBilled += Double.parseDouble(answer.responseCost());
            answered++;
        }
        Map<String, DeploymentStats> simulated = stack.simulator().stats();
        stack.simulator().reset();
        // What LiteLLM actually did, from the simulator's side: every request hung at OpenAI and was answered by
        // the Gemini fallback, once per request (the router retries nothing, see config.yaml).
        long fellBack = simulated.get("gemini").requests();
        assertThat(simulated.get("openai").outcome("hang")).as("timed-out OpenAI attempts")
                .isGreaterThanOrEqualTo(STORM);
        assertThat(fellBack).as("fallbacks LiteLLM took").isEqualTo(answered);

        Awaitility.await("timeout and fallback calls stored").atMost(Duration.ofSeconds(90))
                .pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
                    assertThat(Sql.count(stack, "select count(*) from llm_calls where deployment ="
                            + " 'openai-with-fallback' and not success")).isEqualTo(STORM);
                    assertThat(Sql.count(stack, "select count(*) from llm_calls where deployment ="
                            + " 'gemini-fallback-target' and success")).as(() -> "calls:" + Sql.rows(stack,
                                    "select call_id, trace_id, deployment, success, started_at, received_at"
                                            + " from llm_calls order by started_at")).isEqualTo(fellBack);
                });
        // LiteLLM logs the failed attempt and its fallback under one trace id: the link the engine follows.
        assertThat(Sql.count(stack, "select count(*) from (select trace_id from llm_calls group by trace_id"
                + " having count(*) filter (where deployment = 'openai-with-fallback' and not success) = 1"
                + " and count(*) filter (where deployment = 'gemini-fallback-target' and success) = 1) t"))
                .as(() -> "traces holding one timeout and one fallback: " + Sql.rows(stack, "select trace_id,"
                        + " deployment, success, started_at from llm_calls order by started_at"))
                .isEqualTo(fellBack);

        String timeout = Awaitility.await("timeout episode").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(500))
                .until(() -> failures(stack, "deployment=openai-with-fallback&type=timeout"), f -> f.size() == 1)
                .get(0).get("failureId").toString();
        String hallucination = Awaitility.await("hallucination episode").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(500))
                .until(() -> failures(stack, "deployment=gemini-fallback-target&type=hallucination"),
                        f -> f.size() == 1)
                .get(0).get("failureId").toString();

        // The edges are rewritten on every fold of either episode; wait for the one that has seen every trace.
        JsonPath cluster = Awaitility.await("one cascade cluster over every fallback trace")
                .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                .until(() -> correlations(stack, "status=all"), page -> page.getList("items").size() == 1
                        && edge(page, "fallback") != null
                        && ((Number) evidence(edge(page, "fallback")).get("shared_traces")).longValue() == fellBack
                        && edge(page, "caused") != null
                        && ((Number) evidence(edge(page, "caused")).get("shared_traces")).longValue() == fellBack);
        assertThat(cluster.getString("items[0].type")).isEqualTo("cascade");
        assertThat(cluster.getString("items[0].status")).isEqualTo("active");
        assertThat(cluster.getList("items[0].nodes.failureId")).containsExactlyInAnyOrder(timeout, hallucination);
        assertThat(cluster.getList("items[0].edges.kind")).containsExactlyInAnyOrder("fallback", "caused");
        assertThat(cluster.getList("items[0].providers")).containsExactly("gemini", "openai");
        assertThat(cluster.getString("items[0].rootCandidate.failureId")).isEqualTo(timeout);
        assertThat(cluster.getString("items[0].rootCandidate.reason")).contains("openai timeout")
                .contains("fell back to gemini/gemini-fallback-target in " + fellBack + " traces")
                .contains("hallucination");

        Map<String, Object> fallback = edge(cluster, "fallback");
        assertThat(fallback).containsEntry("from", timeout).containsEntry("to", hallucination);
        assertThat(evidence(fallback)).containsEntry("target_provider", "gemini")
                .containsEntry("target_deployment", "gemini-fallback-target")
                .containsEntry("fallback_calls", (int) fellBack).containsEntry("fallback_failed", 0);
        // A fallback starts when LiteLLM gives the timed-out attempt up: at least the timeout after it began.
        assertThat(((Number) evidence(fallback).get("lag_ms_median")).longValue())
                .isGreaterThanOrEqualTo(PRIMARY_TIMEOUT_MS);
        assertThat(((Number) fallback.get("confidence")).doubleValue())
                .isCloseTo(1 - Math.pow(0.5, fellBack), within(1e-6));

        Map<String, Object> caused = edge(cluster, "caused");
        assertThat(caused).containsEntry("from", timeout).containsEntry("to", hallucination);
        assertThat(evidence(caused)).containsEntry("via", "fallback").containsEntry("quality_type", "hallucination")
                .containsEntry("target_provider", "gemini").containsEntry("fallback_quality_failures", (int) fellBack)
                .containsEntry("baseline_quality_failures", 0);
        assertThat(((Number) caused.get("confidence")).doubleValue()).isGreaterThan(0.5);
        assertThat(cluster.getDouble("items[0].confidence")).isGreaterThan(0.5);

        assertThat(clustersOf(stack, timeout)).containsExactly(cluster.getString("items[0].clusterId"));
        cascadeTimeout = timeout;
        cascadeClusterId = cluster.getString("items[0].clusterId");
        assertThat(clustersOf(stack, hallucination)).containsExactly(cluster.getString("items[0].clusterId"));
    }

    @Test
    @Order(2)
    void outages_at_all_three_providers_within_90_seconds_are_one_upstream_cluster() throws Exception {
        upstreamStack = StackFixture.start("corr_upstream");
        LocalStack stack = upstreamStack;
        LiteLlmClient client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        List<String[]> outages = List.of(new String[] { "openai", "gpt-4o-mini", "server_error" },
                new String[] { "anthropic", "claude-sonnet", "overloaded" },
                new String[] { "gemini", "gemini-flash", "unavailable" });
        Instant sendingFrom = Instant.now();
        for (String[] outage : outages) {
            stack.simulator().script(outage[0], Script.faults(Fault.untilReset(FaultKind.fromWireName(outage[2]))));
            for (int i = 0; i < 3; i++) {
                Answer answer = client.chat(outage[1], "Status of order " + i + "?", false);
                assertThat(answer.status()).as(outage[0] + " fails: " + answer.body()).isGreaterThanOrEqualTo(500);
            }
        }
        Instant sendingUntil = Instant.now();
        stack.simulator().reset();

        List<String> deployments = List.of("openai-primary", "anthropic-primary", "gemini-primary");
        Awaitility.await("9 failed calls stored").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                .untilAsserted(() -> assertThat(Sql.count(stack, "select count(*) from llm_calls where not success"))
                        .isEqualTo(9));
        List<String> episodes = new ArrayList<>();
        for (String deployment : deployments) {
            episodes.add(Awaitility.await("episode of " + deployment).atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(500))
                    .until(() -> failures(stack, "category=PROVIDER&deployment=" + deployment), f -> f.size() == 1)
                    .get(0).get("failureId").toString());
        }
        List<Instant> onsets = episodes.stream().map(id -> Instant.parse(episode(stack, id).getString("firstSeen")))
                .sorted().toList();
        // The onsets lie within the time the calls were sent, measured in this run (seconds here; the scenario
        // needs them within ~90 s, which only a machine a hundred times slower would miss).
        assertThat(onsets.get(0)).isAfterOrEqualTo(sendingFrom.minusSeconds(1));
        assertThat(onsets.get(2)).isBeforeOrEqualTo(sendingUntil.plusSeconds(1));

        JsonPath page = Awaitility.await("one upstream cluster of the three outages").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(500)).until(() -> correlations(stack, "status=all"),
                        p -> p.getList("items").size() == 1 && p.getList("items[0].nodes").size() == 3);
        assertThat(page.getString("items[0].type")).isEqualTo("upstream");
        assertThat(page.getString("items[0].status")).isEqualTo("active");
        assertThat(page.getList("items[0].nodes.failureId")).containsExactlyInAnyOrderElementsOf(episodes);
        assertThat(page.getList("items[0].nodes.type")).containsExactlyInAnyOrder("outage", "overloaded", "outage");
        assertThat(page.getList("items[0].providers")).containsExactly("anthropic", "gemini", "openai");
        assertThat(page.getList("items[0].edges.kind")).isNotEmpty().containsOnly("temporal");
        assertThat(page.getDouble("items[0].confidence")).as("above faultline.correlate.min-confidence")
                .isGreaterThan(configuredMinConfidence());
        assertThat(page.getString("items[0].rootCandidate.failureId")).as("openai failed first")
                .isEqualTo(episodes.get(0));
        assertThat(page.getString("items[0].rootCandidate.reason")).contains("3 providers");
        assertThat(correlations(stack, "status=all&type=cascade").getList("items")).isEmpty();
        upstreamBeforeRestart = cluster(stack, page.getString("items[0].clusterId"));
    }

    @Test
    @Order(3)
    void the_cluster_survives_a_restart_and_an_episode_updated_after_it_stays_in_its_cluster() {
        assertThat(upstreamBeforeRestart).as("the upstream test ran first").isNotNull();
        LocalStack stack = upstreamStack;
        String clusterId = upstreamBeforeRestart.getString("clusterId");
        stack.faultline().kill();
        stack.startFaultline();

        JsonPath after = cluster(stack, clusterId);
        for (String field : List.of("type", "status", "rootCandidate.failureId", "firstSeen", "lastSeen")) {
            assertThat(after.getString(field)).as(field).isEqualTo(upstreamBeforeRestart.getString(field));
        }
        assertThat(after.getDouble("confidence")).isEqualTo(upstreamBeforeRestart.getDouble("confidence"));
        assertThat(after.getList("nodes")).isEqualTo(upstreamBeforeRestart.getList("nodes"));
        assertThat(after.getList("edges")).isEqualTo(upstreamBeforeRestart.getList("edges"));

        // The OpenAI outage goes on: its episode is updated by the restarted Faultline.
        String openai = failures(stack, "category=PROVIDER&deployment=openai-primary").get(0).get("failureId")
                .toString();
        long occurrences = episode(stack, openai).getLong("occurrences");
        LiteLlmClient client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        stack.simulator().script("openai", Script.faults(Fault.untilReset(FaultKind.SERVER_ERROR)));
        for (int i = 0; i < 2; i++) {
            assertThat(client.chat("gpt-4o-mini", "Still down? " + i, false).status()).isGreaterThanOrEqualTo(500);
        }
        stack.simulator().reset();
        JsonPath updated = Awaitility.await("the openai episode updated").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(500)).until(() -> episode(stack, openai),
                        e -> e.getLong("occurrences") == occurrences + 2);
        Instant lastSeen = Instant.parse(updated.getString("lastSeen"));
        assertThat(lastSeen).isAfter(Instant.parse(upstreamBeforeRestart.getString("lastSeen")));

        JsonPath joined = Awaitility.await("the cluster follows its updated episode").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(500)).until(() -> cluster(stack, clusterId),
                        c -> Instant.parse(c.getString("lastSeen")).equals(lastSeen));
        assertThat(joined.getString("status")).isEqualTo("active");
        assertThat(joined.getList("nodes.failureId"))
                .containsExactlyInAnyOrderElementsOf(upstreamBeforeRestart.getList("nodes.failureId"));
        assertThat(correlations(stack, "status=all").getList("items.clusterId")).as("no second cluster")
                .containsExactly(clusterId);
        assertThat(clustersOf(stack, openai)).containsExactly(clusterId);
    }

    @Test
    @Order(4)
    void the_cascade_is_priced_from_what_litellm_billed_its_answers() throws Exception {
        assertThat(cascadeTimeout).as("the cascade ran").isNotNull();
        LocalStack stack = cascadeStack;
        // What LiteLLM billed the fallback answers (its response-cost header), and what their stored tokens cost at
        // the prices stored with each timed-out attempt, which are LiteLLM's own cost map's (offline,
        // LITELLM_LOCAL_MODEL_COST_MAP) for gpt-4o-mini.
        double[] original = litellmPrices("gpt-4o-mini");
        assertThat(Sql.doubles(stack, "select distinct input_cost_per_token from llm_calls where deployment ="
                + " 'openai-with-fallback'")).containsExactly(original[0]);
        assertThat(Sql.doubles(stack, "select distinct output_cost_per_token from llm_calls where deployment ="
                + " 'openai-with-fallback'")).containsExactly(original[1]);
        double fallbackCost = cascadeBilled;
        double atOriginal = Sql.decimal(stack, "select sum(f.prompt_tokens * o.input_cost_per_token"
                + " + f.completion_tokens * o.output_cost_per_token) from llm_calls f join llm_calls o"
                + " on o.call_id = f.call_id and o.deployment = 'openai-with-fallback' and not o.success"
                + " where f.deployment = 'gemini-fallback-target' and f.success");
        double atOriginalFromAnswers = 0;
        for (long[] u : cascadeUsage) {
            atOriginalFromAnswers += u[0] * original[0] + u[1] * original[1];
        }
        assertThat(atOriginal).as("the same to the cent as the tokens LiteLLM answered with")
                .isCloseTo(atOriginalFromAnswers, within(0.005));
        JsonPath a = RestAssured.given().baseUri(stack.faultlineUrl()).when()
                .get("/api/v1/failures/" + cascadeTimeout + "/impact").then().statusCode(200).extract().jsonPath();
        assertThat(a.getLong("userImpact.affectedRequests")).isEqualTo(STORM);
        assertThat(a.getLong("userImpact.recoveredRequests")).as("every request was answered by the fallback")
                .isEqualTo(STORM);
        assertThat(a.getLong("userImpact.failedResponses")).isZero();
        assertThat(a.getLong("userImpact.attempts")).isEqualTo(2L * STORM);
        assertThat(a.getLong("userImpact.affectedUsers")).as("one LiteLLM key, no end user").isEqualTo(1);
        assertThat(a.getLong("costImpact.fallbacks")).isEqualTo(STORM);
        assertThat(a.getLong("costImpact.unpricedFallbacks")).as("LiteLLM priced the timed-out attempts").isZero();
        assertThat(a.getDouble("costImpact.fallbackCostUsd")).isCloseTo(fallbackCost, within(1e-9));
        assertThat(a.getDouble("costImpact.fallbackAtOriginalPricesUsd")).isCloseTo(atOriginal, within(1e-9));
        assertThat(a.getDouble("costImpact.fallbackExtraCostUsd")).as("the fallback is the cheaper model")
                .isCloseTo(fallbackCost - atOriginal, within(1e-9)).isNegative();
        assertThat(a.getLong("qualityImpact.answers")).isEqualTo(STORM);
        assertThat(a.getLong("qualityImpact.qualityFailures")).as("every fallback answer hallucinated")
                .isEqualTo(STORM);
        assertThat(a.getString("slaImpact.modelGroup")).isEqualTo(PRIMARY_GROUP);

        JsonPath c = RestAssured.given().baseUri(stack.faultlineUrl()).when()
                .get("/api/v1/failures/correlations/" + cascadeClusterId + "/impact").then().statusCode(200)
                .extract().jsonPath();
        assertThat(c.getLong("userImpact.affectedRequests")).as("the timeout and its hallucinations share requests")
                .isEqualTo(STORM);
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    /** faultline.correlate.min-confidence as the packaged jar was built with it. */
    private static double configuredMinConfidence() throws IOException {
        Properties properties = new Properties();
        try (InputStream in = CorrelationEndToEndIT.class.getResourceAsStream("/application.properties")) {
            assertThat(in).as("application.properties on the test class path").isNotNull();
            properties.load(in);
        }
        return Double.parseDouble(properties.getProperty("faultline.correlate.min-confidence"));
    }

    /** Input and output price per token of a model in the cost map the venv's LiteLLM reads offline. */
    private static double[] litellmPrices(String model) throws IOException {
        java.nio.file.Path venv = java.nio.file.Path.of(System.getProperty("faultline.venv", "litellm/.venv"));
        java.nio.file.Path map;
        try (java.util.stream.Stream<java.nio.file.Path> found = java.nio.file.Files.find(venv.resolve("lib"), 4,
                (p, attrs) -> p.getFileName().toString().equals("model_prices_and_context_window_backup.json")
                        && p.getParent().getFileName().toString().equals("litellm"))) {
            map = found.findFirst().orElseThrow();
        }
        com.fasterxml.jackson.databind.JsonNode entry = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(map.toFile()).path(model);
        return new double[] { entry.path("input_cost_per_token").asDouble(), entry.path("output_cost_per_token")
                .asDouble() };
    }

    private static List<Map<String, Object>> failures(LocalStack stack, String query) {
        return RestAssured.given().baseUri(stack.faultlineUrl()).when().get("/api/v1/failures?limit=500&" + query)
                .then().statusCode(200).extract().jsonPath().getList("items");
    }

    private static JsonPath episode(LocalStack stack, String failureId) {
        return RestAssured.given().baseUri(stack.faultlineUrl()).when().get("/api/v1/failures/" + failureId)
                .then().statusCode(200).extract().jsonPath();
    }

    private static List<String> clustersOf(LocalStack stack, String failureId) {
        return episode(stack, failureId).getList("clusters", String.class);
    }

    private static JsonPath correlations(LocalStack stack, String query) {
        return RestAssured.given().baseUri(stack.faultlineUrl()).when()
                .get("/api/v1/failures/correlations?" + query).then().statusCode(200).extract().jsonPath();
    }

    private static JsonPath cluster(LocalStack stack, String clusterId) {
        return RestAssured.given().baseUri(stack.faultlineUrl()).when()
                .get("/api/v1/failures/correlations/" + clusterId).then().statusCode(200).extract().jsonPath();
    }

    /** The first edge of that kind of the page's first cluster, or null. */
    private static Map<String, Object> edge(JsonPath page, String kind) {
        List<Map<String, Object>> edges = page.getList("items[0].edges");
        return edges == null ? null : edges.stream().filter(e -> kind.equals(e.get("kind"))).findFirst().orElse(null);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> evidence(Map<String, Object> edge) {
        return (Map<String, Object>) edge.get("evidence");
    }
}
