package io.faultline.impact;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;

/** How failures are priced and ranked (README: "Impact"). */
@ConfigMapping(prefix = "faultline.impact")
public interface ImpactConfig {

    /** Assess open episodes and clusters on a schedule (the API assesses on demand either way). */
    @WithDefault("true")
    boolean enabled();

    /** How often open episodes and clusters are re-assessed (the scheduler reads it from application.properties). */
    @WithDefault("60s")
    String interval();

    /** At most this many episodes and clusters are re-assessed per run, most recently active first. */
    @WithDefault("200")
    @Min(1)
    int maxPerRun();

    /**
     * An episode or cluster active within this long is open and re-assessed; older ones keep their last figures. One
     * last seen further than this ahead of the clock (a caller's clock running fast) waits until the clock nears it.
     */
    @WithDefault("30m")
    @DurationMin(millis = 1)
    Duration openFor();

    /** The attempts of one request lie within this long of the episode (retries and fallbacks follow quickly). */
    @WithDefault("15m")
    @DurationMin(millis = 0)
    Duration attemptSlack();

    /** The quality-failure rate outside the incident is read over this span before it began. */
    @WithDefault("1h")
    @DurationMin(millis = 1)
    Duration qualityBaselineWindow();

    /** Money per failed response (a request that failed on every attempt) in the total business impact. */
    @WithDefault("0.05")
    @DecimalMin("0")
    double pricePerFailedRequestUsd();

    /** Money per distinct affected user. */
    @WithDefault("0.50")
    @DecimalMin("0")
    double pricePerUserUsd();

    /** Money per percent of the model group's error budget consumed. */
    @WithDefault("10.0")
    @DecimalMin("0")
    double pricePerBudgetPercentUsd();

    /**
     * The most of each error budget (availability, latency) priced, in percent: a budget spent past it is a breached
     * SLO, and the failed responses and users beyond it are priced by their own terms. Without it a group with little
     * traffic priced a short outage at thousands of budgets (25 failed requests of 41 at 99.9%: 61,000 percent).
     */
    @WithDefault("100")
    @DecimalMin("0")
    double maxBudgetPercentPriced();

    /**
     * A re-assessment re-reads the attempts received this long before the previous one read up to, for the ingests
     * that stamped them before it and committed after it (re-deriving a request twice changes nothing).
     */
    @WithDefault("60s")
    @DurationMin(millis = 0)
    Duration foldOverlap();

    /**
     * The per-request state of an episode or cluster not active for this long is dropped (its stored assessment
     * stays); assessing it again folds it anew from its calls, exactly, only slower.
     */
    @WithDefault("1d")
    @DurationMin(millis = 1)
    Duration foldKeptFor();
}
