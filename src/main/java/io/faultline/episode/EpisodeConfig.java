package io.faultline.episode;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;

/** How failures are folded into episodes. */
@ConfigMapping(prefix = "faultline.episodes")
public interface EpisodeConfig {

    /** A failure with the same fingerprint within this gap of the episode's last occurrence joins that episode. */
    @WithDefault("5m")
    @DurationMin(millis = 1)
    Duration dedupWindow();
}
