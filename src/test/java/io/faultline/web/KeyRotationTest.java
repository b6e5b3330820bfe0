package io.faultline.web;

import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;

/**
 * The end of a rotation: AccessControlTest runs with both admin keys configured; this application is the one
 * restarted after the old key was removed from the Secret (keys come from the environment, which a running process
 * cannot see change: removing a key takes a rolling restart, README "Access control"). The new key keeps working, the
 * old one is refused. No read key is configured here: reads stay open, but a read presenting a wrong key is refused.
 * The OpenAPI document and Swagger UI are switched off here ({@code FAULTLINE_OPENAPI=false}).
 */
@QuarkusTest
@TestProfile(KeyRotationTest.OldKeyRemoved.class)
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class KeyRotationTest {

    public static class OldKeyRemoved implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            // And the OpenAPI document and Swagger UI switched off, as FAULTLINE_OPENAPI=false does.
            return Map.of("faultline.auth.admin-keys", AccessControlTest.ADMIN_NEW + "\n", "FAULTLINE_OPENAPI",
                    "false");
        }
    }

    @Test
    void after_the_restart_the_new_admin_key_works_and_the_removed_one_is_refused() {
        String id = "rotated-" + UUID.randomUUID();
        given().header("Authorization", "Bearer " + AccessControlTest.ADMIN_OLD).contentType("application/json")
                .body("{\"amountUsd\": 5, \"period\": \"day\"}").when().put("/api/v1/budgets/team/" + id).then()
                .statusCode(401).contentType(AccessControlTest.PROBLEM).body("detail", containsString("not valid"));
        given().header("Authorization", "Bearer " + AccessControlTest.ADMIN_NEW).contentType("application/json")
                .body("{\"amountUsd\": 5, \"period\": \"day\"}").when().put("/api/v1/budgets/team/" + id).then()
                .statusCode(200);
        given().when().get("/api/v1/budgets/team/" + id).then().statusCode(200);
        given().header("Authorization", "Bearer " + AccessControlTest.ADMIN_OLD).when()
                .delete("/api/v1/budgets/team/" + id).then().statusCode(401);
        given().header("Authorization", "Bearer " + AccessControlTest.ADMIN_NEW).when()
                .delete("/api/v1/budgets/team/" + id).then().statusCode(204);
    }

    @Test
    void without_a_read_key_reads_are_open_but_a_wrong_key_is_still_refused() {
        given().when().get("/api/v1/failures").then().statusCode(200);
        given().header("Authorization", "Bearer " + AccessControlTest.ADMIN_OLD).when().get("/api/v1/failures")
                .then().statusCode(401);
        given().when().get("/q/health/ready").then().statusCode(200);
    }

    @Test
    void the_openapi_document_and_swagger_ui_can_be_switched_off() {
        given().when().get("/q/openapi").then().statusCode(404);
        given().redirects().follow(false).when().get("/q/swagger-ui/").then().statusCode(404);
        given().header("Authorization", "Bearer " + AccessControlTest.ADMIN_NEW).when().get("/q/openapi").then()
                .statusCode(404);
    }

    @Test
    void without_an_ingest_key_the_ingest_endpoints_take_the_admin_key_only() {
        given().contentType("application/json").body("[]").when().post("/api/v1/calls").then().statusCode(401)
                .header("WWW-Authenticate", "Bearer");
        given().header("Authorization", "Bearer " + AccessControlTest.ADMIN_NEW).contentType("application/json")
                .body("[]").when().post("/api/v1/calls").then().statusCode(org.hamcrest.Matchers.not(401));
    }
}
