package io.faultline.cost;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A thread-safe {@link BoundedLru}: per-key state capped at a number of keys, the least recently used evicted first.
 * Detectors keep one entry per deployment, model or key, and a flood of one-off keys must not grow the heap.
 * <p>
 * Keys a caller can invent (LiteLLM logs the model a refused request asked for) are also charged to an owner, the
 * LiteLLM key hash of the call that created them: an owner holds at most {@code perOwner} keys and, past that, its
 * own oldest is evicted, so one caller cannot push the entries of others out of the map.
 */
final class BoundedMap<K, V> {

    private final BoundedLru<K, V> map;
    private final int perOwner;
    private final Map<K, String> ownerOf = new HashMap<>();
    private final Map<String, ArrayDeque<K>> owned = new HashMap<>();
    private long ownerEvictions;

    BoundedMap(int capacity) {
        this(capacity, Integer.MAX_VALUE);
    }

    BoundedMap(int capacity, int perOwner) {
        this.map = new BoundedLru<>(Math.max(1, capacity), this::disown);
        this.perOwner = Math.max(1, perOwner);
    }

    /** The entry of {@code key}, created without an owner (state rebuilt from stored calls). */
    synchronized V get(K key, Function<K, V> create) {
        return get(key, null, create);
    }

    /** The entry of {@code key}; a new one is charged to {@code owner} (null: nobody's, capped only globally). */
    synchronized V get(K key, String owner, Function<K, V> create) {
        V value = map.get(key);
        if (value != null) {
            return value;
        }
        if (owner != null) {
            ArrayDeque<K> mine = owned.computeIfAbsent(owner, o -> new ArrayDeque<>());
            while (mine.size() >= perOwner) {
                K oldest = mine.pollFirst();
                ownerOf.remove(oldest);
                map.remove(oldest);
                ownerEvictions++;
            }
            mine.addLast(key);
            ownerOf.put(key, owner);
        }
        value = create.apply(key);
        map.put(key, value);
        return value;
    }

    private void disown(K key) {
        String owner = ownerOf.remove(key);
        if (owner != null) {
            ArrayDeque<K> mine = owned.get(owner);
            mine.remove(key); // at most perOwner long
            if (mine.isEmpty()) {
                owned.remove(owner);
            }
        }
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

    /** Keys evicted because their owner reached its cap. */
    synchronized long ownerEvictions() {
        return ownerEvictions;
    }

    synchronized void clear() {
        map.clear();
        ownerOf.clear();
        owned.clear();
    }
}
