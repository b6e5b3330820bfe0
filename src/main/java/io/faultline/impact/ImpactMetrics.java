package io.faultline.impact;

import io.faultline.common.MetricLabels;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.inject.Singleton;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code failure_impact_cost_usd_total{provider,category}} and {@code failure_impact_affected_users_total{provider,
 * category}}: what episodes cost and whom they reached, counted as each re-assessment's growth over the stored one
 * (clusters are not counted: their members are), so a sum over replicas is the catalog's total.
 */
@Singleton
public class ImpactMetrics {

    private final MeterRegistry registry;
    private final MetricLabels labels;
    private final Map<String, Counter> cost = new ConcurrentHashMap<>();
    private final Map<String, Counter> users = new ConcurrentHashMap<>();

    public ImpactMetrics(MeterRegistry registry, MetricLabels labels) {
        this.registry = registry;
        this.labels = labels;
    }

    /**
     * Adds an episode's growth beyond what was counted of it before (the most its figures reached; null: its first
     * assessment): a figure that fell and rose again is counted once.
     */
    void grew(Assessment a, Double previousCost, Long previousUsers) {
        if (!a.kind().equals("episode")) {
            return;
        }
        String provider = labels.value("provider", a.provider());
        String category = a.category();
        double dc = a.costImpact().totalUsd() - (previousCost == null ? 0 : previousCost);
        long du = a.userImpact().affectedUsers() - (previousUsers == null ? 0 : previousUsers);
        if (dc > 0) {
            counter(cost, "failure.impact.cost.usd", "Cost impact of failure episodes (wasted, fallback extra, spike"
                    + " extra), in US dollars", provider, category).increment(dc);
        }
        if (du > 0) {
            counter(users, "failure.impact.affected.users", "Distinct users affected by failure episodes", provider,
                    category).increment(du);
        }
    }

    private Counter counter(Map<String, Counter> map, String name, String description, String provider,
            String category) {
        return map.computeIfAbsent(provider + "\u0000" + category, k -> Counter.builder(name).description(description)
                .tag("provider", provider).tag("category", category).register(registry));
    }
}
