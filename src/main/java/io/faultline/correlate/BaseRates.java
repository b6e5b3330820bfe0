package io.faultline.correlate;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Episodes' base-rate counts (how many earlier episodes of the same fingerprint grew at least as large), kept across
 * correlation steps for {@code faultline.correlate.base-rate-reuse}, read on the injected clock. Every step scores
 * every temporal candidate in the episode's window, and consecutive steps see nearly the same candidates: reusing
 * their counts leaves each step to count the few it has not seen. Bounded: when full, the map is cleared (the counts
 * are a cache of one query, so a clear costs one round trip at the next step, never a wrong answer).
 */
final class BaseRates {

    private record Count(long value, long occurrences, Instant until) {
    }

    private final Map<UUID, Count> counts = new ConcurrentHashMap<>();
    private final Duration reuse;
    private final int capacity;

    BaseRates(Duration reuse, int capacity) {
        this.reuse = reuse;
        this.capacity = capacity;
    }

    int size() {
        return counts.size();
    }

    int capacity() {
        return capacity;
    }

    /**
     * The episode's count when one was stored at these occurrences within the reuse period before {@code now}, else
     * null.
     */
    Long get(UUID episode, long occurrences, Instant now) {
        Count count = counts.get(episode);
        if (count == null || count.occurrences() != occurrences) {
            return null;
        }
        // A clock that went back (a replay) makes the entry stale as surely as one that ran past it.
        if (!now.isBefore(count.until()) || now.isBefore(count.until().minus(reuse))) {
            counts.remove(episode, count);
            return null;
        }
        return count.value();
    }

    void put(UUID episode, long occurrences, long value, Instant now) {
        if (reuse.isZero() || reuse.isNegative()) {
            return;
        }
        if (counts.size() >= capacity) {
            counts.clear();
        }
        counts.put(episode, new Count(value, occurrences, now.plus(reuse)));
    }
}
