package io.faultline.common;

import java.util.List;
import java.util.function.IntSupplier;

/**
 * A bean that keeps per-key state in memory, capped so that a flood of new keys cannot grow the heap. Each map it
 * holds is published by {@link BoundedStateMetrics} as {@code faultline.memory.entries{map=...}} beside its cap
 * ({@code faultline.memory.capacity}), so that a soak, or production, sees each map fill up to its cap and stop there.
 */
public interface BoundedState {

    /**
     * One map: its name (stable, low-cardinality: it is a metric label), its cap ({@code 0} when the map is capped
     * by something else, e.g. the configured budgets or the label-cardinality guard, stated in the name's docs) and
     * how to read its current size. The supplier must be cheap and safe to call from the scrape thread.
     */
    record Held(String map, int capacity, IntSupplier size) {
    }

    List<Held> boundedMaps();
}
