package io.faultline.cost;

import io.faultline.call.LlmCall;
import io.faultline.call.StoredCallsObserver;
import io.faultline.common.ClusterJobs;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import io.faultline.common.DatabaseReady;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

import java.util.List;

/**
 * Entry point of the cost detectors: ingest hands it every newly stored call; at start-up and every
 * {@code faultline.cost.reconcile-interval} it rebuilds spend from stored calls: one replica per interval restates the
 * budgets' shared spend rows, every replica reads them into its memory; the alert tables keep a threshold from firing
 * twice.
 */
@Singleton
public class CostMonitor implements StoredCallsObserver {

    private final BudgetTracker budgets;
    private final BatchTracker batches;
    private final Counter observeFailures;
    private final Counter reconcileFailures;

    /** The cluster-wide job that restates the budgets' spend rows from the stored calls. */
    static final String RESTATE_JOB = "budget-restate";

    private final ClusterJobs jobs;
    private final CostConfig config;

    public CostMonitor(BudgetTracker budgets, BatchTracker batches, MeterRegistry registry, ClusterJobs jobs,
            CostConfig config) {
        this.jobs = jobs;
        this.config = config;
        this.budgets = budgets;
        this.batches = batches;
        this.observeFailures = Counter.builder("faultline.cost.observe.failures")
                .description("Ingest batches whose cost accounting failed (the next reconcile catches up)")
                .register(registry);
        this.reconcileFailures = Counter.builder("faultline.cost.reconcile.failures")
                .description("Budget and batch reconciles that failed").register(registry);
        Gauge.builder("faultline.cost.tracked.budgets", budgets, BudgetTracker::tracked)
                .description("Budgets whose spend is tracked").register(registry);
        Gauge.builder("faultline.cost.tracked.batches", batches, BatchTracker::tracked)
                .description("Batches whose spend is tracked in memory").register(registry);
    }

    /** Never throws: ingest has already committed these calls, and a reconcile recounts them. */
    @Override
    public void stored(List<LlmCall> inserted) {
        observe(inserted);
    }

    public void observe(List<LlmCall> inserted) {
        if (inserted.isEmpty()) {
            return;
        }
        try {
            budgets.observe(inserted);
            batches.observe(inserted);
        } catch (RuntimeException e) {
            observeFailures.increment();
            Log.errorf(e, "Cost accounting of %d calls failed; the next reconcile recounts them", inserted.size());
        }
    }

    void onStart(@Observes DatabaseReady start) {
        try {
            budgets.rebuild();
            batches.rebuild();
        } catch (RuntimeException e) {
            reconcileFailures.increment();
            Log.errorf(e, "Rebuilding budget and batch spend failed; the reconcile retries");
        }
    }

    /**
     * The budgets' rows are restated from the stored calls by one replica per interval (each restate sums every
     * budget's period); every replica then reloads the budgets and their rows, and rebuilds its batch ledgers. A
     * replica that ticks while another restates reads the rows once that one is done: read before, they lacked the
     * corrections, and so did its figures until it read them again (ingests do not wait for the restate).
     */
    @Scheduled(every = "{faultline.cost.reconcile-interval}", delayed = "{faultline.cost.reconcile-interval}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void tick() {
        if (!jobs.ready()) {
            return; // the schema is not migrated yet (the database was away at start), or stopping
        }
        try {
            if (!jobs.runOnceAwaited(RESTATE_JOB, config.reconcileInterval(), budgets::reconcile)) {
                budgets.readStored();
            }
            batches.reconcile();
        } catch (RuntimeException e) {
            reconcileFailures.increment();
            Log.errorf(e, "Budget and batch reconcile failed");
        }
    }

    /** Per replica: budgets set through another replica are judged here within the interval, ingests or none. */
    @Scheduled(every = "{faultline.cost.budget-check-interval}", delayed = "{faultline.cost.budget-check-interval}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void checkBudgets() {
        if (!jobs.migrated()) {
            return;
        }
        try {
            budgets.checkBudgets();
        } catch (RuntimeException e) {
            reconcileFailures.increment();
            Log.errorf(e, "Reading whether the budgets changed failed");
        }
    }

    public void reconcile() {
        budgets.reconcile();
        batches.reconcile();
    }
}
