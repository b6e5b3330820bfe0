package io.faultline.call;

import io.faultline.content.ContentConfig;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.Payloads;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator.ReplaceUnderscores;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The rate-limit headers a payload carries are stored with the call: what of them is kept. */
@DisplayNameGeneration(ReplaceUnderscores.class)
class RateLimitHeadersMappingTest {

    private final CallMapper mapper = new CallMapper(Payloads.JSON, ConfigMappings.defaults(ContentConfig.class));

    private Map<String, String> headers(Payloads payload) {
        return mapper.map(payload.node()).rateLimitHeaders();
    }

    @Test
    void provider_values_are_kept_as_sent() {
        Map<String, String> kept = headers(Payloads.failure("openai", "gpt-4o", "dep", Instant.now(), 429,
                "RateLimitError", "Rate limit reached").header("x-ratelimit-limit-tokens", "150000000")
                .header("x-ratelimit-reset-tokens", "6m0s").header("retry-after", "Wed, 21 Oct 2026 07:28:00 GMT")
                .header("anthropic-ratelimit-tokens-reset", "2026-12-06T20:21:35Z"));

        assertThat(kept).containsEntry("x-ratelimit-limit-tokens", "150000000")
                .containsEntry("x-ratelimit-reset-tokens", "6m0s")
                .containsEntry("retry-after", "Wed, 21 Oct 2026 07:28:00 GMT")
                .containsEntry("anthropic-ratelimit-tokens-reset", "2026-12-06T20:21:35Z");
    }

    @Test
    void a_header_name_or_value_holding_personal_data_or_a_key_is_not_stored_as_written() {
        // Header names and values are the sender's text (the plugin's faultline block, generic_api's
        // additional_headers): stored in llm_calls.rate_limit_headers and copied into rate_limit evidence.
        Map<String, String> kept = headers(Payloads.failure("openai", "gpt-4o", "dep", Instant.now(), 429,
                "RateLimitError", "Rate limit reached")
                .header("x-ratelimit-remaining-requests", "jane.doe@example.com 4111 1111 1111 1111")
                .header("x-ratelimit-remaining-jane.doe@example.com", "1")
                .header("x-ratelimit-remaining-" + "a".repeat(64 * 1024), "1"));

        assertThat(kept.toString()).doesNotContain("jane.doe", "1111", "a".repeat(200));
        assertThat(kept).containsEntry("x-ratelimit-remaining-requests", "[email] [number]");
    }
}
