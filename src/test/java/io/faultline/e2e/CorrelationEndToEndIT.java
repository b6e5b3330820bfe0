package io.faultline.e2e;

import io.faultline.simulator.DeploymentStats;
import io.faultline.simulator.Fault;
import io.faultline.simulator.FaultKind;
import io.faultline.simulator.Script;
import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LiteLlmClient.Answer;
import io.faultline.stack.LocalStack;
import io.faultline.testing.Api;
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
    /** The dedicated group of litellm/config.yaml whose fallback is the pricier Claude Sonnet 4.5. */
    private static final String PRICIER_GROUP = "gpt-4o-mini-pricier-fallback";

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
        // A timeout names the clusters and edges last seen (the graph as a line), so that CI's log says what was off.
        JsonPath cluster = Awaitility.await("one cascade cluster over every fallback trace")
                .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                .until(() -> new Seen(correlations(stack, "status=all")),
                        seen -> seen.page().getList("items").size() == 1
                        && seen.page().getList("items[0].edges").size() == 2
                        && edge(seen.page(), "fallback") != null
                        && sharedTraces(edge(seen.page(), "fallback")) == fellBack
                        && edge(seen.page(), "caused") != null
                        && sharedTraces(edge(seen.page(), "caused")) == fellBack).page();
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
                .pollInterval(Duration.ofMillis(500)).until(() -> new Seen(correlations(stack, "status=all")),
                        seen -> seen.page().getList("items").size() == 1
                                && seen.page().getList("items[0].nodes").size() == 3).page();
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

    @Test
    @Order(5)
    void an_openai_outage_falling_back_to_a_pricier_model_is_priced_to_the_cent_against_its_slo() throws Exception {
        assertThat(cascadeStack).as("the cascade stack runs").isNotNull();
        LocalStack stack = cascadeStack;
        // The SLO the outage is measured against: half of the group's requests answered over an hour.
        RestAssured.given().baseUri(stack.faultlineUrl()).header("Authorization", "Bearer " + Api.KEY)
                .contentType("application/json").body("{\"availabilityTarget\":0.5,\"period\":\"1h\"}")
                .put("/api/v1/slos/" + PRICIER_GROUP).then().statusCode(200);
        LiteLlmClient client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        // OpenAI is down; LiteLLM falls back to Claude Sonnet 4.5, which answers 4 requests of 3 shoppers, then is
        // overloaded too, so that a fourth shopper's 2 requests fail on every attempt.
        stack.simulator().script("openai", Script.faults(Fault.untilReset(FaultKind.fromWireName("server_error"))));
        stack.simulator().script("anthropic", Script.success().withContent("Your order ships tomorrow."));
        List<long[]> usage = new ArrayList<>();
        double billed = 0;
        for (int i = 0; i < 4; i++) {
            Answer answer = client.chat(PRICIER_GROUP, "Status of order " + i + "?", false, LocalStack.MASTER_KEY,
                    "shopper-" + (i % 3));
            assertThat(answer.status()).as("the pricier fallback answers: " + answer.body()).isEqualTo(200);
            JsonPath u = JsonPath.from(answer.body());
            usage.add(new long[] { u.getLong("usage.prompt_tokens"), u.getLong("usage.completion_tokens") });
            billed += Double.parseDouble(answer.responseCost());
        }
        stack.simulator().script("anthropic", Script.faults(Fault.untilReset(FaultKind.fromWireName("overloaded"))));
        for (int i = 0; i < 2; i++) {
            Answer answer = client.chat(PRICIER_GROUP, "Refund for order " + i + "?", false, LocalStack.MASTER_KEY,
                    "shopper-3");
            assertThat(answer.status()).as("both providers fail: " + answer.body()).isGreaterThanOrEqualTo(500);
        }
        Map<String, DeploymentStats> simulated = stack.simulator().stats();
        stack.simulator().reset();
        assertThat(simulated.get("anthropic").requests()).as("one fallback per request").isEqualTo(6);

        Awaitility.await("the outage's calls stored").atMost(Duration.ofSeconds(90))
                .pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
                    assertThat(Sql.count(stack, "select count(*) from llm_calls where deployment ="
                            + " 'openai-pricier-fallback' and not success")).isEqualTo(6);
                    assertThat(Sql.count(stack, "select count(*) from llm_calls where deployment ="
                            + " 'anthropic-fallback-target' and success")).isEqualTo(4);
                    assertThat(Sql.count(stack, "select count(*) from llm_calls where deployment ="
                            + " 'anthropic-fallback-target' and not success")).isEqualTo(2);
                });
        // Every attempt under the outage's call ids: the 6 failed OpenAI ones, the 4 answering fallbacks and the 2
        // fallbacks that failed too. LiteLLM's failure logging lets only a request's first failure through; the
        // plugin reports the failed fallbacks from LiteLLM's per-attempt hook (litellm/README.md).
        String attemptsSql = "select count(*) from llm_calls where call_id in (select call_id from llm_calls"
                + " where deployment = 'openai-pricier-fallback')";
        long attempts = Sql.count(stack, attemptsSql);
        assertThat(attempts).as(() -> "attempts: " + Sql.rows(stack, "select call_id, deployment, success"
                + " from llm_calls where model_group like 'gpt-4o-mini-pricier%' or deployment like '%fallback-target'"
                + " order by started_at")).isEqualTo(12);
        // Each request that failed everywhere is one trace of two failed attempts, the OpenAI one and the fallback
        // on Claude after it, each stored once, and the fallback's carries Anthropic's overloaded status.
        assertThat(Sql.count(stack, "select count(*) from (select trace_id from llm_calls where call_id in"
                + " (select call_id from llm_calls where deployment = 'openai-pricier-fallback') group by trace_id"
                + " having count(*) = 2 and count(distinct call_id) = 1"
                + " and count(*) filter (where deployment = 'openai-pricier-fallback' and not success) = 1"
                + " and count(*) filter (where deployment = 'anthropic-fallback-target' and not success"
                + " and http_status = 529) = 1"
                + " and min(started_at) filter (where deployment = 'openai-pricier-fallback')"
                + " < min(started_at) filter (where deployment = 'anthropic-fallback-target')) t"))
                .as(() -> "traces: " + Sql.rows(stack, "select trace_id, call_id, deployment, success, http_status,"
                        + " started_at from llm_calls where deployment like '%pricier%' or deployment like"
                        + " 'anthropic-fallback%' order by trace_id, started_at"))
                .isEqualTo(2);
        String outage = Awaitility.await("outage episode").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(500))
                .until(() -> failures(stack, "category=PROVIDER&deployment=openai-pricier-fallback"),
                        f -> f.size() == 1)
                .get(0).get("failureId").toString();

        // The prices stored with each failed OpenAI attempt are LiteLLM's own cost map's for gpt-4o-mini; what the
        // answers' tokens would have cost there, from the stored calls and from the tokens LiteLLM answered with.
        double[] original = litellmPrices("gpt-4o-mini");
        double[] fallback = litellmPrices("claude-sonnet-4-5");
        assertThat(fallback[0]).as("the fallback is the pricier model").isGreaterThan(original[0]);
        double atOriginal = Sql.decimal(stack, "select sum(f.prompt_tokens * o.input_cost_per_token"
                + " + f.completion_tokens * o.output_cost_per_token) from llm_calls f join llm_calls o"
                + " on o.call_id = f.call_id and o.deployment = 'openai-pricier-fallback' and not o.success"
                + " where f.deployment = 'anthropic-fallback-target' and f.success");
        double storedCost = Sql.decimal(stack, "select sum(cost_usd) from llm_calls"
                + " where deployment = 'anthropic-fallback-target' and success");
        double atOriginalFromAnswers = 0;
        double atFallbackFromAnswers = 0;
        for (long[] u : usage) {
            atOriginalFromAnswers += u[0] * original[0] + u[1] * original[1];
            atFallbackFromAnswers += u[0] * fallback[0] + u[1] * fallback[1];
        }
        assertThat(billed).as("LiteLLM billed the answers at its cost map's Claude prices")
                .isCloseTo(atFallbackFromAnswers, within(0.005));

        // The error budget is read from the SLO rollup (once a minute): wait for it to have counted the 6 requests.
        JsonPath a = Awaitility.await("the assessment against the SLO").atMost(Duration.ofSeconds(180))
                .pollInterval(Duration.ofSeconds(2)).until(() -> RestAssured.given().baseUri(stack.faultlineUrl())
                        .when().get("/api/v1/failures/" + outage + "/impact").then().statusCode(200).extract()
                        .jsonPath(), j -> j.get("slaImpact.budgetRequests") != null
                                && j.getDouble("slaImpact.budgetRequests") >= 3.0 - 1e-9);
        assertThat(a.getLong("userImpact.affectedRequests")).isEqualTo(6);
        assertThat(a.getLong("userImpact.recoveredRequests")).isEqualTo(4);
        assertThat(a.getLong("userImpact.failedResponses")).isEqualTo(2);
        assertThat(a.getLong("userImpact.attempts")).isEqualTo(Sql.count(stack, attemptsSql));
        // shopper-0 to shopper-3 are the requests' free-form `user`: a label the caller chooses, not an identity
        // (issue 14). Users are LiteLLM's authenticated identity, and all six requests came with the one master key.
        assertThat(a.getLong("userImpact.affectedUsers")).as("one LiteLLM key; the shoppers' `user` is a label")
                .isEqualTo(1);
        assertThat(a.getLong("costImpact.fallbacks")).isEqualTo(4);
        assertThat(a.getLong("costImpact.unpricedFallbacks")).isZero();
        assertThat(a.getDouble("costImpact.fallbackCostUsd")).isCloseTo(storedCost, within(1e-9))
                .isCloseTo(billed, within(1e-9));
        assertThat(a.getDouble("costImpact.fallbackAtOriginalPricesUsd")).isCloseTo(atOriginal, within(1e-9))
                .isCloseTo(atOriginalFromAnswers, within(0.005));
        assertThat(a.getDouble("costImpact.fallbackExtraCostUsd")).as("the stored prices' figure, and LiteLLM's to"
                + " the cent").isPositive().isCloseTo(storedCost - atOriginal, within(1e-9))
                .isCloseTo(billed - atOriginalFromAnswers, within(0.005));
        // 6 requests in the hour at 50% allow 3 failed responses; 2 of them is two thirds of the budget.
        assertThat(a.getString("slaImpact.modelGroup")).isEqualTo(PRICIER_GROUP);
        assertThat(a.getDouble("slaImpact.availabilityTarget")).isEqualTo(0.5);
        assertThat(a.getDouble("slaImpact.budgetRequests")).isCloseTo(3.0, within(1e-9));
        // (RestAssured's JsonPath reads JSON numbers as floats: 7 significant digits)
        assertThat(a.getDouble("slaImpact.budgetConsumed")).isCloseTo(2.0 / 3, within(1e-6));
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

    private static long sharedTraces(Map<String, Object> edge) {
        return evidence(edge).get("shared_traces") instanceof Number n ? n.longValue() : -1;
    }

    /** A page of clusters whose text is the graph in one line: each cluster's type, status, nodes and edges. */
    private record Seen(JsonPath page) {
        @Override
        public String toString() {
            StringBuilder text = new StringBuilder();
            List<Map<String, Object>> items = page.getList("items");
            for (int i = 0; i < items.size(); i++) {
                text.append("[cluster ").append(page.getString("items[" + i + "].type")).append('/')
                        .append(page.getString("items[" + i + "].status")).append(" nodes ")
                        .append(page.getList("items[" + i + "].nodes.type")).append(" edges");
                List<Map<String, Object>> edges = page.getList("items[" + i + "].edges");
                for (Map<String, Object> edge : edges) {
                    text.append(' ').append(edge.get("kind")).append(" to ").append(edge.get("to"));
                    if (sharedTraces(edge) >= 0) {
                        text.append(" traces ").append(sharedTraces(edge));
                    }
                }
                text.append("] ");
            }
            return items.isEmpty() ? "no cluster" : text.toString().trim();
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> evidence(Map<String, Object> edge) {
        return (Map<String, Object>) edge.get("evidence");
    }
}
