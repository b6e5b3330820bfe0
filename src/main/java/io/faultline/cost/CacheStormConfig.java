package io.faultline.cost;

import io.faultline.taxonomy.Severity;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;

/**
 * Thresholds of {@code cache_miss_storm}: the cache-hit ratio of a model or key collapses from its rolling level while
 * volume stays up. Windows are those of {@code faultline.token-spike.window}.
 */
@ConfigMapping(prefix = "faultline.cache-storm")
public interface CacheStormConfig {

    /** The window's ratio must fall below the rolling level × (1 − this). */
    @WithDefault("0.5")
    @DecimalMin("0")
    @DecimalMax("1")
    double dropFraction();

    /** A level below this is no cache to lose: nothing is judged. */
    @WithDefault("0.2")
    @DecimalMin("0")
    @DecimalMax("1")
    double minLevel();

    /** Calls the window needs to be judged. */
    @WithDefault("50")
    @Min(1)
    long minCalls();

    /** "Volume stays up": the window's calls must be at least this share of the rolling average. */
    @WithDefault("0.5")
    @DecimalMin("0")
    double volumeFloor();

    /** Earlier windows with traffic that make the rolling level. */
    @WithDefault("3")
    @Min(1)
    int minWindows();

    /** Severity of a storm. */
    @WithDefault("P3")
    Severity severity();
}
