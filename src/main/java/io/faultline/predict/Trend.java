package io.faultline.predict;

/** Least squares line through points, as Prometheus' {@code predict_linear} fits it, with its R². */
public record Trend(double slope, double intercept, double r2, int points) {

    /** The fit of y over x; fewer than two distinct x give a flat line with R² 0. */
    public static Trend fit(double[] x, double[] y, int n) {
        if (n < 2) {
            return new Trend(0, n == 1 ? y[0] : 0, 0, n);
        }
        double mx = 0;
        double my = 0;
        for (int i = 0; i < n; i++) {
            mx += x[i];
            my += y[i];
        }
        mx /= n;
        my /= n;
        double sxx = 0;
        double sxy = 0;
        double syy = 0;
        for (int i = 0; i < n; i++) {
            double dx = x[i] - mx;
            double dy = y[i] - my;
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
        if (sxx == 0) {
            return new Trend(0, my, 0, n);
        }
        double slope = sxy / sxx;
        // A perfectly flat series is fitted exactly but says nothing about a trend.
        double r2 = syy == 0 ? 0 : (sxy * sxy) / (sxx * syy);
        return new Trend(slope, my - slope * mx, r2, n);
    }

    public double at(double x) {
        return intercept + slope * x;
    }

    /**
     * The calibrated confidence of a projected failure: a logistic map of the fit's quality and of how far inside
     * the horizon the failure is projected. {@code logit = 4 (quality - 0.5) + 3 (1 - ttf/horizon) - 0.5}, so a
     * barely significant fit projected to the end of the horizon is ~0.38 (not predicted) and a clean fit projected
     * at a third of the horizon ~0.9 (README: "Confidence").
     */
    public static double confidence(double quality, double timeToFailureSeconds, double horizonSeconds) {
        double u = Math.max(0, Math.min(1, timeToFailureSeconds / horizonSeconds));
        double q = Math.max(0, Math.min(1, quality));
        double logit = 4 * (q - 0.5) + 3 * (1 - u) - 0.5;
        return round(1 / (1 + Math.exp(-logit)));
    }

    /** Two-sided confidence 1 - p of a z score (the normal CDF by Abramowitz and Stegun 7.1.26). */
    public static double twoSided(double z) {
        double t = 1 / (1 + 0.3275911 * Math.abs(z) / Math.sqrt(2));
        double erf = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                + t * 1.061405429)))) * Math.exp(-z * z / 2);
        return Math.max(0, Math.min(1, erf));
    }

    static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
