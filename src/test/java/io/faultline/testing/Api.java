package io.faultline.testing;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.arc.Arc;
import io.quarkus.arc.ArcContainer;
import io.quarkus.arc.InstanceHandle;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;

import java.time.Duration;
import java.time.Instant;

import static io.restassured.RestAssured.given;

/** The API as a client with the test key sees it. */
public final class Api {

    public static final String KEY = "test-key";

    private Api() {
    }

    /**
     * Sends a batch as the plugin does, once its calls have ended: when a test has frozen the clock more than the
     * ingest's tolerated skew (5 min) before the batch's last end (a replay ingests hours of traffic after setting the
     * clock at its start), the clock moves to that end first, as it would have in real time. Otherwise the clock is
     * left where the test put it.
     */
    public static ValidatableResponse ingest(String body) {
        arrive(body);
        return given().log().ifValidationFails().header("Authorization", "Bearer " + KEY).contentType(ContentType.JSON)
                .body(body).when().post("/api/v1/calls").then().log().ifValidationFails();
    }

    private static final Duration SKEW = Duration.ofMinutes(5);

    private static void arrive(String body) {
        ArcContainer container = Arc.container();
        if (container == null || !container.isRunning()) {
            return; // not inside a @QuarkusTest (an IT's service keeps its own clock)
        }
        InstanceHandle<TestClock> handle = container.instance(TestClock.class);
        if (!handle.isAvailable() || !handle.get().isFrozen()) {
            return;
        }
        Instant last = null;
        try {
            JsonNode root = Payloads.JSON.readTree(body);
            for (JsonNode call : root.isArray() ? root : Payloads.JSON.createArrayNode()) {
                JsonNode end = call.has("endTime") ? call.get("endTime") : call.get("startTime");
                if (end != null && end.isNumber() && Double.isFinite(end.asDouble())) {
                    Instant at = Instant.ofEpochMilli(Math.round(end.asDouble() * 1000));
                    last = last == null || at.isAfter(last) ? at : last;
                }
            }
        } catch (Exception e) {
            return; // a hostile body under test: sent as it is
        }
        TestClock clock = handle.get();
        if (last != null && last.isAfter(clock.instant().plus(SKEW))) {
            clock.set(last);
        }
    }

    public static ValidatableResponse failures(String query) {
        return given().log().ifValidationFails().when().get("/api/v1/failures?" + query).then().log()
                .ifValidationFails();
    }
}
