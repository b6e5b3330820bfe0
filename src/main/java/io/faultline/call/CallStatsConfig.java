package io.faultline.call;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.Min;
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

    /**
     * Providers listed at most, those with the most calls first picked: provider names are the sender's
     * ({@code custom_llm_provider}), so there is no other bound on the answer's size. The totals count all of them.
     */
    @WithDefault("200")
    @Min(1)
    int maxProviders();
}
