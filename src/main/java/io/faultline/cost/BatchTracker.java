package io.faultline.cost;

import io.faultline.call.LlmCall;
import io.faultline.taxonomy.Severity;
import jakarta.enterprise.context.ApplicationScoped;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code batch_cost_overrun}: calls tagged with a batch id ({@code batch_id}, else {@code job_id}, in
 * {@code requester_metadata}) add up past the batch's expected cost, set only by {@code PUT /api/v1/batches/{id}}.
 * Callers write {@code requester_metadata} themselves, so an expectation carried by a call is never believed: it could
 * silence or fake the alert of someone else's batch, and each new id would add a row. Only batches with an
 * expectation are tracked, at most {@code faultline.cost.max-tracked-batches}, least recently used evicted; an
 * evicted batch that comes back is rebuilt from its stored calls. A batch id reused by every run of a job
 * ({@code nightly-embed} each night) is judged per run: a call that ends more than
 * {@code faultline.cost.batch-run-gap} after the batch's previous one starts a new run, whose spend starts from zero
 * and whose thresholds fire again (every night's calls added to one spend overran a correct expectation by the
 * second night).
 */
@ApplicationScoped
public class BatchTracker implements io.faultline.common.BoundedState {

    /** Metadata keys naming the batch, in order; {@link CostStore#BATCH_ID} must agree. */
    static final List<String> ID_KEYS = List.of("batch_id", "job_id");
    static final int MAX_ID_LENGTH = 200;

    /** A batch's expectation and its latest run: its spend, calls, start and the thresholds it passed. */
    public record BatchView(String batchId, Double expectedCostUsd, String expectedSource, double spentUsd,
            Double ratio, long calls, List<Double> alerted, Instant runStartedAt) {
    }

    /** Spend of one batch's latest run, as stored calls have it (null start: no call yet). Guarded by itself. */
    static final class Ledger {
        final String batchId;
        final double expected;
        final String source;
        Instant runStart;
        Instant lastEnded;
        double spent;
        long calls;
        final Set<Double> fired = new HashSet<>();

        Ledger(String batchId, double expected, String source, CostStore.Run run) {
            this.batchId = batchId;
            this.expected = expected;
            this.source = source;
            take(run);
        }

        /** Takes the stored run; a run other than the one held starts its thresholds afresh. */
        void take(CostStore.Run run) {
            Instant start = run == null ? null : run.startedAt();
            if (!Objects.equals(start, runStart)) {
                fired.clear();
            }
            runStart = start;
            lastEnded = run == null ? null : run.lastEndedAt();
            spent = run == null ? 0 : run.spentUsd();
            calls = run == null ? 0 : run.calls();
        }
    }

    record Candidate(Ledger ledger, double threshold, Instant runStart) {
    }

    private final CostStore store;
    private final CostAlerts alerts;
    private final Clock clock;
    private final CostConfig config;
    private final Thresholds thresholds;
    // Guarded by this. Batches without an expectation are remembered too, so that each costs one lookup, not one
    // per ingest; a PUT clears the entry.
    private final BoundedLru<String, Ledger> ledgers;
    private final BoundedLru<String, Boolean> unexpected;

    public BatchTracker(CostStore store, CostAlerts alerts, Clock clock, CostConfig config) {
        this.store = store;
        this.alerts = alerts;
        this.clock = clock;
        this.config = config;
        this.thresholds = Thresholds.parse("faultline.cost.batch-overrun-at", config.batchOverrunAt());
        this.ledgers = new BoundedLru<>(config.maxTrackedBatches());
        this.unexpected = new BoundedLru<>(config.maxTrackedBatches());
    }

    /** The batch a call belongs to, or null. Mirrors the SQL coalesce: {@code batch_id} wins over {@code job_id}. */
    static String batchId(LlmCall call) {
        Map<String, Object> metadata = call.requesterMetadata();
        if (metadata == null) {
            return null;
        }
        for (String key : ID_KEYS) {
            Object value = metadata.get(key);
            if (value != null) {
                String id = value instanceof Map || value instanceof List ? null : String.valueOf(value);
                return id == null || id.isBlank() || id.length() > MAX_ID_LENGTH ? null : id;
            }
        }
        return null;
    }

    /** Adds newly stored calls (never resends) to the batches they are tagged with. */
    public void observe(List<LlmCall> calls) {
        Map<String, List<LlmCall>> byBatch = new LinkedHashMap<>();
        for (LlmCall call : calls) {
            String id = batchId(call);
            if (id != null) {
                byBatch.computeIfAbsent(id, k -> new ArrayList<>()).add(call);
            }
        }
        List<Candidate> candidates = new ArrayList<>();
        byBatch.forEach((id, group) -> {
            Ledger ledger;
            synchronized (this) {
                ledger = ledgers.get(id);
            }
            if (ledger == null) {
                // Its spend comes from stored calls, these included: they were committed before this runs.
                ledger = load(id, latestEnd(group));
                if (ledger != null) {
                    synchronized (ledger) {
                        crossed(ledger, candidates);
                    }
                }
                return;
            }
            group.sort(Comparator.comparing(LlmCall::endedAt));
            boolean otherRun = false;
            synchronized (ledger) {
                for (LlmCall call : group) {
                    // The first call of a run, one after a gap or one of an earlier run: which run it belongs to is
                    // for the stored calls to say (other replicas' calls included), not this replica's share of them.
                    if (ledger.runStart == null || call.endedAt().isBefore(ledger.runStart)
                            || call.endedAt().isAfter(ledger.lastEnded.plus(config.batchRunGap()))) {
                        otherRun = true;
                        break;
                    }
                    ledger.spent += call.costUsd();
                    ledger.calls++;
                    if (call.endedAt().isAfter(ledger.lastEnded)) {
                        ledger.lastEnded = call.endedAt();
                    }
                    crossed(ledger, candidates);
                }
            }
            if (otherRun) {
                synchronized (this) {
                    ledgers.remove(id, ledger);
                }
                Ledger fresh = load(id, latestEnd(group));
                if (fresh != null) {
                    synchronized (fresh) {
                        crossed(fresh, candidates);
                    }
                }
            }
        });
        confirm(candidates);
    }

    /**
     * Replaces in-memory spend with the sums of stored calls and picks up expectations set on other replicas, also
     * for batches remembered here as having none: a job that sent calls before its expectation was set through
     * another replica was otherwise never watched here (for good once that replica was gone).
     */
    public void reconcile() {
        List<String> ids;
        List<String> without;
        // The latest call each ledger read: the batch's latest is at or after it (the lookup starts there).
        Map<String, Instant> since = new HashMap<>();
        synchronized (this) {
            ids = new ArrayList<>(ledgers.keySet());
            without = new ArrayList<>(unexpected.keySet());
            for (String id : ids) {
                Ledger ledger = ledgers.get(id);
                synchronized (ledger) {
                    since.put(id, ledger.lastEnded);
                }
            }
        }
        Set<String> adopted = new HashSet<>();
        if (!without.isEmpty()) {
            for (CostStore.BatchRow row : store.batches(without)) {
                synchronized (this) {
                    unexpected.remove(row.batchId());
                }
                adopted.add(row.batchId());
                ids.add(row.batchId());
                since.put(row.batchId(), null);
            }
        }
        if (ids.isEmpty()) {
            return;
        }
        Map<String, CostStore.Run> runs = store.batchRuns(since, config.batchRunGap());
        List<Candidate> candidates = new ArrayList<>();
        for (CostStore.BatchRow row : store.batches(ids)) {
            Ledger fresh = new Ledger(row.batchId(), row.expectedCostUsd(), row.source(), runs.get(row.batchId()));
            Ledger kept;
            synchronized (this) {
                Ledger old = ledgers.get(row.batchId());
                if (old == null) {
                    if (!adopted.contains(row.batchId())) {
                        continue; // evicted meanwhile
                    }
                    old = fresh; // an expectation set on another replica since this one last looked
                    ledgers.put(row.batchId(), fresh);
                }
                if (old.expected == fresh.expected) {
                    synchronized (old) {
                        old.take(runs.get(row.batchId()));
                    }
                    kept = old;
                } else {
                    ledgers.put(row.batchId(), fresh);
                    kept = fresh;
                }
            }
            synchronized (kept) {
                crossed(kept, candidates);
            }
        }
        confirm(candidates);
    }

    /** What a restart does: forgets all batches, then reloads those active within the horizon from stored calls. */
    public void rebuild() {
        synchronized (this) {
            ledgers.clear();
            unexpected.clear();
        }
        List<CostStore.BatchRow> rows = store.recentBatches(clock.instant().minus(config.batchHorizon()),
                config.maxTrackedBatches());
        if (rows.isEmpty()) {
            return;
        }
        Map<String, CostStore.Run> runs = store.batchRuns(rows.stream().map(CostStore.BatchRow::batchId).toList(),
                config.batchRunGap());
        List<Candidate> candidates = new ArrayList<>();
        // Oldest first, so that the most recent end up the most recently used.
        for (int i = rows.size() - 1; i >= 0; i--) {
            CostStore.BatchRow row = rows.get(i);
            Ledger ledger = new Ledger(row.batchId(), row.expectedCostUsd(), row.source(), runs.get(row.batchId()));
            synchronized (this) {
                ledgers.put(row.batchId(), ledger);
            }
            synchronized (ledger) {
                crossed(ledger, candidates);
            }
        }
        confirm(candidates);
    }

    /** Sets a batch's expected cost (idempotent) and answers with its spend so far. */
    public BatchView put(String batchId, double expectedCostUsd) {
        CostStore.BatchRow row = store.putBatch(batchId, expectedCostUsd, "api", clock.instant());
        Ledger ledger = new Ledger(batchId, row.expectedCostUsd(), row.source(), run(batchId, null));
        synchronized (this) {
            Ledger old = ledgers.get(batchId);
            if (old != null && old.expected == ledger.expected
                    && Objects.equals(old.runStart, ledger.runStart)) {
                ledger.fired.addAll(old.fired);
            }
            ledgers.put(batchId, ledger);
            unexpected.remove(batchId);
        }
        List<Candidate> candidates = new ArrayList<>();
        synchronized (ledger) {
            crossed(ledger, candidates);
        }
        confirm(candidates);
        return view(ledger);
    }

    /**
     * A batch's stored expectation and the spend of its latest run's stored calls: a replica's memory holds only the
     * calls it ingested itself since its last reconcile (behind a load balancer each replica showed its own share) and
     * the expectation as it was then.
     */
    public Optional<BatchView> get(String batchId) {
        Ledger ledger;
        synchronized (this) {
            ledger = ledgers.get(batchId);
        }
        Instant since = null;
        if (ledger != null) {
            synchronized (ledger) {
                since = ledger.lastEnded;
            }
        }
        CostStore.Run run = run(batchId, since);
        Optional<CostStore.BatchRow> row = store.batch(batchId);
        if (ledger != null && row.isPresent() && row.get().expectedCostUsd() == ledger.expected) {
            List<Candidate> candidates = new ArrayList<>();
            synchronized (ledger) {
                ledger.take(run);
                crossed(ledger, candidates);
            }
            confirm(candidates);
            return Optional.of(view(ledger));
        }
        if (ledger != null) {
            synchronized (this) {
                ledgers.remove(batchId, ledger); // changed on another replica: the next call loads it as stored
            }
        }
        if (row.isEmpty() && run == null) {
            return Optional.empty();
        }
        return Optional.of(row.map(r -> view(new Ledger(batchId, r.expectedCostUsd(), r.source(), run)))
                .orElseGet(() -> new BatchView(batchId, null, null, run.spentUsd(), null, run.calls(), List.of(),
                        run.startedAt())));
    }

    /** The batch's latest run as stored; null when it has no call (none ending at or after {@code since}). */
    private CostStore.Run run(String batchId, Instant since) {
        Map<String, Instant> one = new HashMap<>();
        one.put(batchId, since);
        return store.batchRuns(one, config.batchRunGap()).get(batchId);
    }

    private static Instant latestEnd(List<LlmCall> calls) {
        Instant latest = null;
        for (LlmCall call : calls) {
            latest = latest == null || call.endedAt().isAfter(latest) ? call.endedAt() : latest;
        }
        return latest;
    }

    synchronized int tracked() {
        return ledgers.size();
    }

    synchronized int trackedUnexpected() {
        return unexpected.size();
    }

    @Override
    public List<Held> boundedMaps() {
        return List.of(new Held("cost.batches", config.maxTrackedBatches(), this::tracked),
                new Held("cost.batches.unexpected", config.maxTrackedBatches(), this::trackedUnexpected));
    }

    /** The spend this replica holds for a tracked batch (its memory, not the stored calls); null when untracked. */
    Double heldSpent(String batchId) {
        Ledger ledger;
        synchronized (this) {
            ledger = ledgers.get(batchId);
        }
        if (ledger == null) {
            return null;
        }
        synchronized (ledger) {
            return ledger.spent;
        }
    }

    synchronized long evictions() {
        return ledgers.evictions();
    }

    /** Loads a batch's expectation and latest run; its latest call ends at or after {@code since} (null: unknown). */
    private Ledger load(String id, Instant since) {
        synchronized (this) {
            if (unexpected.containsKey(id)) {
                return null;
            }
        }
        Optional<CostStore.BatchRow> row = store.batch(id);
        if (row.isEmpty()) {
            // Remembered so that a batch without an expectation costs one lookup; a caller inventing ids only
            // churns this cache, never the ledgers of batches an operator set.
            synchronized (this) {
                unexpected.put(id, Boolean.TRUE);
            }
            return null;
        }
        Ledger ledger = new Ledger(id, row.get().expectedCostUsd(), row.get().source(), run(id, since));
        synchronized (this) {
            ledgers.put(id, ledger);
            unexpected.remove(id);
        }
        return ledger;
    }

    /** Under the ledger's lock: ratios passed and not yet fired become candidates (marked fired now). */
    private void crossed(Ledger ledger, List<Candidate> candidates) {
        for (double ratio : thresholds.fractions()) {
            if (!ledger.fired.contains(ratio) && CostStore.passed(ledger.spent, ratio * ledger.expected)) {
                ledger.fired.add(ratio);
                candidates.add(new Candidate(ledger, ratio, ledger.runStart));
            }
        }
    }

    /**
     * Checks each candidate against the stored expectation and calls and raises it once. An expectation another
     * replica changed since this one's last reconcile is judged as stored instead: the operator raised it to keep the
     * old one from alerting.
     */
    private void confirm(List<Candidate> candidates) {
        List<String> changed = new ArrayList<>(0);
        for (Candidate c : candidates) {
            Ledger l = c.ledger();
            boolean keep = false;
            try {
                Optional<CostStore.BatchRow> row = store.batch(l.batchId);
                if (row.isEmpty() || row.get().expectedCostUsd() != l.expected) {
                    if (!changed.contains(l.batchId)) {
                        changed.add(l.batchId);
                    }
                    continue;
                }
                if (store.batchAlerted(l.batchId, l.expected, c.threshold(), c.runStart())) {
                    keep = true;
                    continue;
                }
                Optional<CostStore.Crossing> crossing = store.batchCrossing(l.batchId, c.runStart(),
                        c.threshold() * l.expected);
                if (crossing.isPresent()) {
                    Severity severity = thresholds.severity(c.threshold());
                    alerts.batchOverrun(l.batchId, l.expected, l.source, c.runStart(), c.threshold(), severity,
                            crossing.get());
                    keep = true;
                }
            } finally {
                if (!keep) {
                    synchronized (l) {
                        if (Objects.equals(l.runStart, c.runStart())) {
                            l.fired.remove(c.threshold());
                        }
                    }
                }
            }
        }
        List<Candidate> again = new ArrayList<>();
        for (String id : changed) {
            synchronized (this) {
                ledgers.remove(id);
            }
            Ledger fresh = load(id, null);
            if (fresh != null) {
                synchronized (fresh) {
                    crossed(fresh, again);
                }
            }
        }
        if (!again.isEmpty()) {
            confirm(again);
        }
    }

    private BatchView view(Ledger ledger) {
        synchronized (ledger) {
            return new BatchView(ledger.batchId, ledger.expected, ledger.source, ledger.spent,
                    ledger.spent / ledger.expected, ledger.calls, List.copyOf(new TreeSet<>(ledger.fired)),
                    ledger.runStart);
        }
    }
}
