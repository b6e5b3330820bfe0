package io.faultline.data;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Mean-embedding cosine distance between a reference window and a current window, with a threshold from a seeded
 * bootstrap over the reference (the "distance" method of Evidently's embedding drift, with its bootstrap threshold).
 * Pure and stateless: every method is thread-safe and gives the same answer for the same input and seed.
 *
 * <p>The bootstrap draws, with replacement from the reference, a pseudo-reference of the reference's size and a
 * pseudo-current window of the current window's size, and measures the distance between their means. Drawing both
 * sides (not only the current one against the fixed reference mean) matters: the real comparison has sampling noise
 * on both means, and a bootstrap of one side only underestimates the null spread by a factor n/(n+m) in variance,
 * which with the defaults (500 against 200) would roughly double the false alarms.
 */
public final class EmbeddingDrift {

    /**
     * One comparison.
     *
     * @param distance   1 - cos(mean of reference, mean of current)
     * @param threshold  the bootstrap quantile of that distance under "no drift", times the margin
     * @param drift      distance strictly above threshold (and above the rounding of a mean)
     */
    public record Verdict(double distance, double threshold, int referenceN, int currentN, int dimensions,
            boolean drift) {

        /** How far past the threshold (1 = at it); 0 when the threshold is 0. */
        public double ratio() {
            return threshold > 0 ? distance / threshold : 0;
        }
    }

    /**
     * Distances at or below this are the rounding of a mean of identical floats, not a drift: a space of one repeated
     * vector (a deterministic model embedding one text) has a bootstrap threshold of 0, and its current mean came out
     * 1.1e-16 away. A 10 degree rotation is 0.015; float32 vectors cannot move a cosine by less than about 1e-7.
     */
    static final double MIN_DRIFT_DISTANCE = 1e-9;

    private EmbeddingDrift() {
    }

    /** The component-wise mean, in double precision. */
    public static double[] mean(List<float[]> vectors) {
        if (vectors.isEmpty()) {
            throw new IllegalArgumentException("no vectors");
        }
        double[] sum = new double[vectors.get(0).length];
        for (float[] v : vectors) {
            add(sum, v);
        }
        return scale(sum, 1.0 / vectors.size());
    }

    /** 1 - cosine similarity, in [0, 2]; 0 when both are the zero vector, 1 when only one is. */
    public static double cosineDistance(double[] a, double[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("dimensions differ: " + a.length + " and " + b.length);
        }
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        if (na == 0 && nb == 0) {
            return 0;
        }
        if (na == 0 || nb == 0) {
            return 1;
        }
        double cos = dot / (Math.sqrt(na) * Math.sqrt(nb));
        return 1 - Math.max(-1, Math.min(1, cos));
    }

    /**
     * The share of zero vectors (every component 0) among {@code vectors}; 0 when there are none. The cosine of means
     * cannot see them: zeros shrink the current mean without turning it, so a broken replica answering zeros for half
     * the calls leaves the distance where it was.
     */
    public static double zeroShare(List<float[]> vectors) {
        if (vectors.isEmpty()) {
            return 0;
        }
        int zeros = 0;
        for (float[] v : vectors) {
            if (isZero(v)) {
                zeros++;
            }
        }
        return (double) zeros / vectors.size();
    }

    /**
     * The vectors that are not zero vectors, in order. A zero vector has no direction: it shrinks a mean without
     * turning it, so the noise of a mean's direction is that of its non-zero vectors alone, and a threshold for a
     * window must be bootstrapped for their count (and from the reference's non-zero vectors), not for the window's.
     */
    public static List<float[]> nonZero(List<float[]> vectors) {
        List<float[]> out = new java.util.ArrayList<>(vectors.size());
        for (float[] v : vectors) {
            if (!isZero(v)) {
                out.add(v);
            }
        }
        return out;
    }

    private static boolean isZero(float[] v) {
        for (float f : v) {
            if (f != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * The {@code quantile} (nearest rank) of the mean cosine distance between two windows drawn from the reference
     * alone, of the reference's size and of {@code currentN}, over {@code resamples} bootstrap draws, times
     * {@code margin}.
     */
    public static double threshold(List<float[]> reference, int currentN, int resamples, double quantile,
            double margin, long seed) {
        if (reference.isEmpty() || currentN < 1 || resamples < 1) {
            throw new IllegalArgumentException("need a reference, a current size and at least one resample");
        }
        int n = reference.size();
        int d = reference.get(0).length;
        SplittableRandom random = new SplittableRandom(seed);
        double[] distances = new double[resamples];
        double[] pseudoReference = new double[d];
        double[] pseudoCurrent = new double[d];
        for (int b = 0; b < resamples; b++) {
            Arrays.fill(pseudoReference, 0);
            Arrays.fill(pseudoCurrent, 0);
            for (int i = 0; i < n; i++) {
                add(pseudoReference, reference.get(random.nextInt(n)));
            }
            for (int i = 0; i < currentN; i++) {
                add(pseudoCurrent, reference.get(random.nextInt(n)));
            }
            // The scale of a mean does not change a cosine: the sums serve as well.
            distances[b] = cosineDistance(pseudoReference, pseudoCurrent);
        }
        Arrays.sort(distances);
        int rank = (int) Math.ceil(quantile * resamples) - 1;
        return distances[Math.max(0, Math.min(resamples - 1, rank))] * margin;
    }

    /** Compares a current window with the reference, given the reference's mean and the threshold for this size. */
    public static Verdict compare(double[] referenceMean, int referenceN, double threshold, List<float[]> current) {
        double distance = cosineDistance(referenceMean, mean(current));
        return new Verdict(distance, threshold, referenceN, current.size(), referenceMean.length,
                distance > threshold && distance > MIN_DRIFT_DISTANCE);
    }

    /** The whole test in one call: threshold by bootstrap, then the comparison. */
    public static Verdict test(List<float[]> reference, List<float[]> current, int resamples, double quantile,
            double margin, long seed) {
        double threshold = threshold(reference, current.size(), resamples, quantile, margin, seed);
        return compare(mean(reference), reference.size(), threshold, current);
    }

    private static void add(double[] sum, float[] v) {
        for (int i = 0; i < sum.length; i++) {
            sum[i] += v[i];
        }
    }

    private static double[] scale(double[] v, double by) {
        for (int i = 0; i < v.length; i++) {
            v[i] *= by;
        }
        return v;
    }
}
