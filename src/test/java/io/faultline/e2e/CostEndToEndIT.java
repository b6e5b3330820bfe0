package io.faultline.e2e;

import io.faultline.simulator.Script;
import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LiteLlmClient.Answer;
import io.faultline.stack.LocalStack;
import io.faultline.testing.Api;
import io.restassured.RestAssured;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * COST failures from real traffic: calls through the real LiteLLM proxy into the simulator, whose usage and cost
 * LiteLLM computes and logs, into the packaged Faultline. Sample floors are lowered through the environment so that a
 * stream of tens of calls, not thousands, crosses them; the thresholds themselves are the defaults.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CostEndToEndIT {

    private static final int HISTORY = 25;
    private static final int WINDOW_SECONDS = 3;
    private static final String PROMPT = "How long is the return window?";
    private static final int CACHE_MIN_CALLS = 5;
    /** Calls a window must hold to count as filled: above the storm's volume floor with room to spare. */
    private static final int CALLS_PER_WINDOW = 2 * CACHE_MIN_CALLS;

    private static LocalStack stack;
    private static LiteLlmClient client;

    @BeforeAll
    static void startStack() throws Exception {
        stack = StackFixture.start("cost", Map.of(
                "FAULTLINE_TOKEN_SPIKE_MIN_SAMPLES", String.valueOf(HISTORY),
                "FAULTLINE_TOKEN_SPIKE_MIN_TOKENS", "10",
                // Windows of seconds, so that real traffic through the proxy fills several in a test.
                "FAULTLINE_TOKEN_SPIKE_WINDOW", WINDOW_SECONDS + "s",
                "FAULTLINE_CACHE_STORM_MIN_CALLS", String.valueOf(CACHE_MIN_CALLS),
                "FAULTLINE_CACHE_STORM_MIN_WINDOWS", "2"));
        client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
    }

    @AfterAll
    static void stopStack() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    @Order(1)
    void a_call_past_three_times_the_p99_spikes_and_thinking_at_three_times_its_p99_does_not() {
        Map<String, Object> thinking = Map.of("thinking", Map.of("type", "enabled", "budget_tokens", 1024));
        for (int i = 0; i < HISTORY; i++) {
            assertThat(client.chat("gpt-4o-mini", "How long is the return window?", false).status()).isEqualTo(200);
            assertThat(client.chat("claude-sonnet", "How long is the return window?", false, LocalStack.MASTER_KEY,
                    null, thinking).status()).isEqualTo(200);
        }
        awaitCalls(2L * HISTORY);
        long openaiBase = Sql.count(stack, "select max(prompt_tokens + completion_tokens) from llm_calls"
                + " where deployment = 'openai-primary'");
        long anthropicBase = Sql.count(stack, "select max(prompt_tokens + completion_tokens) from llm_calls"
                + " where deployment = 'anthropic-primary'");
        // The Anthropic history thinks already (thinking enabled): its base includes that thinking.
        long anthropicThinking = Sql.count(stack, "select max(reasoning_tokens) from llm_calls"
                + " where deployment = 'anthropic-primary'");

        // Anthropic, whose history thinks: reasoning tokens at exactly 3 x their p99 (not above it), the total well
        // under 3 x its p99. OpenAI, whose history does not think: a total one token above 3 x its p99.
        stack.simulator().script("anthropic", Script.success().withThinkingTokens((int) (3 * anthropicThinking)));
        Answer under = client.chat("claude-sonnet", "How long is the return window?", false, LocalStack.MASTER_KEY,
                null, thinking);
        stack.simulator().script("openai", Script.success().withThinkingTokens((int) (2 * openaiBase + 1)));
        Answer over = client.chat("gpt-4o-mini", "How long is the return window?", false);
        stack.simulator().reset();
        assertThat(List.of(under.status(), over.status())).containsOnly(200);
        awaitCalls(2L * HISTORY + 2);

        assertThat(Sql.count(stack, "select max(reasoning_tokens) from llm_calls where deployment ="
                + " 'anthropic-primary'")).as("the under call thinks exactly 3 x the p99")
                .isEqualTo(3 * anthropicThinking);
        assertThat(Sql.count(stack, "select max(prompt_tokens + completion_tokens) from llm_calls where deployment ="
                + " 'anthropic-primary'")).isLessThanOrEqualTo(3 * anthropicBase);
        List<Map<String, Object>> spikes = Awaitility.await("token spike classified").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(300)).until(() -> callSpikes(), f -> !f.isEmpty());
        assertThat(spikes).singleElement().satisfies(spike -> {
            assertThat(spike).containsEntry("deployment", "openai-primary").containsEntry("severity", "P3")
                    .containsEntry("category", "COST");
            Map<?, ?> evidence = (Map<?, ?>) spike.get("evidence");
            assertThat(evidence.get("scope")).isEqualTo("call");
            assertThat(((Number) evidence.get("tokens")).longValue()).isEqualTo(3 * openaiBase + 1);
            assertThat(((Number) evidence.get("p99_tokens")).longValue()).isEqualTo(openaiBase);
            assertThat(((Number) evidence.get("reasoning_tokens")).longValue()).isEqualTo(2 * openaiBase + 1);
        });
    }

    @Test
    @Order(2)
    void a_model_budget_warns_at_80_percent_and_breaks_at_100_from_the_cost_litellm_computes() {
        assertThat(client.chat("gemini-flash", PROMPT, false).status()).isEqualTo(200);
        awaitSpend("gemini-primary", 1);
        double perCall = Sql.decimal(stack, "select max(cost_usd) from llm_calls where deployment = 'gemini-primary'");
        assertThat(perCall).as("LiteLLM prices the simulated Gemini call").isPositive();
        // 10.5 calls' worth: 80% is crossed by the 9th call, 100% by the 11th.
        RestAssured.given().baseUri(stack.faultlineUrl()).header("Authorization", "Bearer " + Api.KEY)
                .contentType("application/json").body(Map.of("period", "day", "amountUsd", 10.5 * perCall))
                .when().put("/api/v1/budgets/model/gemini-flash").then().statusCode(200);
        for (int call = 2; call <= 8; call++) {
            assertThat(client.chat("gemini-flash", PROMPT, false).status()).isEqualTo(200);
        }
        awaitSpend("gemini-primary", 8);
        assertThat(failures("type=budget_exceeded")).as("8 of 10.5 calls is under 80%").isEmpty();

        assertThat(client.chat("gemini-flash", PROMPT, false).status()).isEqualTo(200);
        Map<String, Object> warning = Awaitility.await("80% warning").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(300)).until(() -> failures("type=budget_exceeded"), f -> !f.isEmpty())
                .get(0);
        assertThat(warning).containsEntry("provider", "budget").containsEntry("deployment", "model:gemini-flash")
                .containsEntry("severity", "P3");
        for (int call = 10; call <= 11; call++) {
            assertThat(client.chat("gemini-flash", PROMPT, false).status()).isEqualTo(200);
        }
        Awaitility.await("100% crossing").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300))
                .untilAsserted(() -> assertThat(failures("type=budget_exceeded")).extracting(f -> f.get("severity"))
                        .containsExactly("P2"));
    }

    @Test
    @Order(3)
    void a_batch_tagged_in_request_metadata_overruns_the_expected_cost_an_operator_set() {
        double perCall = Sql.decimal(stack, "select max(cost_usd) from llm_calls where deployment = 'gemini-primary'");
        RestAssured.given().baseUri(stack.faultlineUrl()).header("Authorization", "Bearer " + Api.KEY)
                .contentType("application/json").body(Map.of("expectedCostUsd", 3.5 * perCall))
                .when().put("/api/v1/batches/nightly-faq-7").then().statusCode(200);
        // The caller's own claim is ignored: it would silence the alert if it were believed.
        Map<String, Object> metadata = Map.of("metadata", Map.of("batch_id", "nightly-faq-7",
                "batch_expected_cost_usd", 1000 * perCall));
        for (int call = 1; call <= 3; call++) {
            assertThat(client.chat("gemini-flash", PROMPT, false, LocalStack.MASTER_KEY, null, metadata).status())
                    .isEqualTo(200);
        }
        Awaitility.await("batch calls stored").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300))
                .untilAsserted(() -> assertThat(Sql.count(stack, "select count(*) from llm_calls"
                        + " where requester_metadata->>'batch_id' = 'nightly-faq-7'")).isEqualTo(3));
        assertThat(failures("type=batch_cost_overrun")).as("3 of 3.5 expected calls").isEmpty();

        assertThat(client.chat("gemini-flash", PROMPT, false, LocalStack.MASTER_KEY, null, metadata).status())
                .isEqualTo(200);
        Map<String, Object> overrun = Awaitility.await("batch overrun").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(300)).until(() -> failures("type=batch_cost_overrun"),
                        f -> !f.isEmpty()).get(0);
        assertThat(overrun).containsEntry("provider", "batch").containsEntry("deployment", "nightly-faq-7")
                .containsEntry("severity", "P3");
    }

    @Test
    @Order(4)
    void a_prompt_cache_that_stops_hitting_while_traffic_holds_is_a_storm_and_a_smaller_drop_is_not() {
        assertThat(client.chat("gpt-4o-mini", PROMPT, false).status()).isEqualTo(200);
        awaitSpend("openai-primary", HISTORY + 2);
        int prompt = (int) Sql.count(stack,
                "select max(prompt_tokens) from llm_calls where deployment = 'openai-primary'");
        // Every prompt token cached for four windows; then a bit over half of them for two windows (above half the
        // level: no storm); then none (a storm).
        traffic(Script.success().withCachedPromptTokens(prompt), 4);
        traffic(Script.success().withCachedPromptTokens(prompt / 2 + 1), 2);
        Instant halfEnded = Instant.now();
        traffic(Script.success(), 2);
        // The phase's last call fell into a later window and so closed the storm's windows; the plugin flushes in
        // the background, so wait for the condition (each poll also sends a call that closes any window still open).
        List<Map<String, Object>> storms = Awaitility.await("cache storm").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(200)).until(() -> {
                    client.chat("gpt-4o-mini", PROMPT, false);
                    return failures("type=cache_miss_storm&deployment=gpt-4o-mini");
                }, f -> !f.isEmpty());
        stack.simulator().reset();
        assertThat(storms).hasSize(1);
        // The windows at just over half were judged before the storm's (a window is judged when a later call closes
        // it): had one of them raised, the episode would have started at or before the end of that phase.
        assertThat(Instant.parse((String) storms.get(0).get("firstSeen"))).as("a drop to just over half is no storm")
                .isAfter(halfEnded);
        Map<?, ?> evidence = (Map<?, ?>) storms.get(0).get("evidence");
        assertThat(storms.get(0)).containsEntry("provider", "openai").containsEntry("severity", "P3");
        assertThat(evidence.get("signal")).isEqualTo("prompt_cache");
        assertThat(((Number) evidence.get("hit_ratio")).doubleValue()).isZero();
        // The level weighs every earlier window of the model, the uncached traffic of the earlier tests too, so its
        // value depends on how many windows this machine's pace fitted in; the rule it was judged by does not.
        double level = ((Number) evidence.get("rolling_level")).doubleValue();
        assertThat(level).as("rolling level").isGreaterThanOrEqualTo(0.2);
        assertThat(((Number) evidence.get("hit_ratio")).doubleValue()).isLessThanOrEqualTo(level * 0.5);
    }

    /**
     * Sequential calls to OpenAI with {@code script} until {@code windows} whole windows have each held at least
     * {@link #CALLS_PER_WINDOW} of them. Windows are placed by the calls' end times on this machine's clock, which the
     * proxy shares; a slow machine simply takes more calls' time, so the loop is bounded by a call count, not a
     * duration. The window in progress when it returns holds calls of this phase and the next.
     */
    private static void traffic(Script script, int windows) {
        stack.simulator().script("openai", script);
        long windowMillis = WINDOW_SECONDS * 1000L;
        long firstWhole = Math.floorDiv(System.currentTimeMillis(), windowMillis) + 1;
        Map<Long, Integer> perWindow = new java.util.HashMap<>();
        for (int sent = 0; sent < 5_000; sent++) {
            assertThat(client.chat("gpt-4o-mini", PROMPT, false).status()).isEqualTo(200);
            long now = Math.floorDiv(System.currentTimeMillis(), windowMillis);
            perWindow.merge(now, 1, Integer::sum);
            long whole = perWindow.entrySet().stream().filter(e -> e.getKey() >= firstWhole && e.getKey() < now
                    && e.getValue() >= CALLS_PER_WINDOW).count();
            if (whole >= windows) {
                return;
            }
        }
        throw new AssertionError("5,000 calls did not fill " + windows + " windows of " + CALLS_PER_WINDOW
                + " calls: " + perWindow);
    }

    private static List<Map<String, Object>> callSpikes() {
        return failures("type=token_spike").stream()
                .filter(f -> "cost.tokens.rolling_p99".equals(f.get("detectionMethod"))).toList();
    }

    private static void awaitSpend(String deployment, long calls) {
        Awaitility.await(calls + " calls of " + deployment).atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(300)).untilAsserted(() -> assertThat(Sql.count(stack,
                        "select count(*) from llm_calls where deployment = '" + deployment + "'"))
                        .isGreaterThanOrEqualTo(calls));
    }

    static List<Map<String, Object>> failures(String query) {
        return RestAssured.given().baseUri(stack.faultlineUrl()).when().get("/api/v1/failures?limit=500&" + query)
                .then().statusCode(200).extract().jsonPath().getList("items");
    }

    static void awaitCalls(long expected) {
        Awaitility.await(expected + " calls stored").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(300)).untilAsserted(() -> assertThat(RestAssured.given()
                        .baseUri(stack.faultlineUrl()).when().get("/api/v1/calls/stats").then().statusCode(200)
                        .extract().jsonPath().getLong("total")).isEqualTo(expected));
    }
}
