package io.faultline.detect;

import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ProviderDetectorMetricsTest {

    private static String dep() {
        return "dep-" + UUID.randomUUID();
    }

    @Test
    void openai_rate_limit_and_insufficient_quota_are_counted_apart() {
        String before = Metrics.scrape();
        String dep = dep();
        Api.ingest(Payloads.array(
                Payloads.failure("openai", "gpt-4o", dep, Instant.now(), 429, "RateLimitError", "Rate limit reached"),
                Payloads.failure("openai", "gpt-4o", dep, Instant.now(), 429, "RateLimitError", "Rate limit reached"),
                Payloads.failure("openai", "gpt-4o", dep, Instant.now(), 429, "RateLimitError",
                        "You exceeded your current quota. code: insufficient_quota"))).statusCode(200);
        String after = Metrics.scrape();
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "rate_limit", "provider", "openai"))
                .isEqualTo(2);
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "insufficient_quota", "provider",
                "openai")).isEqualTo(1);
    }

    /**
     * OpenAI's 429 for a request larger than the whole per-minute token limit (the provider-wire fixture's words, as
     * LiteLLM prefixes them): the same code as a passing limit, but no wait lets it through; counted apart.
     */
    @Test
    void openai_request_too_large_for_the_token_limit_is_counted_apart_from_a_passing_rate_limit() {
        String before = Metrics.scrape();
        Api.ingest(Payloads.array(Payloads.failure("openai", "gpt-4o", dep(), Instant.now(), 429, "RateLimitError",
                "litellm.RateLimitError: RateLimitError: OpenAIException - Request too large for gpt-4o in"
                        + " organization org-x on tokens per min (TPM): Limit 30000, Requested 31538. The input or"
                        + " output tokens must be reduced in order to run successfully."))).statusCode(200);
        String after = Metrics.scrape();
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "request_too_large", "provider",
                "openai")).isEqualTo(1);
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "rate_limit", "provider",
                "openai")).isZero();
    }

    /** Gemini's per-day quota, told from its per-minute ones by the quota id in the body, is counted apart. */
    @Test
    void gemini_per_day_quota_is_counted_apart_from_its_per_minute_rate_limits() {
        String before = Metrics.scrape();
        String dep = dep();
        Api.ingest(Payloads.array(
                Payloads.failure("gemini", "gemini-2.5-flash", dep, Instant.now(), 429, "RateLimitError",
                        io.faultline.testing.ProviderMessages.geminiQuota(
                                "GenerateRequestsPerDayPerProjectPerModel-FreeTier", null)),
                Payloads.failure("gemini", "gemini-2.5-flash", dep, Instant.now(), 429, "RateLimitError",
                        io.faultline.testing.ProviderMessages.geminiQuota(
                                "GenerateContentInputTokensPerModelPerMinute-FreeTier", "26s")))).statusCode(200);
        String after = Metrics.scrape();
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "daily_quota_exhausted",
                "provider", "gemini")).isEqualTo(1);
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "rate_limit", "provider",
                "gemini")).isEqualTo(1);
    }

    /** {@code insufficient_quota} as LiteLLM 1.108.5 words it: OpenAI's message, without the error code. */
    @Test
    void openai_insufficient_quota_in_litellms_words_is_counted_as_insufficient_quota() {
        String before = Metrics.scrape();
        Api.ingest(Payloads.array(Payloads.failure("openai", "gpt-4o", dep(), Instant.now(), 429, "RateLimitError",
                "RateLimitError: OpenAIException - You exceeded your current quota, please check your plan and billing"
                        + " details. For more information on this error, read the docs:"
                        + " https://platform.openai.com/docs/guides/error-codes/api-errors."))).statusCode(200);
        String after = Metrics.scrape();
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "insufficient_quota", "provider",
                "openai")).isEqualTo(1);
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "rate_limit", "provider",
                "openai")).isZero();
    }

    /**
     * A request that timed out on OpenAI and fell back to Gemini, both attempts in one batch (the plugin sends a
     * second's events together): the timeout is OpenAI's, and the answer Gemini gave is no error of Gemini's.
     */
    @Test
    void a_failed_attempt_is_counted_for_its_own_provider_not_for_the_fallback_sharing_its_call_id() {
        String before = Metrics.scrape();
        String id = UUID.randomUUID().toString();
        Instant start = Instant.now();
        Api.ingest(Payloads.array(
                Payloads.failure("openai", "gpt-4o-mini", dep(), start, 408, "Timeout", "Request timed out.")
                        .set("litellm_call_id", id).set("trace_id", id),
                Payloads.success("gemini", "gemini-2.5-flash", dep(), start.plusSeconds(1))
                        .set("litellm_call_id", id).set("trace_id", id))).statusCode(200);
        String after = Metrics.scrape();
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "timeout", "provider", "openai"))
                .isEqualTo(1);
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "timeout", "provider", "gemini"))
                .isZero();
    }

    /**
     * LiteLLM stamps the model group's provider on a request it refused itself (a virtual key it does not know, a
     * key over its budget): no provider was called, so neither is an error or a call of OpenAI's. Counted there, a
     * client with a bad key raised OpenAI's "provider-side" error ratio ({@code LlmProviderErrorRateHigh}) and its
     * 0 ms refusals pulled OpenAI's latency quantiles down. OpenAI refusing our own credentials still counts.
     */
    @Test
    void calls_the_proxy_refused_itself_are_no_calls_or_errors_of_the_provider_it_stamped() {
        String before = Metrics.scrape();
        Api.ingest(Payloads.array(
                Payloads.failure("openai", "gpt-4o-mini", dep(), Instant.now(), 400, "ProxyException",
                        "No connected db.").latency(0),
                Payloads.failure("openai", "gpt-4o-mini", dep(), Instant.now(), 401, "ProxyException",
                        "Authentication Error, Invalid proxy server token passed.").latency(0),
                Payloads.failure("openai", "gpt-4o-mini", dep(), Instant.now(), 429, "BudgetExceededError",
                        "Budget has been exceeded! Current cost: 10.2, Max budget: 10.0").latency(0)))
                .statusCode(200);
        String refused = Metrics.scrape();
        assertThat(delta(before, refused, "llm_provider_errors_total", "error_type", "unauthorized", "provider",
                "openai")).as("the proxy refusing a caller's key").isZero();
        assertThat(delta(before, refused, "llm_provider_errors_total", "error_type", "client_error", "provider",
                "openai")).as("the proxy refusing a key over its budget").isZero();
        assertThat(delta(before, refused, "llm_provider_call_duration_seconds_count", "provider", "openai"))
                .as("no call reached OpenAI").isZero();

        Api.ingest(Payloads.array(Payloads.failure("openai", "gpt-4o-mini", dep(), Instant.now(), 401,
                "AuthenticationError", "Incorrect API key provided"))).statusCode(200);
        String after = Metrics.scrape();
        assertThat(delta(refused, after, "llm_provider_errors_total", "error_type", "unauthorized", "provider",
                "openai")).as("OpenAI refusing our credentials").isEqualTo(1);
        assertThat(delta(refused, after, "llm_provider_call_duration_seconds_count", "provider", "openai"))
                .isEqualTo(1);
    }

    @Test
    void anthropic_529_is_counted_as_overloaded_apart_from_outages() {
        String before = Metrics.scrape();
        Api.ingest(Payloads.array(Payloads.failure("anthropic", "claude", dep(), Instant.now(), 529,
                "InternalServerError", "overloaded_error"), Payloads.failure("anthropic", "claude", dep(),
                        Instant.now(), 500, "InternalServerError", "Internal server error"))).statusCode(200);
        String after = Metrics.scrape();
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "overloaded", "provider",
                "anthropic")).isEqualTo(1);
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "outage", "provider", "anthropic"))
                .isEqualTo(1);
    }

    @Test
    void gemini_safety_blocks_and_context_overflows_are_counted() {
        String before = Metrics.scrape();
        Api.ingest(Payloads.array(Payloads.success("gemini", "gemini-2.5-flash", dep(), Instant.now())
                .answer(null, "content_filter"), Payloads.failure("gemini", "gemini-2.5-flash", dep(), Instant.now(),
                        400, "ContextWindowExceededError", "input token count exceeds the maximum"))).statusCode(200);
        String after = Metrics.scrape();
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "content_filtered", "provider",
                "gemini")).isEqualTo(1);
        assertThat(delta(before, after, "llm_provider_errors_total", "error_type", "context_overflow", "provider",
                "gemini")).isEqualTo(1);
    }

    @Test
    void openai_style_headroom_draining_below_ten_percent_is_a_leading_signal_before_any_429() {
        // Azure OpenAI speaks OpenAI's header dialect; a provider of its own keeps other tests' headroom out.
        String dep = dep();
        String before = Metrics.scrape();
        Api.ingest(Payloads.array(Payloads.success("azure", "gpt-4o", dep, Instant.now())
                .header("x-ratelimit-limit-tokens", "160000").header("x-ratelimit-remaining-tokens", "12000")
                .header("x-ratelimit-reset-tokens", "6m0s").header("x-ratelimit-limit-requests", "5000")
                .header("x-ratelimit-remaining-requests", "4999"))).statusCode(200);
        String after = Metrics.scrape();
        assertThat(Metrics.value(after, "llm_provider_rate_limit_remaining", "limit_type", "tokens", "provider",
                "azure")).isEqualTo(12000);
        assertThat(Metrics.value(after, "llm_provider_rate_limit_remaining_ratio", "limit_type", "tokens", "provider",
                "azure")).isCloseTo(0.075, within(1e-9));
        assertThat(delta(before, after, "llm_provider_rate_limit_approaching_total", "limit_type", "tokens",
                "provider", "azure")).isEqualTo(1);
        assertThat(delta(before, after, "llm_provider_rate_limit_approaching_total", "limit_type", "requests",
                "provider", "azure")).isZero();
        assertThat(delta(before, after, "llm_provider_errors_total", "provider", "azure")).isZero();
    }

    @Test
    void anthropic_headroom_of_all_four_limits_is_exported() {
        Api.ingest(Payloads.array(Payloads.success("anthropic", "claude", dep(), Instant.now())
                .header("anthropic-ratelimit-requests-limit", "50").header("anthropic-ratelimit-requests-remaining", "1")
                .header("anthropic-ratelimit-tokens-limit", "38000")
                .header("anthropic-ratelimit-tokens-remaining", "36000")
                .header("anthropic-ratelimit-input-tokens-limit", "30000")
                .header("anthropic-ratelimit-input-tokens-remaining", "28000")
                .header("anthropic-ratelimit-output-tokens-limit", "8000")
                .header("anthropic-ratelimit-output-tokens-remaining", "8000")
                .header("anthropic-ratelimit-requests-reset", "2026-02-25T20:02:32Z"))).statusCode(200);
        String after = Metrics.scrape();
        assertThat(Metrics.value(after, "llm_provider_rate_limit_remaining_ratio", "limit_type", "requests",
                "provider", "anthropic")).isCloseTo(0.02, within(1e-9));
        assertThat(Metrics.value(after, "llm_provider_rate_limit_remaining", "limit_type", "input_tokens",
                "provider", "anthropic")).isEqualTo(28000);
        assertThat(Metrics.value(after, "llm_provider_rate_limit_remaining", "limit_type", "output_tokens",
                "provider", "anthropic")).isEqualTo(8000);
    }

    @Test
    void thinking_tokens_and_their_cost_are_counted_per_model() {
        String before = Metrics.scrape();
        Payloads call = Payloads.success("anthropic", "claude-opus-4-5", dep(), Instant.now());
        call.node().withObject("/response").withObject("/usage").putObject("completion_tokens_details")
                .put("reasoning_tokens", 180);
        call.set("completion_tokens", 237).set("cost_breakdown", Map.of("output_cost", 0.02370));
        Api.ingest(Payloads.array(call)).statusCode(200);
        String after = Metrics.scrape();
        assertThat(delta(before, after, "llm_thinking_tokens_total", "model", "claude-opus-4-5", "provider",
                "anthropic")).isEqualTo(180);
        assertThat(delta(before, after, "llm_thinking_cost_usd_total", "model", "claude-opus-4-5", "provider",
                "anthropic")).isCloseTo(0.0237 * 180 / 237, within(1e-9));
    }

    @Test
    void latency_is_exported_as_quantiles_and_as_histogram_buckets() {
        Api.ingest(Payloads.array(Payloads.success("gemini", "gemini", dep(), Instant.now()).latency(0.3)))
                .statusCode(200);
        String after = Metrics.scrape();
        assertThat(Metrics.value(after, "llm_provider_latency_seconds", "provider", "gemini", "quantile", "0.99"))
                .isGreaterThan(0);
        assertThat(Metrics.value(after, "llm_provider_call_duration_seconds_bucket", "provider", "gemini", "le",
                "+Inf"))
                .isGreaterThanOrEqualTo(1);
        assertThat(after).doesNotContain("call_id=").doesNotContain("user=");
    }

    private static double delta(String before, String after, String name, String... labels) {
        return Metrics.valueOrZero(after, name, labels) - Metrics.valueOrZero(before, name, labels);
    }
}
