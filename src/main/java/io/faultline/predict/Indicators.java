package io.faultline.predict;

import io.faultline.detect.RateLimitHeaders;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The leading indicators of one deployment's window (pure functions, no I/O): rate-limit headroom trend, latency
 * trend against the baseline, and a rising or accelerating share of failing calls per type. Each yields at most one
 * {@link Candidate} per failure type; formulas in README "Prediction".
 */
public final class Indicators {

    /** A projected failure before it is stored: what, when, how sure, what to do, and the figures behind it. */
    public record Candidate(String type, double confidence, double timeToFailureSeconds, String action,
            Map<String, Object> figures) {
    }

    /** The thresholds the indicators read (a plain record, so that tests and the bench can build one). */
    public record Settings(double horizonSeconds, double minConfidence, int minPoints, double minFit,
            int minCallsPerBucket, double latencyFactor, double timeoutMs, double minRiseZ, int minRecentErrors,
            double failureShare) {

        static Settings of(PredictConfig c) {
            return new Settings(c.horizon().toMillis() / 1000.0, c.minConfidence(), c.minPoints(), c.minFit(),
                    c.minCallsPerBucket(), c.latencyFactor(), c.timeout().toMillis(), c.minRiseZ(),
                    c.minRecentErrors(), c.failureShare());
        }
    }

    /** A jump up of more than this share of the limit between buckets is a reset: the fit starts after it. */
    static final double RESET_JUMP = 0.1;

    private Indicators() {
    }

    /** Where the reset of a limit type's latest reading comes from (slot = index in LIMIT_TYPES). */
    @FunctionalInterface
    public interface Resets {
        DeploymentWindow.Reading latest(DeploymentWindow w, int slot);
    }

    /** Every candidate of a window, at most one per type (the most confident); resets from the readings. */
    public static List<Candidate> evaluate(DeploymentWindow w, Double baselineP95, Settings s) {
        return evaluate(w, baselineP95, s, Indicators::latestReading);
    }

    /** Every candidate of a window, at most one per type (the most confident). */
    public static List<Candidate> evaluate(DeploymentWindow w, Double baselineP95, Settings s, Resets resets) {
        Map<String, Candidate> best = new LinkedHashMap<>();
        for (Candidate c : headroom(w, s, resets)) {
            keep(best, c);
        }
        Candidate latency = latency(w, baselineP95, s);
        if (latency != null) {
            keep(best, latency);
        }
        for (String type : DeploymentWindow.FAILURE_TYPES) {
            Candidate rise = failureShareRise(w, type, s);
            if (rise != null) {
                keep(best, rise);
            }
        }
        List<Candidate> out = new ArrayList<>();
        for (Candidate c : best.values()) {
            if (c.confidence() >= s.minConfidence()) {
                out.add(c);
            }
        }
        return out;
    }

    /** The largest share of a provider-level signal one deployment may hold: above it, it is that deployment's. */
    static final double MAX_SINGLE_SHARE = 0.6;
    /** A deployment's p95 counts as rising when its last third's mean is this factor above its first third's. */
    static final double RISING_P95 = 1.1;

    /**
     * The provider level: the indicators over the provider window (every call of the provider's deployments), kept
     * only when the signal is spread over its deployments, so that one failing deployment among many (which its own
     * indicators judge) is never called provider-wide:
     * <ul>
     * <li>headroom: two or more deployments read the limit type, all report the same limit, and wherever two read
     * in the same bucket their remaining values agree within 10% of the limit (one counter shared by the
     * organisation or key, as providers limit);</li>
     * <li>latency: two or more deployments' p95 rose (last third ≥ 1.1 × first third), and at least half of those
     * with calls in both thirds did;</li>
     * <li>failure shares: the last third's failures of the type come from two or more deployments, no one of them
     * holds more than 60%, and the rise is significant on these deployments' own summed counts.</li>
     * </ul>
     */
    public static List<Candidate> evaluateProvider(DeploymentWindow provider, List<DeploymentWindow> members,
            Double baselineP95, Settings s, Resets resets) {
        return evaluateProvider(provider, members.size(), type -> members, baselineP95, s, resets);
    }

    /**
     * As above, with the spread judged on {@code notFailing(type)}: the deployments not already failing with the
     * type, so that a provider-level prediction is about the deployments still to fail, not driven by those that
     * already do (their failures are not a forecast).
     */
    public static List<Candidate> evaluateProvider(DeploymentWindow provider, int deployments,
            java.util.function.Function<String, List<DeploymentWindow>> notFailing, Double baselineP95, Settings s,
            Resets resets) {
        List<Candidate> out = new ArrayList<>();
        for (Candidate c : evaluate(provider, baselineP95, s, resets)) {
            List<DeploymentWindow> members = notFailing.apply(c.type());
            String indicator = String.valueOf(c.figures().get("indicator"));
            Map<String, Object> spread = switch (indicator) {
                case "headroom_trend" -> sharedHeadroom(members, String.valueOf(c.figures().get("limit_type")));
                case "latency_trend" -> latencySpread(members);
                default -> failureSpread(members, c.type(), s);
            };
            if (spread == null) {
                continue;
            }
            Map<String, Object> f = new LinkedHashMap<>(c.figures());
            f.put("scope", "provider");
            f.put("deployments", deployments);
            f.putAll(spread);
            out.add(new Candidate(c.type(), c.confidence(), c.timeToFailureSeconds(),
                    providerAction(provider.provider(), c, spread), f));
        }
        return out;
    }

    /** Headroom of one counter shared by the deployments, or null (figures: how many read it). */
    static Map<String, Object> sharedHeadroom(List<DeploymentWindow> members, String limitType) {
        int slot = java.util.Arrays.asList(DeploymentWindow.LIMIT_TYPES).indexOf(limitType);
        if (slot < 0) {
            return null;
        }
        int reading = 0;
        double limit = Double.NaN;
        int n = members.isEmpty() ? 0 : members.get(0).buckets().length;
        double[] min = new double[n];
        double[] max = new double[n];
        int[] count = new int[n];
        for (DeploymentWindow m : members) {
            boolean reads = false;
            for (int i = 0; i < Math.min(n, m.buckets().length); i++) {
                DeploymentWindow.Bucket b = m.buckets()[i];
                DeploymentWindow.Reading r = b == null ? null : b.headroom()[slot];
                if (r == null || r.count() == 0) {
                    continue;
                }
                if (r.limit() <= 0 || (!Double.isNaN(limit) && r.limit() != limit)) {
                    return null; // no limit, or limits of their own: separate keys
                }
                limit = r.limit();
                reads = true;
                min[i] = count[i] == 0 ? r.remaining() : Math.min(min[i], r.remaining());
                max[i] = count[i] == 0 ? r.remaining() : Math.max(max[i], r.remaining());
                count[i]++;
            }
            reading += reads ? 1 : 0;
        }
        int together = 0;
        for (int i = 0; i < n; i++) {
            if (count[i] >= 2) {
                if (max[i] - min[i] > RESET_JUMP * limit) {
                    return null; // two counters, not one
                }
                together++;
            }
        }
        if (reading < 2 || together == 0) {
            return null;
        }
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("deployments_reading", reading);
        f.put("buckets_read_together", together);
        return f;
    }

    /** Latency rising on several deployments, or null (figures: how many rose of how many measured). */
    static Map<String, Object> latencySpread(List<DeploymentWindow> members) {
        int measured = 0;
        int rising = 0;
        for (DeploymentWindow m : members) {
            int n = m.buckets().length;
            int third = n / 3;
            if (third < 1) {
                return null;
            }
            double first = meanP95(m, 0, third);
            double last = meanP95(m, n - third, n);
            if (Double.isNaN(first) || Double.isNaN(last)) {
                continue;
            }
            measured++;
            rising += last >= first * RISING_P95 ? 1 : 0;
        }
        if (rising < 2 || 2 * rising < measured) {
            return null;
        }
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("deployments_rising", rising);
        f.put("deployments_measured", measured);
        return f;
    }

    private static double meanP95(DeploymentWindow w, int from, int to) {
        double sum = 0;
        int k = 0;
        for (int i = from; i < to; i++) {
            DeploymentWindow.Bucket b = w.buckets()[i];
            if (b != null && b.p95() != null) {
                sum += b.p95();
                k++;
            }
        }
        return k == 0 ? Double.NaN : sum / k;
    }

    /**
     * Failures of a type spread over several deployments in the window's last third, and the rise significant on
     * these deployments' own calls (their counts summed bucket by bucket), or null.
     */
    static Map<String, Object> failureSpread(List<DeploymentWindow> members, String type, Settings s) {
        int slot = DeploymentWindow.typeIndex(type);
        if (slot < 0) {
            return null;
        }
        long total = 0;
        long most = 0;
        int failing = 0;
        for (DeploymentWindow m : members) {
            int n = m.buckets().length;
            long failed = 0;
            for (int i = n - n / 3; i < n; i++) {
                DeploymentWindow.Bucket b = m.buckets()[i];
                failed += b == null ? 0 : b.failed()[slot];
            }
            total += failed;
            most = Math.max(most, failed);
            failing += failed > 0 ? 1 : 0;
        }
        if (failing < 2 || most > MAX_SINGLE_SHARE * total || failureShareRise(summed(members), type, s) == null) {
            return null;
        }
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("deployments_failing", failing);
        f.put("largest_deployment_share", Trend.round((double) most / total));
        return f;
    }

    /** The deployments' call and failure counts summed per bucket (no latency, no headroom). */
    static DeploymentWindow summed(List<DeploymentWindow> members) {
        DeploymentWindow first = members.get(0);
        int n = first.buckets().length;
        DeploymentWindow.Bucket[] buckets = new DeploymentWindow.Bucket[n];
        int types = DeploymentWindow.FAILURE_TYPES.length;
        for (int i = 0; i < n; i++) {
            int calls = 0;
            int ok = 0;
            int[] failed = new int[types];
            for (DeploymentWindow m : members) {
                DeploymentWindow.Bucket b = i < m.buckets().length ? m.buckets()[i] : null;
                if (b != null) {
                    calls += b.calls();
                    ok += b.ok();
                    for (int t = 0; t < types; t++) {
                        failed[t] += b.failed()[t];
                    }
                }
            }
            buckets[i] = calls == 0 ? null : new DeploymentWindow.Bucket(calls, ok, null, null, failed,
                    new Instant[types], new Instant[types], new DeploymentWindow.Reading[DeploymentWindow.LIMIT_TYPES.length]);
        }
        return new DeploymentWindow(first.provider(), DeploymentWindow.PROVIDER_WIDE, null, first.from(), first.to(),
                first.bucketMillis(), buckets);
    }

    private static String providerAction(String provider, Candidate c, Map<String, Object> spread) {
        String when = " (failure in about " + minutes(c.timeToFailureSeconds()) + ")";
        return switch (String.valueOf(c.figures().get("indicator"))) {
            case "headroom_trend" -> "Provider-wide: the " + c.figures().get("limit_type") + " headroom that "
                    + spread.get("deployments_reading") + " deployments of " + provider + " share runs out" + when
                    + "; thinning one of them only moves its load onto the same limit: slow the callers down or"
                    + " route to another provider's deployments";
            case "latency_trend" -> "Provider-wide: latency of " + provider + " is rising on "
                    + spread.get("deployments_rising") + " deployments" + when
                    + "; route latency-sensitive traffic to another provider";
            default -> switch (c.type()) {
                case "overloaded" -> "Provider-wide: " + provider + " answers overloaded more and more, on "
                        + spread.get("deployments_failing") + " deployments" + when
                        + "; back off and prepare the fallback to another provider";
                case "rate_limit" -> "Provider-wide: rate-limited calls of " + provider + " are rising on "
                        + spread.get("deployments_failing") + " deployments" + when
                        + "; slow the callers down or route to another provider";
                case "timeout" -> "Provider-wide: timed-out calls of " + provider + " are rising on "
                        + spread.get("deployments_failing") + " deployments" + when
                        + "; route latency-sensitive traffic to another provider";
                default -> "Provider-wide: server errors of " + provider + " are accelerating on "
                        + spread.get("deployments_failing") + " deployments" + when
                        + "; prepare the fallback to another provider";
            };
        };
    }

    private static void keep(Map<String, Candidate> best, Candidate c) {
        best.merge(c.type(), c, (a, b) -> b.confidence() > a.confidence() ? b : a);
    }

    /**
     * Headroom per limit type: least squares over the readings since the last reset (a jump up of more than 10% of
     * the limit), time to zero = fitted remaining now / drain rate, the fit read no further than a bucket past the
     * last reading (no calls, no drain); no risk when the limit resets first.
     */
    static List<Candidate> headroom(DeploymentWindow w, Settings s, Resets resets) {
        List<Candidate> out = new ArrayList<>();
        double now = w.to().toEpochMilli() / 1000.0;
        int n = w.buckets().length;
        for (int slot = 0; slot < DeploymentWindow.LIMIT_TYPES.length; slot++) {
            double[] x = new double[n];
            double[] y = new double[n];
            double limit = -1;
            int k = 0;
            for (DeploymentWindow.Bucket b : w.buckets()) {
                DeploymentWindow.Reading r = b == null ? null : b.headroom()[slot];
                if (r == null || r.count() == 0) {
                    continue;
                }
                limit = Math.max(limit, r.limit());
                double jump = RESET_JUMP * (r.limit() > 0 ? r.limit() : Math.max(1, r.remaining()));
                if (k > 0 && r.remaining() > y[k - 1] + jump) {
                    k = 0; // a reset: the readings before it belong to an earlier cycle
                }
                x[k] = r.atEpochSeconds() - now;
                y[k] = r.remaining();
                k++;
            }
            if (k < s.minPoints()) {
                continue;
            }
            Trend t = Trend.fit(x, y, k);
            if (t.slope() >= 0 || t.r2() < s.minFit()) {
                continue;
            }
            // The counter drains with the calls, not with the clock: read the fit at most a bucket after the last
            // reading (under steady traffic a bucket's readings sit at their mean time, up to a bucket before now),
            // so that a deployment that stopped calling keeps what its last reading said instead of draining on.
            double remainingNow = Math.max(0, Math.min(t.at(Math.min(0, x[k - 1] + w.bucketMillis() / 1000.0)),
                    y[k - 1]));
            double ttf = remainingNow / -t.slope();
            if (ttf > s.horizonSeconds()) {
                continue;
            }
            Instant resetAt = resetAt(resets.latest(w, slot));
            Instant zeroAt = w.to().plusMillis((long) (ttf * 1000));
            if (resetAt != null && resetAt.isBefore(zeroAt)) {
                continue; // the window refills before it runs dry
            }
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("indicator", "headroom_trend");
            f.put("limit_type", DeploymentWindow.LIMIT_TYPES[slot]);
            f.put("remaining", Math.round(y[k - 1]));
            f.put("limit", limit > 0 ? Math.round(limit) : null);
            f.put("fitted_remaining_now", Math.round(remainingNow));
            f.put("drain_per_minute", Trend.round(-t.slope() * 60));
            f.put("r2", Trend.round(t.r2()));
            f.put("points", k);
            f.put("time_to_zero_seconds", Math.round(ttf));
            f.put("resets_at", resetAt == null ? null : resetAt.toString());
            double confidence = Trend.confidence(t.r2(), ttf, s.horizonSeconds());
            out.add(new Candidate("rate_limit", confidence, ttf, "Reduce traffic to " + w.deployment()
                    + " or shift it to another deployment of " + group(w) + ": its " + DeploymentWindow.LIMIT_TYPES[slot]
                    + " headroom runs out in about " + minutes(ttf) + (resetAt == null ? "" : ", before its reset at "
                            + resetAt), f));
        }
        return out;
    }

    /** The latest reading of a slot in the window itself. */
    static DeploymentWindow.Reading latestReading(DeploymentWindow w, int slot) {
        for (int i = w.buckets().length - 1; i >= 0; i--) {
            DeploymentWindow.Bucket b = w.buckets()[i];
            if (b != null && b.headroom()[slot] != null) {
                return b.headroom()[slot];
            }
        }
        return null;
    }

    /** The reset of a reading: an RFC 3339 instant (Anthropic) or a Go duration after the reading (OpenAI). */
    static Instant resetAt(DeploymentWindow.Reading r) {
        if (r == null || r.reset() == null || r.resetSeenAt() == null) {
            return null;
        }
        try {
            return Instant.parse(r.reset().trim());
        } catch (DateTimeParseException e) {
            Duration d = RateLimitHeaders.goDuration(r.reset());
            return d == null ? null : r.resetSeenAt().plus(d);
        }
    }

    /**
     * Latency: least squares of the bucket p95 (and p50) of successful calls; both must rise, the p95 fit must hold
     * (R²) and, with a baseline, already be above the baseline p95. Projected to the nearer of the timeout and
     * {@code latencyFactor} × baseline p95.
     */
    static Candidate latency(DeploymentWindow w, Double baselineP95, Settings s) {
        int n = w.buckets().length;
        double[] x = new double[n];
        double[] y95 = new double[n];
        double[] y50 = new double[n];
        int k = 0;
        double width = w.bucketMillis() / 1000.0;
        double span = (w.to().toEpochMilli() - w.from().toEpochMilli()) / 1000.0;
        for (int i = 0; i < n; i++) {
            DeploymentWindow.Bucket b = w.buckets()[i];
            if (b == null || b.ok() < s.minCallsPerBucket() || b.p95() == null) {
                continue;
            }
            x[k] = (i + 0.5) * width - span;
            y95[k] = b.p95();
            y50[k] = b.p50();
            k++;
        }
        if (k < s.minPoints()) {
            return null;
        }
        Trend p95 = Trend.fit(x, y95, k);
        Trend p50 = Trend.fit(x, y50, k);
        if (p95.slope() <= 0 || p50.slope() <= 0 || p95.r2() < s.minFit()) {
            return null;
        }
        double now95 = p95.at(0);
        if (baselineP95 != null && now95 <= baselineP95) {
            return null; // rising, but still inside the normal range
        }
        double target = s.timeoutMs();
        String line = "timeout";
        if (baselineP95 != null && baselineP95 * s.latencyFactor() < target) {
            target = baselineP95 * s.latencyFactor();
            line = "baseline_factor";
        }
        double ttf = Math.max(0, (target - now95) / p95.slope());
        if (ttf > s.horizonSeconds()) {
            return null;
        }
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("indicator", "latency_trend");
        f.put("p95_ms_now", Math.round(now95));
        f.put("p50_ms_now", Math.round(p50.at(0)));
        f.put("p95_rise_ms_per_minute", Math.round(p95.slope() * 60));
        f.put("p50_rise_ms_per_minute", Math.round(p50.slope() * 60));
        f.put("r2", Trend.round(p95.r2()));
        f.put("points", k);
        f.put("baseline_p95_ms", baselineP95 == null ? null : Math.round(baselineP95));
        f.put("target_ms", Math.round(target));
        f.put("target", line);
        f.put("timeout_ms", Math.round(s.timeoutMs()));
        f.put("time_to_target_seconds", Math.round(ttf));
        double confidence = Trend.confidence(p95.r2(), ttf, s.horizonSeconds());
        return new Candidate("timeout", confidence, ttf, "Shift latency-sensitive traffic away from " + w.deployment()
                + " (p95 " + Math.round(now95) + " ms, reaching " + Math.round(target) + " ms in about "
                + minutes(ttf) + ") or route " + group(w) + " to a fallback", f);
    }

    /**
     * A share of calls failing with {@code type} that rises across the window's thirds (s1 < s2 < s3, the rise from
     * s1 to s3 significant at z ≥ minRiseZ, at least minRecentErrors in the last third). Outages must accelerate
     * (s3 - s2 > s2 - s1, a positive second derivative) and are projected along the exponential through s1 and s3;
     * other types are projected linearly. The failure line is {@code failureShare}.
     */
    static Candidate failureShareRise(DeploymentWindow w, String type, Settings s) {
        int slot = DeploymentWindow.typeIndex(type);
        int n = w.buckets().length;
        int third = n / 3;
        if (third < 1) {
            return null;
        }
        long[] calls = new long[3];
        long[] failed = new long[3];
        double[] x = new double[n];
        double[] y = new double[n];
        int k = 0;
        double width = w.bucketMillis() / 1000.0;
        for (int i = n - 3 * third; i < n; i++) {
            DeploymentWindow.Bucket b = w.buckets()[i];
            if (b == null || b.calls() == 0) {
                continue;
            }
            int part = (i - (n - 3 * third)) / third;
            calls[part] += b.calls();
            failed[part] += b.failed()[slot];
            x[k] = (i + 0.5) * width;
            y[k] = (double) b.failed()[slot] / b.calls();
            k++;
        }
        if (calls[0] == 0 || calls[1] == 0 || calls[2] == 0 || failed[2] < s.minRecentErrors()) {
            return null;
        }
        double s1 = (double) failed[0] / calls[0];
        double s2 = (double) failed[1] / calls[1];
        double s3 = (double) failed[2] / calls[2];
        if (!(s1 < s2 && s2 < s3) || s3 >= s.failureShare()) {
            return null; // not rising, or already failing (then it is a failure, not a prediction)
        }
        double pooled = (double) (failed[0] + failed[2]) / (calls[0] + calls[2]);
        double se = Math.sqrt(pooled * (1 - pooled) * (1.0 / calls[0] + 1.0 / calls[2]));
        double z = se == 0 ? 0 : (s3 - s1) / se;
        if (z < s.minRiseZ()) {
            return null;
        }
        boolean accelerating = s3 - s2 > s2 - s1;
        if ("outage".equals(type) && !accelerating) {
            return null;
        }
        double thirdSeconds = third * width;
        double ttfFromMid;
        if (accelerating) {
            // s1 smoothed so that a clean first third still gives a finite growth factor.
            double s1s = (failed[0] + 0.5) / (calls[0] + 1.0);
            double growth = Math.sqrt(s3 / s1s);
            if (growth <= 1) {
                return null;
            }
            ttfFromMid = thirdSeconds * Math.log(s.failureShare() / s3) / Math.log(growth);
        } else {
            ttfFromMid = (s.failureShare() - s3) / ((s3 - s1) / (2 * thirdSeconds));
        }
        double ttf = Math.max(0, ttfFromMid - thirdSeconds / 2);
        if (ttf > s.horizonSeconds()) {
            return null;
        }
        Trend t = Trend.fit(x, y, k);
        double quality = (Trend.twoSided(z) + t.r2()) / 2;
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("indicator", accelerating ? "failure_share_acceleration" : "failure_share_rise");
        f.put("shares", List.of(Trend.round(s1), Trend.round(s2), Trend.round(s3)));
        f.put("failed", List.of(failed[0], failed[1], failed[2]));
        f.put("calls", List.of(calls[0], calls[1], calls[2]));
        f.put("z", Trend.round(z));
        f.put("r2", Trend.round(t.r2()));
        f.put("second_difference", Trend.round(s3 - 2 * s2 + s1));
        f.put("failure_share", s.failureShare());
        f.put("time_to_failure_seconds", Math.round(ttf));
        double confidence = Trend.confidence(quality, ttf, s.horizonSeconds());
        String action = switch (type) {
            case "overloaded" -> "Back off and route " + group(w) + " to a fallback provider: the overloaded share"
                    + " of " + w.deployment() + " is rising";
            case "rate_limit" -> "Reduce traffic to " + w.deployment() + ": its share of rate-limited calls is rising";
            case "timeout" -> "Shift latency-sensitive traffic away from " + w.deployment()
                    + ": its share of timed-out calls is rising";
            default -> "Prepare the fallback for " + group(w) + " and reduce traffic to " + w.deployment()
                    + ": its server errors are accelerating";
        };
        return new Candidate(type, confidence, ttf, action + " (failure in about " + minutes(ttf) + ")", f);
    }

    private static String group(DeploymentWindow w) {
        return w.modelGroup() == null ? "its model group" : w.modelGroup();
    }

    private static String minutes(double seconds) {
        return seconds < 90 ? Math.round(seconds) + " s" : Math.round(seconds / 60) + " min";
    }
}
