package io.faultline.predict;

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
 * The predictor and the classifier agree on what an overload is: every overloaded answer of ../shared/provider-wire/
 * (Anthropic's 529, OpenAI's 503 "currently overloaded" and {@code server_is_overloaded}, Gemini's 503 UNAVAILABLE
 * "The model is overloaded"), as LiteLLM hands it to the plugin, is an {@code overloaded} failure for both, and a
 * plain 500 an outage for both; a rising share of Gemini's overloads is predicted as an overload.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class OverloadAgreementTest {

    /** provider-wire anthropic_529_overloaded_error, behind LiteLLM's prefix (InternalServerError, status kept). */
    static final String ANTHROPIC_529 = "AnthropicException - {\"type\":\"error\",\"error\":{\"type\":"
            + "\"overloaded_error\",\"message\":\"Overloaded\"},\"request_id\":\"req_011CVQe1dLrGNMJyE1ghG1av\"}";
    /** provider-wire openai_503_overloaded (LiteLLM: ServiceUnavailableError). */
    static final String OPENAI_503 = "OpenAIException - That model is currently overloaded with other requests. You"
            + " can retry your request, or contact us through our help center at help.openai.com if the error"
            + " persists. (Please include the request ID 500d9fff2057e4af93a280f67002c342 in your message.)";
    /**
     * provider-wire openai_503_server_is_overloaded: only its type and code are documented; LiteLLM keeps the
     * OpenAI SDK's text, "Error code: 503 - " and the body.
     */
    static final String OPENAI_503_CODE = "OpenAIException - Error code: 503 - {'error': {'message': 'Service"
            + " temporarily unavailable', 'type': 'service_unavailable_error', 'param': None, 'code':"
            + " 'server_is_overloaded'}}";
    /** provider-wire gemini_503_unavailable (LiteLLM: InternalServerError, LITELLM_NOTES). */
    static final String GEMINI_503 = "GeminiException - {\n  \"error\": {\n    \"code\": 503,\n    \"message\":"
            + " \"The model is overloaded. Please try again later.\",\n    \"status\": \"UNAVAILABLE\"\n  }\n}\n";
    /** provider-wire openai_500_server_error: a server error, not an overload. */
    static final String OPENAI_500 = "OpenAIException - The server had an error processing your request. Sorry"
            + " about that! You can retry your request, or contact us through our help center at help.openai.com if"
            + " you keep seeing this error.";

    record Case(String name, String provider, int status, String errorClass, String message, String type) {
    }

    static final List<Case> CASES = List.of(
            new Case("anthropic-529", "anthropic", 529, "InternalServerError", ANTHROPIC_529, "overloaded"),
            new Case("openai-503", "openai", 503, "ServiceUnavailableError", OPENAI_503, "overloaded"),
            new Case("openai-503-code", "openai", 503, "ServiceUnavailableError", OPENAI_503_CODE, "overloaded"),
            new Case("gemini-503", "gemini", 503, "InternalServerError", GEMINI_503, "overloaded"),
            new Case("openai-500", "openai", 500, "InternalServerError", OPENAI_500, "outage"));

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
    void every_overloaded_wire_answer_is_an_overload_for_the_classifier_and_the_predictor_alike() throws Exception {
        Instant t0 = Instant.parse("2028-03-01T10:00:00Z").plusSeconds(new Random().nextInt(10_000) * 60L);
        String run = UUID.randomUUID().toString().substring(0, 8);
        Map<Case, String> deployments = new LinkedHashMap<>();
        List<Payloads> calls = new ArrayList<>();
        for (Case c : CASES) {
            String dep = "overload-" + c.name() + "-" + run;
            deployments.put(c, dep);
            // One minute of 10 calls, 5 failing: a failure minute (>= 3 calls, >= 20%) of whatever type they are.
            for (int i = 0; i < 10; i++) {
                Instant at = t0.plusSeconds(i * 5L);
                calls.add(i % 2 == 0 ? Payloads.failure(c.provider(), "group-" + dep, dep, at, c.status(),
                        c.errorClass(), c.message()) : Payloads.success(c.provider(), "group-" + dep, dep, at));
            }
            given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                    .body(Payloads.failure(c.provider(), "m", dep, t0, c.status(), c.errorClass(), c.message())
                            .node().toString())
                    .when().post("/api/v1/classify").then().log().ifValidationFails().statusCode(200)
                    .body("failures.size()", org.hamcrest.Matchers.equalTo(1))
                    .body("failures[0].type", org.hamcrest.Matchers.equalTo(c.type()));
        }
        clock.set(t0.plus(Duration.ofMinutes(2)));
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        assertThat(predictor.predictFailure().ran()).isTrue();

        Map<String, String> observed = new LinkedHashMap<>();
        Map<String, String> expected = new LinkedHashMap<>();
        for (Case c : CASES) {
            observed.put(c.name(), observedTypes(deployments.get(c)));
            expected.put(c.name(), c.type());
        }
        assertThat(observed).as("the failure type the predictor observed, per wire answer").isEqualTo(expected);
    }

    /** Gemini's overloads rising linearly (not accelerating, so never an outage's shape): an overload ahead. */
    @Test
    void a_rising_share_of_gemini_overloads_is_predicted_as_an_overload() throws Exception {
        Instant t0 = Instant.parse("2028-04-01T10:00:00Z").plusSeconds(new Random().nextInt(10_000) * 60L);
        String dep = "overload-gemini-rise-" + UUID.randomUUID();
        PredictionScenarios.Script rising = PredictionScenarios.rising("gemini", 30,
                m -> m < 5 ? 0 : 0.4 * (m - 5) / 30.0, 503, "InternalServerError", GEMINI_503);
        Random rnd = new Random(11);
        for (int m = 0; m < 20; m++) {
            Instant minuteStart = t0.plus(Duration.ofMinutes(m));
            clock.set(minuteStart.plus(Duration.ofMinutes(1)));
            Api.ingest(Payloads.array(rising.minute(m, minuteStart, rnd, dep).toArray(Payloads[]::new)))
                    .statusCode(200);
            predictor.predictFailure();
        }
        assertThat(predictedTypes(dep)).as("the predictions of " + dep).contains("overloaded")
                .doesNotContain("outage");
    }

    private String observedTypes(String deployment) throws Exception {
        return query("select string_agg(failure_type, ',' order by failure_type) from observed_failures"
                + " where deployment = ?", deployment);
    }

    private String predictedTypes(String deployment) throws Exception {
        String types = query("select string_agg(distinct predicted_type, ',') from failure_predictions"
                + " where deployment = ?", deployment);
        return types == null ? "" : types;
    }

    private String query(String sql, String deployment) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            st.setString(1, deployment);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }
}
