package io.faultline.stack;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A client of the LiteLLM proxy's OpenAI-compatible API, as an application would call it. */
public final class LiteLlmClient {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** HTTP/1.1: uvicorn logs "Unsupported upgrade request" for every h2c upgrade the default HTTP/2 asks for. */
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final String baseUrl;
    private final String key;

    public LiteLlmClient(String baseUrl, String key) {
        this.baseUrl = baseUrl;
        this.key = key;
    }

    /**
     * What the proxy answered; {@code callId} is LiteLLM's call id ({@code x-litellm-call-id}) and
     * {@code responseCost} what it billed ({@code x-litellm-response-cost}), null if absent.
     */
    public record Answer(int status, String body, String callId, String responseCost) {

        public Answer(int status, String body) {
            this(status, body, null, null);
        }
    }

    public Answer chat(String model, String prompt, boolean stream) {
        return chat(model, prompt, stream, key, null);
    }

    public Answer chat(String model, String prompt, boolean stream, String apiKey, String user) {
        return chat(model, prompt, stream, apiKey, user, java.util.Map.of());
    }

    /** A chat call with extra request fields, e.g. Anthropic's {@code thinking}. */
    public Answer chat(String model, String prompt, boolean stream, String apiKey, String user,
            java.util.Map<String, Object> extra) {
        ObjectNode request = JSON.createObjectNode().put("model", model).put("stream", stream);
        extra.forEach((k, v) -> request.set(k, JSON.valueToTree(v)));
        request.putArray("messages").addObject().put("role", "user").put("content", prompt);
        if (user != null) {
            request.put("user", user);
        }
        return send(request, apiKey);
    }

    /** A non-streamed chat call with whole messages ({@code role}, {@code content}) and extra request fields. */
    public Answer chat(String model, java.util.List<java.util.Map<String, String>> messages,
            java.util.Map<String, Object> extra) {
        ObjectNode request = JSON.createObjectNode().put("model", model).put("stream", false);
        extra.forEach((k, v) -> request.set(k, JSON.valueToTree(v)));
        request.set("messages", JSON.valueToTree(messages));
        return send(request, key);
    }

    /**
     * A request to the proxy, sent once more if the first attempt got no answer without timing out: uvicorn closes a
     * connection idle for 5 s, and the JDK client may reuse it at that moment and fail unread ("header parser
     * received no bytes"), as a test that waited about that long between two calls would see now and then on a
     * loaded machine. The proxy itself always answers with a status, so a retry hides none of its behaviour; a
     * timeout is not retried. (The profiler does the same for its calls: BaselineProfiler.send.)
     */
    public static HttpResponse<String> send(HttpClient http, HttpRequest request)
            throws IOException, InterruptedException {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (java.net.http.HttpTimeoutException e) {
            throw e;
        } catch (IOException e) {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        }
    }

    /** A call to the proxy's Responses API ({@code /v1/responses}) with extra request fields. */
    public Answer responses(String model, String input, boolean stream, java.util.Map<String, Object> extra) {
        ObjectNode request = JSON.createObjectNode().put("model", model).put("input", input).put("stream", stream);
        extra.forEach((k, v) -> request.set(k, JSON.valueToTree(v)));
        return send("/v1/responses", request, key);
    }

    /** An embeddings call of {@code inputs} texts, as an application's indexer would make it. */
    public Answer embed(String model, java.util.List<String> inputs) {
        ObjectNode request = JSON.createObjectNode().put("model", model);
        inputs.forEach(request.putArray("input")::add);
        return send("/v1/embeddings", request, key);
    }

    private Answer send(ObjectNode request, String apiKey) {
        return send("/v1/chat/completions", request, apiKey);
    }

    private Answer send(String path, ObjectNode request, String apiKey) {
        try {
            HttpResponse<String> response = send(http, HttpRequest.newBuilder(URI.create(baseUrl + path))
                    .timeout(Duration.ofSeconds(30))
                    .header("Authorization", "Bearer " + apiKey).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(request.toString())).build());
            return new Answer(response.statusCode(), response.body(),
                    response.headers().firstValue("x-litellm-call-id").orElse(null),
                    response.headers().firstValue("x-litellm-response-cost").orElse(null));
        } catch (IOException e) {
            return new Answer(-1, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Answer(-1, "interrupted");
        }
    }
}
