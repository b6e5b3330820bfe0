package io.faultline.call;

import io.faultline.testing.ProviderMessages;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ProviderErrorDetailsTest {

    @Test
    void the_quota_and_the_delay_are_read_from_past_the_stored_part_of_the_message() {
        String message = ProviderMessages.geminiQuota("GenerateContentInputTokensPerModelPerMinute-FreeTier", "26s");
        assertThat(message.indexOf("quotaId")).as("beyond what is stored").isGreaterThan(CallMapper.MAX_TEXT_LENGTH);
        ProviderErrorDetails details = ProviderErrorDetails.read(message);
        assertThat(details.quotaId()).isEqualTo("GenerateContentInputTokensPerModelPerMinute-FreeTier");
        assertThat(details.retryDelaySeconds()).isEqualTo("26");
        assertThat(ProviderErrorDetails.isPerDay(details.quotaId())).isFalse();
        String perDay = "GenerateRequestsPerDayPerProjectPerModel-FreeTier";
        assertThat(ProviderErrorDetails.read(ProviderMessages.geminiQuota(perDay, "0.5s")))
                .isEqualTo(new ProviderErrorDetails(perDay, "0.5"));
    }

    @Test
    void google_s_status_word_is_read_from_past_the_stored_part_of_the_message() {
        String message = ProviderMessages.geminiQuota("GenerateContentInputTokensPerModelPerMinute-FreeTier", "26s")
                .replace("litellm.RateLimitError: litellm.RateLimitError:", "litellm.InternalServerError:");
        String stored = CallMapper.storedErrorMessage(message);
        assertThat(message.indexOf("RESOURCE_EXHAUSTED") + "RESOURCE_EXHAUSTED".length()).as("beyond the cut")
                .isGreaterThan(CallMapper.MAX_TEXT_LENGTH);
        assertThat(ProviderErrorDetails.googleStatus(message)).isEqualTo("RESOURCE_EXHAUSTED");
        assertThat(stored).as("stored").endsWith("… status: RESOURCE_EXHAUSTED");
        assertThat(CallMapper.storedErrorMessage("OpenAIException - Connection error.")).as("nothing to add")
                .isEqualTo("OpenAIException - Connection error.");
        assertThat(ProviderErrorDetails.googleStatus("{\"http_status\": 500, \"status\": \"unavailable\"}"))
                .as("lower case: no status word").isNull();
    }

    @Test
    void a_per_day_quota_wins_over_a_per_minute_one_listed_before_it() {
        String both = ProviderMessages.geminiQuota("GenerateContentInputTokensPerModelPerMinute-FreeTier\"},"
                + " {\"quotaId\": \"GenerateRequestsPerDayPerProjectPerModel-FreeTier", null);
        ProviderErrorDetails details = ProviderErrorDetails.read(both);
        assertThat(details.quotaId()).isEqualTo("GenerateRequestsPerDayPerProjectPerModel-FreeTier");
        assertThat(details.retryDelaySeconds()).isNull();
    }

    @Test
    void keys_quoted_inside_an_escaped_body_are_read_too() {
        String escaped = "GeminiException - {\\\"error\\\": {\\\"details\\\": [{\\\"quotaId\\\":"
                + " \\\"GenerateRequestsPerDayPerProjectPerModel\\\"}, {\\\"retryDelay\\\": \\\"37s\\\"}]}}";
        assertThat(ProviderErrorDetails.read(escaped))
                .isEqualTo(new ProviderErrorDetails("GenerateRequestsPerDayPerProjectPerModel", "37"));
    }

    @Test
    void words_that_are_not_keys_or_values_that_are_not_durations_give_nothing() {
        assertThat(ProviderErrorDetails.read(null)).isSameAs(ProviderErrorDetails.NONE);
        assertThat(ProviderErrorDetails.read("Rate limit reached for gpt-4o")).isSameAs(ProviderErrorDetails.NONE);
        assertThat(ProviderErrorDetails.read("the quotaIdentifier and retryDelayed words"))
                .isSameAs(ProviderErrorDetails.NONE);
        assertThat(ProviderErrorDetails.read("\"retryDelay\": \"soon\"")).isSameAs(ProviderErrorDetails.NONE);
        assertThat(ProviderErrorDetails.read("\"retryDelay\": \"12\"")).as("no unit")
                .isSameAs(ProviderErrorDetails.NONE);
        assertThat(ProviderErrorDetails.read("\"retryDelay\": \"")).isSameAs(ProviderErrorDetails.NONE);
    }

    /** Caller-reachable text: the read is bounded, whatever the message repeats or how long a value runs. */
    @Test
    void a_hostile_message_is_read_within_its_bound() {
        String keys = "\"quotaId\": \"x\", ".repeat(8_000) + "\"quotaId\": \"PerDayQuota\"";
        assertThat(ProviderErrorDetails.read(keys).quotaId()).as("only the first keys are read").isEqualTo("x");
        String longValue = "\"quotaId\": \"" + "A".repeat(64 * 1024) + "\"";
        assertThat(ProviderErrorDetails.read(longValue).quotaId()).hasSize(120);
        String nul = "\"quotaId\": \"Per\u0000Day\" \"retryDelay\": \"\uD800" + "9".repeat(40) + "s\"";
        ProviderErrorDetails details = ProviderErrorDetails.read(nul);
        assertThat(details.quotaId()).isEqualTo("Per");
        assertThat(details.retryDelaySeconds()).isNull();
        String far = " ".repeat(ProviderErrorDetails.SCAN_LIMIT) + "\"quotaId\": \"PerDay\"";
        assertThat(ProviderErrorDetails.read(far)).isSameAs(ProviderErrorDetails.NONE);
    }
}
