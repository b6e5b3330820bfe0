package io.faultline.predict;

import io.faultline.baseline.DeviationDetector;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.function.IntToDoubleFunction;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A latency ramp with no errors, replayed minute by minute on the injected clock with a deviation check and a
 * prediction tick each minute: the predictor announces the coming timeout no later than the baseline deviation.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class LatencyRampTest {

    @Inject
    TestClock clock;

    @Inject
    FailurePredictor predictor;

    @Inject
    PredictionStore store;

    @Inject
    DeviationDetector deviations;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    /**
     * Every call 10% of its usual latency slower each minute, for 20 minutes, and not one error: the p95 climbs from
     * the 1.2 s of the learnt baseline toward twice it. The latency trend announces the timeout risk (measured: at
     * minute 39, ttf 531 s) before the 5-minute p95 deviates (minute 42).
     */
    @Test
    void a_steady_latency_ramp_without_errors_is_predicted_no_later_than_it_deviates() {
        Ramp ramp = replay(m -> 1 + 0.1 * m);
        assertThat(ramp.predicted()).as("the minute of the first prediction").isGreaterThanOrEqualTo(30);
        assertThat(ramp.deviated()).as("the minute of the first latency deviation").isGreaterThanOrEqualTo(30);
        assertThat(ramp.predicted()).as("predicted no later than it deviated").isLessThanOrEqualTo(ramp.deviated());
        assertThat(ramp.first().predictedType()).isEqualTo("timeout");
        assertThat(ramp.first().indicators()).containsEntry("indicator", "latency_trend")
                .containsEntry("target", "baseline_factor");
    }

    record Ramp(int deviated, int predicted, PredictedFailure first) {
    }

    /**
     * 30 minutes of 12 calls a minute around 0.8 s (the passive baseline learnt from them), then 20 minutes of the
     * ramp's factor, a deviation check and a prediction tick each minute: the first minute of a raised latency
     * deviation and of a prediction (Integer.MAX_VALUE for none).
     */
    private Ramp replay(IntToDoubleFunction factor) {
        int perMinute = 12;
        Instant t0 = Instant.parse("2028-06-01T10:00:00Z").plusSeconds(new Random().nextInt(10_000) * 60L);
        String provider = "ramp" + Long.toHexString(System.nanoTime());
        String dep = "ramp-" + UUID.randomUUID();
        String group = "group-" + dep;
        Random rnd = new Random(5);
        int deviated = Integer.MAX_VALUE;
        int predicted = Integer.MAX_VALUE;
        PredictedFailure first = null;
        for (int m = 0; m < 50; m++) {
            Instant minuteStart = t0.plus(Duration.ofMinutes(m));
            clock.set(minuteStart.plus(Duration.ofMinutes(1)));
            double f = m < 30 ? 1 : factor.applyAsDouble(m - 30);
            List<Payloads> calls = new ArrayList<>();
            for (int i = 0; i < perMinute; i++) {
                double seconds = f * 0.8 * Math.exp(0.25 * rnd.nextGaussian());
                calls.add(Payloads.success(provider, group, dep, minuteStart.plusMillis(i * 60_000L / perMinute))
                        .latency(seconds));
            }
            Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
            if (m == 29) {
                assertThat(deviations.learnPassive(Duration.ofHours(1))).isGreaterThanOrEqualTo(1);
            }
            boolean raised = deviations.detectDeviation().stream().anyMatch(d -> d.provider().equals(provider)
                    && d.metric().equals("latency_p95") && d.raised());
            if (raised) {
                deviated = Math.min(deviated, m);
            }
            predictor.predictFailure();
            if (first == null && !store.active(dep).isEmpty()) {
                predicted = m;
                first = store.active(dep).get(0);
            }
        }
        return new Ramp(deviated, predicted, first);
    }
}
