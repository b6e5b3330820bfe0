package io.faultline.cost;

import java.util.LinkedHashMap;
import java.util.Map;

/** A map that keeps at most {@code capacity} entries, evicting the least recently used. Not thread-safe. */
final class BoundedLru<K, V> extends LinkedHashMap<K, V> {

    private final int capacity;
    private long evictions;

    BoundedLru(int capacity) {
        super(16, 0.75f, true);
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1");
        }
        this.capacity = capacity;
    }

    @Override
    protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
        if (size() > capacity) {
            evictions++;
            return true;
        }
        return false;
    }

    long evictions() {
        return evictions;
    }
}
