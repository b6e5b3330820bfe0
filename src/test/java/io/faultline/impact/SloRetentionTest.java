package io.faultline.impact;

import io.faultline.testing.Api;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;

/**
 * An SLO's period fits in the minutes the rollup keeps: with a retention of 40 days, a 60-day SLO would have its
 * budget counted over the 40 days left, under the name of 60.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(SloRetentionTest.ShortRetention.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SloRetentionTest {

    public static class ShortRetention implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.slo.retention", "40d");
        }
    }

    @Test
    void a_period_longer_than_the_retention_is_a_problem_naming_the_period() {
        String group = "slo-ret-" + UUID.randomUUID();
        for (String period : new String[] { "60d", "P41D" }) {
            given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                    .body(Map.of("availabilityTarget", 0.99, "period", period)).when().put("/api/v1/slos/" + group)
                    .then().log().ifValidationFails().statusCode(400).contentType("application/problem+json")
                    .body("errors[0].field", equalTo("period"));
        }
        given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body(Map.of("availabilityTarget", 0.99, "period", "40d")).when().put("/api/v1/slos/" + group)
                .then().log().ifValidationFails().statusCode(200).body("slo.period", equalTo("PT960H"));
    }
}
