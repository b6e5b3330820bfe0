package io.faultline.packaged;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusIntegrationTest;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static io.restassured.RestAssured.when;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/** The packaged application (the jar that ships; the native binary with -Pnative) on a real PostgreSQL. */
@QuarkusIntegrationTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PackagedAppIT {

    @Test
    void the_packaged_app_migrates_ingests_and_classifies() {
        String dep = "dep-" + UUID.randomUUID();
        Api.ingest(Payloads.array(Payloads.failure("anthropic", "claude", dep, Instant.now(), 529,
                "InternalServerError", "overloaded_error"), Payloads.success("openai", "gpt", dep, Instant.now())))
                .statusCode(200).body("accepted", equalTo(2)).body("failures", equalTo(1));
        Api.failures("deployment=" + dep).statusCode(200).body("items[0].type", equalTo("overloaded"))
                .body("items[0].severity", equalTo("P3"));
    }

    @Test
    void health_metrics_and_openapi_are_served() {
        when().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
        when().get("/q/health/live").then().statusCode(200);
        when().get("/q/metrics").then().statusCode(200).body(containsString("faultline_ingest_calls_total"));
        when().get("/q/openapi").then().statusCode(200).body(containsString("/api/v1/calls"));
    }

    @Test
    void access_control_answers_problems_in_the_packaged_app() {
        // No read key here: reads are open, but a wrong key is refused; a write without a key is a 401 challenge.
        given().header("Authorization", "Bearer not-a-key").when().get("/api/v1/failures").then().statusCode(401)
                .contentType("application/problem+json").header("WWW-Authenticate", "Bearer")
                .body("detail", containsString("not valid"));
        given().contentType("application/json").body("{}").when().put("/api/v1/budgets/team/x").then()
                .statusCode(401).contentType("application/problem+json").body("status", equalTo(401));
        given().header("Authorization", "Bearer " + Api.KEY).when().get("/api/v1/budgets").then().statusCode(200);
    }
}
