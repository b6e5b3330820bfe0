package io.faultline.predict;

import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfigBuilder;
import io.smallrye.config.validator.BeanValidationConfigValidatorImpl;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The policy's timings as the plugin reads them: whole seconds, refreshSeconds 1..3600 and staleAfterSeconds 0..86400
 * (outside, it takes its own defaults), and a policy polled every refresh must not go stale between two polls.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TrafficConfigTest {

    @ParameterizedTest
    @CsvSource({
            // Polled every 5 min, stale after 3: the plugin reduced nothing for 2 minutes out of every 5.
            "5m, 3m, faultline.traffic.stale-after",
            "3m, 3m, faultline.traffic.stale-after",
            // Published as refreshSeconds 0, which the plugin replaces by its default of 15 s.
            "500ms, 3m, faultline.traffic.refresh",
            "2h, 3h, faultline.traffic.refresh",
            // Published as staleAfterSeconds 172800, which the plugin replaces by its default of 180 s.
            "15s, 2d, faultline.traffic.stale-after",
    })
    void timings_the_plugin_would_read_otherwise_fail_the_start_naming_the_key(String refresh, String staleAfter,
            String key) {
        TrafficConfig config = build(Map.of("faultline.traffic.refresh", refresh, "faultline.traffic.stale-after",
                staleAfter));
        assertThatThrownBy(() -> TrafficPolicy.validate(config)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(key);
    }

    @Test
    void the_defaults_and_the_end_to_end_test_timings_are_accepted() {
        assertThatCode(() -> TrafficPolicy.validate(build(Map.of()))).doesNotThrowAnyException();
        assertThatCode(() -> TrafficPolicy.validate(build(Map.of("faultline.traffic.refresh", "1s",
                "faultline.traffic.stale-after", "15s")))).doesNotThrowAnyException();
    }

    private static TrafficConfig build(Map<String, String> properties) {
        return new SmallRyeConfigBuilder().withMapping(TrafficConfig.class)
                .withConverter(Duration.class, 200, new DurationConverter())
                .withSources(new PropertiesConfigSource(properties, "test", 400))
                .withValidator(new BeanValidationConfigValidatorImpl())
                .build().getConfigMapping(TrafficConfig.class);
    }
}
