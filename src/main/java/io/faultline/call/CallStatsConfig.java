package io.faultline.call;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;

/** Bounds of {@code GET /api/v1/calls/stats}: every request scans only the day partitions of its window. */
@ConfigMapping(prefix = "faultline.calls.stats")
public interface CallStatsConfig {

    /** The window when {@code since} is absent: the last 24 hours (one or two day partitions). */
    @WithDefault("24h")
    @DurationMin(millis = 1)
    Duration defaultWindow();

    /** The longest window a request may ask for ({@code until - since}); longer is a 400 naming {@code since}. */
    @WithDefault("31d")
    @DurationMin(millis = 1)
    Duration maxSpan();
}
