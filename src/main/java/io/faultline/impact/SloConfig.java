package io.faultline.impact;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;
import java.util.Optional;

/** Availability and latency SLOs per model group, their error budgets and burn rates (README: "SLOs and error budgets"). */
@ConfigMapping(prefix = "faultline.slo")
public interface SloConfig {

    /** Run the scheduled rollup. Off, nothing new is rolled up and the budgets stop moving. */
    @WithDefault("true")
    boolean enabled();

    /** How often the rollup runs (the scheduler reads it from application.properties). */
    @WithDefault("60s")
    String interval();

    /** The availability target of a model group without an SLO of its own (share of requests answered). */
    @WithDefault("0.995")
    @DecimalMin(value = "0", inclusive = false)
    @DecimalMax(value = "1", inclusive = false)
    double defaultAvailability();

    /**
     * The latency target (milliseconds, 100 to 600000) of a model group without an SLO of its own; with
     * {@link #defaultLatencyQuantile()} it gives those groups a latency SLO. Unset (the default): no latency SLO.
     */
    Optional<Double> defaultLatencyTargetMs();

    /** The share of answered requests that must be within {@link #defaultLatencyTargetMs()} (e.g. 0.99). */
    Optional<Double> defaultLatencyQuantile();

    /** The error budget period of a model group without an SLO of its own. */
    @WithDefault("30d")
    @DurationMin(millis = 1)
    Duration period();

    /**
     * Minutes newer than this are derived again when the rollup has not run for this long (a first start, a restart,
     * every replica paused): the calls received meanwhile are then not looked up one by one. In between, a run
     * derives again every minute that the calls received since the last run touch, however old (LiteLLM's spool
     * delivers attempts late, and a late successful fallback turns a failed response into an answered one).
     */
    @WithDefault("10m")
    @DurationMin(millis = 0)
    Duration settle();

    /**
     * An ingest stamps {@code received_at} before it commits: each run reads the calls received this long before the
     * previous run's end again, so that a call committed late is not missed (deriving a minute twice is harmless).
     */
    @WithDefault("2m")
    @DurationMin(millis = 0)
    Duration lateCommit();

    /** The longest time between the first and the last attempt of one request (retries, fallbacks, timeouts). */
    @WithDefault("15m")
    @DurationMin(millis = 1)
    Duration requestSpan();

    /** At most this much call time is rolled up per run while catching up (first start, restart after an outage). */
    @WithDefault("1d")
    @DurationMin(millis = 1)
    Duration catchUpPerRun();

    /**
     * On the very first run, the rollup starts this far back (the budget period of the default SLO), or at the oldest
     * stored call after that.
     */
    @WithDefault("30d")
    @DurationMin(millis = 0)
    Duration backfill();

    /** Minutes older than this are deleted (at least the default period; an API-set SLO has at most 90 days). */
    @WithDefault("91d")
    @DurationMin(millis = 1)
    Duration retention();

    /** The most SLOs the API stores; a PUT for a new model group beyond it is refused (409). */
    @WithDefault("1000")
    @Min(1)
    int maxSlos();
}
