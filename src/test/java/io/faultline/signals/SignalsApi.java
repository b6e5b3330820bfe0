package io.faultline.signals;

import io.faultline.testing.Api;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;

import java.util.LinkedHashMap;
import java.util.Map;

import static io.restassured.RestAssured.given;

/** The signals endpoints as a client with the test key sees them. */
final class SignalsApi {

    static final String PROBLEM = "application/problem+json";

    private SignalsApi() {
    }

    static ValidatableResponse post(String kind, Object body) {
        return given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY)
                .contentType(ContentType.JSON).body(body).when().post("/api/v1/signals/" + kind).then().log()
                .ifValidationFails();
    }

    /** The episodes of one index or pipeline. */
    static ValidatableResponse failuresOf(String subject) {
        return Api.failures("category=DATA&deployment=" + subject).statusCode(200);
    }

    /** A map in the order given: {@code map("a", 1, "b", 2)}. */
    static Map<String, Object> map(Object... pairs) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put((String) pairs[i], pairs[i + 1]);
        }
        return m;
    }
}
