package io.faultline.baseline;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Percentiles against a brute-force reading of the nearest-rank definition, on the same samples. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PercentilesTest {

    /** The smallest sample v such that at least p of all samples are <= v: checked value by value. */
    private static double bruteForce(double[] samples, double p) {
        double best = Double.POSITIVE_INFINITY;
        for (double candidate : samples) {
            int atMost = 0;
            for (double v : samples) {
                if (v <= candidate) {
                    atMost++;
                }
            }
            if (atMost >= p * samples.length && candidate < best) {
                best = candidate;
            }
        }
        return best;
    }

    @Test
    void percentiles_equal_the_brute_force_nearest_rank_on_random_samples() {
        Random random = new Random(42);
        for (int round = 0; round < 200; round++) {
            int n = 1 + random.nextInt(1500);
            double[] samples = new double[n];
            for (int i = 0; i < n; i++) {
                // Long-tailed like latencies, with ties.
                samples[i] = Math.round(Math.exp(random.nextGaussian()) * 100);
            }
            Percentiles p = Percentiles.of(samples);
            assertThat(p.p50()).isEqualTo(bruteForce(samples, 0.50));
            assertThat(p.p95()).isEqualTo(bruteForce(samples, 0.95));
            assertThat(p.p99()).isEqualTo(bruteForce(samples, 0.99));
            double sum = 0;
            for (double v : samples) {
                sum += v;
            }
            assertThat(p.mean()).isCloseTo(sum / n, within(1e-9));
            assertThat(p.size()).isEqualTo(n);
        }
    }

    @Test
    void small_samples_take_the_nearest_rank() {
        Percentiles p = Percentiles.of(new double[] { 30, 10, 20 });
        assertThat(p.p50()).isEqualTo(20);
        assertThat(p.p95()).isEqualTo(30);
        assertThat(p.p99()).isEqualTo(30);
    }
}
