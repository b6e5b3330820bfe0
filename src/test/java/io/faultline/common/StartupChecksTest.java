package io.faultline.common;

import io.faultline.call.IngestConfig;
import io.faultline.content.InjectionConfig;
import io.faultline.content.JudgeConfig;
import io.faultline.content.LanguageConfig;
import io.faultline.correlate.CorrelateConfig;
import io.faultline.data.EmbeddingDriftConfig;
import io.faultline.impact.ImpactConfig;
import io.faultline.impact.SloConfig;
import io.faultline.predict.PredictConfig;
import io.faultline.signals.SignalsConfig;
import io.faultline.testing.ConfigMappings;
import io.quarkus.runtime.configuration.MemorySize;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What the start-up checks refuse, naming the key: settings once read only on first use (a 500 on every ingest) or
 * at every tick (a job that failed each time while the scheduler kept firing it).
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class StartupChecksTest {

    private static final MemorySize BACKSTOP = new MemorySize(BigInteger.valueOf(32L * 1024 * 1024));

    @Test
    void the_documented_defaults_pass() {
        assertThatCode(() -> check(Map.of(), BACKSTOP)).doesNotThrowAnyException();
    }

    @Test
    void each_bad_setting_fails_the_start_naming_its_key() {
        assertThatThrownBy(() -> check(Map.of("faultline.language.languages", "en,xx"), BACKSTOP))
                .hasMessageContaining("faultline.language.languages").hasMessageContaining("'xx'");
        assertThatThrownBy(() -> check(Map.of("faultline.injection.model-scripts", "LATIN,KLINGON"), BACKSTOP))
                .hasMessageContaining("faultline.injection.model-scripts").hasMessageContaining("'KLINGON'");
        assertThatThrownBy(() -> check(Map.of("faultline.faithfulness.judge.enabled", "true"), BACKSTOP))
                .hasMessageContaining("faultline.faithfulness.judge.base-url");
        for (String notAUrl : new String[] { "notaurl", "litellm:4000", "ftp://litellm", "http://", "http:// x" }) {
            assertThatThrownBy(() -> check(Map.of("faultline.faithfulness.judge.enabled", "true",
                    "faultline.faithfulness.judge.base-url", notAUrl), BACKSTOP)).as(notAUrl)
                    .hasMessageContaining("faultline.faithfulness.judge.base-url").hasMessageContaining("absolute");
        }
        assertThatCode(() -> check(Map.of("faultline.faithfulness.judge.enabled", "true",
                "faultline.faithfulness.judge.base-url", "https://litellm.internal:4000/v1/"), BACKSTOP))
                .doesNotThrowAnyException();
        // A key in the URL would be logged with every failed judge call (and the JDK's client never sends it); a
        // query or fragment would end up before /chat/completions.
        for (String withSecret : new String[] { "http://judge:sk-secret-1@litellm:4000",
                "http://litellm:4000/?api_key=sk-secret-1", "http://litellm:4000/#sk-secret-1" }) {
            assertThatThrownBy(() -> check(Map.of("faultline.faithfulness.judge.enabled", "true",
                    "faultline.faithfulness.judge.base-url", withSecret), BACKSTOP)).as(withSecret)
                    .hasMessageContaining("faultline.faithfulness.judge.base-url")
                    .hasMessageContaining("FAULTLINE_JUDGE_API_KEY").hasMessageNotContaining("sk-secret-1");
        }
        assertThatThrownBy(() -> check(Map.of("faultline.predict.interval", "soon"), BACKSTOP))
                .hasMessageContaining("faultline.predict.interval");
        assertThatThrownBy(() -> check(Map.of("faultline.correlate.close-every", "0"), BACKSTOP))
                .hasMessageContaining("faultline.correlate.close-every");
        assertThatThrownBy(() -> check(Map.of(), new MemorySize(BigInteger.valueOf(1024))))
                .hasMessageContaining("faultline.ingest.max-body-bytes")
                .hasMessageContaining("quarkus.http.limits.max-body-size");
    }

    @Test
    void slo_defaults_that_would_mislead_the_budgets_fail_the_start_naming_their_key() {
        // A quantile written as a percent: a negative latency budget, no burn and a whole budget left, forever.
        assertThatThrownBy(() -> check(Map.of("faultline.slo.default-latency-target-ms", "2000",
                "faultline.slo.default-latency-quantile", "99"), BACKSTOP))
                .hasMessageContaining("faultline.slo.default-latency-quantile");
        // A target in seconds: evaluated at the first edge, 100 ms, every answer slow.
        assertThatThrownBy(() -> check(Map.of("faultline.slo.default-latency-target-ms", "2",
                "faultline.slo.default-latency-quantile", "0.99"), BACKSTOP))
                .hasMessageContaining("faultline.slo.default-latency-target-ms");
        // One without the other gave no latency SLO at all, silently.
        assertThatThrownBy(() -> check(Map.of("faultline.slo.default-latency-target-ms", "2000"), BACKSTOP))
                .hasMessageContaining("faultline.slo.default-latency-quantile");
        assertThatThrownBy(() -> check(Map.of("faultline.slo.default-latency-quantile", "0.99"), BACKSTOP))
                .hasMessageContaining("faultline.slo.default-latency-target-ms");
        // A period longer than the minutes kept: the budget would count only the minutes left.
        assertThatThrownBy(() -> check(Map.of("faultline.slo.retention", "7d"), BACKSTOP))
                .hasMessageContaining("faultline.slo.period").hasMessageContaining("faultline.slo.retention");
        assertThatCode(() -> check(Map.of("faultline.slo.default-latency-target-ms", "2000",
                "faultline.slo.default-latency-quantile", "0.99", "faultline.slo.retention", "30d"), BACKSTOP))
                .doesNotThrowAnyException();
    }

    @Test
    void a_bare_number_interval_is_taken_as_seconds() {
        assertThatCode(() -> check(Map.of("faultline.slo.interval", "5", "faultline.impact.interval", "1d"),
                BACKSTOP)).doesNotThrowAnyException();
    }

    private static void check(Map<String, String> properties, MemorySize backstop) {
        new StartupChecks().check(null, mapping(LanguageConfig.class, properties),
                mapping(InjectionConfig.class, properties), mapping(JudgeConfig.class, properties),
                mapping(SloConfig.class, properties), mapping(PredictConfig.class, properties),
                mapping(ImpactConfig.class, properties), mapping(CorrelateConfig.class, properties),
                mapping(IngestConfig.class, properties), mapping(SignalsConfig.class, properties),
                mapping(EmbeddingDriftConfig.class, properties), backstop);
    }

    private static <T> T mapping(Class<T> type, Map<String, String> properties) {
        return ConfigMappings.withDurations(type, properties);
    }
}
