package io.faultline.cost;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * A thread-safe {@link BoundedLru}: per-key state capped at a number of keys, the least recently used evicted first.
 * Detectors keep one entry per deployment, model or key, and a flood of one-off keys must not grow the heap.
 */
final class BoundedMap<K, V> {

    private final BoundedLru<K, V> map;

    BoundedMap(int capacity) {
        this.map = new BoundedLru<>(Math.max(1, capacity));
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
        return map.evictions();
    }

    synchronized void clear() {
        map.clear();
    }
}
