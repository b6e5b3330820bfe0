package io.faultline.correlate;

import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The confidence formulas of the correlation graph, as pure functions (README: "Correlation"). Every result lies in
 * [0, 1] and comes with the figures that produced it, which go into the edge or cluster evidence.
 */
public final class Confidence {

    private Confidence() {
    }

    /** One episode onset in a temporal group; {@code priorEpisodes} is its fingerprint's count over the lookback. */
    public record Onset(String provider, String deployment, String fingerprint, Instant at, long priorEpisodes) {
    }

    /** A confidence and the figures behind it. */
    public record Scored(double confidence, Map<String, Object> evidence) {
    }

    /**
     * Upstream confidence of a group of onsets: {@code posterior * tightness * breadth}, with the prior of the
     * configuration's default ({@link #DEFAULT_UPSTREAM_PRIOR}).
     */
    public static Scored temporal(List<Onset> onsets, Duration window, Duration lookback) {
        return temporal(onsets, window, lookback, DEFAULT_UPSTREAM_PRIOR);
    }

    /** {@code faultline.correlate.upstream-prior}'s default. */
    public static final double DEFAULT_UPSTREAM_PRIOR = 0.02;

    /**
     * Upstream confidence of a group of onsets: {@code posterior * tightness * breadth}.
     * <ul>
     * <li>{@code posterior = p0 / (p0 + (1 - p0) * P_chance)}: the probability that the group shares a cause rather
     * than meeting by chance (Bayes, with a shared upstream making the co-occurrence certain). {@code p0} is the
     * prior share of provider episodes that belong to a multi-provider upstream incident. Reading
     * {@code 1 - P_chance} as the confidence instead amounts to a prior of about one half, which over a day of
     * independent failures turns every tight chance pair into an incident: {@code P_chance} is the chance of one
     * coincidence, and a day offers many.</li>
     * <li>{@code P_chance}: the probability that the other providers' failures started within the window of the
     * first one by chance. Each fingerprint {@code f} starts episodes at rate {@code λ_f = (n_f + 1) / L} (its
     * episodes over the lookback {@code L} that grew at least as large as the group's episode of {@code f} is
     * now, plus one so that a never-seen fingerprint is rare, not impossible: a storm is compared with the storms
     * of its fingerprint, not with its single-call blips). A
     * provider {@code q} other than the first one's coincides with probability
     * {@code π_q = 1 - exp(-Σ_f λ_f * 2w)} (its group fingerprints, either side of the first onset), and the
     * group by chance with {@code Π_q π_q}.</li>
     * <li>{@code tightness = 1 - 0.5 * min(1, spread / w)}: onsets on top of each other give 1, a spread of one
     * window 0.5.</li>
     * <li>{@code breadth = 1 - 0.5^(providers - 1) * 0.8^(deployments - providers)}: two providers 0.5, three
     * 0.75, each further deployment adds a little. One provider gives 0: that is not an upstream signal.</li>
     * </ul>
     */
    public static Scored temporal(List<Onset> onsets, Duration window, Duration lookback, double prior) {
        Instant first = onsets.stream().map(Onset::at).min(Instant::compareTo).orElseThrow();
        Instant last = onsets.stream().map(Onset::at).max(Instant::compareTo).orElseThrow();
        String anchor = onsets.stream().filter(o -> o.at().equals(first)).map(Onset::provider).sorted().findFirst()
                .orElseThrow();
        Set<String> providers = new HashSet<>();
        Set<String> deployments = new HashSet<>();
        Map<String, Map<String, Long>> fingerprintsByProvider = new HashMap<>();
        for (Onset o : onsets) {
            providers.add(o.provider());
            deployments.add(o.provider() + "\u0000" + o.deployment());
            fingerprintsByProvider.computeIfAbsent(o.provider(), k -> new HashMap<>()).merge(o.fingerprint(),
                    o.priorEpisodes(), Math::max);
        }
        double windowSeconds = window.toMillis() / 1000.0;
        double lookbackSeconds = Math.max(1, lookback.toMillis() / 1000.0);
        double chance = 1;
        Map<String, Object> perProvider = new LinkedHashMap<>();
        for (Map.Entry<String, Map<String, Long>> entry : new java.util.TreeMap<>(fingerprintsByProvider).entrySet()) {
            if (entry.getKey().equals(anchor)) {
                continue;
            }
            double rate = 0;
            for (long n : entry.getValue().values()) {
                rate += (n + 1) / lookbackSeconds;
            }
            double pi = 1 - Math.exp(-rate * 2 * windowSeconds);
            perProvider.put(entry.getKey(), round(pi));
            chance *= pi;
        }
        if (providers.size() < 2) {
            chance = 1;
        }
        double spread = Duration.between(first, last).toMillis() / 1000.0;
        double tightness = tightness(spread, windowSeconds);
        double breadth = providers.size() < 2 ? 0
                : 1 - Math.pow(0.5, providers.size() - 1) * Math.pow(0.8, deployments.size() - providers.size());
        double posterior = posterior(prior, chance);
        double confidence = clamp(posterior * tightness * breadth);
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("formula", "p0 / (p0 + (1 - p0) * p_chance) * tightness * breadth");
        evidence.put("prior", prior);
        evidence.put("posterior", round(posterior));
        evidence.put("providers", providers.size());
        evidence.put("deployments", deployments.size());
        evidence.put("onset_spread_s", round(spread));
        evidence.put("window_s", windowSeconds);
        evidence.put("p_chance", chance);
        evidence.put("p_chance_by_provider", perProvider);
        evidence.put("tightness", round(tightness));
        evidence.put("breadth", round(breadth));
        return new Scored(confidence, evidence);
    }

    /**
     * Confidence of one temporal edge {@code a -> b}: {@code p0 / (p0 + (1 - p0) * π_b) * tightness}, from the
     * chance that {@code b}'s fingerprint started within the window of {@code a} by chance and how close the two
     * onsets are.
     */
    public static Scored temporalEdge(Onset a, Onset b, Duration window, Duration lookback) {
        return temporalEdge(a, b, window, lookback, DEFAULT_UPSTREAM_PRIOR);
    }

    public static Scored temporalEdge(Onset a, Onset b, Duration window, Duration lookback, double prior) {
        double windowSeconds = window.toMillis() / 1000.0;
        double rate = (b.priorEpisodes() + 1) / Math.max(1, lookback.toMillis() / 1000.0);
        double pi = 1 - Math.exp(-rate * 2 * windowSeconds);
        double lag = Math.abs(Duration.between(a.at(), b.at()).toMillis()) / 1000.0;
        double tightness = tightness(lag, windowSeconds);
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("formula", "p0 / (p0 + (1 - p0) * p_chance) * tightness");
        evidence.put("onset_lag_s", round(lag));
        evidence.put("prior", prior);
        evidence.put("p_chance", pi);
        evidence.put("prior_episodes", b.priorEpisodes());
        evidence.put("lookback_s", lookback.toSeconds());
        evidence.put("tightness", round(tightness));
        evidence.put("same_provider", a.provider().equals(b.provider()));
        return new Scored(clamp(posterior(prior, pi) * tightness), evidence);
    }

    /**
     * Confidence of a {@code caused} edge from a provider episode to a quality episode on its fallback target: the
     * attributable fraction of the quality failures on fallback traffic, {@code max(0, 1 - r_base / r_fallback)}
     * (the share that would not have happened at the target's own rate), times the support
     * {@code q / (q + 1)} of {@code q} quality failures seen on fallback traffic. The baseline is smoothed towards a
     * prior, {@code r_base = (q_base + m * r0) / (n_base + m)}, so that a target with little history is judged by the
     * prior rate {@code r0} and not by one lucky call.
     */
    public static Scored caused(long fallbackCalls, long fallbackFailures, long baselineCalls, long baselineFailures,
            double priorRate, double priorWeight) {
        double rFallback = fallbackCalls == 0 ? 0 : (double) fallbackFailures / fallbackCalls;
        double rBase = (baselineFailures + priorWeight * priorRate) / (baselineCalls + priorWeight);
        double attributable = rFallback <= 0 ? 0 : Math.max(0, 1 - rBase / rFallback);
        double support = fallbackFailures / (fallbackFailures + 1.0);
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("formula", "max(0, 1 - r_base / r_fallback) * q / (q + 1)");
        evidence.put("fallback_calls", fallbackCalls);
        evidence.put("fallback_quality_failures", fallbackFailures);
        evidence.put("r_fallback", round(rFallback));
        evidence.put("baseline_calls", baselineCalls);
        evidence.put("baseline_quality_failures", baselineFailures);
        evidence.put("r_base", round(rBase));
        evidence.put("rate_lift", rBase <= 0 ? null : round(rFallback / rBase));
        return new Scored(clamp(attributable * support), evidence);
    }

    /** A fallback seen in {@code sharedTraces} traces: each trace halves the doubt, {@code 1 - 2^-traces}. */
    public static double fallback(long sharedTraces) {
        return clamp(1 - Math.pow(0.5, sharedTraces));
    }

    /** Strength of a cluster: the noisy-or of its edges' confidences, {@code 1 - Π (1 - c_e)}. */
    public static double strength(Collection<Double> edgeConfidences) {
        double none = 1;
        for (double c : edgeConfidences) {
            none *= 1 - clamp(c);
        }
        return clamp(1 - none);
    }

    /** P(shared cause | co-occurrence) for a prior p0 when a shared cause makes the co-occurrence certain. */
    static double posterior(double prior, double chance) {
        double p0 = clamp(prior);
        return p0 <= 0 ? 0 : p0 / (p0 + (1 - p0) * clamp(chance));
    }

    private static double tightness(double spreadSeconds, double windowSeconds) {
        return 1 - 0.5 * Math.min(1, spreadSeconds / Math.max(1e-9, windowSeconds));
    }

    static double clamp(double v) {
        return Double.isNaN(v) ? 0 : Math.max(0, Math.min(1, v));
    }

    static double round(double v) {
        return Math.round(v * 10_000) / 10_000.0;
    }
}
