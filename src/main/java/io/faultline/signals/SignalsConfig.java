package io.faultline.signals;

import io.faultline.taxonomy.Severity;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;

/** DATA signals: retrieval quality, index freshness and ingestion runs that applications report. */
@ConfigMapping(prefix = "faultline.signals")
public interface SignalsConfig {

    /** How often the scheduled check looks for missing index heartbeats and missed ingestion runs. */
    @WithDefault("60s")
    @DurationMin(millis = 1)
    Duration checkInterval();

    /** Signals (the durable record that windows are rebuilt from, and the idempotency keys) are kept this long. */
    @WithDefault("7d")
    @DurationMin(millis = 1)
    Duration retention();

    /** A signal's {@code at} (or {@code lastUpdatedAt}, {@code startedAt}) may lie at most this far in the future. */
    @WithDefault("5m")
    @DurationMin(millis = 0)
    Duration maxClockSkew();

    /** Items per request (413 above). */
    @WithDefault("1000")
    @Min(1)
    int maxBatchItems();

    /** Request body size in bytes (413 above). */
    @WithDefault("1048576")
    @Min(1)
    long maxBodyBytes();

    Retrieval retrieval();

    Index index();

    Ingestion ingestion();

    /** {@code retrieval_quality_drop}: the current window of an index against its rolling baseline. */
    interface Retrieval {

        /** The current window: its mean is compared with the baseline. */
        @WithDefault("5m")
        @DurationMin(millis = 1)
        Duration window();

        /** The rolling baseline: the period just before the current window. */
        @WithDefault("1h")
        @DurationMin(millis = 1)
        Duration baselineWindow();

        /** Width of the time buckets that hold samples; memory per index is (window + baseline) / bucket buckets. */
        @WithDefault("1m")
        @DurationMin(millis = 1)
        Duration bucket();

        /** Fewer samples in the baseline than this and nothing is compared: a new index has no baseline yet. */
        @WithDefault("30")
        @Min(1)
        int minBaselineSamples();

        /** Fewer samples in the current window than this and nothing is compared: one bad query is not a drop. */
        @WithDefault("5")
        @Min(1)
        int minWindowSamples();

        /** A current mean below baseline × (1 − drop-fraction) is a drop (top score and hit count alike). */
        @WithDefault("0.25")
        @DecimalMin("0")
        @DecimalMax("1")
        double dropFraction();

        /** Indexes whose windows are held in memory; the least recently reported is evicted beyond this. */
        @WithDefault("1000")
        @Min(1)
        int maxIndexes();

        /** Severity of a retrieval quality drop. */
        @WithDefault("P3")
        Severity severity();
    }

    /** {@code stale_index}: index freshness reports, which double as the index's heartbeat. */
    interface Index {

        /** An index last updated longer ago than this is stale, unless a report sets its own {@code maxAge}. */
        @WithDefault("24h")
        @DurationMin(millis = 1)
        Duration maxAge();

        /** No report for this long and the heartbeat is missing, unless a report sets {@code heartbeatTimeout}. */
        @WithDefault("30m")
        @DurationMin(millis = 1)
        Duration heartbeatTimeout();

        /**
         * A reporter's clock skew is the second least receipt less {@code at} of its index's reports received this
         * long before: a report held back (spooled) only adds its delay, so one sent late does not move it, and one
         * from a clock jumped forward for a moment does not lower it. A clock set further back is followed after
         * {@code skew-follow}.
         */
        @WithDefault("24h")
        @DurationMin(millis = 1)
        Duration skewWindow();

        /**
         * A reporter clock set back is followed once every report received this long before shows it, those reports
         * received over at least half of it: a clock set back shows in every report after it, a delay in one report
         * (or one burst of a spool) only.
         */
        @WithDefault("1h")
        @DurationMin(millis = 1)
        Duration skewFollow();

        /** Severity of an index older than its max age. */
        @WithDefault("P3")
        Severity staleSeverity();

        /** Severity of a missing heartbeat: whatever keeps the index fresh has stopped, so it will not clear alone. */
        @WithDefault("P2")
        Severity heartbeatSeverity();
    }

    /** {@code ingestion_failure}: failed pipeline runs and scheduled runs that did not report. */
    interface Ingestion {

        /** A run is missed when none reported within expectedEvery × grace of the last one. */
        @WithDefault("1.5")
        @DecimalMin("0")
        double grace();

        /** Severity of a failed run. */
        @WithDefault("P2")
        Severity failedSeverity();

        /** Severity of a missed run. */
        @WithDefault("P2")
        Severity missedSeverity();
    }
}
