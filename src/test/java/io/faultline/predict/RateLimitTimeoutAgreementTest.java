package io.faultline.predict;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The predictor and the classifier agree on what a rate limit, a timeout and an outage are (RateLimit, Timeout,
 * Outage): the same failed calls, sent to {@code /api/v1/classify} and ingested for the predictor, get the same
 * failure type from both, also when LiteLLM's payload carries no HTTP status.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RateLimitTimeoutAgreementTest {

    /** provider-wire gemini_429_resource_exhausted, behind LiteLLM's prefix. */
    static final String GEMINI_429 = "GeminiException - {\n  \"error\": {\n    \"code\": 429,\n    \"message\":"
            + " \"You exceeded your current quota, please check your plan and billing details. For more information"
            + " on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\",\n    \"status\":"
            + " \"RESOURCE_EXHAUSTED\"\n  }\n}\n";
    /** provider-wire anthropic_429_rate_limit_error (LiteLLM: RateLimitError). */
    static final String ANTHROPIC_429 = "AnthropicException - {\"type\":\"error\",\"error\":{\"type\":"
            + "\"rate_limit_error\",\"message\":\"This request would exceed the rate limit for your organization"
            + " (00000000-0000-0000-0000-000000000000) of 30,000 input tokens per minute.\"},\"request_id\":"
            + "\"req_011CcR9mkMvXdaiWP4739PSN\"}";
    /** A connection that timed out before any answer: LiteLLM's fallback class, no status. */
    static final String CONNECT_TIMED_OUT = "OpenAIException - Connection error.: [Errno 110] Connection timed out";
    /** A connection refused or reset before any answer: LiteLLM's fallback class, no status. */
    static final String CONNECTION_ERROR = "OpenAIException - Connection error.";
    /** OpenAI SDK's APITimeoutError text, reported by LiteLLM as its Timeout class. */
    static final String SDK_TIMEOUT = "OpenAIException - Request timed out.";

    /** One failed call kind; {@code status} null: the payload has no error code. */
    record Case(String name, String provider, Integer status, String errorClass, String message, String type) {
    }

    static final List<Case> CASES = List.of(
            new Case("anthropic-429", "anthropic", 429, "RateLimitError", ANTHROPIC_429, "rate_limit"),
            new Case("gemini-ratelimit-nostatus", "gemini", null, "RateLimitError", GEMINI_429, "rate_limit"),
            // LiteLLM's catch-all class (no status of its own) around Gemini's RESOURCE_EXHAUSTED body.
            new Case("gemini-apierror-exhausted", "gemini", null, "APIError", GEMINI_429, "rate_limit"),
            new Case("openai-timeout-nostatus", "openai", null, "Timeout", SDK_TIMEOUT, "timeout"),
            new Case("openai-connect-timed-out", "openai", null, "APIConnectionError", CONNECT_TIMED_OUT, "timeout"),
            // The server-side classes with no status are an outage (Outage), not nothing.
            new Case("openai-connection-error-nostatus", "openai", null, "APIConnectionError", CONNECTION_ERROR,
                    "outage"),
            new Case("gemini-apierror-nostatus", "gemini", null, "APIError", "GeminiException - Internal error",
                    "outage"),
            // A 5xx that says it is a timeout is one, not an outage too (the classifier's order).
            new Case("openai-503-request-timeout", "openai", 503, "ServiceUnavailableError",
                    "OpenAIException - Request timeout", "timeout"),
            // LiteLLM refusing its own budget with a 429 (budget_exceeded_status_code) is no rate limit: the
            // classifier types it budget_exceeded, which the predictor does not count.
            new Case("litellm-budget-429", "openai", 429, "BudgetExceededError",
                    "Budget has been exceeded! Team=team-a Current cost: 1.5, Max budget: 1.0", "budget_exceeded"),
            new Case("litellm-tag-budget-429", "openai", 429, "ProxyException",
                    "Budget has been exceeded! Tag=tag-x Current cost: 3.0, Max budget: 2.0", "budget_exceeded"));

    @Inject
    TestClock clock;

    @Inject
    FailurePredictor predictor;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void every_rate_limit_and_timeout_is_the_same_type_for_the_classifier_and_the_predictor() throws Exception {
        Instant t0 = Instant.parse("2028-05-01T10:00:00Z").plusSeconds(new Random().nextInt(10_000) * 60L);
        String run = UUID.randomUUID().toString().substring(0, 8);
        Map<Case, String> deployments = new LinkedHashMap<>();
        List<Payloads> calls = new ArrayList<>();
        Map<String, String> classified = new LinkedHashMap<>();
        Map<String, String> expected = new LinkedHashMap<>();
        Map<String, String> expectedByPredictor = new LinkedHashMap<>();
        for (Case c : CASES) {
            String dep = "agree-" + c.name() + "-" + run;
            deployments.put(c, dep);
            // One minute of 10 calls, 5 failing: a failure minute (>= 3 calls, >= 20%) of whatever type they are.
            for (int i = 0; i < 10; i++) {
                Instant at = t0.plusSeconds(i * 5L);
                calls.add(i % 2 == 0 ? failure(c, "group-" + dep, dep, at)
                        : Payloads.success(c.provider(), "group-" + dep, dep, at));
            }
            List<String> types = given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                    .body(failure(c, "m", dep, t0).node().toString())
                    .when().post("/api/v1/classify").then().log().ifValidationFails().statusCode(200)
                    .extract().jsonPath().getList("failures.type", String.class);
            classified.put(c.name(), String.join(",", types));
            expected.put(c.name(), c.type());
            expectedByPredictor.put(c.name(), List.of(DeploymentWindow.FAILURE_TYPES).contains(c.type()) ? c.type()
                    : "null");
        }
        assertThat(classified).as("the failure type the classifier gives, per call").isEqualTo(expected);
        clock.set(t0.plus(Duration.ofMinutes(2)));
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        assertThat(predictor.predictFailure().ran()).isTrue();

        Map<String, String> observed = new LinkedHashMap<>();
        for (Case c : CASES) {
            observed.put(c.name(), String.valueOf(observedTypes(deployments.get(c))));
        }
        assertThat(observed).as("the failure type the predictor observed, per call").isEqualTo(expectedByPredictor);
    }

    private static Payloads failure(Case c, String model, String deployment, Instant at) {
        return failure(c.provider(), c.status(), c.errorClass(), c.message(), model, deployment, at);
    }

    /** A failed call as LiteLLM hands it over; {@code status} null: the payload has no error code. */
    static Payloads failure(String provider, Integer status, String errorClass, String message, String model,
            String deployment, Instant at) {
        Payloads p = Payloads.failure(provider, model, deployment, at, status == null ? 0 : status, errorClass,
                message);
        if (status == null) {
            ((ObjectNode) p.node().get("error_information")).remove("error_code");
            ((ObjectNode) p.node().get("faultline")).remove("http_status");
        }
        return p;
    }

    private String observedTypes(String deployment) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select string_agg(failure_type, ',' order by failure_type) from observed_failures"
                        + " where deployment = ?")) {
            st.setString(1, deployment);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }
}
