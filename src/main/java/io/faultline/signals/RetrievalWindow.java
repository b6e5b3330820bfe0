package io.faultline.signals;

import java.time.Duration;
import java.time.Instant;

/**
 * The retrieval samples of one index in fixed time buckets: a ring of (window + baseline) / bucket slots, so memory
 * per index is fixed however many queries arrive. A sample older than the ring's span is dropped.
 */
final class RetrievalWindow {

    /** Means of the current window and of the baseline before it; NaN where there are no samples. */
    record Comparison(double currentTop, long currentSamples, double baselineTop, long baselineSamples,
            double currentHits, long currentHitSamples, double baselineHits, long baselineHitSamples) {
    }

    private final long bucketSeconds;
    private final int windowBuckets;
    private final long[] ids;
    private final double[] topSum;
    private final long[] samples;
    private final long[] hitsSum;
    private final long[] hitSamples;
    Instant lastRaisedAt;

    RetrievalWindow(Duration bucket, Duration window, Duration baseline) {
        this.bucketSeconds = Math.max(1, bucket.toSeconds());
        this.windowBuckets = buckets(window);
        int size = windowBuckets + buckets(baseline);
        ids = new long[size];
        java.util.Arrays.fill(ids, Long.MIN_VALUE);
        topSum = new double[size];
        samples = new long[size];
        hitsSum = new long[size];
        hitSamples = new long[size];
    }

    private int buckets(Duration d) {
        return (int) Math.max(1, (d.toSeconds() + bucketSeconds - 1) / bucketSeconds);
    }

    /** The number of buckets held: the memory bound of one index. */
    int capacity() {
        return ids.length;
    }

    void add(Instant at, double topScore, Integer hits) {
        long id = Math.floorDiv(at.getEpochSecond(), bucketSeconds);
        int slot = (int) Math.floorMod(id, (long) ids.length);
        if (ids[slot] > id) {
            return; // a newer bucket holds the slot: this sample is older than the span kept
        }
        if (ids[slot] != id) {
            ids[slot] = id;
            topSum[slot] = 0;
            samples[slot] = 0;
            hitsSum[slot] = 0;
            hitSamples[slot] = 0;
        }
        topSum[slot] += topScore;
        samples[slot]++;
        if (hits != null) {
            hitsSum[slot] += hits;
            hitSamples[slot]++;
        }
    }

    /** Takes back a sample {@link #add} counted (its bucket still held): a store of it that rolled back. */
    void remove(Instant at, double topScore, Integer hits) {
        long id = Math.floorDiv(at.getEpochSecond(), bucketSeconds);
        int slot = (int) Math.floorMod(id, (long) ids.length);
        if (ids[slot] != id || samples[slot] == 0) {
            return; // the bucket has turned over since: the sample is no longer counted
        }
        topSum[slot] -= topScore;
        samples[slot]--;
        if (hits != null && hitSamples[slot] > 0) {
            hitsSum[slot] -= hits;
            hitSamples[slot]--;
        }
    }

    /** Current window: the buckets up to and including now's; baseline: the buckets just before it. */
    Comparison compare(Instant now) {
        long current = Math.floorDiv(now.getEpochSecond(), bucketSeconds);
        long windowStart = current - windowBuckets; // exclusive
        long baselineStart = windowStart - (ids.length - windowBuckets); // exclusive
        double cTop = 0, bTop = 0;
        long cN = 0, bN = 0, cHits = 0, bHits = 0, cHN = 0, bHN = 0;
        for (int i = 0; i < ids.length; i++) {
            long id = ids[i];
            if (id > windowStart) {
                cTop += topSum[i];
                cN += samples[i];
                cHits += hitsSum[i];
                cHN += hitSamples[i];
            } else if (id > baselineStart) {
                bTop += topSum[i];
                bN += samples[i];
                bHits += hitsSum[i];
                bHN += hitSamples[i];
            }
        }
        return new Comparison(mean(cTop, cN), cN, mean(bTop, bN), bN, mean(cHits, cHN), cHN, mean(bHits, bHN), bHN);
    }

    private static double mean(double sum, long n) {
        return n == 0 ? Double.NaN : sum / n;
    }
}
