package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Gemini generateContent / streamGenerateContent: candidates, usageMetadata, safety blocks and google.rpc errors. */
final class GeminiWire implements ProviderWire {

    private static final String JSON = "application/json; charset=UTF-8";
    private static final int CONTEXT_WINDOW = 1_048_576;
    private static final String THOUGHT = "**Answering briefly**\n\nThe user wants a short, direct answer.";
    private static final String QUOTA_MESSAGE = "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.";

    @Override
    public RateLimit defaultLimits() {
        return null;
    }

    @Override
    public boolean streams(JsonNode request, Route route) {
        return route.streamMethod();
    }

    @Override
    public int thinkingTokens(JsonNode request, int scripted) {
        JsonNode config = request.path("generationConfig").path("thinkingConfig");
        if (config.path("thinkingBudget").isNumber() && config.path("thinkingBudget").asInt() == 0) {
            return 0;
        }
        if (scripted > 0) {
            return scripted;
        }
        return config.isMissingNode() ? 0 : Tokens.DEFAULT_THINKING_TOKENS;
    }

    @Override
    public Reply success(Call call) {
        Usage usage = call.usage();
        boolean showThoughts = usage.thinkingTokens() > 0
                && call.request().path("generationConfig").path("thinkingConfig").path("includeThoughts").asBoolean(false);
        String responseId = Ids.base62(23);
        if (!call.toolCalls().isEmpty()) {
            // Gemini answers function calls as parts with their arguments as an object, whole, also when streamed.
            ArrayNode parts = Json.array();
            for (FunctionCall made : call.toolCalls()) {
                JsonNode args = Json.readOrNull(made.arguments());
                if (args == null || !args.isObject()) {
                    throw new IllegalArgumentException("Gemini answers function call arguments as a JSON object, "
                            + "not as " + made.arguments());
                }
                parts.addObject().putObject("functionCall").put("name", made.name()).set("args", args);
            }
            ObjectNode body = response(call, parts, "STOP", usage.answerTokens(), responseId);
            return call.stream() ? stream(call, List.of(body)) : Reply.json(200, headers(JSON), body);
        }
        if (!call.stream()) {
            ArrayNode parts = Json.array();
            if (showThoughts) {
                parts.addObject().put("text", THOUGHT).put("thought", true);
            }
            ObjectNode answer = parts.addObject().put("text", call.answer());
            if (usage.thinkingTokens() > 0) {
                answer.put("thoughtSignature", Ids.base64(48));
            }
            return Reply.json(200, headers(JSON), response(call, parts, "STOP", usage.answerTokens(), responseId));
        }
        List<ObjectNode> chunks = new ArrayList<>();
        if (showThoughts) {
            chunks.add(response(call, Json.array(Json.object().put("text", THOUGHT).put("thought", true)), null, 0,
                    responseId));
        }
        List<String> deltas = Tokens.deltas(call.answer());
        StringBuilder sent = new StringBuilder();
        for (int i = 0; i < deltas.size(); i++) {
            sent.append(deltas.get(i));
            boolean last = i == deltas.size() - 1;
            ObjectNode part = Json.object().put("text", deltas.get(i));
            if (last && usage.thinkingTokens() > 0) {
                part.put("thoughtSignature", Ids.base64(48));
            }
            chunks.add(response(call, Json.array(part), last ? "STOP" : null,
                    last ? usage.answerTokens() : Tokens.of(sent.toString()), responseId));
        }
        return stream(call, chunks);
    }

    @Override
    public Reply fault(FaultKind kind, Call call) {
        return switch (kind) {
            case RATE_LIMIT -> error(429, "RESOURCE_EXHAUSTED", QUOTA_MESSAGE, Json.array(
                    quotaFailure("generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",
                            "GenerateContentInputTokensPerModelPerMinute-FreeTier", call.model(), "250000"),
                    quotaHelp(),
                    Json.object().put("@type", "type.googleapis.com/google.rpc.RetryInfo")
                            .put("retryDelay", call.retryAfterSeconds() + "s")));
            case INSUFFICIENT_QUOTA -> error(429, "RESOURCE_EXHAUSTED", QUOTA_MESSAGE, Json.array(
                    quotaFailure("generativelanguage.googleapis.com/generate_content_free_tier_requests",
                            "GenerateRequestsPerDayPerProjectPerModel-FreeTier", call.model(), "250"),
                    quotaHelp()));
            case SERVER_ERROR -> error(500, "INTERNAL",
                    "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", null);
            case UNAVAILABLE -> error(503, "UNAVAILABLE", "The service is currently unavailable.", null);
            case OVERLOADED -> error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.", null);
            case CONTEXT_OVERFLOW -> error(400, "INVALID_ARGUMENT",
                    "The input token count (%d) exceeds the maximum number of tokens allowed (%d)."
                            .formatted(CONTEXT_WINDOW + call.usage().promptTokens(), CONTEXT_WINDOW), null);
            case SAFETY_BLOCK -> blocked(call, safetyBlock(call.usage()));
            case PROMPT_BLOCKED -> blocked(call, promptBlock(call));
            case UNAUTHORIZED -> error(401, "UNAUTHENTICATED",
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.", null);
            case FORBIDDEN -> error(403, "PERMISSION_DENIED", "The caller does not have permission", null);
            case MALFORMED_FUNCTION_CALL -> blocked(call, malformedFunctionCall(call));
            case STREAM_OVERLOADED -> throw new IllegalArgumentException(kind + " is Anthropic's own");
            case MALFORMED, EMPTY, HANG -> throw new IllegalArgumentException(kind + " is not provider specific");
        };
    }

    @Override
    public Reply invalidRequest(String message) {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. " + message, null);
    }

    private ObjectNode response(Call call, ArrayNode parts, String finishReason, int candidatesTokens,
                                String responseId) {
        ObjectNode body = Json.object();
        ObjectNode candidate = body.putArray("candidates").addObject();
        ObjectNode content = candidate.putObject("content");
        content.set("parts", parts);
        content.put("role", "model");
        if (finishReason != null) {
            candidate.put("finishReason", finishReason);
        }
        candidate.put("index", 0);
        Usage usage = call.usage();
        ObjectNode metadata = body.putObject("usageMetadata").put("promptTokenCount", usage.promptTokens())
                .put("candidatesTokenCount", candidatesTokens)
                .put("totalTokenCount", usage.promptTokens() + candidatesTokens + usage.thinkingTokens());
        metadata.putArray("promptTokensDetails").addObject().put("modality", "TEXT")
                .put("tokenCount", usage.promptTokens());
        if (usage.thinkingTokens() > 0) {
            metadata.put("thoughtsTokenCount", usage.thinkingTokens());
        }
        body.put("modelVersion", call.model()).put("responseId", responseId);
        return body;
    }

    /** Blocks arrive as one ordinary 200 answer, or as the only chunk of a stream. */
    private Reply blocked(Call call, ObjectNode body) {
        return call.stream() ? stream(call, List.of(body)) : Reply.json(200, headers(JSON), body);
    }

    /**
     * The model wrote a function call Gemini could not parse: the candidate has an empty content object, the finish
     * reason and (on newer models) a finish message quoting the call; no output tokens.
     */
    private static ObjectNode malformedFunctionCall(Call call) {
        ObjectNode body = Json.object();
        ObjectNode candidate = body.putArray("candidates").addObject();
        candidate.putObject("content");
        candidate.put("finishReason", "MALFORMED_FUNCTION_CALL")
                .put("finishMessage", "Malformed function call: print(default_api.get_weather(city=Paris))")
                .put("index", 0);
        Usage usage = call.usage();
        ObjectNode metadata = body.putObject("usageMetadata").put("promptTokenCount", usage.promptTokens())
                .put("totalTokenCount", usage.promptTokens());
        metadata.putArray("promptTokensDetails").addObject().put("modality", "TEXT")
                .put("tokenCount", usage.promptTokens());
        body.put("modelVersion", call.model()).put("responseId", Ids.base62(23));
        return body;
    }

    private static ObjectNode safetyBlock(Usage usage) {
        ObjectNode body = Json.object();
        ObjectNode candidate = body.putArray("candidates").addObject().put("finishReason", "SAFETY");
        ArrayNode ratings = candidate.putArray("safetyRatings");
        ratings.add(rating("HARM_CATEGORY_HATE_SPEECH", "NEGLIGIBLE"));
        ratings.add(rating("HARM_CATEGORY_DANGEROUS_CONTENT", "NEGLIGIBLE"));
        ratings.add(rating("HARM_CATEGORY_HARASSMENT", "NEGLIGIBLE"));
        ratings.add(rating("HARM_CATEGORY_SEXUALLY_EXPLICIT", "HIGH").put("blocked", true));
        body.putObject("usageMetadata").put("promptTokenCount", usage.promptTokens())
                .put("candidatesTokenCount", usage.answerTokens())
                .put("totalTokenCount", usage.promptTokens() + usage.answerTokens());
        return body;
    }

    /** The fixture's 2024 shape plus the usageMetadata, modelVersion and responseId that current responses carry. */
    private static ObjectNode promptBlock(Call call) {
        ObjectNode body = Json.object();
        ObjectNode feedback = body.putObject("promptFeedback").put("blockReason", "SAFETY");
        ArrayNode ratings = feedback.putArray("safetyRatings");
        ratings.add(rating("HARM_CATEGORY_SEXUALLY_EXPLICIT", "NEGLIGIBLE"));
        ratings.add(rating("HARM_CATEGORY_HATE_SPEECH", "NEGLIGIBLE"));
        ratings.add(rating("HARM_CATEGORY_HARASSMENT", "NEGLIGIBLE"));
        ratings.add(rating("HARM_CATEGORY_DANGEROUS_CONTENT", "HIGH"));
        int promptTokens = call.usage().promptTokens();
        body.putObject("usageMetadata").put("promptTokenCount", promptTokens).put("totalTokenCount", promptTokens);
        body.put("modelVersion", call.model()).put("responseId", Ids.base62(23));
        return body;
    }

    private static ObjectNode rating(String category, String probability) {
        return Json.object().put("category", category).put("probability", probability);
    }

    private static ObjectNode quotaFailure(String metric, String quotaId, String model, String value) {
        ObjectNode failure = Json.object().put("@type", "type.googleapis.com/google.rpc.QuotaFailure");
        ObjectNode violation = failure.putArray("violations").addObject().put("quotaMetric", metric)
                .put("quotaId", quotaId);
        violation.putObject("quotaDimensions").put("location", "global").put("model", model);
        violation.put("quotaValue", value);
        return failure;
    }

    private static ObjectNode quotaHelp() {
        ObjectNode help = Json.object().put("@type", "type.googleapis.com/google.rpc.Help");
        help.putArray("links").addObject().put("description", "Learn more about Gemini API quotas")
                .put("url", "https://ai.google.dev/gemini-api/docs/rate-limits");
        return help;
    }

    /**
     * With {@code alt=sse} every chunk is an event; Google ends SSE frames with CRLF. Without it the
     * API streams one JSON array of the same chunks.
     */
    private static Reply stream(Call call, List<ObjectNode> chunks) {
        if (!call.sse()) {
            ArrayNode array = Json.array();
            chunks.forEach(array::add);
            return Reply.json(200, headers(JSON), array);
        }
        List<String> frames = chunks.stream().map(chunk -> "data: " + Json.write(chunk) + "\r\n\r\n").toList();
        return Reply.events(headers("text/event-stream"), frames);
    }

    private static Reply error(int code, String status, String message, ArrayNode details) {
        ObjectNode body = Json.object();
        ObjectNode error = body.putObject("error").put("code", code).put("message", message).put("status", status);
        if (details != null) {
            error.set("details", details);
        }
        return Reply.json(code, headers(JSON), body);
    }

    private static Map<String, String> headers(String contentType) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("content-type", contentType);
        return headers;
    }
}
