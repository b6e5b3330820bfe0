package io.faultline.signals;

import io.faultline.call.LlmCall;
import io.faultline.call.StoredCallsObserver;
import io.faultline.call.StoredCallsWriter;
import io.faultline.common.LogText;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
import io.quarkus.logging.Log;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stores {@code requester_metadata.retrieval} ({@code {"index": "...", "top_score": 0.82, "hits": 5}}) of each newly
 * stored call, in the call's transaction, and feeds it into the retrieval windows. A drop belongs to the index, not to
 * the call, and is raised by the tracker into the calls' inbox. It follows stored calls, not classification: a resend
 * is not passed again and a classify dry run never reaches it, so each call counts once (its call id is also the
 * sample's signal id). Only samples of indexes registered through {@code PUT /api/v1/retrieval-indexes/{name}} count
 * ({@link RetrievalIndexes}); the others are counted as ignored once their calls are committed.
 */
@Singleton
public class RetrievalMetadataRule implements StoredCallsWriter, StoredCallsObserver {

    private final SignalService signals;
    private final Clock clock;
    private final SignalsConfig config;
    private final RetrievalIndexes indexes;

    public RetrievalMetadataRule(SignalService signals, Clock clock, SignalsConfig config, RetrievalIndexes indexes) {
        this.indexes = indexes;
        this.signals = signals;
        this.clock = clock;
        this.config = config;
    }

    @Override
    public void write(Connection connection, List<LlmCall> inserted, List<Failure> raised, List<Runnable> undo)
            throws SQLException {
        // Attempts of one request share its call id, the sample's signal id: the first one's sample is the one kept.
        Map<String, Signal.Retrieval> samples = new LinkedHashMap<>();
        Map<String, ImpactScope> scopes = new HashMap<>();
        for (LlmCall call : inserted) {
            Signal.Retrieval sample = sampleOf(call);
            // The caller wrote this sample: it counts only for an index an operator registered, so that nobody
            // fakes or hides another index's drop or pushes real indexes out of the tracker's memory cap.
            if (sample != null && indexes.registered(sample.index())
                    && samples.putIfAbsent(sample.signalId(), sample) == null) {
                scopes.put(sample.signalId(), new ImpactScope(call.model(), call.modelGroup(), call.callId(),
                        call.userRef(), call.teamId()));
            }
        }
        signals.retrieval(connection, new ArrayList<>(samples.values()), s -> scopes.get(s.signalId()), raised,
                undo);
    }

    /** Counts, after the commit, the samples of unregistered indexes {@link #write} left out. */
    @Override
    public void stored(List<LlmCall> inserted) {
        for (LlmCall call : inserted) {
            Signal.Retrieval sample = sampleOf(call);
            if (sample != null && !indexes.registered(sample.index())) {
                indexes.ignored();
            }
        }
    }

    /** The call's retrieval sample, or null when it carries none or a malformed one (calls are never rejected). */
    Signal.Retrieval sampleOf(LlmCall call) {
        Map<String, Object> metadata = call.requesterMetadata();
        Object retrieval = metadata == null ? null : metadata.get("retrieval");
        if (!(retrieval instanceof Map<?, ?> r)) {
            return null;
        }
        Object index = r.get("index");
        Object top = r.get("top_score");
        Object hits = r.get("hits");
        if (!(index instanceof String name) || SignalParser.nameProblem("index", name) != null
                || !(top instanceof Number score)
                || !(score.doubleValue() >= 0 && score.doubleValue() <= SignalParser.MAX_SCORE)
                || (hits != null && !(hits instanceof Integer || hits instanceof Long))) {
            Log.debugf("Call %s carries malformed retrieval metadata; ignored", LogText.of(call.callId()));
            return null;
        }
        // A negative count is no count (-1 for "unknown"): clamped to 0 it read as a collapse of the hits.
        Integer hitCount = hits == null || ((Number) hits).longValue() < 0 ? null
                : (int) Math.min(Integer.MAX_VALUE, ((Number) hits).longValue());
        Object mean = r.get("mean_score");
        Object k = r.get("k");
        Instant now = clock.instant();
        Instant at = call.endedAt() != null ? call.endedAt() : call.startedAt();
        if (at == null || at.isAfter(now.plus(config.maxClockSkew()))) {
            at = now;
        }
        return new Signal.Retrieval(Signal.Retrieval.CALL, call.callId(), name, at, score.doubleValue(),
                mean instanceof Number m && m.doubleValue() >= 0 && m.doubleValue() <= score.doubleValue()
                        ? m.doubleValue() : null, hitCount,
                k instanceof Integer kk ? kk : null);
    }
}
