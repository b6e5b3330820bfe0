package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** OpenAI Chat Completions: bodies, SSE chunks, x-ratelimit-* headers and error envelopes as in the wire fixtures. */
final class OpenAiWire implements ProviderWire {

    private static final RateLimit LIMITS = RateLimit.of(5_000, 160_000);
    private static final int CONTEXT_WINDOW = 128_000;
    private static final String ORGANIZATION = "org-XXXXXXXXXXXXXXXXXXXXXXXX";

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
        if (scripted > 0) {
            return scripted;
        }
        return request.hasNonNull("reasoning_effort") ? Tokens.DEFAULT_THINKING_TOKENS : 0;
    }

    @Override
    public Reply success(Call call) {
        if (call.responsesApi()) {
            return response(call, null, call.toolCalls().isEmpty() ? call.answer() : null, call.toolCalls());
        }
        if (!call.toolCalls().isEmpty() && legacyFunctions(call)) {
            return completion(call, "function_call", null, call.toolCalls().subList(0, 1));
        }
        if (!call.toolCalls().isEmpty()) {
            return completion(call, "tool_calls", null, call.toolCalls());
        }
        return completion(call, "stop", call.answer(), List.of());
    }

    /**
     * The request offers the deprecated {@code functions}: OpenAI answers one {@code message.function_call} and
     * finish_reason {@code function_call} (chat API reference), streamed as {@code delta.function_call} pieces.
     */
    private static boolean legacyFunctions(Call call) {
        return call.request().path("functions").isArray() && !call.request().has("tools");
    }

    @Override
    public Reply fault(FaultKind kind, Call call) {
        String requestId = "req_" + Ids.hex(32);
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("x-request-id", requestId);
        return switch (kind) {
            case RATE_LIMIT -> {
                long retryAfter = call.retryAfterSeconds();
                if (call.headroom() != null && call.headroom().requestsExhausted()) {
                    // Out of requests, not tokens: the RPM variant, with the true time until the budget is full.
                    Headroom headroom = call.headroom();
                    rateLimitHeaders(headers, headroom, headroom.tokensResetMillis());
                    headers.put("retry-after", String.valueOf(retryAfter));
                    yield error(429, headers, "Rate limit reached for %s in organization %s on requests per min (RPM): Limit %d, Used %d, Requested 1. Please try again in %s. Visit https://platform.openai.com/account/rate-limits to learn more."
                                    .formatted(call.model(), ORGANIZATION, headroom.limitRequests(),
                                            headroom.limitRequests(), goDuration(retryAfter * 1000)),
                            "requests", null, "rate_limit_exceeded");
                }
                Headroom headroom = call.headroom().withoutTokens();
                rateLimitHeaders(headers, headroom, retryAfter * 1000);
                headers.put("retry-after", String.valueOf(retryAfter));
                long requested = call.usage().totalTokens();
                long used = Math.max(0, headroom.limitTokens() - requested + 1);
                yield error(429, headers, "Rate limit reached for %s in organization %s on tokens per min (TPM): Limit %d, Used %d, Requested %d. Please try again in %s. Visit https://platform.openai.com/account/rate-limits to learn more."
                                .formatted(call.model(), ORGANIZATION, headroom.limitTokens(), used, requested,
                                        goDuration(retryAfter * 1000)),
                        "tokens", null, "rate_limit_exceeded");
            }
            case INSUFFICIENT_QUOTA -> error(429, headers, "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                    "insufficient_quota", null, "insufficient_quota");
            case SERVER_ERROR -> error(500, headers, "The server had an error processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if you keep seeing this error. (Please include the request ID %s in your email.)"
                    .formatted(requestId), "server_error", null, null);
            case UNAVAILABLE -> error(503, headers, "The server is overloaded or not ready yet.",
                    "service_unavailable_error", null, "server_is_overloaded");
            case OVERLOADED -> error(503, headers, "That model is currently overloaded with other requests. You can retry your request, or contact us through our help center at help.openai.com if the error persists. (Please include the request ID %s in your message.)"
                    .formatted(Ids.hex(32)), "server_error", null, null);
            case CONTEXT_OVERFLOW -> error(400, headers, "This model's maximum context length is %d tokens. However, your messages resulted in %d tokens. Please reduce the length of the messages."
                    .formatted(CONTEXT_WINDOW, CONTEXT_WINDOW + call.usage().promptTokens()),
                    "invalid_request_error", "messages", "context_length_exceeded");
            case SAFETY_BLOCK -> call.responsesApi() ? response(call, "content_filter", null, List.of())
                    : completion(call, "content_filter", null, List.of());
            case PROMPT_BLOCKED -> error(400, headers, "Invalid prompt: your prompt was flagged as potentially violating our usage policy. Please try again with a different prompt: https://platform.openai.com/docs/guides/reasoning#advice-on-prompting",
                    "invalid_request_error", null, "invalid_prompt");
            case UNAUTHORIZED -> error(401, headers, "Incorrect API key provided: sk-simul*********************ator. You can find your API key at https://platform.openai.com/account/api-keys.",
                    "invalid_request_error", null, "invalid_api_key");
            case FORBIDDEN -> error(403, headers, "Country, region, or territory not supported",
                    "request_forbidden", null, "unsupported_country_region_territory");
            case MALFORMED, EMPTY, HANG -> throw new IllegalArgumentException(kind + " is not provider specific");
            case MALFORMED_FUNCTION_CALL -> throw new IllegalArgumentException(kind + " is Gemini's own");
            case STREAM_OVERLOADED -> throw new IllegalArgumentException(kind + " is Anthropic's own");
        };
    }

    @Override
    public Reply invalidRequest(String message) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("x-request-id", "req_" + Ids.hex(32));
        return error(400, headers, message, "invalid_request_error", null, null);
    }

    /** Formats like Go's time.Duration, which is what OpenAI's reset headers use ({@code 12ms}, {@code 1s}, {@code 6m0s}). */
    static String goDuration(long millis) {
        if (millis <= 0) {
            return "0s";
        }
        if (millis < 1000) {
            return millis + "ms";
        }
        long hours = millis / 3_600_000;
        long minutes = millis / 60_000 % 60;
        long fraction = millis % 1000;
        String seconds = millis / 1000 % 60
                + (fraction == 0 ? "" : ("." + "%03d".formatted(fraction)).replaceAll("0+$", "")) + "s";
        if (hours > 0) {
            return hours + "h" + minutes + "m" + seconds;
        }
        return minutes > 0 ? minutes + "m" + seconds : seconds;
    }

    private Reply completion(Call call, String finishReason, String content, List<FunctionCall> toolCalls) {
        List<String> callIds = toolCalls.stream().map(c -> "call_" + Ids.base62(24)).toList();
        String id = "chatcmpl-" + Ids.base62(29);
        long created = Instant.now().getEpochSecond();
        String fingerprint = "fp_" + Ids.hex(10);
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("x-request-id", "req_" + Ids.hex(32));
        headers.put("openai-processing-ms", String.valueOf(call.processingMs()));
        Headroom headroom = call.headroom();
        rateLimitHeaders(headers, headroom, headroom.tokensResetMillis());
        if (!call.stream()) {
            ObjectNode body = Json.object();
            body.put("id", id).put("object", "chat.completion").put("created", created).put("model", call.model());
            ObjectNode choice = body.putArray("choices").addObject().put("index", 0);
            ObjectNode message = choice.putObject("message").put("role", "assistant").put("content", content);
            message.putNull("refusal");
            if ("function_call".equals(finishReason)) {
                message.putObject("function_call").put("name", toolCalls.get(0).name())
                        .put("arguments", toolCalls.get(0).arguments());
            } else if (!toolCalls.isEmpty()) {
                ArrayNode calls = message.putArray("tool_calls");
                for (int i = 0; i < toolCalls.size(); i++) {
                    calls.addObject().put("id", callIds.get(i)).put("type", "function").putObject("function")
                            .put("name", toolCalls.get(i).name()).put("arguments", toolCalls.get(i).arguments());
                }
            }
            message.putArray("annotations");
            choice.putNull("logprobs");
            choice.put("finish_reason", finishReason);
            body.set("usage", usage(call.usage()));
            body.put("service_tier", "default").put("system_fingerprint", fingerprint);
            headers.put("content-type", "application/json");
            return Reply.json(200, headers, body);
        }
        boolean includeUsage = call.request().path("stream_options").path("include_usage").asBoolean(false);
        List<String> frames = new ArrayList<>();
        ObjectNode roleDelta = Json.object().put("role", "assistant").put("content", toolCalls.isEmpty() ? "" : null);
        roleDelta.putNull("refusal");
        frames.add(frame(chunk(id, created, call.model(), fingerprint, includeUsage, roleDelta, null)));
        if (content != null) {
            for (String piece : Tokens.deltas(content)) {
                frames.add(frame(chunk(id, created, call.model(), fingerprint, includeUsage,
                        Json.object().put("content", piece), null)));
            }
        }
        if ("function_call".equals(finishReason)) {
            frames.add(frame(chunk(id, created, call.model(), fingerprint, includeUsage, Json.object().set(
                    "function_call", Json.object().put("name", toolCalls.get(0).name()).put("arguments", "")), null)));
            for (String piece : Tokens.deltas(toolCalls.get(0).arguments())) {
                frames.add(frame(chunk(id, created, call.model(), fingerprint, includeUsage, Json.object().set(
                        "function_call", Json.object().put("arguments", piece)), null)));
            }
            toolCalls = List.of();
        }
        for (int i = 0; i < toolCalls.size(); i++) {
            // The first delta of a call names it, with empty arguments; the arguments follow in pieces.
            ObjectNode named = Json.object();
            named.putArray("tool_calls").addObject().put("index", i).put("id", callIds.get(i)).put("type", "function")
                    .putObject("function").put("name", toolCalls.get(i).name()).put("arguments", "");
            frames.add(frame(chunk(id, created, call.model(), fingerprint, includeUsage, named, null)));
            for (String piece : Tokens.deltas(toolCalls.get(i).arguments())) {
                ObjectNode arguments = Json.object();
                arguments.putArray("tool_calls").addObject().put("index", i).putObject("function")
                        .put("arguments", piece);
                frames.add(frame(chunk(id, created, call.model(), fingerprint, includeUsage, arguments, null)));
            }
        }
        frames.add(frame(chunk(id, created, call.model(), fingerprint, includeUsage, Json.object(), finishReason)));
        if (includeUsage) {
            ObjectNode last = chunkEnvelope(id, created, call.model(), fingerprint);
            last.putArray("choices");
            last.set("usage", usage(call.usage()));
            frames.add(frame(last));
        }
        frames.add("data: [DONE]\n\n");
        headers.put("content-type", "text/event-stream; charset=utf-8");
        return Reply.events(headers, frames);
    }

    /**
     * A Responses API answer: {@code output} items (a reasoning item when the model thought, a message with
     * {@code output_text}, {@code function_call}s), {@code status} {@code completed}, or {@code incomplete} with its
     * reason. Streamed: the typed events from {@code response.created} to {@code response.completed}, whose
     * {@code response} is the whole object.
     */
    private Reply response(Call call, String incompleteReason, String text, List<FunctionCall> toolCalls) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("x-request-id", "req_" + Ids.hex(32));
        headers.put("openai-processing-ms", String.valueOf(call.processingMs()));
        rateLimitHeaders(headers, call.headroom(), call.headroom().tokensResetMillis());
        JsonNode request = call.request();
        ObjectNode body = Json.object().put("id", "resp_" + Ids.hex(48)).put("object", "response")
                .put("created_at", Instant.now().getEpochSecond()).put("status", "in_progress");
        body.putNull("error");
        body.putNull("incomplete_details");
        body.set("instructions", request.path("instructions").isTextual() ? request.get("instructions")
                : Json.object().nullNode());
        body.set("max_output_tokens", request.path("max_output_tokens").isNumber() ? request.get("max_output_tokens")
                : Json.object().nullNode());
        body.put("model", call.model());
        ArrayNode output = body.putArray("output");
        body.put("parallel_tool_calls", true);
        body.putNull("previous_response_id");
        body.putObject("reasoning").putNull("effort").putNull("summary");
        body.put("store", true).put("temperature", 1.0);
        body.set("text", request.path("text").isObject() ? request.get("text")
                : Json.object().set("format", Json.object().put("type", "text")));
        body.set("tool_choice", request.has("tool_choice") ? request.get("tool_choice")
                : Json.object().textNode("auto"));
        body.set("tools", request.path("tools").isArray() ? request.get("tools") : Json.array());
        body.put("top_p", 1.0).put("truncation", "disabled");
        body.putNull("usage");
        body.putNull("user");
        body.putObject("metadata");
        List<ObjectNode> items = new ArrayList<>();
        if (incompleteReason == null && call.usage().thinkingTokens() > 0) {
            ObjectNode reasoning = Json.object().put("id", "rs_" + Ids.hex(48)).put("type", "reasoning");
            reasoning.putArray("summary");
            items.add(reasoning);
        }
        if (text != null) {
            ObjectNode message = Json.object().put("id", "msg_" + Ids.hex(48)).put("type", "message")
                    .put("status", "completed").put("role", "assistant");
            ObjectNode part = message.putArray("content").addObject().put("type", "output_text").put("text", text);
            part.putArray("annotations");
            part.putArray("logprobs");
            items.add(message);
        }
        for (FunctionCall made : toolCalls) {
            items.add(Json.object().put("id", "fc_" + Ids.hex(48)).put("type", "function_call")
                    .put("status", "completed").put("arguments", made.arguments())
                    .put("call_id", "call_" + Ids.base62(24)).put("name", made.name()));
        }
        ObjectNode finished = body.deepCopy();
        finished.put("status", incompleteReason == null ? "completed" : "incomplete");
        if (incompleteReason != null) {
            finished.putObject("incomplete_details").put("reason", incompleteReason);
        }
        items.forEach(((ArrayNode) finished.get("output"))::add);
        Usage usage = call.usage();
        ObjectNode usageNode = finished.putObject("usage").put("input_tokens", usage.promptTokens());
        usageNode.putObject("input_tokens_details").put("cached_tokens", usage.cachedTokens());
        usageNode.put("output_tokens", usage.outputTokens());
        usageNode.putObject("output_tokens_details").put("reasoning_tokens", usage.thinkingTokens());
        usageNode.put("total_tokens", usage.totalTokens());
        if (!call.stream()) {
            headers.put("content-type", "application/json");
            return Reply.json(200, headers, finished);
        }
        List<String> frames = new ArrayList<>();
        int[] sequence = {0};
        java.util.function.Consumer<ObjectNode> emit = event -> {
            ObjectNode ordered = Json.object().put("type", event.get("type").asText())
                    .put("sequence_number", sequence[0]++);
            event.fields().forEachRemaining(field -> {
                if (!field.getKey().equals("type")) {
                    ordered.set(field.getKey(), field.getValue());
                }
            });
            frames.add("event: " + ordered.get("type").asText() + "\ndata: " + Json.write(ordered) + "\n\n");
        };
        emit.accept((ObjectNode) Json.object().put("type", "response.created").set("response", body));
        emit.accept((ObjectNode) Json.object().put("type", "response.in_progress").set("response", body));
        for (int i = 0; i < items.size(); i++) {
            ObjectNode item = items.get(i);
            String kind = item.get("type").asText();
            ObjectNode started = item.deepCopy();
            if (kind.equals("message")) {
                started.put("status", "in_progress").putArray("content");
            } else if (kind.equals("function_call")) {
                started.put("status", "in_progress").put("arguments", "");
            }
            emit.accept((ObjectNode) Json.object().put("type", "response.output_item.added").put("output_index", i)
                    .set("item", started));
            String id = item.get("id").asText();
            if (kind.equals("message")) {
                String whole = item.at("/content/0/text").asText();
                ObjectNode emptyPart = Json.object().put("type", "output_text").put("text", "");
                emptyPart.putArray("annotations");
                emit.accept((ObjectNode) Json.object().put("type", "response.content_part.added").put("item_id", id)
                        .put("output_index", i).put("content_index", 0).set("part", emptyPart));
                for (String piece : Tokens.deltas(whole)) {
                    emit.accept(Json.object().put("type", "response.output_text.delta").put("item_id", id)
                            .put("output_index", i).put("content_index", 0).put("delta", piece));
                }
                emit.accept(Json.object().put("type", "response.output_text.done").put("item_id", id)
                        .put("output_index", i).put("content_index", 0).put("text", whole));
                emit.accept((ObjectNode) Json.object().put("type", "response.content_part.done").put("item_id", id)
                        .put("output_index", i).put("content_index", 0).set("part", item.at("/content/0")));
            } else if (kind.equals("function_call")) {
                String arguments = item.get("arguments").asText();
                for (String piece : Tokens.deltas(arguments)) {
                    emit.accept(Json.object().put("type", "response.function_call_arguments.delta").put("item_id", id)
                            .put("output_index", i).put("delta", piece));
                }
                emit.accept(Json.object().put("type", "response.function_call_arguments.done").put("item_id", id)
                        .put("output_index", i).put("arguments", arguments));
            }
            emit.accept((ObjectNode) Json.object().put("type", "response.output_item.done").put("output_index", i)
                    .set("item", item));
        }
        String last = incompleteReason == null ? "response.completed" : "response.incomplete";
        emit.accept((ObjectNode) Json.object().put("type", last).set("response", finished));
        headers.put("content-type", "text/event-stream; charset=utf-8");
        return Reply.events(headers, frames);
    }

    private static ObjectNode chunkEnvelope(String id, long created, String model, String fingerprint) {
        return Json.object().put("id", id).put("object", "chat.completion.chunk").put("created", created)
                .put("model", model).put("service_tier", "default").put("system_fingerprint", fingerprint);
    }

    private static ObjectNode chunk(String id, long created, String model, String fingerprint, boolean includeUsage,
                                    ObjectNode delta, String finishReason) {
        ObjectNode chunk = chunkEnvelope(id, created, model, fingerprint);
        ObjectNode choice = chunk.putArray("choices").addObject().put("index", 0);
        choice.set("delta", delta);
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason);
        if (includeUsage) {
            chunk.putNull("usage");
        }
        return chunk;
    }

    private static String frame(ObjectNode chunk) {
        return "data: " + Json.write(chunk) + "\n\n";
    }

    private static ObjectNode usage(Usage usage) {
        ObjectNode node = Json.object().put("prompt_tokens", usage.promptTokens())
                .put("completion_tokens", usage.outputTokens()).put("total_tokens", usage.totalTokens());
        node.putObject("prompt_tokens_details").put("cached_tokens", usage.cachedTokens()).put("audio_tokens", 0);
        node.putObject("completion_tokens_details").put("reasoning_tokens", usage.thinkingTokens())
                .put("audio_tokens", 0).put("accepted_prediction_tokens", 0).put("rejected_prediction_tokens", 0);
        return node;
    }

    private static void rateLimitHeaders(Map<String, String> headers, Headroom headroom, long tokensResetMillis) {
        headers.put("x-ratelimit-limit-requests", String.valueOf(headroom.limitRequests()));
        headers.put("x-ratelimit-limit-tokens", String.valueOf(headroom.limitTokens()));
        headers.put("x-ratelimit-remaining-requests", String.valueOf(headroom.remainingRequests()));
        headers.put("x-ratelimit-remaining-tokens", String.valueOf(headroom.remainingTokens()));
        headers.put("x-ratelimit-reset-requests", goDuration(headroom.requestsResetMillis()));
        headers.put("x-ratelimit-reset-tokens", goDuration(tokensResetMillis));
    }

    private static Reply error(int status, Map<String, String> headers, String message, String type, String param,
                               String code) {
        ObjectNode body = Json.object();
        body.putObject("error").put("message", message).put("type", type).put("param", param).put("code", code);
        headers.put("content-type", "application/json");
        return Reply.json(status, headers, body);
    }

    /** An embeddings answer: one vector per input, as floats or (on request) base64 float32, and prompt usage. */
    Reply embeddings(Call call, List<float[]> vectors) {
        boolean base64 = "base64".equals(call.request().path("encoding_format").asText());
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("x-request-id", "req_" + Ids.hex(32));
        headers.put("openai-processing-ms", String.valueOf(call.processingMs()));
        headers.put("openai-model", call.model());
        Headroom headroom = call.headroom();
        rateLimitHeaders(headers, headroom, headroom.tokensResetMillis());
        ObjectNode body = Json.object().put("object", "list");
        var data = body.putArray("data");
        for (int i = 0; i < vectors.size(); i++) {
            ObjectNode item = data.addObject().put("object", "embedding").put("index", i);
            if (base64) {
                item.put("embedding", Embeddings.base64(vectors.get(i)));
            } else {
                var values = item.putArray("embedding");
                for (float f : vectors.get(i)) {
                    values.add(f);
                }
            }
        }
        body.put("model", call.model());
        body.putObject("usage").put("prompt_tokens", call.usage().promptTokens())
                .put("total_tokens", call.usage().promptTokens());
        headers.put("content-type", "application/json");
        return Reply.json(200, headers, body);
    }
}
