package io.faultline.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.simulator.Script;
import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LocalStack;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The LLM-as-judge faithfulness check through the real parts: a grounded chat call goes through LiteLLM to the
 * simulated OpenAI deployment, whose answer the grounding supports word for word; the plugin logs it to Faultline,
 * whose judge asks LiteLLM's {@code faultline-judge} model (the simulator, scripted to find the answer unsupported).
 * The judged hallucination lands in {@code failure_events} at the cost the proxy reported, and the judge's own call,
 * which the plugin logs like any other, is stored and not judged.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FaithfulnessJudgeEndToEndIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONTEXT = "Orders ship within two business days from the warehouse in Leipzig. Returns"
            + " are accepted within 30 days of delivery if the item is unused. Refunds are issued to the original"
            + " payment method within 5 business days after the return arrives.";
    private static final String ANSWER = "You can return an unused item within 30 days of delivery. Once the return"
            + " arrives, the refund goes to your original payment method within 5 business days.";

    private static LocalStack stack;

    @BeforeAll
    static void startStack() throws Exception {
        stack = StackFixture.prepare("judge");
        stack.startFaultline("/q/health/ready", Map.of(
                "FAULTLINE_FAITHFULNESS_JUDGE_ENABLED", "true",
                "FAULTLINE_FAITHFULNESS_JUDGE_BASE_URL", stack.litellmUrl(),
                "FAULTLINE_JUDGE_API_KEY", LocalStack.MASTER_KEY,
                "FAULTLINE_FAITHFULNESS_JUDGE_SAMPLE_RATE", "1"));
        stack.startLiteLlm();
    }

    @AfterAll
    static void stopStack() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void a_grounded_answer_the_judge_finds_unsupported_is_a_judged_hallucination_and_the_judges_call_is_not_judged()
            throws Exception {
        stack.simulator().script("openai", Script.success().withContent(ANSWER));
        stack.simulator().script("judge", Script.success().withContent(
                "{\"claims\": 2, \"unsupported_claims\": 1, \"verdict\": \"unsupported\"}"));
        LiteLlmClient litellm = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        List<Map<String, String>> messages = List.of(
                Map.of("role", "system", "content", "Answer from the context.\n<context>" + CONTEXT + "</context>"),
                Map.of("role", "user", "content", "How long do I have to return a jacket?"));
        assertThat(litellm.chat("gpt-4o-mini", messages, Map.of()).status()).isEqualTo(200);

        await().atMost(Duration.ofSeconds(60)).until(() -> Sql.count(stack, "select count(*) from failure_events"
                + " where detection_method = 'content.faithfulness.judge'") == 1);
        JsonNode failure = JSON.readTree(Sql.rows(stack, "select json_build_object('type', type, 'deployment',"
                + " deployment, 'evidence', evidence) from failure_events"
                + " where detection_method = 'content.faithfulness.judge'").strip());
        assertThat(failure.path("type").asText()).isEqualTo("hallucination");
        assertThat(failure.path("deployment").asText()).isEqualTo("openai-primary");
        JsonNode evidence = failure.path("evidence");
        assertThat(evidence.path("judge_verdict").asText()).isEqualTo("unsupported");
        assertThat(evidence.path("lexical_verdict").asText()).isEqualTo("none");
        // what LiteLLM billed for the judge's call (x-litellm-response-cost), not the assumed 0.002
        assertThat(evidence.path("judge_cost_usd").asDouble()).isPositive().isLessThan(0.002);
        assertThat(Sql.count(stack, "select count(*) from failure_events where category = 'QUALITY'"
                + " and detection_method <> 'content.faithfulness.judge'")).as("the lexical check passed it").isZero();
        assertThat(Sql.decimal(stack, "select cost_usd from faithfulness_judge_spend"))
                .isEqualTo(evidence.path("judge_cost_usd").asDouble(), org.assertj.core.data.Offset.offset(1e-9));

        // The judge's own call comes back through the plugin and is stored; a second grounded call is judged after
        // it (one worker, in order), so by then the judge's call was passed over.
        await().atMost(Duration.ofSeconds(60)).until(() -> Sql.count(stack,
                "select count(*) from llm_calls where model_group = 'faultline-judge'") == 1);
        assertThat(litellm.chat("gpt-4o-mini", messages, Map.of()).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(60)).until(() -> Sql.count(stack,
                "select coalesce(sum(calls), 0) from faithfulness_judge_spend") == 2);
        await().atMost(Duration.ofSeconds(60)).until(() -> Sql.count(stack,
                "select count(*) from llm_calls where model_group = 'faultline-judge'") == 2);
        assertThat(stack.simulator().stats().get("judge").requests()).isEqualTo(2);
        // A reply that is no verdict was paid for all the same: today's spend holds what the proxy billed for it,
        // not the reservation at the assumed 0.002 (which would let the judge overspend its daily cap).
        double spentBefore = Sql.decimal(stack, "select cost_usd from faithfulness_judge_spend");
        stack.simulator().script("judge", Script.success().withContent("I think the answer is mostly fine."));
        assertThat(litellm.chat("gpt-4o-mini", messages, Map.of()).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(60)).until(() -> Sql.count(stack,
                "select count(*) from llm_calls where model_group = 'faultline-judge'") == 3);
        // Reserved at 0.002 (calls 3), then settled: both, or the reservation was never corrected.
        await().atMost(Duration.ofSeconds(60)).until(() -> Sql.count(stack,
                "select calls from faithfulness_judge_spend") == 3 && Sql.decimal(stack,
                "select cost_usd from faithfulness_judge_spend") < spentBefore + 0.002);
        assertThat(Sql.decimal(stack, "select cost_usd from faithfulness_judge_spend")).isGreaterThan(spentBefore);
        // The judge's own calls are stored but not content-checked (faultline.content.skipped-model-groups): read as
        // answers of their own, its JSON verdicts are unsupported by the context they quote.
        assertThat(Sql.count(stack, "select count(*) from failure_events where detection_method"
                + " <> 'content.faithfulness.judge'")).as("no failure raised on the judge's own calls").isZero();
    }
}
