package io.faultline.common;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Singleton;

import java.util.List;
import java.util.TreeMap;

/**
 * The size of every bounded in-memory map as a gauge, {@code faultline.memory.entries{map}}, and its cap,
 * {@code faultline.memory.capacity{map}} (absent when the map is capped by something other than a number of
 * entries). {@code make soak} samples them every minute: after warm-up each must stay at or below its cap and stop
 * growing. Registered at start, so that a scrape shows every map, at zero, before the first call.
 */
@Startup
@Singleton
public class BoundedStateMetrics {

    private final TreeMap<String, BoundedState.Held> maps = new TreeMap<>();

    public BoundedStateMetrics(Instance<BoundedState> holders, MeterRegistry registry) {
        for (BoundedState holder : holders) {
            for (BoundedState.Held held : holder.boundedMaps()) {
                maps.put(held.map(), held);
                Gauge.builder("faultline.memory.entries", held.size(), s -> s.getAsInt()).tag("map", held.map())
                        .description("Entries held in a bounded in-memory map").register(registry);
                if (held.capacity() > 0) {
                    Gauge.builder("faultline.memory.capacity", held, h -> h.capacity()).tag("map", held.map())
                            .description("The most entries a bounded in-memory map holds").register(registry);
                }
            }
        }
    }

    /** The names of the maps published, sorted. */
    public List<String> names() {
        return List.copyOf(maps.keySet());
    }
}
