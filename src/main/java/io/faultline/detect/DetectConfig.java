package io.faultline.detect;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;

/** Provider detectors: headroom thresholds and bounds on live state. */
@ConfigMapping(prefix = "faultline.detect")
public interface DetectConfig {

    /** Remaining fraction of a rate limit below which the headroom counts as "approaching" (a leading signal). */
    @WithDefault("0.10")
    @DecimalMin("0")
    @DecimalMax("1")
    double headroomWarning();

    /** Deployments whose headroom is kept in memory; the least recently seen is evicted beyond this. */
    @WithDefault("1000")
    @Min(1)
    int maxDeployments();

    /** Headroom older than this no longer speaks for its provider (its window has long reset). */
    @WithDefault("10m")
    @DurationMin(millis = 1)
    Duration headroomMaxAge();

    /**
     * A call that ended longer than this before it was stored (a backfill, a spool delivered long after an outage)
     * is left out of the live provider metrics, which Prometheus reads as happening now: yesterday's 529s would page
     * {@code Llm529Storm} today. It is counted in {@code llm_provider_late_calls_total}; the database keeps it.
     */
    @WithDefault("15m")
    @DurationMin(millis = 1)
    Duration liveMaxAge();
}
