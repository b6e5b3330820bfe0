package io.faultline.predict;

import io.agroal.api.AgroalDataSource;
import io.faultline.classify.ProviderVerdict;
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
import java.util.Set;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The classifier and the predictor's definitions (its SQL over the stored call, run on the real database) give every
 * failed call the same answer to "is this attempt an overload, a rate limit, a timeout or an outage": the wire answers
 * of OverloadAgreementTest and RateLimitTimeoutAgreementTest, and the failures an earlier rule of the classifier
 * types otherwise whatever status came with them (a 5xx whose body did not parse, a context overflow or refused
 * content answered with a 5xx or no status, Gemini's RESOURCE_EXHAUSTED reported as a 500 or 503).
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ProviderVerdictAgreementTest {

    /** The failure types the predictor counts; any other answer of the classifier is "none" to it. */
    static final Set<String> PREDICTED = Set.of(DeploymentWindow.FAILURE_TYPES);

    /** provider-wire openai_400_context_length_exceeded's message. */
    static final String OPENAI_OVERFLOW = "OpenAIException - This model's maximum context length is 8192 tokens."
            + " However, your messages resulted in 8227 tokens. Please reduce the length of the messages.";
    /** provider-wire anthropic_400_prompt_too_long's body. */
    static final String ANTHROPIC_OVERFLOW = "AnthropicException - {\"type\":\"error\",\"error\":{\"type\":"
            + "\"invalid_request_error\",\"message\":\"prompt is too long: 200251 tokens > 200000 maximum\"}}";
    /** provider-wire gemini_400_invalid_argument_token_limit's body. */
    static final String GEMINI_OVERFLOW = "GeminiException - {\n  \"error\": {\n    \"code\": 400,\n    \"message\":"
            + " \"The input token count (3475108) exceeds the maximum number of tokens allowed (1048576).\",\n"
            + "    \"status\": \"INVALID_ARGUMENT\"\n  }\n}\n";
    /** An answer that was no JSON (an HTML error page, an empty body): Python's json module's words. */
    static final String JSON_PARSE = "OpenAIException - Expecting value: line 1 column 1 (char 0)";

    /** Vertex AI's short RESOURCE_EXHAUSTED body, as LiteLLM may pass it on with another class and status. */
    static final String VERTEX_EXHAUSTED = "VertexAIException - {\"error\": {\"code\": 429, \"message\": \"Resource"
            + " has been exhausted (e.g. check quota).\", \"status\": \"RESOURCE_EXHAUSTED\"}}";

    /** provider-wire gemini_429_resource_exhausted, as LiteLLM may report it with a 500. */
    static final String GEMINI_500 = RateLimitTimeoutAgreementTest.GEMINI_429.replace("\"code\": 429",
            "\"code\": 500");

    /** A failed call and the type the classifier gives it. */
    record Case(String name, String provider, Integer status, String errorClass, String message, String type) {
    }

    static List<Case> cases() {
        List<Case> all = new ArrayList<>();
        for (OverloadAgreementTest.Case c : OverloadAgreementTest.CASES) {
            all.add(new Case(c.name(), c.provider(), c.status(), c.errorClass(), c.message(), c.type()));
        }
        for (RateLimitTimeoutAgreementTest.Case c : RateLimitTimeoutAgreementTest.CASES) {
            all.add(new Case(c.name(), c.provider(), c.status(), c.errorClass(), c.message(), c.type()));
        }
        all.addAll(List.of(
                new Case("openai-500-json-parse", "openai", 500, "InternalServerError", JSON_PARSE,
                        "malformed_response"),
                new Case("openai-502-json-parse", "openai", 502, "BadGatewayError", JSON_PARSE, "malformed_response"),
                new Case("openai-json-parse-nostatus", "openai", null, "APIError", JSON_PARSE, "malformed_response"),
                new Case("openai-500-overflow", "openai", 500, "InternalServerError", OPENAI_OVERFLOW,
                        "context_overflow"),
                new Case("anthropic-503-overflow", "anthropic", 503, "ServiceUnavailableError", ANTHROPIC_OVERFLOW,
                        "context_overflow"),
                new Case("gemini-500-overflow", "gemini", 500, "InternalServerError", GEMINI_OVERFLOW,
                        "context_overflow"),
                new Case("openai-500-context-window-class", "openai", 500, "ContextWindowExceededError",
                        "OpenAIException - Internal error", "context_overflow"),
                new Case("overflow-class-nostatus", "openai", null, "ContextWindowExceededError",
                        "OpenAIException - Internal error", "context_overflow"),
                new Case("openai-500-content-policy", "openai", 500, "ContentPolicyViolationError",
                        "OpenAIException - Your request was rejected as a result of our safety system.",
                        "content_filtered"),
                new Case("content-policy-nostatus", "openai", null, "ContentPolicyViolationError",
                        "OpenAIException - Your request was rejected as a result of our safety system.",
                        "content_filtered"),
                new Case("vertex-500-exhausted", "vertex_ai", 500, "InternalServerError", VERTEX_EXHAUSTED,
                        "rate_limit"),
                new Case("vertex-503-exhausted", "vertex_ai", 503, "ServiceUnavailableError", VERTEX_EXHAUSTED,
                        "rate_limit"),
                new Case("vertex-exhausted-nostatus", "vertex_ai", null, "InternalServerError", VERTEX_EXHAUSTED,
                        "rate_limit"),
                // Gemini's own body: behind LiteLLM's prefix its status word lies past the stored 300 characters.
                new Case("gemini-500-exhausted", "gemini", 500, "InternalServerError", GEMINI_500, "rate_limit"),
                new Case("gemini-503-exhausted", "gemini", 503, "ServiceUnavailableError", GEMINI_500,
                        "rate_limit"),
                new Case("gemini-exhausted-nostatus", "gemini", null, "ServiceUnavailableError", GEMINI_500,
                        "rate_limit")));
        return all;
    }

    @Inject
    TestClock clock;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void every_failed_call_is_the_same_kind_of_failure_for_the_classifier_and_the_predictor() throws Exception {
        Instant at = Instant.parse("2028-06-01T10:00:00Z");
        String run = UUID.randomUUID().toString().substring(0, 8);
        Map<String, String> callIds = new LinkedHashMap<>();
        Map<String, String> classified = new LinkedHashMap<>();
        Map<String, String> expected = new LinkedHashMap<>();
        List<Payloads> calls = new ArrayList<>();
        for (Case c : cases()) {
            Payloads call = RateLimitTimeoutAgreementTest.failure(c.provider(), c.status(), c.errorClass(),
                    c.message(), "m", "verdict-" + c.name() + "-" + run, at);
            List<String> types = given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                    .body(call.node().toString())
                    .when().post("/api/v1/classify").then().log().ifValidationFails().statusCode(200)
                    .extract().jsonPath().getList("failures.type", String.class);
            classified.put(c.name(), String.join(",", types));
            expected.put(c.name(), c.type());
            callIds.put(c.name(), call.id());
            calls.add(call);
        }
        clock.set(at.plus(Duration.ofMinutes(1)));
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);

        Map<String, String> byClassifier = new LinkedHashMap<>();
        Map<String, String> bySql = new LinkedHashMap<>();
        Map<String, String> byJava = new LinkedHashMap<>();
        for (Case c : cases()) {
            byClassifier.put(c.name(), predicted(classified.get(c.name())));
            String[] stored = storedAnswers(callIds.get(c.name()));
            bySql.put(c.name(), stored[0]);
            byJava.put(c.name(), stored[1]);
        }
        assertThat(bySql).as("the predictor's answer (SQL over the stored call), per call").isEqualTo(byClassifier);
        assertThat(byJava).as("the Java verdict on the stored call, per call").isEqualTo(byClassifier);
        assertThat(classified).as("the failure type the classifier gives, per call").isEqualTo(expected);
    }

    /** What the predictor counts the stored call as ({@link ProviderVerdict#SQL}), and the Java verdict on it. */
    private String[] storedAnswers(String callId) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select "
                + ProviderVerdict.SQL + ", http_status, error_class, error_message from llm_calls where call_id = ?")) {
            st.setString(1, callId);
            try (ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).as("call " + callId + " stored").isTrue();
                Integer status = rs.getObject(2) == null ? null : rs.getInt(2);
                String java = ProviderVerdict.of(status, rs.getString(3), rs.getString(4)).code();
                return new String[] { predicted(rs.getString(1)), predicted(java) };
            }
        }
    }

    private static String predicted(String type) {
        return PREDICTED.contains(type) ? type : "none";
    }
}
