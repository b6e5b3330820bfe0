package io.faultline.baseline;

/**
 * What one profiled request measured. {@code status} is the proxy's HTTP status, -1 for no answer; {@code failure}
 * says why a call failed ("HTTP 500", or the transport error when no answer came), null when it succeeded.
 */
public record Sample(String deployment, int status, double latencyMs, Double ttftMs, long completionTokens,
        Double costUsd, String failure) {

    public boolean ok() {
        return status == 200;
    }

    /**
     * A failure the provider side answers for, counted as {@link DeviationDetector#PROVIDER_SIDE_FAILURE} counts live
     * calls: no answer, or any status but a 4xx of the caller's making (auth refusals, 408 and 429 count).
     */
    public boolean providerSideFailure() {
        return !ok() && (status < 400 || status > 499 || status == 401 || status == 403 || status == 408
                || status == 429);
    }
}
