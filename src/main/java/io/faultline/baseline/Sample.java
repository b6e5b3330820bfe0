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
}
