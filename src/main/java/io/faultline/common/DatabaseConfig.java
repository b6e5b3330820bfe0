package io.faultline.common;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;

/** How Faultline waits for a database that is not there at start (README: "Failure modes"). */
@ConfigMapping(prefix = "faultline.database")
public interface DatabaseConfig {

    /** Between two attempts to reach the database and migrate it, while it refuses connections at start-up. */
    @WithDefault("2s")
    @DurationMin(millis = 1)
    Duration retryEvery();

    /**
     * The {@code Retry-After} (seconds) of a 503 that the database being away caused: long enough for a short
     * restart of the database, short enough that the plugin's spool drains soon after it is back.
     */
    @WithDefault("5")
    @Min(1)
    int retryAfterSeconds();
}
