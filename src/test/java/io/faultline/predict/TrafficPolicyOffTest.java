package io.faultline.predict;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/** With preemption switched off by config, a confident prediction reduces nothing and the published policy is empty. */
@QuarkusTest
@TestProfile(TrafficPolicyOffTest.Off.class)
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TrafficPolicyOffTest {

    public static class Off implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.traffic.preemption", "false");
        }
    }

    @Inject
    TestClock clock;

    @Inject
    FailurePredictor predictor;

    @Inject
    PredictionStore store;

    @Inject
    TrafficConfig config;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void a_confident_prediction_reduces_nothing_when_preemption_is_off() {
        Instant t0 = Instant.parse("2031-08-01T10:00:00Z");
        String dep = "tp-off-" + UUID.randomUUID();
        long remaining = 90_000;
        for (int m = 0; m < 10; m++) {
            Instant start = t0.plus(Duration.ofMinutes(m));
            List<Payloads> calls = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                remaining -= 500;
                calls.add(Payloads.success("openai", "gpt-4o-mini", dep, start.plusSeconds(i * 6L)).latency(0.5)
                        .header("x-ratelimit-limit-tokens", "100000")
                        .header("x-ratelimit-remaining-tokens", String.valueOf(remaining))
                        .header("x-ratelimit-reset-tokens", "3h0m0s"));
            }
            clock.set(start.plus(Duration.ofMinutes(1)));
            Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
            predictor.predictFailure();
        }
        assertThat(store.active(dep)).as("predicted").singleElement()
                .satisfies(p -> assertThat(p.confidence()).isGreaterThan(config.actAbove()))
                .satisfies(p -> assertThat(p.keptShare()).as("no traffic action").isNull());
        given().when().get("/api/v1/traffic-policy").then().statusCode(200).body("preemption", equalTo(false))
                .body("deployments.size()", equalTo(0));
        given().when().get("/api/v1/traffic-policy/actions?deployment=" + dep).then().statusCode(200)
                .body("items.size()", equalTo(0));
    }
}
