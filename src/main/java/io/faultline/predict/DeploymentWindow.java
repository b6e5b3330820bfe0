package io.faultline.predict;

import java.time.Instant;

/**
 * One deployment's calls over the rolling window, cut into buckets (index 0 is the oldest; a bucket without calls
 * is null). Built by one aggregate query per tick; everything the indicators read is here.
 */
public record DeploymentWindow(String provider, String deployment, String modelGroup, Instant from, Instant to,
        long bucketMillis, Bucket[] buckets) {

    /**
     * The deployment of a provider-level window and prediction: every deployment of the provider (README
     * "Prediction", provider level). A LiteLLM deployment may be called so too (model_info.id is the operator's to
     * choose): its window is read and its failures observed like any other's, but it has no predictions of its own
     * (stored under this name they would be its provider's), and {@link #providerWide()} is true of it.
     */
    public static final String PROVIDER_WIDE = "*";

    /** The failure types read from call statuses, in the order of {@link Bucket#failed}. */
    public static final String[] FAILURE_TYPES = { "rate_limit", "overloaded", "outage", "timeout" };

    /** The rate-limit dimensions, in the order of {@link Bucket#headroom} (the detectors' {@code limit_type}). */
    public static final String[] LIMIT_TYPES = { "requests", "tokens", "input_tokens", "output_tokens" };

    /** A bucket: calls, latency percentiles of the successful ones, failures by type, and headroom readings. */
    public record Bucket(int calls, int ok, Double p50, Double p95, int[] failed, Instant[] firstFailedAt,
            Instant[] lastFailedAt, Reading[] headroom) {
    }

    /**
     * The headroom readings of one limit type in a bucket: their mean remaining at their mean time, the largest
     * limit, and the reset header of the latest reading (raw, parsed by the indicator) with that reading's time.
     */
    public record Reading(double remaining, double atEpochSeconds, int count, double limit, String reset,
            Instant resetSeenAt) {
    }

    /** Named like the provider level: the provider's window, or a deployment's called "*" (see above). */
    public boolean providerWide() {
        return PROVIDER_WIDE.equals(deployment);
    }

    public static int typeIndex(String type) {
        for (int i = 0; i < FAILURE_TYPES.length; i++) {
            if (FAILURE_TYPES[i].equals(type)) {
                return i;
            }
        }
        return -1;
    }
}
