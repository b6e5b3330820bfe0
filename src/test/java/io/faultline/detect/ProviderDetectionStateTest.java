package io.faultline.detect;

import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.content.ContentConfig;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.Payloads;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Live detector state is bounded, and the headroom gauge follows the provider's tightest fresh deployment. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ProviderDetectionStateTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ProviderDetection detection = new ProviderDetection(List.of(new OpenAIFailureDetector(),
            new AnthropicFailureDetector(), new GeminiFailureDetector()), registry,
            ConfigMappings.withDurations(DetectConfig.class, Map.of("faultline.detect.max-deployments", "3")));
    private final CallMapper mapper = new CallMapper(Payloads.JSON, ConfigMappings.defaults(ContentConfig.class));

    private LlmCall openai(String deployment, Instant at, long remaining) {
        return mapper.map(Payloads.success("openai", "gpt-4o", deployment, at)
                .header("x-ratelimit-limit-requests", "100")
                .header("x-ratelimit-remaining-requests", String.valueOf(remaining)).node());
    }

    private double ratio() {
        return registry.get("llm.provider.rate.limit.remaining.ratio").tag("provider", "openai")
                .tag("limit_type", "requests").gauge().value();
    }

    @Test
    void headroom_state_is_capped_per_deployment_count() {
        Instant now = Instant.parse("2026-11-28T10:00:00Z");
        for (int i = 0; i < 50; i++) {
            detection.observe(openai("dep-" + i, now.plusSeconds(i), 50), List.of(), now.plusSeconds(i));
        }
        assertThat(detection.trackedDeployments()).isEqualTo(3);
    }

    @Test
    void the_gauge_shows_the_tightest_fresh_deployment_and_forgets_stale_ones() {
        Instant now = Instant.parse("2026-11-28T10:00:00Z");
        detection.observe(openai("east", now, 5), List.of(), now);
        detection.observe(openai("west", now.plusSeconds(1), 60), List.of(), now.plusSeconds(1));
        assertThat(ratio()).isEqualTo(0.05);
        // Eleven minutes later east's reading is stale: its window has long reset.
        Instant later = now.plus(Duration.ofMinutes(11));
        detection.observe(openai("west", later, 70), List.of(), later);
        assertThat(ratio()).isEqualTo(0.70);
    }

    @Test
    void a_late_call_never_replaces_a_newer_reading_of_its_deployment() {
        Instant now = Instant.parse("2026-11-28T10:00:00Z");
        detection.observe(openai("east", now, 90), List.of(), now);
        // Delivered a minute later by a spool, from two minutes before: the deployment's headroom is what it is now.
        detection.observe(openai("east", now.minusSeconds(120), 1), List.of(), now.plusSeconds(60));
        assertThat(ratio()).isEqualTo(0.90);
        assertThat(registry.get("llm.provider.rate.limit.approaching").counter().count()).isEqualTo(1);
    }

    @Test
    void a_call_older_than_the_live_horizon_moves_no_live_metric_and_is_counted_as_late() {
        Instant now = Instant.parse("2026-11-28T10:00:00Z");
        detection.observe(openai("east", now, 90), List.of(), now);
        Instant yesterday = now.minus(Duration.ofDays(1));
        detection.observe(openai("east", yesterday, 1), List.of(), now);
        detection.observe(openai("west", yesterday, 1), List.of(), now);
        assertThat(ratio()).isEqualTo(0.90);
        assertThat(registry.find("llm.provider.rate.limit.approaching").counter()).isNull();
        assertThat(registry.get("llm.provider.call.duration").timer().count()).isEqualTo(1);
        assertThat(registry.get("llm.provider.late.calls").tag("provider", "openai").counter().count())
                .isEqualTo(2);
    }

    @Test
    void go_durations_of_openai_resets_parse() {
        assertThat(RateLimitHeaders.goDuration("6m0s")).isEqualTo(Duration.ofMinutes(6));
        assertThat(RateLimitHeaders.goDuration("12ms")).isEqualTo(Duration.ofMillis(12));
        assertThat(RateLimitHeaders.goDuration("1h2m3.5s")).isEqualTo(Duration.ofMillis(3_723_500));
        assertThat(RateLimitHeaders.goDuration("20")).isEqualTo(Duration.ofSeconds(20));
        assertThat(RateLimitHeaders.goDuration("soon")).isNull();
    }
}
