package io.faultline.e2e;

import io.faultline.simulator.Script;
import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LiteLlmClient.Answer;
import io.faultline.stack.LocalStack;
import io.restassured.RestAssured;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * COST failures from real traffic: calls through the real LiteLLM proxy into the simulator, whose usage and cost
 * LiteLLM computes and logs, into the packaged Faultline. Sample floors are lowered through the environment so that a
 * stream of tens of calls, not thousands, crosses them; the thresholds themselves are the defaults.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CostEndToEndIT {

    private static final int HISTORY = 25;

    private static LocalStack stack;
    private static LiteLlmClient client;

    @BeforeAll
    static void startStack() throws Exception {
        stack = StackFixture.start("cost", Map.of(
                "FAULTLINE_TOKEN_SPIKE_MIN_SAMPLES", String.valueOf(HISTORY),
                "FAULTLINE_TOKEN_SPIKE_MIN_TOKENS", "10"));
        client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
    }

    @AfterAll
    static void stopStack() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
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
                + " 'anthropic-primary'")).as("the under call thinks exactly 3 x the p99").isEqualTo(3 * anthropicThinking);
        assertThat(Sql.count(stack, "select max(prompt_tokens + completion_tokens) from llm_calls where deployment ="
                + " 'anthropic-primary'")).isLessThanOrEqualTo(3 * anthropicBase);
        List<Map<String, Object>> spikes = Awaitility.await("token spike classified").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(300)).until(() -> failures("type=token_spike"), f -> !f.isEmpty());
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
