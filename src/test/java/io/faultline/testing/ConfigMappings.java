package io.faultline.testing;

import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;

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
}
