package io.faultline.data;

import io.faultline.call.LlmCall;
import io.faultline.classify.CallRule;
import io.faultline.taxonomy.Failure;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.inject.Singleton;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Follows the vectors of LiteLLM embedding calls: raises nothing per call, only buffers the call's vectors (at most
 * {@link io.faultline.content.ContentExtractor#MAX_VECTORS} of them, read when content detection is on) for its
 * space, the model group. {@link EmbeddingDriftDetector} writes the buffer every few seconds. Rules run before a call
 * is stored, for resends, and for dry runs ({@code /api/v1/classify}) too: the writer keeps only vectors of calls that
 * were stored, and a resend is dropped when written, because the call id is the signal id.
 */
@Singleton
public class EmbeddingCallRule implements CallRule {

    /** Space names longer than this are not followed: they are not model groups. */
    static final int MAX_SPACE_LENGTH = 200;

    /** One call's vectors, waiting to be written. */
    record Pending(String callId, String space, Instant at, List<float[]> vectors, long values,
            Instant bufferedAt) {
    }

    private final EmbeddingDriftConfig config;
    private final Clock clock;
    private final ConcurrentLinkedQueue<Pending> buffer = new ConcurrentLinkedQueue<>();
    private final AtomicLong buffered = new AtomicLong();
    private final Counter dropped;

    public EmbeddingCallRule(EmbeddingDriftConfig config, Clock clock, MeterRegistry registry) {
        this.config = config;
        this.clock = clock;
        this.dropped = Counter.builder("faultline.embedding.vectors.dropped").tag("reason", "buffer_full")
                .description("Vectors of LiteLLM embedding calls not followed, by reason")
                .register(registry);
    }

    @Override
    public List<Failure> apply(LlmCall call) {
        if (!config.fromCalls() || call.failed() || call.content() == null
                || call.content().embeddings().isEmpty()) {
            return List.of();
        }
        String space = call.modelGroup() != null && !call.modelGroup().isBlank() ? call.modelGroup() : call.model();
        if (space == null || space.isBlank() || space.length() > MAX_SPACE_LENGTH) {
            return List.of();
        }
        // One call's vectors share a dimension (one model); a stray mixed response keeps the first dimension only.
        int dimensions = call.content().embeddings().get(0).length;
        List<float[]> vectors = call.content().embeddings().stream().filter(v -> v.length == dimensions).toList();
        long values = (long) vectors.size() * dimensions;
        if (buffered.addAndGet(values) > config.bufferValues()) {
            buffered.addAndGet(-values);
            dropped.increment(vectors.size());
            return List.of();
        }
        buffer.add(new Pending(call.callId(), space, call.startedAt(), vectors, values, clock.instant()));
        return List.of();
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

    /** Puts back a call whose row was not committed yet when the buffer was written. */
    void requeue(Pending p) {
        buffered.addAndGet(p.values());
        buffer.add(p);
    }

    /** Drops the buffer, as a restart would: for tests of what survives one. */
    void clear() {
        drain();
    }
}
