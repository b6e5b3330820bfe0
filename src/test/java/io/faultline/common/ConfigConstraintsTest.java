package io.faultline.common;

import io.faultline.call.IngestConfig;
import io.faultline.call.PartitionMaintenance;
import io.faultline.classify.ClassifyConfig;
import io.faultline.content.InjectionConfig;
import io.faultline.cost.TokenSpikeConfig;
import io.faultline.data.EmbeddingDriftConfig;
import io.faultline.episode.EpisodeConfig;
import io.faultline.impact.SloConfig;
import io.faultline.signals.SignalsConfig;
import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.ConfigValidationException;
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

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.assertThatCode;

/**
 * A setting out of its range fails the start, naming the key, instead of starting a pod that misbehaves: a retention
 * of -1 days dropped today's partition, a batch limit of 0 refused every ingest, a classify timeout of 0 made every
 * success a timeout, a token-spike window of 0 divided by zero on every ingest. Quarkus runs the same Bean Validation
 * of the config mappings at start-up (quarkus-hibernate-validator).
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ConfigConstraintsTest {

    @ParameterizedTest
    @CsvSource({
            "io.faultline.call.PartitionMaintenance$RetentionConfig, faultline.calls.retention-days, -1",
            "io.faultline.call.PartitionMaintenance$RetentionConfig, faultline.calls.retention-days, 0",
            "io.faultline.call.PartitionMaintenance$RetentionConfig, faultline.calls.retention-days, 99999999",
            "io.faultline.call.IngestConfig, faultline.ingest.max-batch-items, 0",
            "io.faultline.call.IngestConfig, faultline.ingest.max-body-bytes, -1",
            "io.faultline.call.IngestConfig, faultline.ingest.max-clock-skew, -5m",
            "io.faultline.signals.SignalsConfig, faultline.signals.max-batch-items, 0",
            "io.faultline.classify.ClassifyConfig, faultline.classify.timeout, 0",
            "io.faultline.classify.ClassifyConfig, faultline.classify.storm-occurrences, -1",
            "io.faultline.episode.EpisodeConfig, faultline.episodes.dedup-window, -1m",
            "io.faultline.cost.TokenSpikeConfig, faultline.token-spike.window, 0",
            "io.faultline.common.DatabaseConfig, faultline.database.retry-every, 0",
            "io.faultline.common.DatabaseConfig, faultline.database.retry-after-seconds, -1",
            "io.faultline.common.MetricsConfig, faultline.metrics.max-label-values, -1",
            "io.faultline.detect.DetectConfig, faultline.detect.headroom-warning, 1.5",
            "io.faultline.data.EmbeddingDriftConfig, faultline.embedding-drift.quantile, 1.5",
            "io.faultline.content.InjectionConfig, faultline.injection.injection-threshold, -1",
            "io.faultline.cost.CacheStormConfig, faultline.cache-storm.drop-fraction, 1.5",
            "io.faultline.impact.SloConfig, faultline.slo.default-availability, 1.5",
            "io.faultline.impact.SloConfig, faultline.slo.period, 0",
            "io.faultline.correlate.CorrelateConfig, faultline.correlate.min-confidence, 2",
            "io.faultline.content.LanguageConfig, faultline.language.min-confidence, 2",
            "io.faultline.predict.TrafficConfig, faultline.traffic.max-pins, 0",
    })
    void a_value_out_of_range_fails_naming_its_key(String mapping, String key, String value) throws Exception {
        Class<?> type = Class.forName(mapping);
        assertThatThrownBy(() -> build(type, Map.of(key, value))).isInstanceOf(ConfigValidationException.class)
                .hasMessageContaining(key);
    }

    @Test
    void the_documented_defaults_are_within_every_range() {
        for (Class<?> type : new Class<?>[] { IngestConfig.class, PartitionMaintenance.RetentionConfig.class,
                ClassifyConfig.class, EpisodeConfig.class, TokenSpikeConfig.class, DatabaseConfig.class,
                MetricsConfig.class, EmbeddingDriftConfig.class, InjectionConfig.class, SloConfig.class,
                SignalsConfig.class }) {
            assertThatCode(() -> build(type, Map.of())).as(type.getSimpleName()).doesNotThrowAnyException();
        }
    }

    @Test
    void a_bare_number_interval_is_seconds_as_the_scheduler_reads_it() {
        assertThat(ClusterJobs.every("5")).isEqualTo(Duration.ofSeconds(5));
        assertThat(ClusterJobs.every("1d")).isEqualTo(Duration.ofDays(1));
        assertThat(ClusterJobs.every("PT1M")).isEqualTo(Duration.ofMinutes(1));
        assertThatThrownBy(() -> ClusterJobs.every("0")).hasMessageContaining("not a positive duration");
        assertThatThrownBy(() -> ClusterJobs.every("soon")).hasMessageContaining("'soon' is not a duration");
    }

    private static Object build(Class<?> type, Map<String, String> properties) {
        return new SmallRyeConfigBuilder().withMapping(type)
                .withConverter(Duration.class, 200, new DurationConverter())
                .withSources(new PropertiesConfigSource(properties, "test", 400))
                .withValidator(new BeanValidationConfigValidatorImpl())
                .build().getConfigMapping(type);
    }
}
