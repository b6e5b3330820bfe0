package io.faultline.baseline;

import java.util.Arrays;

/**
 * Exact percentiles by the nearest-rank method: the p-th percentile is the smallest sample such that at least p% of
 * the samples are less than or equal to it. No sketch, so no error bound to state; runs are at most thousands of
 * samples.
 */
public record Percentiles(double p50, double p95, double p99, double mean, int size) {

    public static Percentiles of(double[] samples) {
        if (samples.length == 0) {
            throw new IllegalArgumentException("no samples");
        }
        double[] sorted = samples.clone();
        Arrays.sort(sorted);
        double sum = 0;
        for (double v : sorted) {
            sum += v;
        }
        return new Percentiles(rank(sorted, 0.50), rank(sorted, 0.95), rank(sorted, 0.99), sum / sorted.length,
                sorted.length);
    }

    static double rank(double[] sorted, double p) {
        int rank = (int) Math.ceil(p * sorted.length);
        return sorted[Math.max(0, rank - 1)];
    }
}
