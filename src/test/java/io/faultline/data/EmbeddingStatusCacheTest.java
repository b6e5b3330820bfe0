package io.faultline.data;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A status request costs one row per space: it never reads vectors or runs the bootstrap. The check (every minute)
 * computes and stores each space's result; requests in between serve that result.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class EmbeddingStatusCacheTest {

    private static final Instant T0 = Instant.parse("2026-11-28T12:00:00Z");
    private static final int D = 256;

    @Inject
    TestClock clock;

    @Inject
    EmbeddingDriftDetector detector;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void repeated_status_requests_serve_the_last_check_and_never_rerun_the_bootstrap() {
        String space = "test-cache-" + UUID.randomUUID().toString().substring(0, 8);
        SplittableRandom random = new SplittableRandom(11);
        Cluster cluster = Cluster.random(D, 1.0, random);
        clock.set(T0);
        post(space, "reference", cluster.sample(500, random));
        clock.advance(Duration.ofMinutes(5));
        post(space, "current-1", cluster.sample(120, random));

        // Reference complete, no check yet: the status says so instead of computing anything.
        double before = bootstraps();
        JsonPath waiting = status(space);
        assertThat(waiting.getString("state")).isEqualTo("awaiting_check");
        assertThat(waiting.getInt("referenceN")).isEqualTo(500);
        assertThat(bootstraps()).isEqualTo(before);

        Instant checkedAt = clock.advance(Duration.ofMinutes(1));
        detector.check();
        double afterCheck = bootstraps();
        assertThat(afterCheck).isGreaterThan(before);

        // More vectors arrive and time passes; requests keep serving the stored result of the check.
        clock.advance(Duration.ofSeconds(30));
        post(space, "current-2", cluster.sample(60, random));
        for (int i = 0; i < 25; i++) {
            JsonPath one = status(space);
            assertThat(one.getString("state")).isEqualTo("ok");
            assertThat(one.getInt("currentN")).isEqualTo(120);
            assertThat(Instant.parse(one.getString("at"))).isEqualTo(checkedAt);
            assertThat(one.getDouble("threshold")).isPositive();
            List<String> all = given().get("/api/v1/signals/embeddings").then().statusCode(200).extract().jsonPath()
                    .getList("space");
            assertThat(all).contains(space);
        }
        assertThat(bootstraps()).isEqualTo(afterCheck);

        // The next check sees the new vectors.
        Instant next = clock.advance(Duration.ofMinutes(1));
        detector.check();
        JsonPath rechecked = status(space);
        assertThat(rechecked.getInt("currentN")).isEqualTo(180);
        assertThat(Instant.parse(rechecked.getString("at"))).isEqualTo(next);
    }

    private static double bootstraps() {
        return Metrics.valueOrZero(Metrics.scrape(), "faultline_embedding_drift_bootstraps_total");
    }

    private static JsonPath status(String space) {
        return given().get("/api/v1/signals/embeddings/" + space).then().statusCode(200).extract().jsonPath();
    }

    private static void post(String space, String signalId, List<float[]> vectors) {
        ObjectNode body = Payloads.JSON.createObjectNode().put("signalId", space + "-" + signalId).put("space", space);
        ArrayNode array = body.putArray("vectors");
        for (float[] v : vectors) {
            ArrayNode row = array.addArray();
            for (float f : v) {
                row.add(f);
            }
        }
        given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body(body.toString()).post("/api/v1/signals/embeddings").then().log().ifValidationFails()
                .statusCode(202);
    }
}
