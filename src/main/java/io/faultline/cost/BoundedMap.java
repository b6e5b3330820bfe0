package io.faultline.cost;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Per-key state capped at a number of keys; the least recently used key is evicted first. Detectors keep one entry
 * per deployment, model or key, and a flood of one-off keys must not grow the heap.
 */
final class BoundedMap<K, V> {

    private final LinkedHashMap<K, V> map;
    private long evictions;

    BoundedMap(int capacity) {
        int cap = Math.max(1, capacity);
        this.map = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
                if (size() > cap) {
                    evictions++;
                    return true;
                }
                return false;
            }
        };
    }

    synchronized V get(K key, Function<K, V> create) {
        return map.computeIfAbsent(key, create);
    }

    synchronized List<V> values() {
        return new ArrayList<>(map.values());
    }

    synchronized int size() {
        return map.size();
    }

    synchronized long evictions() {
        return evictions;
    }

    synchronized void clear() {
        map.clear();
    }
}
