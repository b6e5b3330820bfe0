package io.faultline.common;

import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Caps the distinct values of the labels whose values come from callers (provider, model, deployment names in
 * LiteLLM payloads): the first {@code faultline.metrics.max-label-values} values of each label keep their own
 * series, every later one becomes {@value #OTHER}. A value once admitted stays admitted, so a series never changes
 * its label between scrapes. Shared by every meter (a {@link MetricsHygiene} filter applies it at registration),
 * so one provider has the same label in every family.
 */
@Singleton
public class MetricLabels implements BoundedState {

    public static final String OTHER = "other";

    /** The labels whose values callers control. Others (outcome, severity, limit_type, ...) are fixed sets. */
    public static final Set<String> CAPPED = Set.of("provider", "model", "model_group", "deployment", "error_type");

    private final int max;
    private final Map<String, Set<String>> admitted = new ConcurrentHashMap<>();

    @Inject
    public MetricLabels(MetricsConfig config) {
        this(config.maxLabelValues());
    }

    public MetricLabels(int max) {
        this.max = max;
    }

    /** The label value to use for {@code raw} under {@code key}: itself while there is room, else "other". */
    public String value(String key, String raw) {
        String value = raw == null || raw.isEmpty() ? "unknown" : raw;
        if (!CAPPED.contains(key) || OTHER.equals(value)) {
            return value;
        }
        Set<String> values = admitted.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet());
        if (values.contains(value)) {
            return value;
        }
        synchronized (values) {
            if (values.contains(value)) {
                return value;
            }
            if (values.size() >= max) {
                return OTHER;
            }
            values.add(value);
            return value;
        }
    }

    /**
     * The label value of {@code raw} under {@code key} if it already has one, else null: for values read back from
     * the database, which would otherwise spend the slots of live traffic on names seen once, long ago.
     */
    public String known(String key, String raw) {
        String value = raw == null || raw.isEmpty() ? "unknown" : raw;
        if (!CAPPED.contains(key) || OTHER.equals(value)) {
            return value;
        }
        Set<String> values = admitted.get(key);
        return values != null && values.contains(value) ? value : null;
    }

    /** Distinct values admitted under {@code key} so far. */
    public int admitted(String key) {
        Set<String> values = admitted.get(key);
        return values == null ? 0 : values.size();
    }

    /** Every capped label's admitted values together: at most max per label. */
    @Override
    public java.util.List<Held> boundedMaps() {
        return java.util.List.of(new Held("metrics.label-values", max * CAPPED.size(),
                () -> admitted.values().stream().mapToInt(Set::size).sum()));
    }
}
