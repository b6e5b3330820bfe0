package io.faultline.cost;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Budgets and batch expectations: what is watched, when to warn and at which severity. */
@ConfigMapping(prefix = "faultline.cost")
public interface CostConfig {

    /**
     * Fractions of a budget at which a {@code budget_exceeded} failure is raised, each with its severity
     * ({@code fraction:severity}). A budget's own {@code warnAt} picks fractions; their severity is that of the
     * largest configured fraction at or below them (P4 below all).
     */
    @WithDefault("0.8:P3,1.0:P2")
    List<String> warnAt();

    /** Budgets from configuration, keyed {@code scope:id}, e.g. {@code faultline.cost.budgets."team\:search".amount}
     * (a .properties file needs the colon escaped). */
    Map<String, Budget> budgets();

    /** A configured budget; one set through the API with the same scope and id replaces it. */
    interface Budget {
        /** US dollars per period. */
        double amount();

        /** {@code day} or {@code month}: UTC calendar periods. */
        @WithDefault("month")
        String period();

        /** Fractions to warn at; the global {@link #warnAt()} fractions when absent. */
        Optional<List<Double>> warnAt();
    }

    /**
     * How often in-memory spend is replaced by the sums of stored calls. It corrects what a replica cannot see (calls
     * ingested by other replicas) and any call lost between its commit and its accounting.
     */
    @WithDefault("5m")
    @DurationMin(millis = 1)
    Duration reconcileInterval();

    /**
     * How long a replica trusts the budgets it loaded before it reads whether any replica changed them (one read of
     * a version row). Meanwhile an ingest writes spend only for the budgets it knows, and none when it knows none: a
     * budget set through another replica is judged here this much later at most, its spend counted in full.
     */
    @WithDefault("5s")
    @DurationMin(millis = 1)
    Duration budgetCheckInterval();

    /** Budgets tracked at most (configured plus API); a PUT beyond it is refused with 409. */
    @WithDefault("10000")
    @Min(1)
    int maxBudgets();

    /** Batches kept in memory at most; the least recently used is evicted and rebuilt from stored calls on return. */
    @WithDefault("10000")
    @Min(1)
    int maxTrackedBatches();

    /**
     * Ratios of spend to a batch's expected cost past which {@code batch_cost_overrun} is raised
     * ({@code ratio:severity}). Raise the first ratio, e.g. {@code 1.1:P3}, to tolerate 10% overrun.
     */
    @WithDefault("1.0:P3,2.0:P2")
    List<String> batchOverrunAt();

    /**
     * A batch's call that ends more than this after the batch's previous one starts a new run: a job id reused every
     * night (such as {@code nightly-embed}) is judged per run against its expected cost, each run from zero.
     */
    @WithDefault("6h")
    @DurationMin(millis = 1)
    Duration batchRunGap();

    /** Batches created or updated within this horizon are reloaded at startup. */
    @WithDefault("7d")
    @DurationMin(millis = 1)
    Duration batchHorizon();
}
