package io.faultline.data;

import io.faultline.call.StorageException;
import io.faultline.common.ClusterJobs;
import io.faultline.common.LogText;
import io.faultline.episode.EpisodeFolder;
import io.faultline.episode.FailureSink;
import io.faultline.taxonomy.DataFailure;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
import io.faultline.taxonomy.Severity;
import io.faultline.web.ProblemMappers;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Checks every space's current window against its reference (see {@link EmbeddingDrift}) and raises
 * {@code embedding_drift} while the distance exceeds the bootstrap threshold. Each check raises one failure per
 * drifted space, which the episode logic folds into one episode while the drift lasts. Also writes the vectors
 * {@link EmbeddingCallRule} buffered from LiteLLM calls.
 *
 * <p>Only the check reads vectors and runs the bootstrap; it stores each space's result beside the space. A status
 * request reads those rows (one per space) and nothing else, so its cost is O(spaces) however large the windows.
 */
@Singleton
public class EmbeddingDriftDetector implements io.faultline.common.BoundedState {

    public static final String DETECTION_METHOD = "data.embedding.mean_cosine_bootstrap";
    /** Vectors of a LiteLLM call whose dimension is not the space's: its model changed. */
    public static final String DIMENSION_METHOD = "data.embedding.dimension_check";
    /** A current window with a share of zero vectors the reference did not have: a replica answering zeros. */
    public static final String ZERO_METHOD = "data.embedding.zero_vector_share";
    public static final String PROVIDER = "embeddings";
    /** The drift check's name in {@code scheduled_job_runs} and on {@code faultline_scheduled_job_runs_total}. */
    static final String JOB = "embedding-drift";

    /**
     * A space now.
     *
     * @param state    {@code collecting_reference}, {@code awaiting_check} (the reference is complete and the next
     *                 scheduled check compares), {@code insufficient_current}, {@code ok} or {@code drift}
     * @param distance null until both windows are full enough to compare
     * @param at       when the state was determined: the time of the latest check for the states a check finds
     */
    public record SpaceStatus(String space, String state, int dimensions, int referenceN, int referenceSize,
            Instant referenceSince, int currentN, Double distance, Double threshold, Instant at) {
    }

    /** What a space's reference yields, cached so that a check does not reread and resample it every minute. */
    private static final class ReferenceSummary {

        final UUID referenceId;
        final double[] mean;
        final double zeroShare;
        final Map<Integer, Double> thresholds = new LinkedHashMap<>(8, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Integer, Double> eldest) {
                return size() > 8;
            }
        };

        ReferenceSummary(UUID referenceId, double[] mean, double zeroShare) {
            this.referenceId = referenceId;
            this.mean = mean;
            this.zeroShare = zeroShare;
        }
    }

    private final EmbeddingStore store;
    private final EmbeddingCallRule calls;
    private final EmbeddingDriftConfig config;
    private final Clock clock;
    private final FailureSink sink;
    private final EpisodeFolder folder;
    private final Counter drifts;
    private final Counter tickFailures;
    private final Counter mismatched;
    private final Counter refused;
    private final Counter overLimit;
    private final Counter fromCalls;
    private final Counter bootstraps;
    // Least recently used first; bounded by the number of spaces, which the store caps.
    private final Map<String, ReferenceSummary> summaries;
    private final int summaryCap;

    @Override
    public java.util.List<Held> boundedMaps() {
        return java.util.List.of(new Held("data.embedding-references", summaryCap, () -> {
            synchronized (summaries) {
                return summaries.size();
            }
        }));
    }

    private final ClusterJobs jobs;

    public EmbeddingDriftDetector(EmbeddingStore store, EmbeddingCallRule calls, EmbeddingDriftConfig config,
            Clock clock, FailureSink sink, EpisodeFolder folder, MeterRegistry registry, ClusterJobs jobs) {
        this.jobs = jobs;
        this.folder = folder;
        this.store = store;
        this.calls = calls;
        this.config = config;
        this.clock = clock;
        this.sink = sink;
        int cap = config.maxSpaces();
        this.summaries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, ReferenceSummary> eldest) {
                return size() > cap;
            }
        };
        this.summaryCap = cap;
        this.drifts = Counter.builder("faultline.embedding.drift.detected")
                .description("Checks that found a space's current window drifted from its reference")
                .register(registry);
        this.tickFailures = Counter.builder("faultline.embedding.drift.tick.failures")
                .description("Embedding drift checks or writes that failed").register(registry);
        this.mismatched = Counter.builder("faultline.embedding.vectors.dropped").tag("reason", "dimension_mismatch")
                .description("Vectors of LiteLLM embedding calls not followed, by reason").register(registry);
        this.refused = Counter.builder("faultline.embedding.vectors.dropped").tag("reason", "write_refused")
                .description("Vectors of LiteLLM embedding calls not followed, by reason").register(registry);
        this.overLimit = Counter.builder("faultline.embedding.vectors.dropped").tag("reason", "space_limit")
                .description("Vectors of LiteLLM embedding calls not followed, by reason").register(registry);
        this.fromCalls = Counter.builder("faultline.embedding.vectors").tag("source", "litellm")
                .description("Vectors stored for embedding drift").register(registry);
        this.bootstraps = Counter.builder("faultline.embedding.drift.bootstraps")
                .description("Bootstrap threshold computations (only drift checks run them, never a status request)")
                .register(registry);
    }

    @Scheduled(every = "{faultline.embedding-drift.interval}", delayed = "{faultline.embedding-drift.interval}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void tick() {
        try {
            checkOnce();
        } catch (RuntimeException e) {
            tickFailures.increment();
            Log.errorf(e, "Embedding drift check failed; it runs again in %s", config.interval());
        }
    }

    /**
     * Checks every space if this replica claims the interval's check: one check per interval across replicas (the
     * stored last run), one at a time (the lock). The scheduled check and an asked-for one take the same claim, as
     * every check raises each drifted space once more in its episode. Empty when another check had the claim or the
     * lock, or the schema is not migrated yet.
     */
    public Optional<List<SpaceStatus>> checkOnce() {
        List<List<SpaceStatus>> checked = new ArrayList<>(1);
        claimAndCheck(checked);
        return checked.stream().findFirst();
    }

    /**
     * As {@link #checkOnce}, for a caller who is answered why nothing was checked: when the claim could not be taken
     * (the database failed it, the schema is not migrated yet or this replica is stopping) a {@link StorageException}
     * without a cause, answered 503 with Retry-After as the database being away; empty when another check had the
     * claim or the lock.
     */
    public Optional<List<SpaceStatus>> checkAsked() {
        List<List<SpaceStatus>> checked = new ArrayList<>(1);
        ClusterJobs.Claim claim = claimAndCheck(checked);
        if (claim == ClusterJobs.Claim.NOT_READY || claim == ClusterJobs.Claim.FAILED) {
            String why = claim == ClusterJobs.Claim.FAILED ? "the database failed the check's claim (logged)"
                    : jobs.stopping() ? "this replica is stopping" : "the database is not ready yet (readiness:"
                            + " database-schema)";
            throw new StorageException(why, null, "No check ran: " + why + ". Retry later.");
        }
        return checked.stream().findFirst();
    }

    private ClusterJobs.Claim claimAndCheck(List<List<SpaceStatus>> checked) {
        return jobs.attempt(JOB, config.interval(), () -> {
            if (!store.exclusively(() -> checked.add(check()))) {
                Log.debug("Another replica is checking embedding drift");
            }
        });
    }

    /** When the latest check (on any replica) started; empty before the first. */
    public Optional<Instant> lastCheckStarted() {
        return jobs.lastStarted(JOB);
    }

    /** Per replica: writes the vectors of the calls this replica ingested (its own buffer). */
    @Scheduled(every = "{faultline.embedding-drift.flush-interval}",
            delayed = "{faultline.embedding-drift.flush-interval}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void flushTick() {
        if (!jobs.ready()) {
            return;
        }
        try {
            flush();
        } catch (RuntimeException e) {
            tickFailures.increment();
            Log.errorf(e, "Writing embedding vectors of LiteLLM calls failed");
        }
    }

    /**
     * A graceful stop (SIGTERM: every rolling deployment) writes what was buffered since the last flush. Quarkus fires
     * this after the HTTP server let the requests in flight finish, so every stored call's vectors are in the buffer;
     * only a crash loses those seconds.
     */
    void flushOnStop(@Observes ShutdownEvent stop) {
        if (!jobs.migrated()) {
            return;
        }
        try {
            int written = flush();
            if (written > 0) {
                Log.infof("Stopping: wrote the %d buffered embedding vectors of LiteLLM calls", written);
            }
        } catch (RuntimeException e) {
            Log.warnf("Stopping: the buffered embedding vectors of LiteLLM calls could not be written (%s)",
                    ProblemMappers.rootMessage(e));
        }
    }

    /** Writes the vectors buffered from stored LiteLLM calls; returns how many were written (resends excluded). */
    public synchronized int flush() {
        List<EmbeddingCallRule.Pending> pending = calls.drain();
        if (pending.isEmpty()) {
            return 0;
        }
        Instant now = clock.instant();
        int stored = 0;
        List<Failure> changed = new ArrayList<>();
        for (int i = 0; i < pending.size(); i++) {
            EmbeddingCallRule.Pending p = pending.get(i);
            try {
                EmbeddingStore.Stored s = store.store(new EmbeddingStore.Signal("litellm", p.callId(), p.space(),
                        p.at(), p.vectors()), config.referenceSize(), config.maxSpaces(), now);
                if (!s.duplicate()) {
                    stored += p.vectors().size();
                }
            } catch (EmbeddingStore.DimensionMismatch e) {
                // A model group whose model changed dimension: the reference cannot compare; a reset is needed. That
                // is the largest drift there is, not a reason to go quiet once a whole window's worth of vectors came
                // without one of the space's dimension (a group whose callers mix dimensions keeps resetting it).
                // The run is counted in the database, so that a restart or a second replica does not start it anew.
                mismatched.increment(p.vectors().size());
                Log.debugf("Dropped vectors of call %s: %s", LogText.of(p.callId()), e.getMessage());
                try {
                    // A crossing's failure is in the inbox with the count (durable): only its fold is left to do.
                    store.mismatched(p.space(), p.vectors().size(), p.at(), config.windowSize(),
                            run -> dimensionChanged(p, e, run)).ifPresent(changed::add);
                } catch (RuntimeException away) {
                    if (ProblemMappers.databaseAway(away)) {
                        calls.requeue(pending.subList(i, pending.size()));
                        fromCalls.increment(stored);
                        fold(changed, away); // the runs of earlier calls crossed for good
                        throw away;
                    }
                    Log.warnf(away, "Could not count the vectors of call %s dropped for their dimension",
                            LogText.of(p.callId()));
                }
            } catch (EmbeddingStore.SpaceLimit e) {
                // A new model group while every space holds a complete reference: the tracked spaces stay.
                overLimit.increment(p.vectors().size());
                Log.debugf("Dropped vectors of call %s: %s", p.callId(), e.getMessage());
            } catch (RuntimeException e) {
                if (ProblemMappers.databaseAway(e)) {
                    // The database went away mid-flush: this call's vectors and the rest wait for the next flush.
                    calls.requeue(pending.subList(i, pending.size()));
                    fromCalls.increment(stored);
                    fold(changed, e); // earlier calls' crossings are in the inbox: fold them now
                    throw e;
                }
                // Refused for what it holds: it would be refused again, and must not hold the others back.
                refused.increment(p.vectors().size());
                Log.warnf(e, "Dropped the vectors of call %s: the database refused them", LogText.of(p.callId()));
            }
        }
        fromCalls.increment(stored);
        fold(changed, null);
        return stored;
    }

    /** Folds crossings already in the inbox; a fold that fails leaves them there for the inbox recovery job. */
    private void fold(List<Failure> changed, RuntimeException away) {
        if (changed.isEmpty()) {
            return;
        }
        try {
            folder.fold(changed, List.of());
        } catch (RuntimeException e) {
            if (away == null) {
                throw e;
            }
            away.addSuppressed(e);
        }
    }

    private Failure dimensionChanged(EmbeddingCallRule.Pending p, EmbeddingStore.DimensionMismatch e,
            EmbeddingStore.Mismatch run) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("method", "dimension_check");
        evidence.put("reason", "dimension_changed");
        evidence.put("reference_dimensions", e.expected);
        evidence.put("dimensions", e.actual);
        evidence.put("vectors_in_a_row", run.vectors());
        evidence.put("call_id", p.callId());
        return Failure.of(DataFailure.Type.EMBEDDING_DRIFT, UUID.randomUUID(), run.since(), config.severeSeverity(),
                PROVIDER, p.space(), DIMENSION_METHOD, evidence, new ImpactScope(p.space(), p.space(), p.callId(),
                        null, null));
    }

    /**
     * Checks every space now (at the clock's time), raises a failure for each drifted one, prunes what left the
     * windows, and returns every space's status.
     */
    public synchronized List<SpaceStatus> check() {
        flush();
        Instant now = clock.instant();
        List<SpaceStatus> statuses = new ArrayList<>();
        List<Failure> failures = new ArrayList<>();
        for (EmbeddingStore.Space space : store.spaces()) {
            Evaluation evaluation = evaluate(space, now);
            SpaceStatus status = evaluation.status();
            statuses.add(status);
            store.recordCheck(space.space(), space.referenceId(), status.state(), status.currentN(),
                    status.distance(), status.threshold(), now);
            if (evaluation.zeros() != null) {
                failures.add(zeroVectors(status, evaluation.zeros()));
            } else if ("drift".equals(status.state())) {
                failures.add(failure(status));
            }
            store.prune(space.space(), now.minus(config.window()), config.windowSize());
        }
        store.pruneSignals(now.minus(config.signalRetention()));
        drifts.increment(failures.size());
        sink.raise(failures);
        return statuses;
    }

    /** One space's status as of its latest check (its reference count is live); reads no vectors. */
    public Optional<SpaceStatus> status(String space) {
        return store.space(space).map(s -> lastChecked(s, clock.instant()));
    }

    /** Every space's status as of its latest check; one query, no vectors, no bootstrap. */
    public List<SpaceStatus> statuses() {
        Instant now = clock.instant();
        return store.spaces().stream().map(s -> lastChecked(s, now)).toList();
    }

    private SpaceStatus lastChecked(EmbeddingStore.Space space, Instant now) {
        if (space.referenceN() < config.referenceSize()) {
            return status(space, "collecting_reference", 0, null, null, now);
        }
        if (space.checkState() == null || "collecting_reference".equals(space.checkState())) {
            return status(space, "awaiting_check", 0, null, null, now);
        }
        return status(space, space.checkState(), space.currentN() == null ? 0 : space.currentN(), space.distance(),
                space.threshold(), space.checkedAt());
    }

    /** Deletes a space (reference and window); its next vectors start a new reference. */
    public synchronized boolean reset(String space) {
        synchronized (summaries) {
            summaries.remove(space);
        }
        return store.reset(space);
    }

    /** Drops all in-memory state, as a restart does. */
    public synchronized void forget() {
        synchronized (summaries) {
            summaries.clear();
        }
        calls.clear();
    }

    /**
     * A check's finding for one space.
     *
     * @param zeros the shares of zero vectors when they make the drift ({@code current}, {@code reference}), else null
     */
    private record Evaluation(SpaceStatus status, double[] zeros) {
    }

    private Evaluation evaluate(EmbeddingStore.Space space, Instant now) {
        if (space.referenceN() < config.referenceSize()) {
            return new Evaluation(status(space, "collecting_reference", 0, null, null, now), null);
        }
        List<float[]> current = store.current(space.space(), now.minus(config.window()), now, config.windowSize());
        if (current.size() < config.minSamples()) {
            return new Evaluation(status(space, "insufficient_current", current.size(), null, null, now), null);
        }
        // Zero vectors have no direction: the mean's direction is as noisy as its non-zero vectors alone make it, so
        // the threshold is for their count (a window of 200 with 18 zeros is compared as the 182 it really is).
        List<float[]> live = EmbeddingDrift.nonZero(current);
        double currentZeros = 1 - (double) live.size() / current.size();
        double[] mean;
        Double threshold = null;
        double referenceZeros;
        synchronized (summaries) {
            ReferenceSummary summary = summaries.get(space.space());
            if (summary != null && summary.referenceId.equals(space.referenceId())) {
                mean = summary.mean;
                referenceZeros = summary.zeroShare;
                threshold = summary.thresholds.get(live.size());
            } else {
                mean = null;
                referenceZeros = 0;
            }
        }
        boolean enough = live.size() >= config.minSamples();
        if (mean == null || (enough && threshold == null)) {
            // Resampling runs outside the lock: it can take a second for large spaces.
            List<float[]> reference = store.reference(space.space());
            List<float[]> referenceLive = EmbeddingDrift.nonZero(reference);
            mean = EmbeddingDrift.mean(reference);
            referenceZeros = 1 - (double) referenceLive.size() / reference.size();
            if (enough && threshold == null) {
                // A reference of zero vectors only has no direction to keep: any direction is away from it.
                long seed = config.seed() ^ space.space().hashCode();
                threshold = referenceLive.isEmpty() ? 0.0 : EmbeddingDrift.threshold(referenceLive, live.size(),
                        config.resamples(), config.quantile(), config.margin(), seed);
                bootstraps.increment();
            }
            synchronized (summaries) {
                ReferenceSummary summary = summaries.get(space.space());
                if (summary == null || !summary.referenceId.equals(space.referenceId())) {
                    summary = new ReferenceSummary(space.referenceId(), mean, referenceZeros);
                    summaries.put(space.space(), summary);
                }
                if (threshold != null) {
                    summary.thresholds.put(live.size(), threshold);
                }
            }
        }
        // Zero vectors leave the mean's direction as it was: only their share shows a replica answering zeros.
        boolean zeros = currentZeros - referenceZeros > config.zeroShare();
        double[] shares = zeros ? new double[] {currentZeros, referenceZeros} : null;
        if (!enough) {
            // Too few vectors with a direction to compare means; the share of zeros still speaks.
            return new Evaluation(status(space, zeros ? "drift" : "insufficient_current", current.size(), null, null,
                    now), shares);
        }
        EmbeddingDrift.Verdict verdict = EmbeddingDrift.compare(mean, space.referenceN(), threshold, live);
        SpaceStatus status = status(space, verdict.drift() || zeros ? "drift" : "ok", current.size(),
                verdict.distance(), threshold, now);
        return new Evaluation(status, shares);
    }

    private SpaceStatus status(EmbeddingStore.Space space, String state, int currentN, Double distance,
            Double threshold, Instant now) {
        return new SpaceStatus(space.space(), state, space.dimensions(), space.referenceN(), config.referenceSize(),
                space.referenceSince(), currentN, distance, threshold, now);
    }

    private Failure zeroVectors(SpaceStatus s, double[] zeros) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("method", "zero_vector_share");
        evidence.put("reason", "zero_vectors");
        evidence.put("zero_share", Math.round(zeros[0] * 1e4) / 1e4);
        evidence.put("reference_zero_share", Math.round(zeros[1] * 1e4) / 1e4);
        evidence.put("max_zero_share", config.zeroShare());
        if (s.distance() != null) {
            // Absent when too few vectors had a direction to compare means.
            evidence.put("distance", s.distance());
            evidence.put("threshold", s.threshold());
        }
        evidence.put("reference_n", s.referenceN());
        evidence.put("current_n", s.currentN());
        evidence.put("dimensions", s.dimensions());
        evidence.put("window", config.window().toString());
        return Failure.of(DataFailure.Type.EMBEDDING_DRIFT, UUID.randomUUID(), s.at(), config.severeSeverity(),
                PROVIDER, s.space(), ZERO_METHOD, evidence, new ImpactScope(s.space(), s.space(), null, null, null));
    }

    private Failure failure(SpaceStatus s) {
        boolean severe = s.distance() > config.severeFactor() * s.threshold();
        Severity severity = severe ? config.severeSeverity() : config.severity();
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("method", "mean_cosine_bootstrap");
        evidence.put("distance", s.distance());
        evidence.put("threshold", s.threshold());
        evidence.put("ratio", Math.round(s.distance() / s.threshold() * 100) / 100.0);
        evidence.put("quantile", config.quantile());
        evidence.put("margin", config.margin());
        evidence.put("resamples", config.resamples());
        evidence.put("reference_n", s.referenceN());
        evidence.put("reference_since", String.valueOf(s.referenceSince()));
        evidence.put("current_n", s.currentN());
        evidence.put("dimensions", s.dimensions());
        evidence.put("window", config.window().toString());
        return Failure.of(DataFailure.Type.EMBEDDING_DRIFT, UUID.randomUUID(), s.at(), severity, PROVIDER, s.space(),
                DETECTION_METHOD, evidence, new ImpactScope(s.space(), s.space(), null, null, null));
    }
}
