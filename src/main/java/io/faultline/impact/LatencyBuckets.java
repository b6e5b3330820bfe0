package io.faultline.impact;

import java.util.StringJoiner;

/**
 * The fixed edges of the latency histograms behind the latency SLOs ({@code slo_minutes.latency_le}, V26) and of an
 * episode's answered requests ({@code impact_state.latency_le}): cumulative counts, {@code le[i]} = answered requests
 * whose end-to-end latency is at most {@code EDGES_MS[i]}, and a last element counting every answered request. A
 * latency target is evaluated at the largest edge not above it (the smallest edge for a target below it), where the
 * count is exact: a request between that edge and the target counts as slow, so the evaluation never flatters.
 */
public final class LatencyBuckets {

    /** Bucket edges in milliseconds. Changing them invalidates every stored histogram (a migration must recount). */
    static final long[] EDGES_MS = { 100, 250, 500, 750, 1_000, 1_500, 2_000, 2_500, 3_000, 4_000, 5_000, 7_500,
            10_000, 15_000, 20_000, 30_000, 45_000, 60_000, 90_000, 120_000, 300_000, 600_000 };

    /** Elements of a histogram: one per edge, and the total. */
    static final int SIZE = EDGES_MS.length + 1;

    /** The smallest and largest latency target accepted: the first and last edge. */
    static final double MIN_TARGET_MS = EDGES_MS[0];
    static final double MAX_TARGET_MS = EDGES_MS[EDGES_MS.length - 1];

    private LatencyBuckets() {
    }

    /** The 0-based index of the edge the target is evaluated at: the largest edge not above it (at least the first). */
    static int index(double targetMs) {
        int k = 0;
        for (int i = 0; i < EDGES_MS.length; i++) {
            if (EDGES_MS[i] <= targetMs) {
                k = i;
            }
        }
        return k;
    }

    /** The edge the target is evaluated at, in milliseconds. */
    static double evaluatedAt(double targetMs) {
        return EDGES_MS[index(targetMs)];
    }

    /** Adds one answered request of {@code latencyMicros} to a cumulative histogram, {@code sign} times. */
    static void add(long[] le, long latencyMicros, int sign) {
        for (int i = 0; i < EDGES_MS.length; i++) {
            if (latencyMicros <= EDGES_MS[i] * 1000) {
                le[i] += sign;
            }
        }
        le[EDGES_MS.length] += sign;
    }

    /** The bucket of a latency: the index of the first edge not below it, {@code EDGES_MS.length} above the last. */
    static int bucket(long latencyMicros) {
        for (int i = 0; i < EDGES_MS.length; i++) {
            if (latencyMicros <= EDGES_MS[i] * 1000) {
                return i;
            }
        }
        return EDGES_MS.length;
    }

    /** Adds {@code count} answered requests of one {@link #bucket} to a cumulative histogram. */
    static void addBucket(long[] le, int bucket, long count) {
        for (int i = bucket; i < SIZE; i++) {
            le[i] += count;
        }
    }

    /** Answered requests slower than the evaluated edge: the total minus those within it. */
    static long slow(long[] le, double targetMs) {
        return le[EDGES_MS.length] - le[index(targetMs)];
    }

    /** The edges as a PostgreSQL float8 array literal (for width_bucket). */
    static Double[] edges() {
        Double[] out = new Double[EDGES_MS.length];
        for (int i = 0; i < EDGES_MS.length; i++) {
            out[i] = (double) EDGES_MS[i];
        }
        return out;
    }

    /** SQL of {@link #bucket} over a bigint {@code latencyMicros} expression (constants only: no caller text). */
    static String bucketSql(String latencyMicros) {
        StringBuilder b = new StringBuilder("(case");
        for (int i = 0; i < EDGES_MS.length; i++) {
            b.append(" when ").append(latencyMicros).append(" <= ").append(EDGES_MS[i] * 1000).append(" then ")
                    .append(i);
        }
        return b.append(" else ").append(EDGES_MS.length).append(" end)").toString();
    }

    /**
     * SQL building the cumulative histogram as aggregates over rows with a boolean {@code answered} and a bigint
     * {@code latencyMicros} expression (constants only: no caller text).
     */
    static String aggregateSql(String answered, String latencyMicros) {
        StringJoiner j = new StringJoiner(", ", "array[", "]::bigint[]");
        for (long edge : EDGES_MS) {
            j.add("count(*) filter (where " + answered + " and " + latencyMicros + " <= " + edge * 1000 + ")");
        }
        j.add("count(*) filter (where " + answered + ")");
        return j.toString();
    }
}
