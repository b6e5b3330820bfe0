package io.faultline.baseline;

import io.faultline.testing.Api;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.anyOf;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.is;

/**
 * The warm-up requests of a run are paid traffic and count against the daily cap. An application of its own (a
 * small cap, the default warm-ups, which the test profile otherwise turns off); runs go to a closed loopback port
 * at 1 request/s, so they stay running until cancelled.
 */
@QuarkusTest
@TestProfile(BaselineWarmupCapTest.WarmUps.class)
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BaselineWarmupCapTest {

    public static class WarmUps implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.baseline.max-concurrent-runs", "2", "faultline.baseline.max-requests-per-day",
                    "200", "faultline.baseline.warmup-requests", "3");
        }
    }

    @Inject
    TestClock clock;

    @Inject
    BaselineConfig config;

    private final List<String> started = new ArrayList<>();

    @AfterEach
    void cancelEverything() {
        for (String runId : started) {
            // 409: the run had already ended.
            given().header("Authorization", "Bearer " + Api.KEY).delete("/api/v1/baselines/runs/" + runId).then()
                    .statusCode(anyOf(is(200), is(409)));
        }
        for (String runId : started) {
            Awaitility.await("run " + runId + " finished").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(200)).until(() -> !"running".equals(
                            given().get("/api/v1/baselines/runs/" + runId).then().extract().path("status")));
        }
        clock.release();
    }

    private ValidatableResponse start(String provider, String modelGroup, int requests) {
        ValidatableResponse response = given().header("Authorization", "Bearer " + Api.KEY)
                .contentType(ContentType.JSON).body(Map.of("provider", provider, "modelGroup", modelGroup,
                        "requests", requests, "ratePerSecond", 1))
                .post("/api/v1/baselines/runs").then().log().ifValidationFails();
        String runId = response.extract().path("runId");
        if (runId != null) {
            started.add(runId);
        }
        return response;
    }

    /**
     * Each run first sends its warm-up requests through the proxy: paid like the others, though not recorded. The
     * cap counted only the measured ones, so a day of runs sent more than it allows.
     */
    @Test
    void the_warm_up_requests_of_a_run_count_against_the_daily_cap() {
        clock.set(Instant.parse("2033-05-01T00:00:00Z"));
        int warmups = config.warmupRequests();
        assertThat(warmups).isEqualTo(3);
        start("w1", "wu1", 201 - warmups).statusCode(400).contentType("application/problem+json")
                .body("errors[0].field", equalTo("requests")).body("detail", containsString("warm-up"));
        start("w1", "wu1", 150).statusCode(202);
        // 150 and its warm-ups are reserved: a run whose requests and warm-ups would pass 200 is refused.
        start("w2", "wu2", 51 - 2 * warmups).statusCode(429)
                .body("detail", containsString((150 + warmups) + " of 200"));
        start("w2", "wu2", 50 - 2 * warmups).statusCode(202);
    }
}
