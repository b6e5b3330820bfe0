package io.faultline.baseline;

/** What one profiled request measured. {@code status} is the proxy's HTTP status, -1 for no answer. */
public record Sample(String deployment, int status, double latencyMs, Double ttftMs, long completionTokens,
        Double costUsd) {

    public boolean ok() {
        return status == 200;
    }
}
