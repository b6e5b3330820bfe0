package io.faultline.eval;

/** The Wilson score interval of a proportion: honest at small n and at rates near 0 or 1, unlike the normal one. */
public final class Wilson {

    private static final double Z95 = 1.959964;

    private Wilson() {
    }

    /** The 95% interval {low, high} of k successes in n trials ({0, 1} when n is 0). */
    public static double[] interval(int k, int n) {
        if (n == 0) {
            return new double[] {0, 1};
        }
        double p = (double) k / n;
        double z2 = Z95 * Z95;
        double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
        double half = Z95 * Math.sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / (1 + z2 / n);
        return new double[] {Math.max(0, centre - half), Math.min(1, centre + half)};
    }
}
