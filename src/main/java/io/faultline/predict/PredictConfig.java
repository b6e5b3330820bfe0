package io.faultline.predict;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;
import java.util.Set;

/** How failures are predicted from leading indicators and how the predictions are scored (README: "Prediction"). */
@ConfigMapping(prefix = "faultline.predict")
public interface PredictConfig {

    /** Run the scheduled tick. Off, {@code POST /api/v1/predictions/evaluate} still evaluates on demand. */
    @WithDefault("true")
    boolean enabled();

    /** How often the scheduled tick runs (the scheduler reads it from application.properties). */
    @WithDefault("60s")
    String interval();

    /** The rolling window of stored calls every indicator reads. */
    @WithDefault("15m")
    @DurationMin(millis = 1)
    Duration window();

    /**
     * Each tick re-reads the calls received this long before the newest one it holds (an ingest that stamped its calls
     * before the last read and committed after it); already held calls are skipped by their idempotency key. Also the
     * most the replicas' clocks may disagree.
     */
    @WithDefault("60s")
    @DurationMin(millis = 0)
    Duration rereadOverlap();

    /** The tick reads its whole window from the table again this often (and on start, or when the clock went back). */
    @WithDefault("1h")
    @DurationMin(millis = 1)
    Duration fullReadEvery();

    /** Width of the buckets the window is cut into (the points of every fit). */
    @WithDefault("1m")
    @DurationMin(millis = 1)
    Duration bucket();

    /** A prediction speaks for this long after it was last renewed; failures projected further out are ignored. */
    @WithDefault("15m")
    @DurationMin(millis = 1)
    Duration horizon();

    /** Below this confidence nothing is predicted (the score stays 0). */
    @WithDefault("0.5")
    @DecimalMin("0")
    @DecimalMax("1")
    double minConfidence();

    /** Least squares fits need at least this many buckets with data. */
    @WithDefault("5")
    @Min(1)
    int minPoints();

    /** A linear fit explaining less of the variance than this (R²) is noise, not a trend. */
    @WithDefault("0.6")
    @DecimalMin("0")
    @DecimalMax("1")
    double minFit();

    /** A latency bucket counts only with this many successful calls (its percentiles mean something). */
    @WithDefault("3")
    @Min(1)
    int minCallsPerBucket();

    /** Latency is projected to this multiple of the baseline p95 (the deviation detector's failure line) ... */
    @WithDefault("2.0")
    @DecimalMin(value = "0", inclusive = false)
    double latencyFactor();

    /** ... or to this timeout, whichever comes first (the classifier's slow-call timeout). */
    @WithDefault("60s")
    @DurationMin(millis = 1)
    Duration timeout();

    /** LiteLLM exception classes that are timeouts. */
    @WithDefault("Timeout,APITimeoutError,ReadTimeout,TimeoutError")
    Set<String> timeoutClasses();

    /** A rise of an error share between the first and last third of the window must be this significant (z). */
    @WithDefault("2.0")
    @DecimalMin("0")
    double minRiseZ();

    /** The last third of the window must hold at least this many errors of the type before a rise is believed. */
    @WithDefault("4")
    @Min(1)
    int minRecentErrors();

    /**
     * A failure (the ground truth of accuracy): a bucket of one deployment in which calls failing with the type are
     * at least this many ...
     */
    @WithDefault("3")
    @Min(1)
    int failureMinCalls();

    /** ... and at least this share of its calls. */
    @WithDefault("0.2")
    @DecimalMin("0")
    @DecimalMax("1")
    double failureShare();

    /** Failure buckets closer than this belong to one failure; no new prediction of a type this soon after it. */
    @WithDefault("10m")
    @DurationMin(millis = 0)
    Duration quietPeriod();

    /** A failure counts as announced (recall) only when a live prediction was made at least this long before it. */
    @WithDefault("2m")
    @DurationMin(millis = 0)
    Duration minLead();

    /** Precision and recall in the metrics are computed over this much history. */
    @WithDefault("24h")
    @DurationMin(millis = 1)
    Duration accuracyWindow();

    /** How often every replica re-reads the prediction metrics from the database. */
    @WithDefault("15s")
    String metricsEvery();

    /** Failure types the predictor predicts and scores. */
    @WithDefault("rate_limit,timeout,outage,overloaded")
    Set<String> types();
}
