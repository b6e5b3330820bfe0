package io.faultline.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * Builds LiteLLM {@code StandardLoggingPayload} JSON with the field names of litellm 1.108.5
 * ({@code litellm/types/utils.py}), the way the proxy's loggers send it.
 */
public final class Payloads {

    public static final ObjectMapper JSON = new ObjectMapper();

    private final ObjectNode node = JSON.createObjectNode();

    private Payloads(String provider, String model, String deployment, Instant start, double latencySeconds) {
        String callId = UUID.randomUUID().toString();
        node.put("id", "chatcmpl-" + callId);
        node.put("litellm_call_id", callId);
        node.put("trace_id", UUID.randomUUID().toString());
        node.put("call_type", "acompletion");
        node.put("stream", false);
        node.put("custom_llm_provider", provider);
        node.put("model", model);
        node.put("model_id", deployment);
        node.put("model_group", model);
        node.put("api_base", "http://127.0.0.1:9/" + provider);
        double startSeconds = start.toEpochMilli() / 1000.0;
        node.put("startTime", startSeconds);
        node.put("endTime", startSeconds + latencySeconds);
        node.put("completionStartTime", startSeconds + latencySeconds);
        node.put("response_time", latencySeconds);
        node.put("prompt_tokens", 12);
        node.put("completion_tokens", 7);
        node.put("total_tokens", 19);
        node.put("response_cost", 0.00012);
        node.put("cache_hit", false);
        node.putNull("end_user");
        ObjectNode metadata = node.putObject("metadata");
        metadata.put("user_api_key_hash", "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b");
        metadata.put("user_api_key_team_id", "team-search");
        metadata.put("user_api_key_user_id", "user-1");
        ObjectNode hidden = node.putObject("hidden_params");
        hidden.put("model_id", deployment);
        hidden.putNull("additional_headers");
        node.putObject("model_parameters");
        node.putArray("messages").addObject().put("role", "user").put("content", "What is the capital of France?");
    }

    public static Payloads success(String provider, String model, String deployment, Instant start) {
        Payloads p = new Payloads(provider, model, deployment, start, 0.42);
        p.node.put("status", "success");
        p.answer("The capital of France is Paris.", "stop");
        p.node.putNull("error_information");
        return p;
    }

    public static Payloads failure(String provider, String model, String deployment, Instant start, int status,
            String errorClass, String message) {
        Payloads p = new Payloads(provider, model, deployment, start, 0.2);
        p.node.put("status", "failure");
        p.node.put("prompt_tokens", 0);
        p.node.put("completion_tokens", 0);
        p.node.put("total_tokens", 0);
        p.node.put("response_cost", 0.0);
        p.node.put("response", "");
        p.node.put("error_str", "litellm." + errorClass + ": " + message);
        ObjectNode error = p.node.putObject("error_information");
        error.put("error_code", String.valueOf(status));
        error.put("error_class", errorClass);
        error.put("llm_provider", provider);
        error.put("error_message", "litellm." + errorClass + ": " + message);
        p.node.putObject("faultline").put("http_status", status).put("exception_class", errorClass)
                .putObject("response_headers");
        return p;
    }

    public Payloads answer(String content, String finishReason) {
        ObjectNode response = node.putObject("response");
        response.put("id", "chatcmpl-" + UUID.randomUUID());
        response.put("object", "chat.completion");
        ArrayNode choices = response.putArray("choices");
        ObjectNode choice = choices.addObject();
        choice.put("index", 0);
        choice.put("finish_reason", finishReason);
        ObjectNode message = choice.putObject("message");
        message.put("role", "assistant");
        if (content == null) {
            message.putNull("content");
        } else {
            message.put("content", content);
        }
        ObjectNode usage = response.putObject("usage");
        usage.put("prompt_tokens", node.path("prompt_tokens").asInt());
        usage.put("completion_tokens", node.path("completion_tokens").asInt());
        return this;
    }

    /** Token usage as LiteLLM logs it: top-level counts and the answer's usage with reasoning and cached tokens. */
    public Payloads tokens(long prompt, long completion, long reasoning, long cached) {
        node.put("prompt_tokens", prompt);
        node.put("completion_tokens", completion);
        node.put("total_tokens", prompt + completion);
        if (node.path("response").isObject()) {
            ObjectNode usage = ((ObjectNode) node.get("response")).putObject("usage");
            usage.put("prompt_tokens", prompt);
            usage.put("completion_tokens", completion);
            usage.putObject("completion_tokens_details").put("reasoning_tokens", reasoning);
            usage.putObject("prompt_tokens_details").put("cached_tokens", cached);
        }
        return this;
    }

    public Payloads header(String name, String value) {
        ObjectNode headers = node.path("faultline").isObject()
                ? (ObjectNode) node.get("faultline").get("response_headers")
                : node.putObject("faultline").putObject("response_headers");
        headers.put(name, value);
        return this;
    }

    /** The proxy that made the call, as the plugin names it ({@code faultline.proxy_id}). */
    public Payloads proxy(String proxyId) {
        ObjectNode plugin = node.path("faultline").isObject() ? (ObjectNode) node.get("faultline")
                : node.putObject("faultline");
        if (!plugin.path("response_headers").isObject()) {
            plugin.putObject("response_headers");
        }
        plugin.put("proxy_id", proxyId);
        return this;
    }

    public Payloads set(String field, Object value) {
        node.set(field, JSON.valueToTree(value));
        return this;
    }

    /** The LiteLLM user owning the virtual key: the identity Faultline charges the call to. */
    public Payloads user(String user) {
        ((ObjectNode) node.get("metadata")).put("user_api_key_user_id", user);
        return this;
    }

    /** The request's free-form {@code user}, as LiteLLM logs it: a label chosen by the caller. */
    public Payloads endUser(String label) {
        node.put("end_user", label);
        ((ObjectNode) node.get("metadata")).put("user_api_key_end_user_id", label);
        return this;
    }

    public Payloads latency(double seconds) {
        node.put("endTime", node.get("startTime").asDouble() + seconds);
        return this;
    }

    public Payloads without(String field) {
        node.remove(field);
        return this;
    }

    public Payloads metadata(Map<String, Object> requesterMetadata) {
        ((ObjectNode) node.get("metadata")).set("requester_metadata", JSON.valueToTree(requesterMetadata));
        return this;
    }

    /** LiteLLM's call id, Faultline's idempotency key. */
    public String id() {
        return node.get("litellm_call_id").asText();
    }

    public ObjectNode node() {
        return node;
    }

    public static String array(Payloads... payloads) {
        ArrayNode array = JSON.createArrayNode();
        for (Payloads p : payloads) {
            array.add(p.node);
        }
        return array.toString();
    }
}
