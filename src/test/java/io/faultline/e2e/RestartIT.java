package io.faultline.e2e;

import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LocalStack;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Faultline dies mid-run while LiteLLM keeps serving; after a restart every logged call is stored exactly once. And
 * a graceful stop, as Kubernetes makes one on every rolling deployment: not ready but still answering for the drain
 * delay, then what it buffered written.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RestartIT {

    private static final int PER_PHASE = 40;
    private static final int EMBEDDING_CALLS = 6;
    /** Long enough for a loaded machine to see readiness down and send a batch before the port closes. */
    private static final Duration DRAIN_DELAY = Duration.ofSeconds(20);

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
    @Order(1)
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

    @Test
    @Order(2)
    void a_graceful_stop_answers_while_not_ready_then_writes_the_embedding_vectors_it_buffered() throws Exception {
        // Vectors are written only at flushes and checks an hour apart: what the stop finds buffered, only it writes.
        stack.faultline().close();
        stack.startFaultline("/q/health/ready", Map.of("QUARKUS_SHUTDOWN_DELAY", DRAIN_DELAY.toSeconds() + "s",
                "FAULTLINE_EMBEDDING_DRIFT_FLUSH_INTERVAL", "1h", "FAULTLINE_EMBEDDING_DRIFT_INTERVAL", "1h"));
        long callsBefore = Sql.count(stack, "select count(*) from llm_calls");
        LiteLlmClient client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        for (int i = 0; i < EMBEDDING_CALLS; i++) {
            List<String> inputs = List.of("clause " + i + " of the lease", "clause " + i + " of the annex");
            assertThat(client.embed("text-embedding-3-small", inputs).status()).isEqualTo(200);
            assertThat(client.chat("gpt-4o-mini", "question " + i, false).status()).isEqualTo(200);
        }
        Awaitility.await("the proxy's calls stored").atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500))
                .until(() -> Sql.count(stack, "select count(*) from llm_calls") == callsBefore + 2 * EMBEDDING_CALLS);
        assertThat(Sql.count(stack, "select count(*) from embedding_signals")).as("buffered, not yet written")
                .isZero();

        stack.faultline().terminate();
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        Awaitility.await("readiness down after SIGTERM").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> get(http, "/q/health/ready").statusCode() == 503);
        // Not ready, so the Service sends no new traffic; what still arrives in the meantime is taken and stored.
        String batch = Payloads.array(Payloads.success("openai", "gpt-4o-mini", "dep-drain", Instant.now()),
                Payloads.success("openai", "gpt-4o-mini", "dep-drain", Instant.now()));
        HttpResponse<String> ingest = http.send(HttpRequest.newBuilder(URI.create(stack.faultlineUrl()
                + "/api/v1/calls")).timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + Api.KEY)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(batch)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(ingest.statusCode()).as(ingest.body()).isEqualTo(200);
        assertThat(ingest.body()).contains("\"accepted\":2");
        stack.faultline().awaitExit(DRAIN_DELAY.plus(Duration.ofMinutes(2)));

        assertThat(Sql.count(stack, "select count(*) from embedding_signals where source = 'litellm'"))
                .as("every embedding call's vectors written at the stop").isEqualTo(EMBEDDING_CALLS);
        assertThat(Sql.count(stack, "select count(*) from embedding_samples")).isEqualTo(2L * EMBEDDING_CALLS);
        assertThat(Sql.count(stack, "select count(*) from llm_calls where deployment = 'dep-drain'")).isEqualTo(2);
        stack.startFaultline();
    }

    private HttpResponse<Void> get(HttpClient http, String path) throws Exception {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(stack.faultlineUrl() + path))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding());
        } catch (java.io.IOException e) {
            throw new AssertionError("Faultline stopped answering before its drain delay ended", e);
        }
    }
}
