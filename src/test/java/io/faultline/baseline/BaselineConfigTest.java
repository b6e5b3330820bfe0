package io.faultline.baseline;

import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Every documented {@code faultline.baseline.*} key belongs to the mapping, however it is set. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BaselineConfigTest {

    @Test
    void the_deviation_check_interval_is_a_key_of_the_mapping_and_not_an_unknown_one() {
        // The start-up fails on a key under a mapping's prefix that the mapping does not know (SRCFG00050), as it
        // did for -Dfaultline.baseline.deviation-every=10s.
        BaselineConfig config = new SmallRyeConfigBuilder().withMapping(BaselineConfig.class)
                .withConverter(Duration.class, 200, new DurationConverter())
                .withSources(new PropertiesConfigSource(Map.of("faultline.baseline.deviation-every", "10s"),
                        "system-properties", 400))
                .build().getConfigMapping(BaselineConfig.class);
        assertThat(config.deviationEvery()).isEqualTo(Duration.ofSeconds(10));
    }
}
