package io.faultline.detect;

import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.content.ContentConfig;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.Payloads;
import io.faultline.testing.TestClock;
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
    /** The service's clock: the gauges read the headroom as of the scrape. */
    private final TestClock clock = new TestClock();
    private final ProviderDetection detection = new ProviderDetection(List.of(new OpenAIFailureDetector(),
            new AnthropicFailureDetector(), new GeminiFailureDetector()), registry,
            ConfigMappings.withDurations(DetectConfig.class, Map.of("faultline.detect.max-deployments", "3")), clock);
    private final CallMapper mapper = new CallMapper(Payloads.JSON, ConfigMappings.defaults(ContentConfig.class));

    private LlmCall openai(String deployment, Instant at, long remaining) {
        return mapper.map(Payloads.success("openai", "gpt-4o", deployment, at)
                .header("x-ratelimit-limit-requests", "100")
                .header("x-ratelimit-remaining-requests", String.valueOf(remaining)).node());
    }

    /** What the service stores and scrapes at {@code now}: observed when it arrives, the gauge as of then. */
    private void observe(LlmCall call, Instant now) {
        clock.set(now);
        detection.observe(call, List.of(), now);
    }

    private double ratio() {
        return registry.get("llm.provider.rate.limit.remaining.ratio").tag("provider", "openai")
                .tag("limit_type", "requests").gauge().value();
    }

    @Test
    void headroom_state_is_capped_per_deployment_count() {
        Instant now = Instant.parse("2026-11-28T10:00:00Z");
        for (int i = 0; i < 50; i++) {
            observe(openai("dep-" + i, now.plusSeconds(i), 50), now.plusSeconds(i));
        }
        assertThat(detection.trackedDeployments()).isEqualTo(3);
    }

    @Test
    void the_gauge_shows_the_tightest_fresh_deployment_and_forgets_stale_ones() {
        Instant now = Instant.parse("2026-11-28T10:00:00Z");
        observe(openai("east", now, 5), now);
        observe(openai("west", now.plusSeconds(1), 60), now.plusSeconds(1));
        assertThat(ratio()).isEqualTo(0.05);
        // Eleven minutes later east's reading is stale: its window has long reset.
        Instant later = now.plus(Duration.ofMinutes(11));
        observe(openai("west", later, 70), later);
        assertThat(ratio()).isEqualTo(0.70);
    }

    /**
     * A reading counts until its limit resets: a 429's "0 left, resets in 12 s" is full again 12 s later, even when
     * no call of that deployment follows (LiteLLM cooled it down and sends elsewhere), and a reading past the maximum
     * age is not shown at all rather than frozen at its last value.
     */
    @Test
    void a_reading_counts_until_its_limit_resets_and_no_reading_shows_nan() {
        Instant now = Instant.parse("2026-11-28T10:00:00Z");
        observe(mapper.map(Payloads.success("openai", "gpt-4o", "east", now)
                .header("x-ratelimit-limit-requests", "100").header("x-ratelimit-remaining-requests", "0")
                .header("x-ratelimit-reset-requests", "12s").node()), now);
        assertThat(ratio()).isZero();
        clock.set(now.plusSeconds(11));
        assertThat(ratio()).isZero();
        clock.set(now.plusSeconds(13));
        assertThat(ratio()).isEqualTo(1.0);
        assertThat(registry.get("llm.provider.rate.limit.remaining").tag("provider", "openai")
                .tag("limit_type", "requests").gauge().value()).isEqualTo(100);
        observe(openai("west", now.plusSeconds(20), 30), now.plusSeconds(20));
        assertThat(ratio()).as("west's 30% is tighter than east's replenished limit").isEqualTo(0.30);
        clock.set(now.plus(Duration.ofMinutes(11)));
        assertThat(ratio()).as("every reading is past the maximum age").isNaN();
    }

    @Test
    void a_late_call_never_replaces_a_newer_reading_of_its_deployment() {
        Instant now = Instant.parse("2026-11-28T10:00:00Z");
        observe(openai("east", now, 90), now);
        // Delivered a minute later by a spool, from two minutes before: the deployment's headroom is what it is now.
        observe(openai("east", now.minusSeconds(120), 1), now.plusSeconds(60));
        assertThat(ratio()).isEqualTo(0.90);
        assertThat(registry.get("llm.provider.rate.limit.approaching").counter().count()).isEqualTo(1);
    }

    @Test
    void a_call_older_than_the_live_horizon_moves_no_live_metric_and_is_counted_as_late() {
        Instant now = Instant.parse("2026-11-28T10:00:00Z");
        observe(openai("east", now, 90), now);
        Instant yesterday = now.minus(Duration.ofDays(1));
        observe(openai("east", yesterday, 1), now);
        observe(openai("west", yesterday, 1), now);
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
