package io.faultline.testing;

import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;

import java.time.Duration;
import java.util.Map;

/** A {@code @ConfigMapping} built outside Quarkus, from its documented defaults plus overrides: for unit tests. */
public final class ConfigMappings {

    private ConfigMappings() {
    }

    public static <T> T defaults(Class<T> mapping) {
        return with(mapping, Map.of());
    }

    public static <T> T with(Class<T> mapping, Map<String, String> properties) {
        SmallRyeConfig config = new SmallRyeConfigBuilder()
                .withMapping(mapping)
                .withDefaultValues(properties)
                .build();
        return config.getConfigMapping(mapping);
    }

    /** Defaults of a mapping with "60s"-style durations, which need Quarkus' converter outside Quarkus. */
    public static <T> T withDurations(Class<T> mapping) {
        return withDurations(mapping, Map.of());
    }

    /** A mapping with "60s"-style durations from its defaults plus overrides (full keys). */
    public static <T> T withDurations(Class<T> mapping, Map<String, String> properties) {
        return new SmallRyeConfigBuilder().withMapping(mapping).withDefaultValues(properties)
                .withConverter(Duration.class, 200, new DurationConverter()).build().getConfigMapping(mapping);
    }
}
