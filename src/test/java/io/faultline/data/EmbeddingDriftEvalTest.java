package io.faultline.data;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Detection rate and false-alarm rate of the mean-cosine bootstrap test over repeated seeds, with the service's
 * defaults (reference 500, current window 200, 200 resamples, quantile 0.99, margin 1). Each seed draws a new cluster,
 * a new reference, a new current window and a new bootstrap. Written to {@code target/eval/embedding-drift.md}.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class EmbeddingDriftEvalTest {

    private static final int SEEDS = 50;
    private static final int REFERENCE = 500;
    private static final int CURRENT = 200;
    private static final int RESAMPLES = 200;
    private static final double QUANTILE = 0.99;

    private record Scenario(String name, BiFunction<Cluster, SplittableRandom, Cluster> shift) {
    }

    @Test
    void detection_and_false_alarm_rates_over_fifty_seeds() throws IOException {
        List<Scenario> scenarios = List.of(
                new Scenario("no shift (fresh sample, same cluster)", (c, r) -> c),
                new Scenario("rotation 2°", (c, r) -> c.rotated(Math.toRadians(2), r)),
                new Scenario("rotation 4°", (c, r) -> c.rotated(Math.toRadians(4), r)),
                new Scenario("rotation 6°", (c, r) -> c.rotated(Math.toRadians(6), r)),
                new Scenario("rotation 10°", (c, r) -> c.rotated(Math.toRadians(10), r)),
                new Scenario("re-centred by 0.25 (orthogonal offset)", (c, r) -> c.recentred(0.25, r)));
        StringBuilder md = new StringBuilder("## Embedding drift (mean cosine distance, bootstrap threshold)\n\n")
                .append("Gaussian clusters: centre of norm 1 in a random direction, isotropic noise of expected norm"
                        + " 1 (a vector's cosine to its centre is about 0.7). Reference ").append(REFERENCE)
                .append(" vectors, current window ").append(CURRENT).append(", ").append(RESAMPLES)
                .append(" bootstrap resamples, quantile ").append(QUANTILE).append(", margin 1, ").append(SEEDS)
                .append(" seeds per row. A rotation turns the whole cluster by that angle; the re-centring moves its"
                        + " centre orthogonally.\n\n")
                .append("| dimensions | scenario | flagged | rate | median distance | median threshold |\n")
                .append("|---|---|---|---|---|---|\n");
        for (int dimensions : new int[] { 64, 384 }) {
            for (Scenario scenario : scenarios) {
                int flagged = 0;
                double[] distances = new double[SEEDS];
                double[] thresholds = new double[SEEDS];
                for (int seed = 0; seed < SEEDS; seed++) {
                    SplittableRandom random = new SplittableRandom(1000L * dimensions + seed);
                    Cluster cluster = Cluster.random(dimensions, 1.0, random);
                    List<float[]> reference = cluster.sample(REFERENCE, random);
                    List<float[]> current = scenario.shift().apply(cluster, random).sample(CURRENT, random);
                    EmbeddingDrift.Verdict v = EmbeddingDrift.test(reference, current, RESAMPLES, QUANTILE, 1.0,
                            random.nextLong());
                    flagged += v.drift() ? 1 : 0;
                    distances[seed] = v.distance();
                    thresholds[seed] = v.threshold();
                }
                double rate = (double) flagged / SEEDS;
                md.append(String.format(Locale.ROOT, "| %d | %s | %d/%d | %.2f | %.5f | %.5f |%n", dimensions,
                        scenario.name(), flagged, SEEDS, rate, median(distances), median(thresholds)));
                if (scenario.name().startsWith("no shift")) {
                    assertTrue(rate <= 0.05, "false-alarm rate " + rate + " at d=" + dimensions);
                } else if (scenario.name().equals("rotation 10°") || scenario.name().startsWith("re-centred")) {
                    assertTrue(rate >= 0.95, "detection rate " + rate + " for " + scenario.name() + " at d="
                            + dimensions);
                }
            }
        }
        // Fifty seeds bound a false-alarm rate only coarsely; the cheap 64-dimensional case gets ten times as many.
        int alarms = 0;
        int many = 10 * SEEDS;
        for (int seed = 0; seed < many; seed++) {
            SplittableRandom random = new SplittableRandom(7_000_000L + seed);
            Cluster cluster = Cluster.random(64, 1.0, random);
            alarms += EmbeddingDrift.test(cluster.sample(REFERENCE, random), cluster.sample(CURRENT, random),
                    RESAMPLES, QUANTILE, 1.0, random.nextLong()).drift() ? 1 : 0;
        }
        md.append(String.format(Locale.ROOT, "| 64 | no shift, %d seeds | %d/%d | %.3f | | |%n", many, alarms, many,
                (double) alarms / many));
        assertTrue(alarms <= 0.03 * many, "false alarms " + alarms + " of " + many);
        md.append("\nNo shift: the rate is the false-alarm rate (expected near 1 - quantile = 0.01). Shifted rows:"
                + " the rate is the detection rate. Floors asserted: false alarms <= 0.05, detection >= 0.95 for the"
                + " 10° rotation and the re-centring.\n\n");
        Path out = Path.of("target", "eval", "embedding-drift.md");
        Files.createDirectories(out.getParent());
        Files.writeString(out, md);
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
