package io.faultline.baseline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** What one profiled call measures, against a stand-in for the LiteLLM proxy on loopback. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BaselineCallTest {

    private HttpServer proxy;

    @AfterEach
    void stop() {
        if (proxy != null) {
            proxy.stop(0);
        }
    }

    /** A proxy that answers every call with 200 and this SSE body. */
    private BaselineProfiler profilerAgainst(String sse) throws Exception {
        return profilerAgainst(200, "text/event-stream", sse);
    }

    /** A proxy that answers every call with this status and body. */
    private BaselineProfiler profilerAgainst(int status, String contentType, String text) throws Exception {
        proxy = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        proxy.createContext("/v1/chat/completions", exchange -> {
            exchange.getRequestBody().readAllBytes();
            byte[] body = text.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", contentType);
            exchange.getResponseHeaders().add("x-litellm-model-id", "dep-1");
            exchange.sendResponseHeaders(status, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        proxy.start();
        String url = "http://127.0.0.1:" + proxy.getAddress().getPort();
        BaselineConfig config = (BaselineConfig) Proxy.newProxyInstance(BaselineConfig.class.getClassLoader(),
                new Class<?>[] {BaselineConfig.class}, (self, method, args) -> switch (method.getName()) {
                    case "litellmUrl" -> url;
                    case "litellmKey" -> Optional.of("test-proxy-key");
                    case "contextTokens" -> 1000;
                    case "requestTimeout" -> Duration.ofSeconds(10);
                    default -> throw new UnsupportedOperationException(method.getName());
                });
        return new BaselineProfiler(config, null, Clock.systemUTC(), new ObjectMapper());
    }

    private static Workload.Item streamed() {
        return new Workload.Item("short_qa", true, new ObjectMapper().createObjectNode().put("stream", true));
    }

    /**
     * LiteLLM's proxy reports a provider failure after the stream began as an SSE event {"error": {..., "code":
     * "529"}} on a 200 (proxy_server.py, async_data_generator): the call failed, and the profile counted it a success.
     */
    @Test
    void an_error_event_in_a_streamed_answer_is_a_failed_call() throws Exception {
        BaselineProfiler profiler = profilerAgainst("data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
                + "data: {\"error\": {\"message\": \"Overloaded\", \"type\": \"overloaded_error\", \"param\": \"None\","
                + " \"code\": \"529\"}}\n\n");

        Sample sample = profiler.call(HttpClient.newHttpClient(), "m", streamed());

        assertThat(sample.ok()).isFalse();
        assertThat(sample.status()).isEqualTo(529);
        assertThat(sample.providerSideFailure()).isTrue();
        assertThat(sample.deployment()).isEqualTo("dep-1");
        assertThat(sample.failure()).isEqualTo("HTTP 529 mid-stream (overloaded_error)");
    }

    @Test
    void a_streamed_answer_without_an_error_event_is_a_success_with_its_tokens() throws Exception {
        BaselineProfiler profiler = profilerAgainst("data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
                + "data: {\"choices\":[],\"usage\":{\"completion_tokens\":7}}\n\ndata: [DONE]\n\n");

        Sample sample = profiler.call(HttpClient.newHttpClient(), "m", streamed());

        assertThat(sample.ok()).isTrue();
        assertThat(sample.completionTokens()).isEqualTo(7);
        assertThat(sample.ttftMs()).isNotNull().isGreaterThanOrEqualTo(0.0);
    }
    /**
     * LiteLLM refusing the profiler's own key (auth_exception_handler: ProxyException, type auth_error, 401) called
     * no provider: as the live error rate leaves it out (DeviationDetector.PROXY_REFUSAL), a profile run with a bad
     * key must not learn it as the provider's error rate.
     */
    @Test
    void the_proxy_refusing_the_profilers_key_is_no_provider_side_failure() throws Exception {
        BaselineProfiler profiler = profilerAgainst(401, "application/json", "{\"error\": {\"message\":"
                + " \"Authentication Error, Invalid proxy server token passed. Received API Key = sk-...-key, Key Hash"
                + " (Token) =a1b2c3. Unable to find token in cache or `LiteLLM_VerificationTokenTable`\","
                + " \"type\": \"auth_error\", \"param\": \"None\", \"code\": \"401\"}}");

        Sample sample = profiler.call(HttpClient.newHttpClient(), "m", streamed());

        assertThat(sample.ok()).isFalse();
        assertThat(sample.failure()).isEqualTo("HTTP 401 (auth_error)");
        assertThat(sample.providerSideFailure()).isFalse();
    }

    /** A key or team not allowed the model group: LiteLLM's refusal too (key_model_access_denied, 401). */
    @Test
    void the_proxy_refusing_the_model_to_the_key_is_no_provider_side_failure() throws Exception {
        BaselineProfiler profiler = profilerAgainst(401, "application/json", "{\"error\": {\"message\":"
                + " \"key not allowed to access model. This key can only access models=['gpt-4o']. Tried to access"
                + " m\", \"type\": \"key_model_access_denied\", \"param\": \"model\", \"code\": \"401\"}}");

        assertThat(profiler.call(HttpClient.newHttpClient(), "m", streamed()).providerSideFailure()).isFalse();
    }

    /**
     * The provider refusing the proxy's credentials reaches the caller as LiteLLM's AuthenticationError, with no
     * type (ProxyException's "None"): the provider's failure, counted as the live error rate counts it.
     */
    @Test
    void the_provider_refusing_the_proxys_credentials_is_a_provider_side_failure() throws Exception {
        BaselineProfiler profiler = profilerAgainst(401, "application/json", "{\"error\": {\"message\":"
                + " \"litellm.AuthenticationError: AnthropicException - {\\\"type\\\":\\\"error\\\"}\","
                + " \"type\": \"None\", \"param\": \"None\", \"code\": \"401\"}}");

        Sample sample = profiler.call(HttpClient.newHttpClient(), "m", streamed());

        assertThat(sample.failure()).isEqualTo("HTTP 401");
        assertThat(sample.providerSideFailure()).isTrue();
    }
}
