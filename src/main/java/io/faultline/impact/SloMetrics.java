package io.faultline.impact;

import io.faultline.common.MetricLabels;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import jakarta.inject.Singleton;

import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code faultline_slo_burn_rate{model_group,window}}, {@code faultline_slo_error_budget_remaining{model_group}} and
 * {@code faultline_slo_target{model_group}} for every model group seen within its period or with an SLO of its own,
 * and for those with a latency SLO {@code faultline_slo_latency_burn_rate{model_group,window}},
 * {@code faultline_slo_latency_error_budget_remaining{model_group}} and
 * {@code faultline_slo_latency_target_seconds{model_group}} (the histogram edge the target is evaluated at),
 * read from the database after every rollup run, so that every replica reports the same figures. Model groups past
 * the label cap share the {@code other} series, which shows the worst of them (highest burn, least budget left).
 */
@Singleton
public class SloMetrics {

    /** The most model groups read per refresh (the label cap keeps the series far fewer anyway). */
    static final int MAX_GROUPS = 10_000;

    private final SloService slos;
    private final Clock clock;
    private final MeterRegistry registry;
    private final MetricLabels labels;
    private final Map<String, AtomicLong> burn = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> remaining = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> target = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> latencyBurn = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> latencyRemaining = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> latencyTarget = new ConcurrentHashMap<>();

    public SloMetrics(SloService slos, Clock clock, MeterRegistry registry, MetricLabels labels) {
        this.slos = slos;
        this.clock = clock;
        this.registry = registry;
        this.labels = labels;
    }

    /** Re-reads every gauge from the database; a failure leaves the last values and is logged. */
    public void refresh() {
        SloService.SloList list;
        try {
            list = slos.statuses(clock.instant(), MAX_GROUPS);
        } catch (RuntimeException e) {
            Log.warnf(e, "Could not read the SLO rollups; the SLO gauges keep their last values");
            return;
        }
        Map<String, Double> burns = new HashMap<>();
        Map<String, Double> budgets = new HashMap<>();
        Map<String, Double> targets = new HashMap<>();
        Map<String, Double> latencyBurns = new HashMap<>();
        Map<String, Double> latencyBudgets = new HashMap<>();
        Map<String, Double> latencyTargets = new HashMap<>();
        // A group that left the listing (no traffic within its period) burns nothing and has its whole budget.
        burn.keySet().forEach(k -> burns.put(k, 0.0));
        remaining.keySet().forEach(k -> budgets.put(k, 1.0));
        latencyBurn.keySet().forEach(k -> latencyBurns.put(k, 0.0));
        latencyRemaining.keySet().forEach(k -> latencyBudgets.put(k, 1.0));
        for (SloService.SloStatus s : list.items()) {
            String group = labels.value("model_group", s.modelGroup());
            for (SloService.WindowBurn w : s.burnRates()) {
                burns.merge(key(group, w.window()), w.burnRate(), Math::max);
            }
            // Remaining is at most 1 and burn at least 0: the stale defaults above never win over a listed figure.
            budgets.merge(group, s.budget().remainingRatio(), Math::min);
            targets.merge(group, s.slo().availabilityTarget(), Math::max);
            if (s.latency() != null) {
                for (SloService.LatencyWindowBurn w : s.latency().burnRates()) {
                    latencyBurns.merge(key(group, w.window()), w.burnRate(), Math::max);
                }
                latencyBudgets.merge(group, s.latency().budget().remainingRatio(), Math::min);
                latencyTargets.merge(group, s.latency().budget().evaluatedAtMs() / 1000, Math::min);
            }
        }
        burns.forEach((k, v) -> {
            int cut = k.indexOf('\u0000');
            burn.computeIfAbsent(k, x -> gauge("faultline.slo.burn.rate",
                    "Error budget burn rate: (failed responses / requests over the window) / (1 - availability target)",
                    k.substring(0, cut), "window", k.substring(cut + 1))).set(Double.doubleToLongBits(v));
        });
        budgets.forEach((g, v) -> remaining.computeIfAbsent(g, x -> gauge("faultline.slo.error.budget.remaining",
                "Share of the period's error budget left: 1 - failed responses / ((1 - target) * requests);"
                        + " negative once overspent", g, null, null)).set(Double.doubleToLongBits(v)));
        targets.forEach((g, v) -> target.computeIfAbsent(g, x -> gauge("faultline.slo.target",
                "Availability target of the model group's SLO (share of requests answered)", g, null, null))
                .set(Double.doubleToLongBits(v)));
        latencyBurns.forEach((k, v) -> {
            int cut = k.indexOf('\u0000');
            latencyBurn.computeIfAbsent(k, x -> gauge("faultline.slo.latency.burn.rate",
                    "Latency error budget burn rate: (answered requests slower than the target / answered requests"
                            + " over the window) / (1 - latency quantile)",
                    k.substring(0, cut), "window", k.substring(cut + 1))).set(Double.doubleToLongBits(v));
        });
        latencyBudgets.forEach((g, v) -> latencyRemaining.computeIfAbsent(g, x -> gauge(
                "faultline.slo.latency.error.budget.remaining", "Share of the period's latency error budget left:"
                        + " 1 - slow answered requests / ((1 - quantile) * answered requests); negative once overspent",
                g, null, null)).set(Double.doubleToLongBits(v)));
        latencyTargets.forEach((g, v) -> latencyTarget.computeIfAbsent(g, x -> gauge(
                "faultline.slo.latency.target.seconds", "Latency target of the model group's latency SLO, as"
                        + " evaluated (the largest histogram edge not above the target)", g, null, null))
                .set(Double.doubleToLongBits(v)));
        // A target the group no longer has (it left the listing, or its latency SLO was removed) is no target: its
        // series goes, rather than showing the old one.
        dropOthers(target, targets.keySet(), "faultline.slo.target");
        dropOthers(latencyTarget, latencyTargets.keySet(), "faultline.slo.latency.target.seconds");
    }

    private void dropOthers(Map<String, AtomicLong> gauges, java.util.Set<String> keep, String name) {
        for (String group : List.copyOf(gauges.keySet())) {
            if (!keep.contains(group)) {
                Gauge g = registry.find(name).tag("model_group", group).gauge();
                if (g != null) {
                    registry.remove(g);
                }
                gauges.remove(group);
            }
        }
    }

    private static String key(String group, String window) {
        return group + "\u0000" + window;
    }

    private AtomicLong gauge(String name, String description, String group, String k2, String v2) {
        AtomicLong value = new AtomicLong(Double.doubleToLongBits(0));
        Gauge.Builder<AtomicLong> b = Gauge.builder(name, value, v -> Double.longBitsToDouble(v.get()))
                .description(description).tag("model_group", group).strongReference(true);
        if (k2 != null) {
            b.tag(k2, v2);
        }
        b.register(registry);
        return value;
    }
}
