package io.faultline.call;

import io.faultline.content.CallContent;

import java.time.Instant;
import java.util.Map;

/**
 * One LLM call as LiteLLM logged it, reduced to what Faultline classifies and stores. Request and response text is
 * not kept: only its shape ({@link #responseChars()}), so that nothing personal is stored by default. The
 * {@link #content()} the content detectors read lives in memory only and is never written, like
 * {@link #budgetEntity()}, the LiteLLM budget that refused the call, which only the classifier reads.
 * {@link #inputCostPerToken()} and {@link #outputCostPerToken()} are the prices LiteLLM's model map gave the call
 * ({@code model_map_information.model_map_value}); null when it knew none. Impact prices fallbacks with them, and
 * cache-miss storms with {@link #cacheReadCostPerToken()} (the map's {@code cache_read_input_token_cost}).
 * {@link #errorDetails()} are read from the whole error message (which is stored cut), for the classifier only.
 * {@link #proxyId()} names the LiteLLM proxy that made the call (the plugin's {@code faultline.proxy_id}, sanitised
 * by {@link CallMapper#proxyId}); null for a sender that names none, which counts as one default proxy.
 */
public record LlmCall(
        String callId,
        String traceId,
        Instant startedAt,
        Instant endedAt,
        String provider,
        String model,
        String modelGroup,
        String deployment,
        String apiBase,
        String callType,
        boolean stream,
        boolean success,
        Integer httpStatus,
        String errorClass,
        String errorCode,
        String errorMessage,
        double latencyMs,
        Double ttftMs,
        long promptTokens,
        long completionTokens,
        long reasoningTokens,
        long cachedTokens,
        double costUsd,
        Boolean cacheHit,
        String finishReason,
        int responseChars,
        boolean responseParsed,
        String userRef,
        String teamId,
        String apiKeyHash,
        Map<String, String> rateLimitHeaders,
        Map<String, Object> requesterMetadata,
        double thinkingCostUsd,
        CallContent content,
        String budgetEntity,
        Double inputCostPerToken,
        Double outputCostPerToken,
        Double cacheReadCostPerToken,
        ProviderErrorDetails errorDetails,
        String proxyId) {

    /** A header as the provider sent it (lower-case name), or null. */
    public String header(String name) {
        return rateLimitHeaders.get(name);
    }

    /**
     * What tells one attempt from another: LiteLLM gives every attempt of one proxy request (the failed one and its
     * fallback, or a retry) the same {@code litellm_call_id}, so the id alone would drop the fallback as a resend.
     * The stored primary key, {@code (call_id, started_at)}, is the same pair.
     */
    public Attempt attemptKey() {
        return new Attempt(callId, startedAt);
    }

    /**
     * An attempt's key, {@code (call id, start)}. A record rather than the two joined in a string: a batch builds
     * the key ~6 times per call, and the string's formatting and hashing showed in the ingest profile (2% of the
     * request threads); the call id's hash is cached by its string.
     */
    public record Attempt(String callId, Instant startedAt) {
    }

    public boolean failed() {
        return !success;
    }
}
