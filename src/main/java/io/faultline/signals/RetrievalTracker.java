package io.faultline.signals;

import io.faultline.taxonomy.DataFailure;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
import io.quarkus.logging.Log;
import io.faultline.common.DatabaseReady;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code retrieval_quality_drop}: per index, the mean top score (and hit count) of the current window against the
 * rolling baseline just before it. Windows live in memory, at most {@code max-indexes} of them (least recently
 * reported evicted), each a fixed ring of time buckets; they are rebuilt from {@code data_signals} at start-up, so
 * a restart does not hide a drop.
 */
@Singleton
public class RetrievalTracker implements io.faultline.common.BoundedState {

    static final String DETECTION = "signals.retrieval_window";

    private final SignalsConfig.Retrieval config;
    private final Clock clock;
    private final SignalStore store;
    private final Map<String, RetrievalWindow> windows;
    private long evictions;

    private final RetrievalIndexes indexes;

    public RetrievalTracker(SignalsConfig config, Clock clock, SignalStore store, RetrievalIndexes indexes) {
        this.indexes = indexes;
        this.config = config.retrieval();
        this.clock = clock;
        this.store = store;
        int max = this.config.maxIndexes();
        this.windows = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, RetrievalWindow> eldest) {
                if (size() > max) {
                    evictions++;
                    return true;
                }
                return false;
            }
        };
    }

    /** Adds a new sample and returns the drop it reveals, at most one per index per window. */
    public Optional<Failure> record(Signal.Retrieval sample, ImpactScope scope) {
        return record(sample, scope, new ArrayList<>());
    }

    /**
     * As {@link #record(Signal.Retrieval, ImpactScope)}, adding to {@code undo} what takes the sample (and the drop
     * it marked raised) back out: for a caller whose transaction storing the sample and its drop rolled back, so
     * that the client's resend counts once.
     */
    public synchronized Optional<Failure> record(Signal.Retrieval sample, ImpactScope scope, List<Runnable> undo) {
        RetrievalWindow window = add(sample);
        undo.add(() -> {
            synchronized (this) {
                window.remove(sample.at(), sample.topScore(), sample.hits());
            }
        });
        Instant now = clock.instant();
        if (sample.at().isAfter(now)) {
            now = sample.at(); // within the accepted clock skew
        }
        if (!sample.at().isAfter(now.minus(config.window()))) {
            return Optional.empty(); // a late sample fills the history; it does not speak for the current window
        }
        RetrievalWindow.Comparison c = window.compare(now);
        double floor = 1 - config.dropFraction();
        List<String> dropped = new ArrayList<>(2);
        if (c.currentSamples() >= config.minWindowSamples() && c.baselineSamples() >= config.minBaselineSamples()
                && c.currentTop() < c.baselineTop() * floor) {
            dropped.add("top_score");
        }
        if (c.currentHitSamples() >= config.minWindowSamples()
                && c.baselineHitSamples() >= config.minBaselineSamples()
                && c.currentHits() < c.baselineHits() * floor) {
            dropped.add("hits");
        }
        if (dropped.isEmpty()) {
            return Optional.empty();
        }
        if (window.lastRaisedAt != null && sample.at().isBefore(window.lastRaisedAt.plus(config.window()))) {
            return Optional.empty(); // still the same drop: raised again once the window has turned over
        }
        Instant raisedBefore = window.lastRaisedAt;
        window.lastRaisedAt = sample.at();
        undo.add(() -> {
            synchronized (this) {
                if (sample.at().equals(window.lastRaisedAt)) {
                    window.lastRaisedAt = raisedBefore;
                }
            }
        });
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("index", sample.index());
        evidence.put("dropped", dropped);
        evidence.put("current_top_score", DataFailures.round(c.currentTop()));
        evidence.put("baseline_top_score", DataFailures.round(c.baselineTop()));
        evidence.put("top_score_drop", DataFailures.round(1 - c.currentTop() / c.baselineTop()));
        if (c.currentHitSamples() > 0 && c.baselineHitSamples() > 0) {
            evidence.put("current_hits", DataFailures.round(c.currentHits()));
            evidence.put("baseline_hits", DataFailures.round(c.baselineHits()));
        }
        evidence.put("window_samples", c.currentSamples());
        evidence.put("baseline_samples", c.baselineSamples());
        evidence.put("window", config.window().toString());
        evidence.put("baseline_window", config.baselineWindow().toString());
        evidence.put("drop_fraction", config.dropFraction());
        evidence.put("source", sample.kind().equals(Signal.Retrieval.CALL) ? "call_metadata" : "signals_api");
        return Optional.of(DataFailures.of(DataFailure.Type.RETRIEVAL_QUALITY_DROP, sample.at(), config.severity(),
                sample.index(), DETECTION, evidence, scope));
    }

    private RetrievalWindow add(Signal.Retrieval sample) {
        RetrievalWindow window = windows.computeIfAbsent(sample.index(),
                k -> new RetrievalWindow(config.bucket(), config.window(), config.baselineWindow()));
        window.add(sample.at(), sample.topScore(), sample.hits());
        return window;
    }

    void rebuildAtStart(@Observes DatabaseReady start) {
        int samples = rebuild();
        Log.infof("Retrieval windows rebuilt from %d stored samples (%d indexes)", samples, trackedIndexes());
    }

    /** Drops the windows and refills them from the stored samples of the last window + baseline. */
    public int rebuild() {
        Duration span = config.window().plus(config.baselineWindow()).plus(config.bucket());
        // Samples stored from calls before their index was unregistered (or before registration existed) stay out.
        indexes.reload();
        List<Signal.Retrieval> samples = store.retrievalSince(clock.instant().minus(span)).stream()
                .filter(s -> !s.kind().equals(Signal.Retrieval.CALL) || indexes.registered(s.index())).toList();
        // A drop raised before the restart is not raised again until its window turned over, as without one.
        Map<String, Instant> raised = store.retrievalDropsSince(clock.instant().minus(config.window()));
        synchronized (this) {
            windows.clear();
            samples.forEach(this::add);
            raised.forEach((index, at) -> {
                RetrievalWindow window = windows.get(index);
                if (window != null) {
                    window.lastRaisedAt = at;
                }
            });
        }
        return samples.size();
    }

    /** Forgets one index's window (it was unregistered). */
    public synchronized void forget(String index) {
        windows.remove(index);
    }

    /** Forgets every window, as a restart does before {@link #rebuild}. */
    public synchronized void forget() {
        windows.clear();
    }

    public synchronized boolean tracks(String index) {
        return windows.containsKey(index);
    }

    public synchronized int trackedIndexes() {
        return windows.size();
    }

    @Override
    public java.util.List<Held> boundedMaps() {
        return java.util.List.of(new Held("signals.retrieval-windows", config.maxIndexes(), this::trackedIndexes));
    }

    public synchronized long evictions() {
        return evictions;
    }

    /** The buckets one index holds: its memory bound. */
    public synchronized int bucketsPerIndex() {
        return new RetrievalWindow(config.bucket(), config.window(), config.baselineWindow()).capacity();
    }
}
