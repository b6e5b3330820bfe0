package io.faultline.common;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.config.MeterFilter;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import java.util.ArrayList;
import java.util.List;

/**
 * Keeps the scrape valid for strict parsers and linters ({@code promtool check metrics}): every family gets help
 * text, and double quotes leave descriptions, because the text format allows only {@code \\} and {@code \n} escapes
 * in HELP lines while the exporter writes {@code \"}, which makes promtool reject the whole scrape. Also caps the
 * distinct values of caller-controlled labels on every meter ({@link MetricLabels}).
 */
@Singleton
public class MetricsHygiene {

    /**
     * The cap this application's filter applies, null once it stopped. Quarkus adds the filters to Micrometer's
     * JVM-wide global registry too, where they outlive the application (a dev-mode reload, test applications one
     * after another) and cannot be taken off: a stopped application's full cap would turn the next one's new
     * providers into "other", and would hold its label values for good.
     */
    private volatile MetricLabels cap;

    @PreDestroy
    void stop() {
        cap = null;
    }

    /**
     * Built-in meters whose exposition promtool rejects: a long-task timer that puts _active_count into a summary,
     * a CPU time in "ns", a gauge named *_count. The JVM's own process_cpu_usage and friends remain.
     */
    @Produces
    @Singleton
    MeterFilter denyUnlintable() {
        return MeterFilter.deny(id -> id.getName().equals("http.server.connections")
                || id.getName().equals("process.cpu.time") || id.getName().equals("system.cpu.count"));
    }

    @Produces
    @Singleton
    MeterFilter plainDescriptions() {
        return new MeterFilter() {
            @Override
            public Meter.Id map(Meter.Id id) {
                String description = id.getDescription();
                if (description == null || description.isBlank()) {
                    // promtool reports a family without help text; the meter's own name is better than nothing.
                    description = id.getName();
                } else if (description.indexOf('"') < 0) {
                    return id;
                }
                return new Meter.Id(id.getName(), Tags.of(id.getTagsAsIterable()), id.getBaseUnit(),
                        description.replace("\"", "'"), id.getType());
            }
        };
    }

    /**
     * A backstop for every meter, present and future: a label whose values callers control (provider, model, ...)
     * gets at most {@code faultline.metrics.max-label-values} distinct values, then "other". Code that keys its own
     * meter maps by such a value asks {@link MetricLabels} first, so that its maps stay bounded too.
     */
    @Produces
    @Singleton
    MeterFilter capCallerLabels(MetricLabels labels) {
        cap = labels;
        return new MeterFilter() {
            @Override
            public Meter.Id map(Meter.Id id) {
                MetricLabels current = cap;
                if (current == null) {
                    return id; // a stopped application's filter, left on the global registry: the next one caps
                }
                List<Tag> tags = null;
                List<Tag> original = id.getTags();
                for (int i = 0; i < original.size(); i++) {
                    Tag tag = original.get(i);
                    if (!MetricLabels.CAPPED.contains(tag.getKey())) {
                        continue;
                    }
                    String capped = current.value(tag.getKey(), tag.getValue());
                    if (!capped.equals(tag.getValue())) {
                        if (tags == null) {
                            tags = new ArrayList<>(original);
                        }
                        tags.set(i, Tag.of(tag.getKey(), capped));
                    }
                }
                return tags == null ? id : id.replaceTags(tags);
            }
        };
    }
}
