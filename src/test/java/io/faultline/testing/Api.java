package io.faultline.testing;

import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;

import static io.restassured.RestAssured.given;

/** The API as a client with the test key sees it. */
public final class Api {

    public static final String KEY = "test-key";

    private Api() {
    }

    public static ValidatableResponse ingest(String body) {
        return given().log().ifValidationFails().header("Authorization", "Bearer " + KEY).contentType(ContentType.JSON)
                .body(body).when().post("/api/v1/calls").then().log().ifValidationFails();
    }

    public static ValidatableResponse failures(String query) {
        return given().log().ifValidationFails().when().get("/api/v1/failures?" + query).then().log()
                .ifValidationFails();
    }
}
