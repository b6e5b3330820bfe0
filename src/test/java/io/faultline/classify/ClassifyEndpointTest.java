package io.faultline.classify;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.empty;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;

/** Each PROVIDER type and unauthorized access, as LiteLLM reports them, through the dry-run endpoint. */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ClassifyEndpointTest {

    private static final Instant NOW = Instant.parse("2026-11-28T10:00:00Z");

    private static ValidatableResponse classify(Payloads payload) {
        return given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body(payload.node().toString()).when().post("/api/v1/classify").then().log().ifValidationFails()
                .statusCode(200);
    }

    private static ValidatableResponse classify(com.fasterxml.jackson.databind.JsonNode payload) {
        return given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body(payload.toString()).when().post("/api/v1/classify").then().log().ifValidationFails()
                .statusCode(200);
    }

    private static Payloads failure(String provider, int status, String errorClass, String message) {
        return Payloads.failure(provider, "model", "dep", NOW, status, errorClass, message);
    }

    private static void expect(Payloads payload, String category, String type, String severity) {
        classify(payload).body("failures", hasSize(1)).body("failures[0].category", equalTo(category))
                .body("failures[0].type", equalTo(type)).body("failures[0].severity", equalTo(severity));
    }

    @Test
    void openai_429_is_a_p4_rate_limit_and_insufficient_quota_is_p2() {
        expect(failure("openai", 429, "RateLimitError", "OpenAIException - Rate limit reached for gpt-4o on tokens"
                + " per min (TPM): Limit 30000"), "PROVIDER", "rate_limit", "P4");
        classify(failure("openai", 429, "RateLimitError", "OpenAIException - You exceeded your current quota. code:"
                + " insufficient_quota")).body("failures[0].severity", equalTo("P2"))
                .body("failures[0].evidence.reason", equalTo("insufficient_quota"));
    }

    /**
     * OpenAI's "Request too large ... on tokens per min" (provider-wire {@code openai_429_request_too_large_tpm}): the
     * code of a passing limit, {@code rate_limit_exceeded}, but the request alone exceeds the limit and fails on every
     * retry. A rate limit that will not pass: P3, with its reason; an ordinary TPM 429 stays P4.
     */
    @Test
    void openai_request_too_large_for_the_token_limit_is_a_p3_rate_limit_that_waiting_does_not_clear() {
        classify(failure("openai", 429, "RateLimitError", "litellm.RateLimitError: RateLimitError: OpenAIException -"
                + " Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000,"
                + " Requested 31538. The input or output tokens must be reduced in order to run successfully."))
                .body("failures", hasSize(1)).body("failures[0].type", equalTo("rate_limit"))
                .body("failures[0].severity", equalTo("P3"))
                .body("failures[0].evidence.reason", equalTo("request_too_large"));
        classify(failure("openai", 429, "RateLimitError", "OpenAIException - Rate limit reached for gpt-4o in"
                + " organization org-x on tokens per min (TPM): Limit 30000, Used 29000, Requested 1538."))
                .body("failures[0].severity", equalTo("P4"))
                .body("failures[0].evidence.reason", equalTo("rate_limit_exceeded"));
    }

    /**
     * Gemini's per-minute and per-day quotas answer with the same 429 and the same words; only the quota id in the
     * body, past the part of the message that is stored, tells them apart. A per-day quota spent stays spent for the
     * rest of the day: P2, like OpenAI's insufficient_quota. Google's RetryInfo is the retry-after Gemini sends no
     * header for. OpenAI's per-day limits (RPD, TPD) are P2 as well.
     */
    @Test
    void gemini_per_day_quota_is_p2_and_its_per_minute_quota_keeps_p4_with_the_delay_google_asks_for() {
        classify(Payloads.failure("gemini", "gemini-2.5-flash", "dep", NOW, 429, "RateLimitError",
                io.faultline.testing.ProviderMessages.geminiQuota(
                        "GenerateRequestsPerDayPerProjectPerModel-FreeTier", null)))
                .body("failures", hasSize(1)).body("failures[0].type", equalTo("rate_limit"))
                .body("failures[0].severity", equalTo("P2"))
                .body("failures[0].evidence.reason", equalTo("daily_quota_exhausted"))
                .body("failures[0].evidence.quota_id", equalTo("GenerateRequestsPerDayPerProjectPerModel-FreeTier"));
        classify(Payloads.failure("gemini", "gemini-2.5-flash", "dep", NOW, 429, "RateLimitError",
                io.faultline.testing.ProviderMessages.geminiQuota(
                        "GenerateContentInputTokensPerModelPerMinute-FreeTier", "26s")))
                .body("failures[0].severity", equalTo("P4"))
                .body("failures[0].evidence.reason", equalTo("rate_limit_exceeded"))
                .body("failures[0].evidence.retry_after", equalTo("26"))
                .body("failures[0].evidence.quota_id",
                        equalTo("GenerateContentInputTokensPerModelPerMinute-FreeTier"));
        classify(failure("openai", 429, "RateLimitError", "OpenAIException - Rate limit reached for gpt-4o in"
                + " organization org-x on requests per day (RPD): Limit 10000, Used 10000, Requested 1."))
                .body("failures[0].severity", equalTo("P2"))
                .body("failures[0].evidence.reason", equalTo("daily_quota_exhausted"));
    }

    /**
     * OpenAI's {@code insufficient_quota} as LiteLLM 1.108.5 delivers it (recorded from the provider-wire fixture
     * through the pinned LiteLLM): the error code is gone, only OpenAI's own words say the quota is spent. Gemini's
     * per-minute RESOURCE_EXHAUSTED says the same words and clears in seconds: it stays a passing rate limit.
     */
    @Test
    void openai_insufficient_quota_is_p2_in_the_words_litellm_delivers_it_and_gemini_quota_words_stay_p4() {
        classify(failure("openai", 429, "RateLimitError", "RateLimitError: OpenAIException - You exceeded your"
                + " current quota, please check your plan and billing details. For more information on this error,"
                + " read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."))
                .body("failures", hasSize(1)).body("failures[0].type", equalTo("rate_limit"))
                .body("failures[0].severity", equalTo("P2"))
                .body("failures[0].evidence.reason", equalTo("insufficient_quota"));
        classify(failure("gemini", 429, "RateLimitError", "litellm.RateLimitError: GeminiException - {\"error\":"
                + " {\"code\": 429, \"message\": \"You exceeded your current quota, please check your plan and billing"
                + " details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/"
                + "rate-limits.\", \"status\": \"RESOURCE_EXHAUSTED\", \"details\": [{\"@type\":"
                + " \"type.googleapis.com/google.rpc.QuotaFailure\"}]}}"))
                .body("failures", hasSize(1)).body("failures[0].type", equalTo("rate_limit"))
                .body("failures[0].severity", equalTo("P4"))
                .body("failures[0].evidence.reason", equalTo("rate_limit_exceeded"));
    }

    @Test
    void anthropic_529_is_classified_as_provider_overload() {
        expect(failure("anthropic", 529, "InternalServerError", "AnthropicException - {\"type\":\"error\",\"error\":"
                + "{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"), "PROVIDER", "overloaded", "P3");
    }

    @Test
    void anthropic_overload_without_a_status_is_recognised_by_its_message() {
        expect(Payloads.failure("anthropic", "m", "d", NOW, 500, "InternalServerError", "overloaded_error")
                .without("faultline").set("error_information", java.util.Map.of("error_class", "InternalServerError",
                        "error_message", "AnthropicException - Overloaded. Handle with `litellm.InternalServerError`.",
                        "error_code", "500")), "PROVIDER", "overloaded", "P3");
    }

    @Test
    void gemini_resource_exhausted_is_a_rate_limit() {
        expect(failure("gemini", 429, "RateLimitError", "VertexAIException - {\"error\": {\"code\": 429, \"status\":"
                + " \"RESOURCE_EXHAUSTED\"}}"), "PROVIDER", "rate_limit", "P4");
    }

    @Test
    void gemini_safety_block_arrives_as_a_success_and_is_content_filtered() {
        expect(Payloads.success("gemini", "gemini-2.5-flash", "d", NOW).answer(null, "content_filter"), "PROVIDER",
                "content_filtered", "P4");
    }

    @Test
    void five_hundreds_are_outages() {
        expect(failure("openai", 500, "InternalServerError", "The server had an error"), "PROVIDER", "outage", "P3");
        expect(failure("gemini", 503, "ServiceUnavailableError", "The service is currently unavailable."),
                "PROVIDER", "outage", "P3");
    }

    @Test
    void timeouts_come_from_the_error_class_or_from_latency_over_the_limit() {
        expect(failure("openai", 408, "Timeout", "Request timed out."), "PROVIDER", "timeout", "P3");
        classify(Payloads.success("openai", "m", "d", NOW).latency(61)).body("failures[0].type", equalTo("timeout"))
                .body("failures[0].detectionMethod", equalTo("provider.latency"));
        classify(Payloads.success("openai", "m", "d", NOW).latency(59)).body("failures", empty());
    }

    @Test
    void context_window_errors_are_context_overflow() {
        expect(failure("openai", 400, "ContextWindowExceededError", "This model's maximum context length is 128000"
                + " tokens"), "PROVIDER", "context_overflow", "P4");
        expect(failure("anthropic", 400, "BadRequestError", "prompt is too long: 210000 tokens > 200000 maximum"),
                "PROVIDER", "context_overflow", "P4");
        expect(failure("gemini", 400, "BadRequestError", "The input token count (1200000) exceeds the maximum number"
                + " of tokens allowed (1048576)."), "PROVIDER", "context_overflow", "P4");
    }

    @Test
    void an_empty_or_unparseable_answer_is_a_malformed_response() {
        expect(Payloads.success("openai", "m", "d", NOW).answer("", "stop").set("completion_tokens", 0), "PROVIDER",
                "malformed_response", "P3");
        expect(failure("openai", 500, "APIError", "Expecting value: line 1 column 1 (char 0)"), "PROVIDER",
                "malformed_response", "P3");
        classify(failure("anthropic", 500, "APIConnectionError", "AnthropicException - Unable to get json response -"
                + " Expecting property name enclosed in double quotes: line 1 column 299 (char 298), Original Response:"
                + " {\"content\":[{\"type\":\"text\",\"text\":\"secret answer\"}]"))
                .body("failures[0].type", equalTo("malformed_response"))
                .body("failures[0].evidence.error_message", org.hamcrest.Matchers.not(
                        org.hamcrest.Matchers.containsString("secret answer")));
    }

    /**
     * A reasoning model that spent its whole output budget thinking answers 200 with {@code finish_reason=length},
     * no content and every completion token a reasoning token: the caller got nothing, as from an empty answer.
     */
    @Test
    void an_answer_whose_every_output_token_was_reasoning_and_that_shows_nothing_is_a_malformed_response() {
        classify(Payloads.success("openai", "o3-mini", "d", NOW).answer("", "length").tokens(1200, 4096, 4096, 0))
                .body("failures", hasSize(1)).body("failures[0].type", equalTo("malformed_response"))
                .body("failures[0].severity", equalTo("P3"))
                .body("failures[0].evidence.reason", equalTo("empty_response"))
                .body("failures[0].evidence.finish_reason", equalTo("length"));
        classify(Payloads.success("gemini", "gemini-2.5-flash", "d", NOW).answer(null, "length")
                .tokens(9, 284, 284, 0)).body("failures[0].type", equalTo("malformed_response"));
        classify(Payloads.success("openai", "o3-mini", "d", NOW).answer("Paris.", "stop").tokens(1200, 300, 280, 0))
                .body("failures", empty());
    }

    @Test
    void provider_401_and_proxy_key_refusals_are_unauthorized_model_access() {
        expect(failure("openai", 401, "AuthenticationError", "Incorrect API key provided"), "SECURITY",
                "unauthorized_model_access", "P2");
        classify(Payloads.failure("openai", "m", "d", NOW, 401, "ProxyException", "Authentication Error, Invalid"
                + " proxy server token passed.").without("custom_llm_provider").set("error_information",
                        java.util.Map.of("error_class", "ProxyException", "error_code", "401", "error_message",
                                "Authentication Error, Invalid proxy server token passed.")))
                .body("failures[0].type", equalTo("unauthorized_model_access"))
                .body("failures[0].severity", equalTo("P3")).body("failures[0].provider", equalTo("litellm"))
                .body("failures[0].evidence.refused_by", equalTo("litellm"));
    }

    @Test
    void litellm_refusing_a_key_a_model_it_may_not_call_is_the_proxy_refusing_the_caller_not_the_provider() {
        // LiteLLM 1.108.5 (auth_checks.can_key_call_model): 403 ModelAccessDeniedProxyException, logged through
        // _handle_logging_proxy_only_error, which stamps the model group's provider and, for a group of one
        // deployment, its model id: the payload names a real deployment although no provider was called.
        classify(Payloads.failure("openai", "gpt-4o", "openai-gpt-4o-primary", NOW, 403,
                "ModelAccessDeniedProxyException", "The requested model 'gpt-4o' is not available for this API key,"
                        + " or the model name is invalid. Check the models available to you and try again."))
                .body("failures", hasSize(1)).body("failures[0].type", equalTo("unauthorized_model_access"))
                .body("failures[0].severity", equalTo("P3")).body("failures[0].provider", equalTo("litellm"))
                .body("failures[0].deployment", equalTo("litellm-proxy"))
                .body("failures[0].evidence.refused_by", equalTo("litellm"))
                .body("failures[0].evidence.routed_to", equalTo("openai-gpt-4o-primary"));
    }

    @Test
    void a_proxy_without_its_database_refusing_a_virtual_key_is_unauthorized_model_access() {
        classify(Payloads.failure("openai", "m", "d", NOW, 400, "ProxyException", "No connected db.")
                .without("custom_llm_provider").without("faultline").set("error_information", java.util.Map.of(
                        "error_class", "ProxyException", "error_code", "400", "error_message", "No connected db.")))
                .body("failures[0].type", equalTo("unauthorized_model_access"))
                .body("failures[0].severity", equalTo("P3")).body("failures[0].evidence.refused_by", equalTo("litellm"))
                .body("failures[0].provider", equalTo("litellm")).body("failures[0].deployment",
                        equalTo("litellm-proxy"));
    }

    @Test
    void litellm_refusing_a_team_over_its_budget_is_a_budget_failure_of_that_team_not_an_access_one() {
        // Recorded from LiteLLM 1.108.5's own failure path: a BudgetExceededError reaching the callback with 422.
        classify(io.faultline.testing.LiteLlmPayloads.recorded("budget_refusal_team")).body("failures", hasSize(1))
                .body("failures[0].category", equalTo("COST")).body("failures[0].type", equalTo("budget_exceeded"))
                .body("failures[0].severity", equalTo("P2")).body("failures[0].provider", equalTo("litellm"))
                .body("failures[0].deployment", equalTo("team:team-a"))
                .body("failures[0].detectionMethod", equalTo("proxy.budget"))
                .body("failures[0].evidence.entity_type", equalTo("team"))
                .body("failures[0].evidence.entity_id", equalTo("team-a"))
                .body("failures[0].evidence.http_status", equalTo(422))
                .body("failures[0].evidence.error_class", equalTo("BudgetExceededError"))
                .body("failures[0].evidence.routed_to", equalTo("openai:gpt-4o-mini"));
    }

    @Test
    void a_litellm_budget_refusal_answered_with_429_is_still_a_budget_failure_not_a_rate_limit() {
        // litellm.budget_exceeded_status_code = 429 restores the older status; the plugin then reports 429.
        com.fasterxml.jackson.databind.node.ObjectNode p = io.faultline.testing.LiteLlmPayloads
                .recorded("budget_refusal_team");
        ((com.fasterxml.jackson.databind.node.ObjectNode) p.get("faultline")).put("http_status", 429);
        ((com.fasterxml.jackson.databind.node.ObjectNode) p.get("error_information")).put("error_code", "429");
        classify(p).body("failures", hasSize(1)).body("failures[0].type", equalTo("budget_exceeded"));
    }

    @Test
    void a_tag_budget_refused_as_a_proxy_exception_is_a_budget_failure_of_the_proxy() {
        classify(io.faultline.testing.LiteLlmPayloads.recorded("budget_refusal_tag")).body("failures", hasSize(1))
                .body("failures[0].category", equalTo("COST")).body("failures[0].type", equalTo("budget_exceeded"))
                .body("failures[0].provider", equalTo("litellm"))
                .body("failures[0].deployment", equalTo("litellm-proxy"))
                .body("failures[0].evidence.error_class", equalTo("ProxyException"));
    }

    @Test
    void client_errors_and_successes_are_not_provider_failures() {
        classify(failure("openai", 400, "BadRequestError", "Invalid value for 'temperature'")).body("failures",
                empty());
        classify(Payloads.success("anthropic", "claude", "d", NOW)).body("failures", empty());
    }

    @Test
    void evidence_masks_keys_and_emails_from_provider_messages() {
        classify(failure("openai", 401, "AuthenticationError", "Incorrect API key provided: sk-proj-abcdefghijklmnop."
                + " Contact ops@example.com")).body("failures[0].evidence.error_message",
                        equalTo("litellm.AuthenticationError: Incorrect API key provided: [secret]. Contact [email]"));
    }
}
