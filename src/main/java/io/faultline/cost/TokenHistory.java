package io.faultline.cost;

import java.util.Arrays;

/**
 * The token counts of a deployment's recent calls, as a ring, with a nearest-rank p99 that is re-sorted only every
 * {@link #REFRESH_EVERY} new calls (a p99 over a thousand calls barely moves between two of them). Thread-safe.
 */
final class TokenHistory {

    static final int REFRESH_EVERY = 32;

    private final long[] total;
    private final long[] reasoning;
    private int next;
    private int size;
    private int reasoningSeen;
    private int sinceRefresh = REFRESH_EVERY;
    private long p99Total;
    private long p99Reasoning;

    TokenHistory(int capacity) {
        this.total = new long[Math.max(1, capacity)];
        this.reasoning = new long[Math.max(1, capacity)];
    }

    synchronized void add(long tokens, long reasoningTokens) {
        if (size == total.length && reasoning[next] > 0) {
            reasoningSeen--; // the thinking call overwritten leaves the recent ones
        }
        total[next] = tokens;
        reasoning[next] = reasoningTokens;
        next = (next + 1) % total.length;
        size = Math.min(size + 1, total.length);
        if (reasoningTokens > 0) {
            reasoningSeen++;
        }
        if (sinceRefresh < REFRESH_EVERY) {
            sinceRefresh++;
        }
    }

    synchronized int size() {
        return size;
    }

    /** Calls with reasoning tokens among the recent ones (a model that does not think has no reasoning p99). */
    synchronized int reasoningSamples() {
        return reasoningSeen;
    }

    synchronized long p99Total() {
        refresh();
        return p99Total;
    }

    synchronized long p99Reasoning() {
        refresh();
        return p99Reasoning;
    }

    private void refresh() {
        if (sinceRefresh < REFRESH_EVERY || size == 0) {
            return;
        }
        p99Total = p99(Arrays.copyOf(total, size));
        p99Reasoning = p99(Arrays.copyOf(reasoning, size));
        sinceRefresh = 0;
    }

    static long p99(long[] values) {
        Arrays.sort(values);
        int rank = (int) Math.ceil(0.99 * values.length);
        return values[Math.max(0, rank - 1)];
    }
}
