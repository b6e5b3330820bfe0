package io.faultline.data;

import io.faultline.call.LlmCall;
import io.faultline.call.StoredCallsObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.inject.Singleton;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Follows the vectors of LiteLLM embedding calls once they are stored: buffers each call's vectors (at most
 * {@link io.faultline.content.ContentExtractor#MAX_VECTORS} of them, read when content detection is on) for its
 * space, the model group. {@link EmbeddingDriftDetector} writes the buffer every few seconds. Stored calls come
 * without resends and never from a classify dry run; the call id is also the signal id, so a write is idempotent.
 */
@Singleton
public class EmbeddingCallRule implements StoredCallsObserver {

    /** Space names longer than this are not followed: they are not model groups. */
    static final int MAX_SPACE_LENGTH = 200;

    /** One call's vectors, waiting to be written. */
    record Pending(String callId, String space, Instant at, List<float[]> vectors, long values) {
    }

    private final EmbeddingDriftConfig config;
    private final ConcurrentLinkedQueue<Pending> buffer = new ConcurrentLinkedQueue<>();
    private final AtomicLong buffered = new AtomicLong();
    private final Counter dropped;

    public EmbeddingCallRule(EmbeddingDriftConfig config, MeterRegistry registry) {
        this.config = config;
        this.dropped = Counter.builder("faultline.embedding.vectors.dropped").tag("reason", "buffer_full")
                .description("Vectors of LiteLLM embedding calls not followed, by reason")
                .register(registry);
    }

    @Override
    public void stored(List<LlmCall> inserted) {
        for (LlmCall call : inserted) {
            follow(call);
        }
    }

    /**
     * Whether a space can be named in a URL path: read and reset take the name there, where {@code .} and {@code ..}
     * segments are resolved away and empty ones collapse (by clients and by the server), so a space named so could
     * be filled and never read or reset.
     */
    static boolean addressable(String space) {
        int start = 0;
        while (start <= space.length()) {
            int end = space.indexOf('/', start);
            if (end < 0) {
                end = space.length();
            }
            int length = end - start;
            if (length == 0 || (length <= 2 && space.charAt(start) == '.' && space.charAt(end - 1) == '.')) {
                return false;
            }
            start = end + 1;
        }
        return true;
    }

    private void follow(LlmCall call) {
        if (!config.fromCalls() || call.failed() || call.content() == null
                || call.content().embeddings().isEmpty()) {
            return;
        }
        String space = call.modelGroup() != null && !call.modelGroup().isBlank() ? call.modelGroup() : call.model();
        if (space == null || space.isBlank() || space.length() > MAX_SPACE_LENGTH || !addressable(space)) {
            return;
        }
        // One call's vectors share a dimension (one model); a stray mixed response keeps the first dimension only.
        int dimensions = call.content().embeddings().get(0).length;
        List<float[]> vectors = call.content().embeddings().stream().filter(v -> v.length == dimensions).toList();
        long values = (long) vectors.size() * dimensions;
        if (buffered.addAndGet(values) > config.bufferValues()) {
            buffered.addAndGet(-values);
            dropped.increment(vectors.size());
            return;
        }
        buffer.add(new Pending(call.callId(), space, call.startedAt(), vectors, values));
    }

    /**
     * Puts back what a flush took but could not write (the database went away): written at a later flush, the write
     * being idempotent by call id. What no longer fits the buffer is dropped and counted.
     */
    void requeue(List<Pending> unwritten) {
        for (Pending p : unwritten) {
            if (buffered.addAndGet(p.values()) > config.bufferValues()) {
                buffered.addAndGet(-p.values());
                dropped.increment(p.vectors().size());
            } else {
                buffer.add(p);
            }
        }
    }

    /** Takes everything buffered so far. */
    List<Pending> drain() {
        List<Pending> out = new ArrayList<>();
        Pending p;
        while ((p = buffer.poll()) != null) {
            buffered.addAndGet(-p.values());
            out.add(p);
        }
        return out;
    }

    /** Drops the buffer, as a restart would: for tests of what survives one. */
    void clear() {
        drain();
    }
}
