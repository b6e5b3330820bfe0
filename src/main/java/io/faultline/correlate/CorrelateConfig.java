package io.faultline.correlate;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;
import java.util.Set;

/** How failure episodes are linked into incidents (README: "Correlation"). */
@ConfigMapping(prefix = "faultline.correlate")
public interface CorrelateConfig {

    /**
     * Correlate the episodes every fold changes. Off, folds record nothing for the drain and the drain does nothing;
     * the engine still answers the API and can be called directly.
     */
    @WithDefault("true")
    boolean enabled();

    /**
     * Longest wait for the correlation lock (and any row lock) in one direct step or close run. The drain does not
     * wait: when another replica holds the lock it is draining, and this replica's run skips.
     */
    @WithDefault("5s")
    @DurationMin(millis = 1)
    Duration lockTimeout();

    /**
     * How often the drain correlates the episodes that folds recorded as changed ({@code correlation_queue}). It is
     * the delay between an ingest and its correlation, not a cost of the ingest.
     */
    @WithDefault("1s")
    String drainEvery();

    /** Episodes per drain transaction: the lock, the cluster summaries and the commit are shared by a batch. */
    @WithDefault("100")
    @Min(1)
    int drainBatch();

    /** A drain run takes batches until the queue has no due episode or this many batches ran. */
    @WithDefault("20")
    @Min(1)
    int drainBatchesPerRun();

    /**
     * Failed correlation steps of one episode before the drain stops retrying it (each retry waits twice as long as
     * the last, from one second). Its row stays, counted in {@code faultline_correlation_backlog_failed}, until the
     * episode next changes, which gives it a fresh set of attempts.
     */
    @WithDefault("5")
    @Min(1)
    int maxAttempts();

    /** Episodes whose onsets lie within this gap of each other are temporal candidates. */
    @WithDefault("5m")
    @DurationMin(millis = 1)
    Duration window();

    /** A cluster with no member activity for this long is closed (it stays queryable). */
    @WithDefault("15m")
    @DurationMin(millis = 1)
    Duration quietPeriod();

    /** How often the close job looks for quiet clusters. */
    @WithDefault("60s")
    String closeEvery();

    /** How often the metrics are re-read from the database even when this replica correlated nothing. */
    @WithDefault("15s")
    String metricsEvery();

    /** A temporal group opens an upstream cluster only at or above this confidence. */
    @WithDefault("0.4")
    @DecimalMin("0")
    @DecimalMax("1")
    double minConfidence();

    /**
     * Prior share of provider episodes that belong to an upstream incident reaching several providers: the
     * confidence of a temporal group is the posterior {@code p0 / (p0 + (1 - p0) * P_chance)} (README).
     */
    @WithDefault("0.02")
    @DecimalMin("0")
    @DecimalMax("1")
    double upstreamPrior();

    /**
     * A fallback or caused edge joins its target episode to the cluster only when at least this many traces lead to
     * it: one request that fell back and met a bad answer happens by chance at the target's own failure rate, and a
     * day offers many fallbacks. The edge is stored either way, with its evidence.
     */
    @WithDefault("2")
    @Min(1)
    int minSharedTraces();

    /**
     * Provider failure types that can signal a shared upstream problem (a network fault, DNS, an egress proxy, a
     * gateway, LiteLLM itself). Request-driven types are left out, and so is {@code rate_limit}: a 429 is a provider
     * enforcing the caller's own quota, so two providers limiting at once points at the caller's load, not at a
     * shared dependency (on the replayed days, 429 bursts were in half of the chance clusters).
     */
    @WithDefault("outage,overloaded,timeout,malformed_response")
    Set<String> temporalTypes();

    /** Failure types that a fallback to a weaker target can cause. */
    @WithDefault("hallucination,low_faithfulness,format_non_compliance,language_drift")
    Set<String> qualityTypes();

    /** History used to estimate each fingerprint's episode rate (chance co-occurrence). */
    @WithDefault("7d")
    @DurationMin(millis = 1)
    Duration baseRateLookback();

    /**
     * How long an episode's base-rate count (its fingerprint's earlier episodes at least as large) is reused across
     * correlation steps before it is counted again. Every step scores each temporal candidate in the window (up to
     * {@link #maxCandidates()}), and the window slides slowly, so without the memo each step re-counted the same
     * candidates, and each cluster summary every temporal member. A count is kept only while its episode's
     * occurrences are those it was counted at, so the episode's own growth is always counted again; the other thing
     * that moves it, an older episode of its fingerprint growing past it, may be missed for this long, which lowers
     * the chance rate and raises the confidence slightly.
     */
    @WithDefault("10m")
    @DurationMin(millis = 0)
    Duration baseRateReuse();

    /** The fallback target's own quality rate is measured over this span before the provider episode began. */
    @WithDefault("1h")
    @DurationMin(millis = 1)
    Duration baselineWindow();

    /** Prior quality-failure rate of a target with little baseline traffic, weighted as this many calls. */
    @WithDefault("0.02")
    @DecimalMin("0")
    @DecimalMax("1")
    double qualityPriorRate();

    /** The weight of that prior rate, in calls of the target's baseline. */
    @WithDefault("4")
    @DecimalMin("0")
    double qualityPriorWeight();

    /** At most this many temporal candidates per episode (bounds the work on a fleet-wide outage). */
    @WithDefault("50")
    @Min(1)
    int maxCandidates();

    /**
     * The drain reads its batch's temporal candidates, their base-rate counts and trace walks in the round trip that
     * takes the lock (when its last batch held more than one episode: {@code FailureCorrelationEngine.ReadAhead}),
     * and sends the writes that nothing in the step reads back (edges before the first summary, the
     * clusters' summaries and "still active" touches, the queue deletion) in its last round trip: the same rows read
     * and written as with one round trip per read and write (false), in fewer round trips.
     */
    @WithDefault("true")
    boolean pipelined();

    /** At most this many of an episode's most recent failed calls are followed through their traces. */
    @WithDefault("200")
    @Min(1)
    int maxTracedCalls();

    /**
     * How long after a cause's onset (and after its last occurrence) the other causal chains look for its effects:
     * the retried traffic of a rate limit, the quality of calls on a stale index, the refusals after a budget.
     */
    @WithDefault("30m")
    @DurationMin(millis = 1)
    Duration chainHorizon();

    /** A chain edge below this confidence is stored with its evidence but opens or joins no cluster. */
    @WithDefault("0.2")
    @DecimalMin("0")
    @DecimalMax("1")
    double chainMinConfidence();

    /** At most this many retrieval samples of one index are read per period when a chain measures a rate. */
    @WithDefault("5000")
    @Min(1)
    int chainSamples();
}
