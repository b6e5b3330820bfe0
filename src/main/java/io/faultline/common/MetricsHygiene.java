package io.faultline.common;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.config.MeterFilter;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/**
 * Keeps the scrape valid for strict parsers and linters ({@code promtool check metrics}): every family gets help
 * text, and double quotes leave descriptions, because the text format allows only {@code \\} and {@code \n} escapes
 * in HELP lines while the exporter writes {@code \"}, which makes promtool reject the whole scrape.
 */
@Singleton
public class MetricsHygiene {

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
}
