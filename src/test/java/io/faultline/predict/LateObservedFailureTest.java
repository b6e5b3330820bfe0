package io.faultline.predict;

import io.agroal.api.AgroalDataSource;
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

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The prediction tick's ground truth (observed_failures) when another proxy's spool delivers failing calls late:
 * further back than the quiet period (10 min) before a recorded failure they are a failure of their own, and between
 * two recorded failures (within the quiet period of both) they make the two one.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class LateObservedFailureTest {

    @Inject
    TestClock clock;

    @Inject
    FailurePredictor predictor;

    @Inject
    PredictionStore store;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    /** The onsets and last sightings of the deployment's observed failures, oldest first. */
    private List<Instant[]> observed(String dep) throws Exception {
        List<Instant[]> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select onset, last_seen from observed_failures where deployment = ? order by onset")) {
            st.setString(1, dep);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    rows.add(new Instant[] {rs.getTimestamp(1).toInstant(), rs.getTimestamp(2).toInstant()});
                }
            }
        }
        return rows;
    }

    /** Ten 429s from {@code at}, one a second, delivered at the clock's time, then a tick. */
    private void rateLimitedMinute(String provider, String dep, Instant at, Instant deliveredAt) {
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            calls.add(Payloads.failure(provider, "late-observed-grp", dep, at.plusSeconds(i), 429, "RateLimitError",
                    "Rate limit reached for tokens"));
        }
        clock.set(deliveredAt);
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        predictor.predictFailure();
    }

    @Test
    void late_failing_calls_further_back_than_the_quiet_period_are_a_failure_of_their_own_and_take_its_hit()
            throws Exception {
        Instant t0 = Instant.parse("2035-09-01T10:00:00Z");
        String provider = "openai-late-observed";
        String dep = "late-observed-" + UUID.randomUUID();
        UUID prediction = UUID.randomUUID();
        StoredPredictions.insertActive(dataSource,
                prediction, provider, dep, t0, t0.plus(Duration.ofMinutes(15)));
        // The 429s of minute 13 arrive on time: a failure, the prediction's hit.
        rateLimitedMinute(provider, dep, t0.plus(Duration.ofMinutes(13)), t0.plus(Duration.ofMinutes(14)));
        assertThat(store.byId(prediction).orElseThrow().status()).isEqualTo("hit");
        // Another proxy's spool delivers those it had of minute 1: 12 min before, more than the quiet period.
        rateLimitedMinute(provider, dep, t0.plus(Duration.ofMinutes(1)),
                t0.plus(Duration.ofMinutes(14)).plusSeconds(30));
        List<Instant[]> failures = observed(dep);
        assertThat(failures).as("two failures, the late one recorded").hasSize(2);
        Instant early = t0.plus(Duration.ofMinutes(1)).plusMillis(200); // Payloads.failure answers in 200 ms
        assertThat(failures.get(0)[0]).isEqualTo(early);
        assertThat(failures.get(0)[1]).isEqualTo(early.plusSeconds(9));
        assertThat(failures.get(1)[0]).isEqualTo(t0.plus(Duration.ofMinutes(13)).plusMillis(200));
        PredictedFailure p = store.byId(prediction).orElseThrow();
        assertThat(p.status()).isEqualTo("hit");
        assertThat(p.failureOnset()).as("the first failure after it was made is its hit").isEqualTo(early);
        assertThat(p.leadTime()).isEqualTo(Duration.between(t0, early).toString());
    }

    @Test
    void a_late_failure_between_two_recorded_failures_merges_them_and_a_prediction_made_between_is_no_hit()
            throws Exception {
        Instant t0 = Instant.parse("2035-09-02T10:00:00Z");
        String provider = "openai-late-merge";
        String dep = "late-merge-" + UUID.randomUUID();
        rateLimitedMinute(provider, dep, t0.plus(Duration.ofMinutes(1)), t0.plus(Duration.ofMinutes(2)));
        // Made after the first failure ended, announcing the second.
        UUID between = UUID.randomUUID();
        StoredPredictions.insertActive(dataSource,
                between, provider, dep, t0.plus(Duration.ofMinutes(5)), t0.plus(Duration.ofMinutes(20)));
        rateLimitedMinute(provider, dep, t0.plus(Duration.ofMinutes(13)), t0.plus(Duration.ofMinutes(14)));
        assertThat(observed(dep)).as("12 min apart: two failures").hasSize(2);
        assertThat(store.byId(between).orElseThrow().status()).isEqualTo("hit");
        // Another proxy's spool delivers the 429s it had of minute 7: within the quiet period of both.
        rateLimitedMinute(provider, dep, t0.plus(Duration.ofMinutes(7)),
                t0.plus(Duration.ofMinutes(14)).plusSeconds(30));
        List<Instant[]> failures = observed(dep);
        assertThat(failures).as("one failure from minute 1 to minute 13").hasSize(1);
        assertThat(failures.get(0)[0]).isEqualTo(t0.plus(Duration.ofMinutes(1)).plusMillis(200));
        assertThat(failures.get(0)[1]).isEqualTo(t0.plus(Duration.ofMinutes(13)).plusSeconds(9).plusMillis(200));
        PredictedFailure p = store.byId(between).orElseThrow();
        assertThat(p.status()).as("made while the deployment was failing").isEqualTo("false_alarm");
        assertThat(p.failureOnset()).isNull();
    }
}
