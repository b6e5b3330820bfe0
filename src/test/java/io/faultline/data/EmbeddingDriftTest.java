package io.faultline.data;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class EmbeddingDriftTest {

    private static final int REFERENCE = 500;
    private static final int CURRENT = 200;

    @ParameterizedTest
    @ValueSource(ints = { 64, 384 })
    void a_fresh_sample_of_the_same_cluster_is_not_drift(int dimensions) {
        SplittableRandom random = new SplittableRandom(dimensions);
        Cluster cluster = Cluster.random(dimensions, 1.0, random);
        EmbeddingDrift.Verdict verdict = EmbeddingDrift.test(cluster.sample(REFERENCE, random),
                cluster.sample(CURRENT, random), 200, 0.99, 1.0, 7);
        assertFalse(verdict.drift(), () -> "no drift expected: " + verdict);
        assertEquals(dimensions, verdict.dimensions());
        assertEquals(REFERENCE, verdict.referenceN());
        assertEquals(CURRENT, verdict.currentN());
    }

    @ParameterizedTest
    @ValueSource(ints = { 64, 384 })
    void a_cluster_rotated_by_ten_degrees_is_drift(int dimensions) {
        SplittableRandom random = new SplittableRandom(dimensions);
        Cluster cluster = Cluster.random(dimensions, 1.0, random);
        Cluster rotated = cluster.rotated(Math.toRadians(10), random);
        EmbeddingDrift.Verdict verdict = EmbeddingDrift.test(cluster.sample(REFERENCE, random),
                rotated.sample(CURRENT, random), 200, 0.99, 1.0, 7);
        assertTrue(verdict.drift(), () -> "drift expected: " + verdict);
        // The rotation alone moves the means by 1 - cos 10° = 0.0152; sampling noise only adds to it.
        assertTrue(verdict.distance() > Cluster.distanceOfRotation(Math.toRadians(10)), verdict::toString);
    }

    @ParameterizedTest
    @ValueSource(ints = { 64, 384 })
    void a_recentred_cluster_is_drift(int dimensions) {
        SplittableRandom random = new SplittableRandom(dimensions + 1);
        Cluster cluster = Cluster.random(dimensions, 1.0, random);
        EmbeddingDrift.Verdict verdict = EmbeddingDrift.test(cluster.sample(REFERENCE, random),
                cluster.recentred(0.25, random).sample(CURRENT, random), 200, 0.99, 1.0, 7);
        assertTrue(verdict.drift(), () -> "drift expected: " + verdict);
    }

    @Test
    void a_space_of_one_repeated_vector_is_not_drift_when_the_same_vector_keeps_coming() {
        // A deterministic model embedding the same text (a health-check query, a cached prompt) gives one vector: the
        // bootstrap's threshold is 0, and the rounding of a mean of identical floats must not read as a drift.
        SplittableRandom random = new SplittableRandom(3);
        float[] one = new float[384];
        for (int i = 0; i < one.length; i++) {
            one[i] = (float) random.nextGaussian();
        }
        List<float[]> reference = java.util.Collections.nCopies(REFERENCE, one);
        for (int current = 1; current <= CURRENT; current++) {
            EmbeddingDrift.Verdict verdict = EmbeddingDrift.test(reference, java.util.Collections.nCopies(current,
                    one), 50, 0.99, 1.0, 7);
            int n = current;
            assertFalse(verdict.drift(), () -> n + " copies: " + verdict);
        }
    }

    @Test
    void the_threshold_depends_only_on_the_data_and_the_seed() {
        SplittableRandom random = new SplittableRandom(3);
        List<float[]> reference = Cluster.random(64, 1.0, random).sample(REFERENCE, random);
        double a = EmbeddingDrift.threshold(reference, CURRENT, 200, 0.99, 1.0, 11);
        double b = EmbeddingDrift.threshold(reference, CURRENT, 200, 0.99, 1.0, 11);
        assertEquals(a, b);
        assertTrue(a > 0);
        // A smaller current window has noisier means, so it needs a wider threshold.
        assertTrue(EmbeddingDrift.threshold(reference, 20, 200, 0.99, 1.0, 11) > a);
        // The margin scales the quantile.
        assertEquals(2 * a, EmbeddingDrift.threshold(reference, CURRENT, 200, 0.99, 2.0, 11), 1e-15);
    }

    @Test
    void the_threshold_covers_the_noise_of_both_windows() {
        // Both means are noisy; the expected squared distance of two independent means is proportional to
        // 1/n + 1/m. A bootstrap of the current window alone would sit near 1/m and raise alarms on clean data.
        SplittableRandom random = new SplittableRandom(5);
        Cluster cluster = Cluster.random(384, 1.0, random);
        List<float[]> reference = cluster.sample(REFERENCE, random);
        double median = EmbeddingDrift.threshold(reference, CURRENT, 200, 0.5, 1.0, 1);
        double expected = 0.5 * (1.0 / REFERENCE + 1.0 / CURRENT);
        assertEquals(expected, median, expected * 0.15);
    }

    @Test
    void a_mean_exactly_on_the_centre_gives_the_rotation_distance() {
        SplittableRandom random = new SplittableRandom(9);
        Cluster cluster = Cluster.random(64, 1.0, random);
        double radians = Math.toRadians(5);
        double distance = EmbeddingDrift.cosineDistance(EmbeddingDrift.mean(cluster.symmetric(250, random)),
                EmbeddingDrift.mean(cluster.rotated(radians, random).symmetric(100, random)));
        assertEquals(Cluster.distanceOfRotation(radians), distance, 1e-6);
    }

    @Test
    void cosine_distance_handles_zero_vectors_and_refuses_mixed_dimensions() {
        assertEquals(0, EmbeddingDrift.cosineDistance(new double[3], new double[3]));
        assertEquals(1, EmbeddingDrift.cosineDistance(new double[] { 1, 0 }, new double[2]));
        assertEquals(2, EmbeddingDrift.cosineDistance(new double[] { 1, 0 }, new double[] { -1, 0 }), 1e-12);
        assertThrows(IllegalArgumentException.class,
                () -> EmbeddingDrift.cosineDistance(new double[2], new double[3]));
        assertThrows(IllegalArgumentException.class, () -> EmbeddingDrift.mean(List.of()));
    }
}
