package io.faultline.baseline;

import java.util.Set;

/**
 * What one profiled request measured. {@code status} is the proxy's HTTP status, -1 for no answer; {@code failure}
 * says why a call failed ("HTTP 500", "HTTP 401 (auth_error)" with the error's type when the answer names one, or
 * the transport error when no answer came), null when it succeeded.
 */
public record Sample(String deployment, int status, double latencyMs, Double ttftMs, long completionTokens,
        Double costUsd, String failure) {

    /**
     * LiteLLM's own error types of a request it refused before calling any provider (ProxyErrorTypes: the key
     * unknown, expired or not allowed the model, no database to check it, a budget spent). A provider's error reaches
     * the caller with its own type or none ("None"), never one of these.
     */
    private static final Set<String> PROXY_REFUSAL_TYPES = Set.of("auth_error", "expired_key",
            "token_not_found_in_db", "no_db_connection", "budget_exceeded");
    private static final String MODEL_ACCESS_DENIED = "_model_access_denied";

    public boolean ok() {
        return status == 200;
    }

    /**
     * A failure the provider side answers for, counted as {@link DeviationDetector#PROVIDER_SIDE_FAILURE} counts live
     * calls: no answer, or any status but a 4xx of the caller's making (auth refusals, 408 and 429 count), and not
     * LiteLLM refusing the profiler itself ({@link DeviationDetector#PROXY_REFUSAL}): a run with a bad key must not
     * learn the refusals as the provider's error rate.
     */
    public boolean providerSideFailure() {
        return !ok() && (status < 400 || status > 499 || status == 401 || status == 403 || status == 408
                || status == 429) && !proxyRefusal();
    }

    /** Whether the proxy refused the call itself: the failure names one of LiteLLM's own error types. */
    public boolean proxyRefusal() {
        if (status < 400 || failure == null || !failure.endsWith(")")) {
            return false;
        }
        int open = failure.lastIndexOf(" (");
        if (open < 0) {
            return false;
        }
        String type = failure.substring(open + 2, failure.length() - 1);
        return PROXY_REFUSAL_TYPES.contains(type) || type.endsWith(MODEL_ACCESS_DENIED);
    }
}
