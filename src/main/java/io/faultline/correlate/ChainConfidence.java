package io.faultline.correlate;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Confidence formulas of the causal chains other than fallback → quality (README: "Correlation"), as pure functions.
 * Each discounts what would have happened anyway, measured on the same scope before the cause began.
 */
final class ChainConfidence {

    private ChainConfidence() {
    }

    /**
     * Rate limit → retry storm → token spike: the share of the spike's excess tokens that the rate-limited traces'
     * retries explain beyond the retried traffic the deployment always has, times the support of the traces seen:
     * {@code min(1, max(0, T_retry - T_retry_base) / max(0, T - T_base)) * n / (n + 1)}, where {@code T} is the span's
     * tokens on the deployment, {@code T_base} its token rate before the rate limit began scaled to the span,
     * {@code T_retry} the span's tokens of calls whose trace holds a failed attempt of the rate-limit episode and
     * {@code T_retry_base} the tokens of calls that followed a 429 in their trace before, scaled alike.
     */
    static Confidence.Scored retryStorm(long spanTokens, long retryTokens, long retriedTraces, long baselineTokens,
            long baselineRetryTokens, Duration span, Duration baseline) {
        double scale = (double) Math.max(1, span.toMillis()) / Math.max(1, baseline.toMillis());
        double expected = baselineTokens * scale;
        double expectedRetry = baselineRetryTokens * scale;
        double excess = Math.max(0, spanTokens - expected);
        double retryExcess = Math.max(0, retryTokens - expectedRetry);
        double coverage = excess <= 0 ? 0 : Math.min(1, retryExcess / excess);
        double support = retriedTraces / (retriedTraces + 1.0);
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("formula", "min(1, max(0, T_retry - T_retry_base) / max(0, T - T_base)) * n / (n + 1)");
        evidence.put("span_tokens", spanTokens);
        evidence.put("expected_tokens", Math.round(expected));
        evidence.put("excess_tokens", Math.round(excess));
        evidence.put("retry_tokens", retryTokens);
        evidence.put("expected_retry_tokens", Math.round(expectedRetry));
        evidence.put("coverage", Confidence.round(coverage));
        evidence.put("retried_traces", retriedTraces);
        evidence.put("token_lift", expected <= 0 ? null : Confidence.round(spanTokens / expected));
        return new Confidence.Scored(Confidence.clamp(coverage * support), evidence);
    }

    /**
     * A failure rate that rose on one scope after a cause: the attributable fraction
     * {@code max(0, 1 - r_base / r_after)} times the support {@code q / (q + 1)}, with the baseline smoothed towards a
     * prior, {@code r_base = (q_base + m * r0) / (n_base + m)} (the formula of the fallback → quality edge).
     */
    static Confidence.Scored rateLift(long calls, long failures, long baselineCalls, long baselineFailures,
            double priorRate, double priorWeight) {
        double rAfter = calls == 0 ? 0 : (double) failures / calls;
        double rBase = (baselineFailures + priorWeight * priorRate) / (baselineCalls + priorWeight);
        double attributable = rAfter <= 0 ? 0 : Math.max(0, 1 - rBase / rAfter);
        double support = failures / (failures + 1.0);
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("formula", "max(0, 1 - r_base / r_after) * q / (q + 1)");
        evidence.put("calls", calls);
        evidence.put("failures", failures);
        evidence.put("r_after", Confidence.round(rAfter));
        evidence.put("baseline_calls", baselineCalls);
        evidence.put("baseline_failures", baselineFailures);
        evidence.put("r_base", Confidence.round(rBase));
        evidence.put("rate_lift", rBase <= 0 ? null : Confidence.round(rAfter / rBase));
        return new Confidence.Scored(Confidence.clamp(attributable * support), evidence);
    }

    /**
     * Refusals of one scope per unit of time after a budget crossing against before it:
     * {@code max(0, 1 - λ_base / λ_after) * q / (q + 1)}, {@code λ_after = q / H} over the horizon, and
     * {@code λ_base = (q_base + 1) / B} over the baseline window (plus one, so that a scope never refused before is
     * rare, not impossible).
     */
    static Confidence.Scored refusalLift(long refused, long baselineRefused, Duration horizon, Duration baseline) {
        double hours = Math.max(1, horizon.toMillis()) / 3_600_000.0;
        double baseHours = Math.max(1, baseline.toMillis()) / 3_600_000.0;
        double after = refused / hours;
        double base = (baselineRefused + 1) / baseHours;
        double attributable = after <= 0 ? 0 : Math.max(0, 1 - base / after);
        double support = refused / (refused + 1.0);
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("formula", "max(0, 1 - lambda_base / lambda_after) * q / (q + 1)");
        evidence.put("refused_after", refused);
        evidence.put("refused_before", baselineRefused);
        evidence.put("refusals_per_hour_after", Confidence.round(after));
        evidence.put("refusals_per_hour_before", Confidence.round(base));
        evidence.put("rate_lift", Confidence.round(after / base));
        return new Confidence.Scored(Confidence.clamp(attributable * support), evidence);
    }

    /**
     * Stale index → retrieval drop on the same index: {@link #onset} with the index's own drop episodes over the
     * lookback as the prior.
     */
    static Confidence.Scored staleToDrop(long priorDrops, Duration lag, Duration horizon, Duration window,
            Duration lookback) {
        return onset(priorDrops, lag, horizon, window, lookback, "prior_drops");
    }

    /**
     * An effect episode that began after a cause on the same index (stale → drop; ingestion failure → stale index or
     * retrieval drop on an index the pipeline feeds): {@code (1 - p_chance) * tightness}, with
     * {@code p_chance = 1 - exp(-λ * (horizon + window))} from the effect fingerprint's own episodes over the lookback
     * ({@code λ = (n + 1) / lookback}) and {@code tightness = 1 - 0.5 * min(1, lag / horizon)}.
     */
    static Confidence.Scored onset(long priorEffects, Duration lag, Duration horizon, Duration window,
            Duration lookback) {
        return onset(priorEffects, lag, horizon, window, lookback, "prior_effects");
    }

    private static Confidence.Scored onset(long prior, Duration lag, Duration horizon, Duration window,
            Duration lookback, String priorName) {
        double rate = (prior + 1) / (double) Math.max(1, lookback.toSeconds());
        double chance = 1 - Math.exp(-rate * (horizon.toSeconds() + window.toSeconds()));
        double tightness = 1 - 0.5 * Math.min(1, Math.abs(lag.toMillis()) / (double) Math.max(1,
                horizon.toMillis()));
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("formula", "(1 - p_chance) * tightness");
        evidence.put("onset_lag_s", Confidence.round(lag.toMillis() / 1000.0));
        evidence.put(priorName, prior);
        evidence.put("p_chance", Confidence.round(chance));
        evidence.put("tightness", Confidence.round(tightness));
        return new Confidence.Scored(Confidence.clamp((1 - chance) * tightness), evidence);
    }
}
