package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.predict.PredictionAccuracy;
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
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Predictions and traffic-policy actions were kept for ever: a row per prediction and per policy change, each naming
 * a deployment, though the accuracy they feed reaches back no further than the observed failures (call retention).
 * Past the call retention they go, except what is still in use: a prediction whose horizon has not ended, one a live
 * traffic-policy entry names, and the actions since a live entry began.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RetentionOfPredictionsTest {

    private static final Instant NOW = Instant.parse("2012-03-20T12:00:00Z");
    /** The default retention, 30 days, from the start of the UTC day. */
    private static final Instant CUTOFF = NOW.truncatedTo(ChronoUnit.DAYS).minus(Duration.ofDays(30));
    private static final Instant OLD = NOW.minus(Duration.ofDays(40));

    @Inject
    TestClock clock;

    @Inject
    PartitionMaintenance maintenance;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    PredictionAccuracy accuracy;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    private static UUID prediction(Connection c, String deployment, String status, Instant created,
            Instant horizonEnd) throws Exception {
        UUID id = UUID.randomUUID();
        try (PreparedStatement st = c.prepareStatement("insert into failure_predictions (prediction_id,"
                + " predicted_type, provider, deployment, confidence, peak_confidence, time_to_failure_ms,"
                + " recommended_action, indicators, created_at, updated_at, horizon_ms, horizon_ends_at, status,"
                + " resolved_at) values (?, 'rate_limit', 'openai', ?, 0.9, 0.9, 60000, 'reduce', '{}'::jsonb, ?, ?,"
                + " 900000, ?, ?, ?)")) {
            st.setObject(1, id);
            st.setString(2, deployment);
            st.setTimestamp(3, Timestamp.from(created));
            st.setTimestamp(4, Timestamp.from(created));
            st.setTimestamp(5, Timestamp.from(horizonEnd));
            st.setString(6, status);
            st.setTimestamp(7, status.equals("active") ? null : Timestamp.from(horizonEnd));
            st.executeUpdate();
        }
        return id;
    }

    private static UUID action(Connection c, String deployment, Instant at) throws Exception {
        UUID id = UUID.randomUUID();
        try (PreparedStatement st = c.prepareStatement("insert into traffic_policy_actions (action_id, at,"
                + " deployment, action, keep_share_before, keep_share_after, reason, actor) values (?, ?, ?, 'pin',"
                + " 1.0, 0.5, 'by hand', 'operator')")) {
            st.setObject(1, id);
            st.setTimestamp(2, Timestamp.from(at));
            st.setString(3, deployment);
            st.executeUpdate();
        }
        return id;
    }

    private static long count(Connection c, String table, String key, UUID id) throws Exception {
        try (PreparedStatement st = c.prepareStatement("select count(*) from " + table + " where " + key + " = ?")) {
            st.setObject(1, id);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    @Test
    void predictions_and_policy_actions_past_call_retention_go_unless_still_in_use() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        String resolved = "dep-pred-ret-resolved-" + run;
        String stale = "dep-pred-ret-stale-" + run;
        String pinned = "dep-pred-ret-pinned-" + run;
        String live = "dep-pred-ret-live-" + run;
        List<String> deployments = List.of(resolved, stale, pinned, live);
        clock.set(NOW);
        UUID oldFalseAlarm;
        UUID oldHit;
        UUID oldActive;
        UUID namedByPolicy;
        UUID straddling;
        UUID recentFalseAlarm;
        UUID recentHit;
        UUID active;
        UUID oldAction;
        UUID beforePin;
        UUID pinAction;
        UUID recentAction;
        try (Connection c = dataSource.getConnection()) {
            oldFalseAlarm = prediction(c, resolved, "false_alarm", OLD, OLD.plus(Duration.ofMinutes(15)));
            oldHit = prediction(c, resolved, "hit", OLD.plusSeconds(3600), OLD.plus(Duration.ofMinutes(75)));
            // A predictor stopped for the whole retention never resolved it: its horizon ended long ago.
            oldActive = prediction(c, stale, "active", OLD, OLD.plus(Duration.ofMinutes(15)));
            namedByPolicy = prediction(c, pinned, "false_alarm", OLD, OLD.plus(Duration.ofMinutes(15)));
            // Made before the cut-off, renewed past it: its horizon is inside the retention.
            straddling = prediction(c, resolved, "prevented", CUTOFF.minus(Duration.ofMinutes(5)),
                    CUTOFF.plus(Duration.ofMinutes(10)));
            recentFalseAlarm = prediction(c, resolved, "false_alarm", NOW.minus(Duration.ofDays(2)),
                    NOW.minus(Duration.ofDays(2)).plus(Duration.ofMinutes(15)));
            recentHit = prediction(c, resolved, "hit", NOW.minus(Duration.ofDays(1)),
                    NOW.minus(Duration.ofDays(1)).plus(Duration.ofMinutes(15)));
            active = prediction(c, live, "active", NOW.minus(Duration.ofMinutes(5)), NOW.plus(Duration.ofMinutes(10)));
            try (PreparedStatement st = c.prepareStatement("update failure_predictions set failure_onset ="
                    + " created_at + interval '5 minutes', lead_time_ms = 300000 where prediction_id = any (?)")) {
                st.setArray(1, c.createArrayOf("uuid", new Object[] {oldHit, recentHit}));
                st.executeUpdate();
            }
            // An operator's pin without an end, made 40 days ago on top of the predictor's entry: still in force.
            try (PreparedStatement st = c.prepareStatement("insert into traffic_policy (deployment, provider,"
                    + " keep_share, state, reason, prediction_id, predicted_type, confidence, since, updated_at)"
                    + " values (?, 'openai', 0.5, 'pinned', 'by hand', ?, 'rate_limit', 0.9, ?, ?)")) {
                st.setString(1, pinned);
                st.setObject(2, namedByPolicy);
                st.setTimestamp(3, Timestamp.from(OLD));
                st.setTimestamp(4, Timestamp.from(OLD));
                st.executeUpdate();
            }
            oldAction = action(c, resolved, OLD);
            beforePin = action(c, pinned, OLD.minus(Duration.ofDays(1)));
            pinAction = action(c, pinned, OLD);
            recentAction = action(c, resolved, NOW.minus(Duration.ofDays(1)));
        }
        var scoredBefore = accuracy.compute(CUTOFF, NOW, deployments);

        maintenance.maintain();

        try (Connection c = dataSource.getConnection()) {
            for (UUID gone : List.of(oldFalseAlarm, oldHit, oldActive)) {
                assertThat(count(c, "failure_predictions", "prediction_id", gone)).as("past retention: " + gone)
                        .isZero();
            }
            assertThat(count(c, "failure_predictions", "prediction_id", namedByPolicy))
                    .as("named by a live traffic-policy entry").isEqualTo(1);
            for (UUID kept : List.of(straddling, recentFalseAlarm, recentHit, active)) {
                assertThat(count(c, "failure_predictions", "prediction_id", kept)).as("within retention: " + kept)
                        .isEqualTo(1);
            }
            assertThat(count(c, "traffic_policy_actions", "action_id", oldAction)).as("old action").isZero();
            assertThat(count(c, "traffic_policy_actions", "action_id", beforePin))
                    .as("an action before the live entry began").isZero();
            assertThat(count(c, "traffic_policy_actions", "action_id", pinAction))
                    .as("the action that began the live entry").isEqualTo(1);
            assertThat(count(c, "traffic_policy_actions", "action_id", recentAction)).as("recent action")
                    .isEqualTo(1);
        }
        assertThat(accuracy.compute(CUTOFF, NOW, deployments)).as("the report over the retention, unchanged")
                .isEqualTo(scoredBefore);
    }
}
