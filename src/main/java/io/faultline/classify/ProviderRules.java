package io.faultline.classify;

import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.call.ProviderErrorDetails;
import io.faultline.common.Redactor;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ProviderFailure.Type;
import io.faultline.taxonomy.Severity;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * PROVIDER failures from what the status, LiteLLM's exception class and message, the headers, the finish reason and
 * the timing of one call show. The order of the checks matters: a 529 is an overload, not an outage; a 429 that
 * says "insufficient_quota" is a rate limit that will not clear by itself.
 */
@ApplicationScoped
public class ProviderRules implements CallRule {

    /** LiteLLM's call types of a Responses API create (CallTypes.responses, aresponses). */
    private static final Set<String> RESPONSES_CREATE = Set.of("responses", "aresponses");
    /** Gemini's finish reasons for a function call it could not take (see CallMapper.ResponseShape). */
    private static final Set<String> TOOL_CALL_FINISHES = Set.of("malformed_function_call", "unexpected_tool_call",
            "too_many_tool_calls");

    /**
     * SQL over {@code llm_calls}' columns: a client-error status (4xx) that {@link #fromFailure} still types
     * {@code malformed_response}, the provider's answer that did not parse (LiteLLM reports Gemini's broken JSON as
     * a 422 {@code BadRequestError}, "Error converting to valid response block"): not an overflow, not refused
     * content, and a malformed marker in the message ({@link ProviderVerdict}'s steps). It is the provider's failure
     * whatever the status said, so the passive baselines' provider-side failure, and through it the SLO, count it (as
     * the provider-error alert does).
     */
    public static final String MALFORMED_CLIENT_ERROR_SQL = "(http_status between 400 and 499"
            + " and coalesce(error_class, '') not in ('" + ProviderVerdict.CONTEXT_WINDOW_CLASS + "', '"
            + ProviderVerdict.CONTENT_POLICY_CLASS + "') and not " + ProviderVerdict.OVERFLOW_SQL + " and "
            + ProviderVerdict.MALFORMED_SQL + ")";

    private final SeverityPolicy severities;
    private final ClassifyConfig config;

    public ProviderRules(SeverityPolicy severities, ClassifyConfig config) {
        this.severities = severities;
        this.config = config;
    }

    @Override
    public List<Failure> apply(LlmCall call) {
        return call.success() ? fromSuccess(call) : fromFailure(call);
    }

    private List<Failure> fromFailure(LlmCall call) {
        if (ProxyBudgetRules.isBudgetRefusal(call)) {
            return List.of(); // COST budget_exceeded, even when LiteLLM is set to answer it with a 429
        }
        // One ordered decision over what is stored of the call, which the predictor counts by too (its SQL form).
        return switch (ProviderVerdict.of(call.httpStatus(), call.errorClass(), call.errorMessage())) {
            case OVERLOADED -> one(Type.OVERLOADED, call, "provider.status", Map.of());
            case RATE_LIMIT -> rateLimit(call);
            case TIMEOUT -> one(Type.TIMEOUT, call, "provider.error_class", Map.of());
            case CONTEXT_OVERFLOW -> one(Type.CONTEXT_OVERFLOW, call, "provider.error_class", Map.of());
            case CONTENT_FILTERED -> one(Type.CONTENT_FILTERED, call, "provider.error_class", Map.of());
            case MALFORMED_RESPONSE -> one(Type.MALFORMED_RESPONSE, call, "provider.error_message", Map.of());
            case OUTAGE -> one(Type.OUTAGE, call, "provider.status", Map.of());
            // SECURITY unauthorized_model_access (AccessRules), COST budget_exceeded (ProxyBudgetRules); 400, 404,
            // 422 and other client errors are the caller's mistake, not a provider failure. The call stays stored
            // and countable by error class.
            case ACCESS_DENIED, BUDGET_REFUSED, NONE -> List.of();
        };
    }

    private List<Failure> rateLimit(LlmCall call) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        boolean quota = isQuotaExhausted(call);
        boolean daily = !quota && isDailyLimit(call);
        boolean tooLarge = !quota && !daily && isRequestTooLarge(call);
        evidence.put("reason", quota ? "insufficient_quota" : daily ? "daily_quota_exhausted"
                : tooLarge ? "request_too_large" : "rate_limit_exceeded");
        ProviderErrorDetails details = call.errorDetails() == null ? ProviderErrorDetails.NONE : call.errorDetails();
        CallFailures.putIfPresent(evidence, "quota_id", Redactor.mask(details.quotaId(), 120));
        String retryAfter = call.header("retry-after");
        CallFailures.putIfPresent(evidence, "retry_after", retryAfter != null ? retryAfter
                : details.retryDelaySeconds());
        call.rateLimitHeaders().forEach((name, value) -> {
            if (name.contains("remaining")) {
                evidence.put(name, value);
            }
        });
        // An exhausted quota does not clear when the window resets: somebody has to pay, so it is paged sooner.
        // A request larger than the whole per-minute budget fails however long it waits: every retry is refused
        // until the caller sends fewer tokens (or the organisation's tier rises), so it is not left at a passing
        // limit's priority either. Only requests that large fail, hence below an exhausted quota.
        Severity base = severities.base(Type.RATE_LIMIT);
        // A per-day limit spent is the same for the rest of the day (Gemini's free tier resets at midnight Pacific).
        Severity severity = quota || daily ? Severity.P2.max(base) : tooLarge ? Severity.P3.max(base) : base;
        return List.of(CallFailures.of(Type.RATE_LIMIT, call, "provider.status", severity, evidence));
    }

    private List<Failure> fromSuccess(LlmCall call) {
        String finish = call.finishReason();
        if ("content_filter".equals(finish) || "safety".equalsIgnoreCase(String.valueOf(finish))
                || "refusal".equals(finish)) {
            return one(Type.CONTENT_FILTERED, call, "provider.finish_reason", Map.of("finish_reason", finish));
        }
        if (call.content() != null && call.content().refused()) {
            // OpenAI declines in message.refusal with finish_reason "stop" (structured outputs say so): the same
            // outcome as Anthropic's "refusal" stop reason. Its text is the model's, and is not kept.
            Map<String, Object> evidence = new LinkedHashMap<>();
            evidence.put("reason", "refusal");
            CallFailures.putIfPresent(evidence, "finish_reason", finish);
            return one(Type.CONTENT_FILTERED, call, "provider.refusal", evidence);
        }
        if (isToolCallFinish(finish)) {
            // Gemini could not make the model's function call into one: the model's failure to hold to the tool's
            // format, typed format_non_compliance by ToolCallRules, not an empty answer of the provider.
            return List.of();
        }
        if ("malformed_response".equals(finish)) {
            return one(Type.MALFORMED_RESPONSE, call, "provider.finish_reason",
                    Map.of("reason", "provider_malformed_response", "finish_reason", finish));
        }
        // Reasoning tokens are output nobody sees: a reasoning model that spent its whole budget thinking answers
        // finish_reason=length with no content, and the caller got nothing (before, any completion token hid it).
        long visibleTokens = call.completionTokens() - call.reasoningTokens();
        if (expectsChoices(call) && (!call.responseParsed()
                || (call.responseChars() == 0 && visibleTokens <= 0 && !Boolean.TRUE.equals(call.cacheHit())))) {
            Map<String, Object> evidence = new LinkedHashMap<>();
            evidence.put("reason", call.responseParsed() ? "empty_response" : "unparseable_response");
            CallFailures.putIfPresent(evidence, "finish_reason", finish);
            if (call.reasoningTokens() > 0) {
                evidence.put("reasoning_tokens", call.reasoningTokens());
            }
            return one(Type.MALFORMED_RESPONSE, call, "provider.response_shape", evidence);
        }
        if (call.latencyMs() > config.timeout().toMillis()) {
            return one(Type.TIMEOUT, call, "provider.latency",
                    Map.of("timeout_ms", config.timeout().toMillis()));
        }
        return List.of();
    }

    /** Whether the finish reason is Gemini's verdict on a function call (see CallMapper.ResponseShape). */
    public static boolean isToolCallFinish(String finishReason) {
        return finishReason != null && TOOL_CALL_FINISHES.contains(finishReason);
    }

    /**
     * Chat and text completions must answer with choices, a Responses API create with output (a background
     * response not yet finished has none to judge; getting, cancelling or deleting one answers other shapes);
     * embeddings, images and others have other shapes.
     */
    private static boolean expectsChoices(LlmCall call) {
        String type = call.callType() == null ? "" : call.callType();
        return type.isEmpty() || type.contains("completion")
                || RESPONSES_CREATE.contains(type) && !CallMapper.PENDING.equals(call.finishReason());
    }

    /**
     * Whether a rate-limited call ran out of quota (OpenAI's {@code insufficient_quota}): it does not clear when the
     * window resets. LiteLLM 1.108 drops OpenAI's error code and keeps only its message, "You exceeded your current
     * quota, please check your plan and billing details"; Gemini's per-minute {@code RESOURCE_EXHAUSTED} uses the
     * same words and clears in seconds, so they count only outside Google's providers.
     */
    public static boolean isQuotaExhausted(LlmCall call) {
        String message = call.errorMessage() == null ? "" : call.errorMessage().toLowerCase(Locale.ROOT);
        if (message.contains("insufficient_quota")) {
            return true;
        }
        String provider = call.provider() == null ? "" : call.provider();
        return message.contains("exceeded your current quota") && !message.contains("resource_exhausted")
                && !message.contains("geminiexception") && !message.contains("vertexaiexception")
                && !provider.startsWith("gemini") && !provider.startsWith("vertex_ai");
    }

    /**
     * Whether a rate-limited call spent a per-day limit: Gemini's quota id ({@code
     * GenerateRequestsPerDayPerProjectPerModel-FreeTier}; its per-minute quotas use the same message) or OpenAI's
     * "Rate limit reached for ... on requests per day (RPD)" (or tokens, TPD). Either lasts for hours, not seconds.
     */
    public static boolean isDailyLimit(LlmCall call) {
        if (call.errorDetails() != null && ProviderErrorDetails.isPerDay(call.errorDetails().quotaId())) {
            return true;
        }
        String head = messageHead(call);
        return head.contains("rate limit reached for") && (head.contains("per day (rpd)")
                || head.contains("per day (tpd)"));
    }

    /**
     * Whether a rate-limited call asked for more tokens than its per-minute limit allows in all (OpenAI: "Request too
     * large for gpt-4o in organization ... on tokens per min (TPM): Limit 30000, Requested 31538", with the same
     * {@code rate_limit_exceeded} code as a passing limit): no wait lets it through.
     */
    public static boolean isRequestTooLarge(LlmCall call) {
        return messageHead(call).contains("request too large for");
    }

    /**
     * The first 256 characters of the error message, lower case: OpenAI's words that name a limit open its message,
     * after LiteLLM's exception prefix.
     */
    private static String messageHead(LlmCall call) {
        String message = call.errorMessage() == null ? "" : call.errorMessage();
        return message.substring(0, Math.min(message.length(), 256)).toLowerCase(Locale.ROOT);
    }

    static boolean isAccessDenied(LlmCall call) {
        return ProviderVerdict.ACCESS_DENIED.is(call.httpStatus(), call.errorClass(), call.errorMessage());
    }

    /**
     * LiteLLM refusing a key other than its master key. Without its database it cannot verify virtual keys and answers
     * 400 "No connected db." instead of 401: the caller is refused all the same. A 401 or 403 of the proxy's own
     * exception classes (a key, team or user not allowed a model: {@code ModelAccessDeniedProxyException}) is the
     * proxy's too, whatever provider and deployment the payload names: LiteLLM 1.108 stamps the model group's
     * provider, and the model id of a group of one, on a request it refused before routing. A provider's refusal
     * reaches the callback as {@code AuthenticationError} or {@code PermissionDeniedError}.
     */
    static boolean isProxyKeyRefusal(LlmCall call) {
        String errorClass = call.errorClass() == null ? "" : call.errorClass();
        Integer status = call.httpStatus();
        if ((errorClass.endsWith("ProxyException") || errorClass.equals("ModelAccessDeniedHTTPException"))
                && status != null && (status == 401 || status == 403)) {
            return true;
        }
        return ProxyBudgetRules.PROXY_EXCEPTION.equals(errorClass)
                && ProviderVerdict.containsAny(ProviderVerdict.lower(call.errorMessage()),
                        ProviderVerdict.PROXY_KEY_WORDS);
    }

    private List<Failure> one(Type type, LlmCall call, String method, Map<String, Object> evidence) {
        return List.of(CallFailures.of(type, call, method, severities.base(type), evidence));
    }
}
