package io.faultline.e2e;

import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LocalStack;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** Faultline dies mid-run while LiteLLM keeps serving; after a restart every logged call is stored exactly once. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RestartIT {

    private static final int PER_PHASE = 40;

    private static LocalStack stack;

    @BeforeAll
    static void startStack() throws Exception {
        stack = StackFixture.start("restart");
    }

    @AfterAll
    static void stopStack() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void every_call_the_proxy_logged_is_counted_exactly_once_across_a_faultline_crash() {
        LiteLlmClient client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        String[] models = { "gpt-4o-mini", "claude-sonnet", "gemini-flash" };
        int sent = 0;

        for (int i = 0; i < PER_PHASE; i++, sent++) {
            assertThat(client.chat(models[i % 3], "before " + i, false).status()).isEqualTo(200);
        }
        stack.faultline().kill(); // no graceful shutdown: whatever was in flight is lost on Faultline's side

        for (int i = 0; i < PER_PHASE; i++, sent++) {
            assertThat(client.chat(models[i % 3], "during " + i, i % 4 == 0).status())
                    .as("the proxy keeps serving while Faultline is down").isEqualTo(200);
        }
        assertThat(stack.litellm().alive()).isTrue();
        stack.startFaultline();

        for (int i = 0; i < PER_PHASE; i++, sent++) {
            assertThat(client.chat(models[i % 3], "after " + i, false).status()).isEqualTo(200);
        }
        int expected = sent;
        Awaitility.await("all " + expected + " calls stored").atMost(Duration.ofSeconds(90))
                .pollInterval(Duration.ofMillis(500))
                .untilAsserted(() -> assertThat(Sql.count(stack, "select count(*) from llm_calls"))
                        .isEqualTo(expected));
        assertThat(Sql.count(stack, "select count(distinct call_id) from llm_calls")).isEqualTo(expected);
        assertThat(Sql.count(stack, "select count(*) from llm_calls where not success")).isZero();
    }
}
