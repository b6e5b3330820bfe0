package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Anthropic Messages: bodies with thinking blocks, SSE events, anthropic-ratelimit-* headers and error envelopes. */
final class AnthropicWire implements ProviderWire {

    private static final RateLimit LIMITS = RateLimit.of(50, 38_000);
    private static final int CONTEXT_WINDOW = 200_000;
    private static final String THINKING = "The user wants a short, direct answer. I will give one in a sentence.";

    @Override
    public RateLimit defaultLimits() {
        return LIMITS;
    }

    @Override
    public boolean streams(JsonNode request, Route route) {
        return request.path("stream").asBoolean(false);
    }

    @Override
    public int thinkingTokens(JsonNode request, int scripted) {
        String type = request.path("thinking").path("type").asText("disabled");
        if (!type.equals("enabled") && !type.equals("adaptive")) {
            return 0;
        }
        return scripted > 0 ? scripted : Tokens.DEFAULT_THINKING_TOKENS;
    }

    @Override
    public Reply success(Call call) {
        return call.toolCalls().isEmpty() ? message(call, "end_turn", call.answer())
                : message(call, "tool_use", null);
    }

    @Override
    public Reply fault(FaultKind kind, Call call) {
        String requestId = requestId();
        Map<String, String> headers = new LinkedHashMap<>();
        return switch (kind) {
            case RATE_LIMIT -> {
                long retryAfter = call.retryAfterSeconds();
                headers.put("retry-after", String.valueOf(retryAfter));
                if (call.headroom() != null && call.headroom().requestsExhausted()) {
                    Headroom headroom = call.headroom();
                    rateLimitHeaders(headers, headroom, headroom.tokensResetMillis());
                    yield error(429, headers, requestId, "rate_limit_error", "This request would exceed the rate limit for your organization (00000000-0000-0000-0000-000000000000) of %s requests per minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current usage. Please try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."
                            .formatted(String.format(Locale.ROOT, "%,d", headroom.limitRequests())), true);
                }
                Headroom headroom = call.headroom().withoutTokens();
                rateLimitHeaders(headers, headroom, retryAfter * 1000);
                yield error(429, headers, requestId, "rate_limit_error", "This request would exceed the rate limit for your organization (00000000-0000-0000-0000-000000000000) of %s input tokens per minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."
                        .formatted(String.format(Locale.ROOT, "%,d", headroom.limitTokens())), true);
            }
            case INSUFFICIENT_QUOTA -> error(400, headers, requestId, "invalid_request_error",
                    "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.", false);
            case SERVER_ERROR -> error(500, headers, requestId, "api_error", "Internal server error", true);
            case UNAVAILABLE -> error(503, headers, requestId, "api_error", "Service unavailable", true);
            case OVERLOADED -> error(529, headers, requestId, "overloaded_error", "Overloaded", true);
            case STREAM_OVERLOADED -> call.stream() ? overloadedMidStream(call)
                    : error(529, headers, requestId, "overloaded_error", "Overloaded", true);
            case CONTEXT_OVERFLOW -> error(400, headers, requestId, "invalid_request_error",
                    "prompt is too long: %d tokens > %d maximum"
                            .formatted(CONTEXT_WINDOW + call.usage().promptTokens(), CONTEXT_WINDOW), false);
            // Anthropic has no prompt-level block; both surface as a refusal in a 200 answer.
            case SAFETY_BLOCK, PROMPT_BLOCKED -> message(call, "refusal", null);
            case UNAUTHORIZED -> error(401, headers, requestId, "authentication_error", "invalid x-api-key", false);
            case FORBIDDEN -> error(403, headers, requestId, "permission_error",
                    "Your API key does not have permission to use the specified resource.", false);
            case MALFORMED, EMPTY, HANG -> throw new IllegalArgumentException(kind + " is not provider specific");
            case MALFORMED_FUNCTION_CALL -> throw new IllegalArgumentException(kind + " is Gemini's own");
        };
    }

    @Override
    public Reply invalidRequest(String message) {
        return error(400, new LinkedHashMap<>(), requestId(), "invalid_request_error", message, false);
    }

    private Reply message(Call call, String stopReason, String text) {
        String id = "msg_01" + Ids.base62(22);
        Usage usage = call.usage();
        boolean thinking = text != null && usage.thinkingTokens() > 0;
        String signature = Ids.base64(96);
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("request-id", requestId());
        Headroom headroom = call.headroom();
        rateLimitHeaders(headers, headroom, headroom.tokensResetMillis());
        if (!call.stream()) {
            ObjectNode body = Json.object().put("id", id).put("type", "message").put("role", "assistant")
                    .put("model", call.model());
            ArrayNode content = body.putArray("content");
            if (thinking) {
                content.addObject().put("type", "thinking").put("thinking", THINKING).put("signature", signature);
            }
            if (text != null) {
                content.addObject().put("type", "text").put("text", text);
            }
            for (FunctionCall made : call.toolCalls()) {
                content.addObject().put("type", "tool_use").put("id", "toolu_01" + Ids.base62(22))
                        .put("name", made.name()).set("input", input(made));
            }
            body.put("stop_reason", stopReason).putNull("stop_sequence");
            body.set("usage", usage(usage));
            headers.put("content-type", "application/json");
            return Reply.json(200, headers, body);
        }
        List<String> frames = new ArrayList<>();
        ObjectNode start = Json.object().put("type", "message_start");
        ObjectNode message = start.putObject("message").put("id", id).put("type", "message").put("role", "assistant")
                .put("model", call.model());
        message.putArray("content");
        message.putNull("stop_reason").putNull("stop_sequence");
        message.set("usage", inputUsage(usage).put("output_tokens", 1).put("service_tier", "standard"));
        frames.add(event(start));
        frames.add(event(Json.object().put("type", "ping")));
        int index = 0;
        if (thinking) {
            frames.add(blockStart(index, Json.object().put("type", "thinking").put("thinking", "").put("signature", "")));
            for (String piece : Tokens.deltas(THINKING)) {
                frames.add(blockDelta(index, Json.object().put("type", "thinking_delta").put("thinking", piece)));
            }
            frames.add(blockDelta(index, Json.object().put("type", "signature_delta").put("signature", signature)));
            frames.add(event(Json.object().put("type", "content_block_stop").put("index", index++)));
        }
        if (text != null) {
            frames.add(blockStart(index, Json.object().put("type", "text").put("text", "")));
            for (String piece : Tokens.deltas(text)) {
                frames.add(blockDelta(index, Json.object().put("type", "text_delta").put("text", piece)));
            }
            frames.add(event(Json.object().put("type", "content_block_stop").put("index", index++)));
        }
        for (FunctionCall made : call.toolCalls()) {
            // The block starts with an empty input; the input follows as JSON text in pieces, which the client joins.
            frames.add(blockStart(index, Json.object().put("type", "tool_use").put("id", "toolu_01" + Ids.base62(22))
                    .put("name", made.name()).set("input", Json.object())));
            for (String piece : Tokens.deltas(made.arguments())) {
                frames.add(blockDelta(index, Json.object().put("type", "input_json_delta").put("partial_json", piece)));
            }
            frames.add(event(Json.object().put("type", "content_block_stop").put("index", index++)));
        }
        ObjectNode delta = Json.object().put("type", "message_delta");
        delta.putObject("delta").put("stop_reason", stopReason).putNull("stop_sequence");
        delta.set("usage", inputUsage(usage).put("output_tokens", usage.outputTokens()));
        frames.add(event(delta));
        frames.add(event(Json.object().put("type", "message_stop")));
        headers.put("content-type", "text/event-stream; charset=utf-8");
        return Reply.events(headers, frames);
    }

    /**
     * The first half of the answer's stream, then the error event Anthropic sends when it fails after the 200
     * (its streaming documentation: "an error can occur after returning a 200 response").
     */
    private Reply overloadedMidStream(Call call) {
        Reply whole = message(call, "end_turn", call.answer());
        List<String> frames = new ArrayList<>(whole.frames().subList(0, whole.frames().size() / 2));
        ObjectNode error = Json.object().put("type", "error");
        error.putObject("error").put("type", "overloaded_error").put("message", "Overloaded");
        frames.add(event(error));
        return Reply.events(whole.headers(), frames);
    }

    /** A tool_use block's input: Anthropic answers it as a JSON object, never as text. */
    private static JsonNode input(FunctionCall made) {
        JsonNode input = Json.readOrNull(made.arguments());
        if (input == null || !input.isObject()) {
            throw new IllegalArgumentException("Anthropic answers a tool input as a JSON object, not as "
                    + made.arguments() + ": script broken input for a streamed call only");
        }
        return input;
    }

    private static String blockStart(int index, ObjectNode block) {
        ObjectNode event = Json.object().put("type", "content_block_start").put("index", index);
        event.set("content_block", block);
        return event(event);
    }

    private static String blockDelta(int index, ObjectNode delta) {
        ObjectNode event = Json.object().put("type", "content_block_delta").put("index", index);
        event.set("delta", delta);
        return event(event);
    }

    private static String event(ObjectNode data) {
        return "event: " + data.get("type").asText() + "\ndata: " + Json.write(data) + "\n\n";
    }

    private static ObjectNode inputUsage(Usage usage) {
        // Anthropic counts cache reads apart: input_tokens are the uncached rest of the prompt.
        ObjectNode node = Json.object().put("input_tokens", usage.promptTokens() - usage.cachedTokens())
                .put("cache_creation_input_tokens", 0).put("cache_read_input_tokens", usage.cachedTokens());
        node.putObject("cache_creation").put("ephemeral_5m_input_tokens", 0).put("ephemeral_1h_input_tokens", 0);
        return node;
    }

    private static ObjectNode usage(Usage usage) {
        ObjectNode node = inputUsage(usage).put("output_tokens", usage.outputTokens());
        node.putObject("output_tokens_details").put("thinking_tokens", usage.thinkingTokens());
        node.put("service_tier", "standard").put("inference_geo", "not_available");
        node.putObject("server_tool_use").put("web_search_requests", 0).put("web_fetch_requests", 0);
        return node;
    }

    private static void rateLimitHeaders(Map<String, String> headers, Headroom headroom, long tokensResetMillis) {
        Instant now = Instant.now();
        String requestsReset = rfc3339(now.plusMillis(headroom.requestsResetMillis()));
        String tokensReset = rfc3339(now.plusMillis(tokensResetMillis));
        headers.put("anthropic-ratelimit-requests-limit", String.valueOf(headroom.limitRequests()));
        headers.put("anthropic-ratelimit-requests-remaining", String.valueOf(headroom.remainingRequests()));
        headers.put("anthropic-ratelimit-requests-reset", requestsReset);
        for (String family : List.of("tokens", "input-tokens", "output-tokens")) {
            headers.put("anthropic-ratelimit-" + family + "-limit", String.valueOf(headroom.limitTokens()));
            headers.put("anthropic-ratelimit-" + family + "-remaining", String.valueOf(headroom.remainingTokens()));
            headers.put("anthropic-ratelimit-" + family + "-reset", tokensReset);
        }
    }

    private static String rfc3339(Instant instant) {
        return instant.truncatedTo(ChronoUnit.SECONDS).toString();
    }

    private static String requestId() {
        return "req_011C" + Ids.base62(20);
    }

    private static Reply error(int status, Map<String, String> headers, String requestId, String type, String message,
                               boolean shouldRetry) {
        headers.put("content-type", "application/json");
        headers.put("request-id", requestId);
        headers.put("x-should-retry", String.valueOf(shouldRetry));
        ObjectNode body = Json.object().put("type", "error");
        body.putObject("error").put("type", type).put("message", message);
        body.put("request_id", requestId);
        return Reply.json(status, headers, body);
    }
}
