package io.faultline.cost;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/** A map that keeps at most {@code capacity} entries, evicting the least recently used. Not thread-safe. */
final class BoundedLru<K, V> extends LinkedHashMap<K, V> {

    private final int capacity;
    private final Consumer<K> onEvict;
    private long evictions;

    BoundedLru(int capacity) {
        this(capacity, key -> {
        });
    }

    /** {@code onEvict} hears of each key evicted for room (not of keys removed by the caller). */
    BoundedLru(int capacity, Consumer<K> onEvict) {
        super(16, 0.75f, true);
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1");
        }
        this.capacity = capacity;
        this.onEvict = onEvict;
    }

    @Override
    protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
        if (size() > capacity) {
            evictions++;
            onEvict.accept(eldest.getKey());
            return true;
        }
        return false;
    }

    long evictions() {
        return evictions;
    }
}
