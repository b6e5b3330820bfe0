package io.faultline.cost;

import io.faultline.call.LlmCall;
import io.faultline.taxonomy.Severity;
import io.faultline.web.ApiProblem;
import io.quarkus.logging.Log;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * {@code budget_exceeded}: spend per team, API key, user or model in the current UTC day or month. Every ingest adds
 * its calls to the budget's row in {@code budget_spend}, in the transaction that stores them
 * ({@link BudgetSpendWriter}), so the row holds what all replicas stored; a replica judges thresholds against it after
 * each ingest, reads it for the API, and restates it from the stored calls at every reconcile. A threshold fires once
 * per budget amount and period; the crossing is confirmed against stored calls first, so a replica never alerts on a
 * count it got wrong, and the failure's time is the end of the call that crossed.
 */
@ApplicationScoped
public class BudgetTracker implements io.faultline.common.BoundedState {

    /** A budget as configured or set through the API. */
    public record Budget(BudgetScope scope, String id, Period period, double amountUsd, List<Double> warnAt,
            String source) {
        Key key() {
            return new Key(scope, id);
        }
    }

    /** The spend of a budget in its current period, as the API shows it. */
    public record BudgetView(String scope, String id, String period, double amountUsd, List<Double> warnAt,
            String source, Instant periodStart, Instant periodEnd, double spentUsd, double fraction, long calls,
            List<Double> alerted) {
    }

    record Key(BudgetScope scope, String id) {
    }

    /** Spend of one budget in one period. Guarded by itself. */
    static final class Ledger {
        final Budget budget;
        Instant periodStart;
        double spent;
        long calls;
        final Set<Double> fired = new HashSet<>();

        Ledger(Budget budget, Instant periodStart) {
            this.budget = budget;
            this.periodStart = periodStart;
        }

        /** Moves to the period of {@code now}, starting from zero (the next reconcile adds what came early). */
        void roll(Instant now) {
            Instant start = budget.period().start(now);
            if (!start.equals(periodStart)) {
                periodStart = start;
                spent = 0;
                calls = 0;
                fired.clear();
            }
        }
    }

    record Candidate(Ledger ledger, Instant periodStart, double threshold) {
    }

    /** The transaction timeout the settle bound is read from, and the one Quarkus takes when it is not set. */
    static final String TRANSACTION_TIMEOUT = "quarkus.transaction-manager.default-transaction-timeout";
    static final Duration DEFAULT_SETTLE_BOUND = Duration.ofSeconds(60);

    private final CostStore store;
    private final CostAlerts alerts;
    private final Clock clock;
    private final CostConfig config;
    private final Thresholds severities;
    /**
     * How long a budget's restate waits for the ingests open here that chose their spend rows before the budget was
     * known: the transaction timeout ({@value #TRANSACTION_TIMEOUT}), past which an ingest's transaction is rolled
     * back, so no such ingest is still open to wait for.
     */
    private final Duration settleBound;
    private final Map<Key, Budget> configured;
    private final Map<Key, Ledger> ledgers = new ConcurrentHashMap<>();
    /** Budgets an ingest wrote spend for that this replica did not track: loaded at the next judging. */
    private final Set<Key> unknown = ConcurrentHashMap.newKeySet();
    /**
     * The budgets an ingest writes spend for without asking the database: the configured ones, those stored when the
     * budgets were loaded at {@link #loadedVersion}, and those set through this replica since. Replaced, not changed,
     * under {@link #inFlight}, each time with a new {@link #generation}.
     */
    private volatile Set<Key> watched;
    /**
     * The ingests whose transactions are open, by the generation of {@link #watched} they chose their spend rows
     * from: a budget new or changed here is restated from the stored calls only once those that chose before it
     * ended (see {@link #settle}), or the calls of one that commits after the restate are in no row until the next.
     * Guarded by itself, as is {@link #generation}.
     */
    private final TreeMap<Long, Integer> inFlight = new TreeMap<>();
    private long generation;
    /** The version of the stored budgets (V52) they were loaded at; -1 before the first load. */
    private volatile long loadedVersion = -1;
    /** The latest version an ingest read, and when by the service's clock: read again a check interval later. */
    private volatile long seenVersion = -1;
    private volatile Instant versionReadAt;

    /** A replica's tracker whose ingests' transactions time out after Quarkus's default (tests of replicas). */
    public BudgetTracker(CostStore store, CostAlerts alerts, Clock clock, CostConfig config) {
        this(store, alerts, clock, config, DEFAULT_SETTLE_BOUND);
    }

    /**
     * The tracker; {@code transactionTimeout} bounds the wait for the ingests open when a budget is set. A timeout
     * that is not positive (Narayana's "none") keeps Quarkus's default: an ingest without one is not waited for
     * indefinitely.
     */
    @Inject
    public BudgetTracker(CostStore store, CostAlerts alerts, Clock clock, CostConfig config,
            @ConfigProperty(name = TRANSACTION_TIMEOUT, defaultValue = "60s") Duration transactionTimeout) {
        this.store = store;
        this.alerts = alerts;
        this.clock = clock;
        this.config = config;
        this.settleBound = transactionTimeout.isNegative() || transactionTimeout.isZero() ? DEFAULT_SETTLE_BOUND
                : transactionTimeout;
        this.severities = Thresholds.parse("faultline.cost.warn-at", config.warnAt());
        this.configured = configured(config, severities);
        this.watched = Set.copyOf(configured.keySet());
    }

    /** Budgets from {@code faultline.cost.budgets}; a mistake there stops the start-up with the key named. */
    static Map<Key, Budget> configured(CostConfig config, Thresholds severities) {
        Map<Key, Budget> budgets = new LinkedHashMap<>();
        config.budgets().forEach((name, b) -> {
            String property = "faultline.cost.budgets.\"" + name + "\"";
            int colon = name.indexOf(':');
            BudgetScope scope = colon < 0 ? null : BudgetScope.parse(name.substring(0, colon));
            if (scope == null || colon == name.length() - 1) {
                throw new IllegalArgumentException(property + ": the key must be scope:id with scope one of team,"
                        + " key, user, model");
            }
            Period period = Period.parse(b.period());
            if (period == null) {
                throw new IllegalArgumentException(property + ".period must be day or month");
            }
            if (!(b.amount() > 0) || Double.isInfinite(b.amount())) {
                throw new IllegalArgumentException(property + ".amount must be a positive number of US dollars");
            }
            List<Double> warnAt = b.warnAt().map(BudgetTracker::normalise).orElse(null);
            if (warnAt != null && (warnAt.isEmpty() || warnAt.get(0) <= 0)) {
                throw new IllegalArgumentException(property + ".warn-at must list fractions above 0");
            }
            Budget budget = new Budget(scope, name.substring(colon + 1), period, b.amount(), warnAt, "config");
            budgets.put(budget.key(), budget);
        });
        return budgets;
    }

    static List<Double> normalise(List<Double> fractions) {
        return List.copyOf(new TreeSet<>(fractions));
    }

    // ---- accumulation

    /** Adds newly stored calls (never resends) to the budgets they fall under. */
    public void observe(List<LlmCall> calls) {
        if (seenVersion > loadedVersion) {
            reload();
        }
        Map<Ledger, Instant> touched = new IdentityHashMap<>();
        loadUnknown(touched);
        if ((ledgers.isEmpty() || calls.isEmpty()) && touched.isEmpty()) {
            return;
        }
        Instant now = clock.instant();
        List<LlmCall> ordered = new ArrayList<>(calls);
        ordered.sort(Comparator.comparing(LlmCall::endedAt));
        List<Candidate> candidates = new ArrayList<>();
        Map<Ledger, Instant> lateOfPrevious = new IdentityHashMap<>();
        for (LlmCall call : ordered) {
            for (BudgetScope scope : BudgetScope.values()) {
                String id = scope.keyOf(call);
                Ledger ledger = id == null ? null : ledgers.get(new Key(scope, id));
                if (ledger == null) {
                    continue;
                }
                synchronized (ledger) {
                    ledger.roll(now);
                    // A call belongs to the period it ended in.
                    Instant period = ledger.budget.period().start(call.endedAt());
                    if (!ledger.periodStart.equals(period)) {
                        if (period.equals(ledger.budget.period().start(ledger.periodStart.minusNanos(1)))) {
                            lateOfPrevious.put(ledger, period);
                        }
                        continue;
                    }
                    ledger.spent += call.costUsd();
                    ledger.calls++;
                    touched.put(ledger, period);
                }
            }
        }
        // Judged against what the whole cluster stored (these calls included), not this replica's share of it.
        judge(touched, store.budgetSpend(touched.entrySet().stream().map(e -> spendKey(e.getKey(), e.getValue()))
                .toList()), candidates);
        // A late call of the period that just ended (a spool delivering after midnight): that period's thresholds
        // are judged on its stored calls, each raised once. Older periods stay closed: a backfill raises nothing.
        lateOfPrevious.forEach((ledger, period) -> {
            for (double fraction : fractions(ledger.budget)) {
                candidates.add(new Candidate(ledger, period, fraction));
            }
        });
        confirm(candidates);
    }

    /**
     * The part of an ingest's spend {@code deltas} to write, read on its connection {@code c}: only that of the
     * budgets known here (none, and no statement, when the calls' scopes have none, as most have), or all of it when
     * the stored budgets changed since they were loaded here (the statement keeps what has a budget, and this
     * ingest's judging reloads them). Whether they changed is read once per
     * {@code faultline.cost.budget-check-interval}.
     */
    Map<CostStore.SpendKey, CostStore.Sum> toWrite(Connection c, Map<CostStore.SpendKey, CostStore.Sum> deltas,
            Consumer<Runnable> atEnd) throws SQLException {
        Instant now = clock.instant();
        Instant readAt = versionReadAt;
        // A clock set back (or a first ingest) reads it too: a stale version is never trusted for long.
        if (readAt == null || now.isBefore(readAt) || !now.isBefore(readAt.plus(config.budgetCheckInterval()))) {
            seenVersion = CostStore.budgetsVersion(c);
            versionReadAt = now;
        }
        if (deltas.isEmpty()) {
            return deltas;
        }
        Set<Key> known;
        long chosenAt;
        synchronized (inFlight) {
            chosenAt = generation;
            known = watched;
            inFlight.merge(chosenAt, 1, Integer::sum);
        }
        try {
            atEnd.accept(() -> ended(chosenAt));
        } catch (RuntimeException e) {
            ended(chosenAt);
            throw e;
        }
        // Even written in full, the statement keeps only the budgets its snapshot holds: one set meanwhile is
        // restated here once this transaction ended.
        if (seenVersion > loadedVersion) {
            return deltas;
        }
        Map<CostStore.SpendKey, CostStore.Sum> kept = new HashMap<>();
        deltas.forEach((k, sum) -> {
            if (known.contains(new Key(k.scope(), k.id()))) {
                kept.put(k, sum);
            }
        });
        return kept;
    }

    /** An ingest's transaction that chose its rows at {@code chosenAt} committed or rolled back. */
    private void ended(long chosenAt) {
        synchronized (inFlight) {
            inFlight.computeIfPresent(chosenAt, (g, n) -> n == 1 ? null : n - 1);
            inFlight.notifyAll();
        }
    }

    /** How long a budget set here waits for the ingests open before it (see {@link #settle}). */
    Duration settleBound() {
        return settleBound;
    }

    /** Replaces the budgets the ingests here write spend for; returns the new generation (see {@link #settle}). */
    private long rewatch(Set<Key> keys) {
        synchronized (inFlight) {
            watched = Set.copyOf(keys);
            return ++generation;
        }
    }

    /**
     * Waits until the ingests here that chose their spend rows before {@code chosen} (the generation that watches a
     * budget new or changed here) ended: a restate of its row after that counts their calls, which they may not
     * have written. Waits at most {@link #settleBound}; past that, the next reconcile counts what is missing.
     */
    private void settle(long chosen) {
        long deadline = System.nanoTime() + settleBound.toNanos();
        synchronized (inFlight) {
            while (!inFlight.headMap(chosen).isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    Log.warnf("%d ingests still open after %s: a budget set meanwhile may miss their calls until"
                            + " the next reconcile", inFlight.headMap(chosen).values().stream()
                            .mapToInt(Integer::intValue).sum(), settleBound);
                    return;
                }
                try {
                    inFlight.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * Reads whether any replica changed the stored budgets and reloads them if so (every check interval): the calls
     * of a budget set through another replica that the ingests here did not write are judged without waiting for an
     * ingest or the reconcile.
     */
    public void checkBudgets() {
        seenVersion = store.budgetsVersion();
        versionReadAt = clock.instant();
        if (seenVersion > loadedVersion) {
            reload();
        }
    }

    /**
     * Loads the stored budgets, changed through another replica since this one loaded them. A budget new here is
     * restated from the stored calls: the ingests here did not write its spend until now.
     */
    private synchronized void reload() {
        if (seenVersion <= loadedVersion) {
            return; // another ingest's judging reloaded them
        }
        refresh(loadDefinitions(), true);
    }

    /**
     * Notes the budgets an ingest just added spend to (in its transaction) that this replica does not track as such:
     * set through another replica since this one's last reconcile, or changed there to another period. Without this,
     * a replica taking all of a scope's traffic judged none of it until its reconcile (up to 5 minutes). At most
     * {@code faultline.cost.max-budgets} are noted, none when that many are tracked (the reconcile takes the rest).
     */
    void written(Set<CostStore.SpendKey> keys) {
        for (CostStore.SpendKey k : keys) {
            Key key = new Key(k.scope(), k.id());
            Ledger held = ledgers.get(key);
            if (held != null && held.budget.period() == k.period()) {
                continue; // tracked as stored (a configured period the API overrides is not written)
            }
            if ((held == null && ledgers.size() >= config.maxBudgets()) || unknown.size() >= config.maxBudgets()) {
                return;
            }
            unknown.add(key);
        }
    }

    /**
     * Loads the budgets noted by {@link #written} as stored (one read each) and adds them to {@code touched}, so they
     * are judged against their stored spend with this ingest's calls: those of another thread's ingest that noted
     * them too, and ran its own judging before they were tracked, included.
     */
    private void loadUnknown(Map<Ledger, Instant> touched) {
        if (unknown.isEmpty()) {
            return;
        }
        Instant now = clock.instant();
        for (Key key : List.copyOf(unknown)) {
            if (!unknown.remove(key)) {
                continue; // another ingest's judging took it
            }
            Ledger ledger = adopt(key, stored(key));
            if (ledger != null) {
                touched.put(ledger, ledger.budget.period().start(now));
            }
        }
    }

    /**
     * Restates every budget's spend row from the stored calls, picks up budgets other replicas set, and alerts. The
     * rows are kept by every ingest; this corrects what no ingest could add (calls stored before their budget was).
     */
    public void reconcile() {
        loadDefinitions();
        refresh(List.copyOf(ledgers.values()), true);
    }

    /**
     * Loads the budgets as stored and their stored spend rows, and alerts: what a replica does when another one ran
     * this interval's {@link #reconcile} (no sum over the period's calls, but for a budget new here, see reload()).
     */
    public void readStored() {
        refresh(loadDefinitions(), true); // the ingests here did not write their spend: see reload()
        refresh(List.copyOf(ledgers.values()), false);
    }

    /** What a restart does: forgets all spend, then rebuilds it from stored calls. */
    public void rebuild() {
        ledgers.clear();
        reconcile();
    }

    // ---- budgets

    /**
     * Every budget as stored, with its stored spend: one another replica set, changed or deleted is read as such, and
     * the spend counts the calls other replicas ingested, not as this replica's memory had them until its next
     * reconcile (behind a load balancer a PUT, the calls and the GET after them reach either). One read of the
     * budgets and one of their spend rows: no sum over the period's calls.
     */
    public List<BudgetView> list() {
        readStored();
        return ledgers.values().stream().map(this::view)
                .sorted(Comparator.comparing(BudgetView::scope).thenComparing(BudgetView::id)).toList();
    }

    /** One budget as stored, with the spend of the stored calls (see {@link #list()}). */
    public Optional<BudgetView> get(BudgetScope scope, String id) {
        Ledger ledger = adopt(new Key(scope, id), stored(new Key(scope, id)));
        if (ledger == null) {
            return Optional.empty();
        }
        refresh(List.of(ledger), false);
        return Optional.of(view(ledger));
    }

    /** A budget's spend as this replica holds it (what it judges by until it reads the row again); no read. */
    Optional<BudgetView> held(BudgetScope scope, String id) {
        return Optional.ofNullable(ledgers.get(new Key(scope, id))).map(this::view);
    }

    /** The budget as stored now (set through the API on any replica), else the configured one; null when none. */
    private Budget stored(Key key) {
        return store.budget(key.scope(), key.id()).filter(r -> r.period() != null)
                .map(r -> new Budget(r.scope(), r.scopeId(), r.period(), r.amountUsd(), r.warnAt(), "api"))
                .orElse(configured.get(key));
    }

    /**
     * Tracks {@code wanted} (null: no budget) under {@code key}: the ledger held when unchanged, a new one (spend not
     * loaded yet) when new or changed; null when there is no budget or it is beyond the cap.
     */
    private Ledger adopt(Key key, Budget wanted) {
        if (wanted == null) {
            ledgers.remove(key);
            return null;
        }
        Ledger held = ledgers.get(key);
        if (held != null && held.budget.equals(wanted)) {
            return held;
        }
        if (held == null && ledgers.size() >= config.maxBudgets()) {
            return null; // beyond faultline.cost.max-budgets: not tracked, as the reconcile leaves it
        }
        return install(wanted);
    }

    /** Sets a budget (idempotent: the same body twice changes nothing) and answers with its current spend. */
    public BudgetView put(BudgetScope scope, String id, Period period, double amountUsd, List<Double> warnAt) {
        Key key = new Key(scope, id);
        if (!ledgers.containsKey(key) && ledgers.size() >= config.maxBudgets()) {
            throw new ApiProblem(409, "Too many budgets", "At most " + config.maxBudgets()
                    + " budgets are tracked (faultline.cost.max-budgets); delete one first.");
        }
        List<Double> fractions = warnAt == null ? null : normalise(warnAt);
        store.putBudget(new CostStore.BudgetRow(scope, id, period, amountUsd, fractions, clock.instant()));
        settle(watch(key));
        Ledger ledger = install(new Budget(scope, id, period, amountUsd, fractions, "api"));
        // Calls stored before the budget existed were added to no row: its spend starts from their sum.
        refresh(List.of(ledger), true);
        return view(ledgers.getOrDefault(key, ledger));
    }

    /** Removes a budget set through the API; a configured one with the same key takes over again. */
    public boolean delete(BudgetScope scope, String id) {
        if (!store.deleteBudget(scope, id)) {
            return false;
        }
        Key key = new Key(scope, id);
        Budget fallback = configured.get(key);
        if (fallback == null) {
            ledgers.remove(key);
        } else {
            settle(rewatch(watched)); // the fallback's period: an ingest open since may not have written it
            refresh(List.of(install(fallback)), true);
        }
        return true;
    }

    /** Whether {@code faultline.cost.budgets} sets a budget of this scope, id and period. */
    boolean isConfigured(CostStore.SpendKey key) {
        Budget budget = configured.get(new Key(key.scope(), key.id()));
        return budget != null && budget.period() == key.period();
    }

    /** Whether {@code faultline.cost.budgets} sets this budget (the API may override it, not remove it). */
    public boolean isConfigured(BudgetScope scope, String id) {
        return configured.containsKey(new Key(scope, id));
    }

    int tracked() {
        return ledgers.size();
    }

    /** One ledger per budget and open period: capped by the budgets configured, not by a number of entries. */
    @Override
    public List<Held> boundedMaps() {
        return List.of(new Held("cost.budget-ledgers", 0, this::tracked));
    }

    // ---- internals

    /**
     * Adds {@code key} to the budgets an ingest here writes spend for; a new generation even when it was there, as its
     * period may have changed. Returns the generation.
     */
    private long watch(Key key) {
        synchronized (inFlight) {
            Set<Key> more = new HashSet<>(watched);
            more.add(key);
            watched = Set.copyOf(more);
            return ++generation;
        }
    }

    /**
     * Tracks the budgets as stored (and configured) and writes their spend from now on; returns the ledgers of those
     * whose spend the ingests here did not write until now, or wrote for another period (their rows miss those calls
     * until restated), once the ingests that chose their rows before have ended.
     */
    private List<Ledger> loadDefinitions() {
        long version = store.budgetsVersion(); // before the budgets: a change after them is read as one
        Map<Key, Budget> wanted = new LinkedHashMap<>(configured);
        for (CostStore.BudgetRow row : store.budgets()) {
            if (row.scope() != null && row.period() != null) {
                Budget b = new Budget(row.scope(), row.scopeId(), row.period(), row.amountUsd(), row.warnAt(), "api");
                wanted.put(b.key(), b);
            }
        }
        ledgers.keySet().retainAll(wanted.keySet());
        Map<Key, Ledger> held = new HashMap<>(ledgers);
        int room = config.maxBudgets();
        for (Budget budget : wanted.values()) {
            if (room-- <= 0) {
                Log.warnf("More than %d budgets: the rest are not tracked (faultline.cost.max-budgets)",
                        config.maxBudgets());
                break;
            }
            install(budget);
        }
        List<Ledger> fresh = new ArrayList<>();
        long chosen;
        synchronized (this) {
            Set<Key> before = watched;
            Set<Key> now = new HashSet<>(ledgers.keySet());
            now.addAll(configured.keySet());
            chosen = rewatch(now);
            if (version > loadedVersion) {
                loadedVersion = version;
            }
            ledgers.forEach((key, ledger) -> {
                if (!before.contains(key) || held.get(key) != ledger) {
                    fresh.add(ledger);
                }
            });
        }
        if (!fresh.isEmpty()) {
            settle(chosen);
        }
        return fresh;
    }

    /** Keeps the ledger of an unchanged budget; a changed one starts a fresh ledger (its alerts re-arm). */
    private Ledger install(Budget budget) {
        return ledgers.compute(budget.key(), (k, existing) -> existing != null && existing.budget.equals(budget)
                ? existing : new Ledger(budget, budget.period().start(clock.instant())));
    }

    private static CostStore.SpendKey spendKey(Ledger ledger, Instant periodStart) {
        return new CostStore.SpendKey(ledger.budget.scope(), ledger.budget.id(), ledger.budget.period(), periodStart);
    }

    /**
     * Loads the stored spend of {@code group} in their current periods and alerts. With {@code restate} (or for a row
     * missing: no call stored since its period began, or none since the budget was set) the rows are first set to the
     * sums of the stored calls, one query per scope and period.
     */
    private void refresh(List<Ledger> group, boolean restate) {
        Instant now = clock.instant();
        Map<Ledger, Instant> current = new IdentityHashMap<>();
        for (Ledger ledger : group) {
            current.put(ledger, ledger.budget.period().start(now));
        }
        Map<CostStore.SpendKey, CostStore.Sum> stored = new HashMap<>(restate ? Map.of()
                : store.budgetSpend(current.entrySet().stream().map(e -> spendKey(e.getKey(), e.getValue())).toList()));
        Map<BudgetScope, Map<Period, List<String>>> missing = new HashMap<>();
        current.forEach((ledger, start) -> {
            if (!stored.containsKey(spendKey(ledger, start))) {
                missing.computeIfAbsent(ledger.budget.scope(), s -> new HashMap<>())
                        .computeIfAbsent(ledger.budget.period(), p -> new ArrayList<>()).add(ledger.budget.id());
            }
        });
        missing.forEach((scope, byPeriod) -> byPeriod.forEach((period, ids) -> {
            Instant start = period.start(now);
            Map<String, CostStore.Sum> sums = store.restateBudgetSpend(scope, period, start, ids);
            for (String id : ids) {
                stored.put(new CostStore.SpendKey(scope, id, period, start), sums.getOrDefault(id, CostStore.Sum.ZERO));
            }
        }));
        List<Candidate> candidates = new ArrayList<>();
        judge(current, stored, candidates);
        confirm(candidates);
    }

    /** Takes the stored spend of each ledger's period (when still its current one); what it crossed is a candidate. */
    private void judge(Map<Ledger, Instant> periods, Map<CostStore.SpendKey, CostStore.Sum> stored,
            List<Candidate> candidates) {
        Instant now = clock.instant();
        periods.forEach((ledger, start) -> {
            CostStore.Sum sum = stored.get(spendKey(ledger, start));
            synchronized (ledger) {
                ledger.roll(now);
                if (!ledger.periodStart.equals(start)) {
                    return;
                }
                if (sum != null) {
                    ledger.spent = sum.spentUsd();
                    ledger.calls = sum.calls();
                }
                crossed(ledger, candidates);
            }
        });
    }

    private List<Double> fractions(Budget budget) {
        return budget.warnAt() != null ? budget.warnAt() : severities.fractions();
    }

    /** Under the ledger's lock: thresholds reached and not yet fired become candidates (marked fired now). */
    private void crossed(Ledger ledger, List<Candidate> candidates) {
        for (double fraction : fractions(ledger.budget)) {
            if (!ledger.fired.contains(fraction)
                    && CostStore.reached(ledger.spent, fraction * ledger.budget.amountUsd())) {
                ledger.fired.add(fraction);
                candidates.add(new Candidate(ledger, ledger.periodStart, fraction));
            }
        }
    }

    /**
     * Outside any lock: checks each candidate against the stored budget and calls and raises it once. A budget
     * another replica changed or deleted since this one's last reconcile is judged as stored instead: its old amount
     * would raise an alert the operator had just moved out of the way.
     */
    private void confirm(List<Candidate> candidates) {
        for (Candidate c : candidates) {
            Budget b = c.ledger().budget;
            boolean keep = false;
            try {
                Budget now = stored(b.key());
                if (!b.equals(now)) {
                    Ledger adopted = adopt(b.key(), now);
                    if (adopted != null) {
                        refresh(List.of(adopted), false);
                    }
                    continue;
                }
                if (store.budgetAlerted(b.scope(), b.id(), b.period(), c.periodStart(), b.amountUsd(), c.threshold())) {
                    keep = true;
                    continue;
                }
                Optional<CostStore.Crossing> crossing = store.budgetCrossing(b.scope(), b.id(), c.periodStart(),
                        b.period().end(c.periodStart()), c.threshold() * b.amountUsd());
                if (crossing.isPresent()) {
                    Severity severity = severities.severity(c.threshold());
                    alerts.budgetExceeded(b, c.periodStart(), c.threshold(), severity, crossing.get());
                    keep = true;
                }
            } finally {
                if (!keep) {
                    // Not confirmed (or the database failed): let a later call or the reconcile try again.
                    synchronized (c.ledger()) {
                        if (c.ledger().periodStart.equals(c.periodStart())) {
                            c.ledger().fired.remove(c.threshold());
                        }
                    }
                }
            }
        }
    }

    private BudgetView view(Ledger ledger) {
        synchronized (ledger) {
            ledger.roll(clock.instant());
            Budget b = ledger.budget;
            return new BudgetView(b.scope().code(), b.id(), b.period().code(), b.amountUsd(), fractions(b), b.source(),
                    ledger.periodStart, b.period().end(ledger.periodStart), ledger.spent,
                    ledger.spent / b.amountUsd(), ledger.calls, List.copyOf(new TreeSet<>(ledger.fired)));
        }
    }
}
