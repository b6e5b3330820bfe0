package io.faultline.predict;

import io.faultline.testing.Api;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * {@code faultline.traffic.max-pins} bounds the operator's pins, whatever the deployment held before its pin and
 * however many PUTs arrive at once. Other test classes share the database and may leave pins: each test fills up to
 * the limit.
 */
@QuarkusTest
@TestProfile(TrafficPolicyPinLimitTest.FewPins.class)
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TrafficPolicyPinLimitTest {

    static final int MAX_PINS = 50;

    public static class FewPins implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.traffic.max-pins", String.valueOf(MAX_PINS));
        }
    }

    @Inject
    TestClock clock;

    @Inject
    io.agroal.api.AgroalDataSource dataSource;

    @AfterEach
    void releaseClockAndPins() throws Exception {
        clock.release();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "delete from traffic_policy where deployment like 'tp-limit-%'")) {
            st.executeUpdate();
        }
    }

    @Test
    void pinning_a_deployment_the_predictor_reduced_counts_against_the_pin_limit() throws Exception {
        Instant now = Instant.parse("2031-08-01T10:00:00Z");
        clock.set(now);
        pinOthersUpTo(MAX_PINS - 1);
        pin("tp-limit-a", "{\"keepShare\":1.0}").statusCode(200);
        // The predictor's entry for another deployment: reduced, not pinned.
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("insert into"
                + " traffic_policy (deployment, provider, model_group, keep_share, state, reason, since, until,"
                + " updated_at) values ('tp-limit-b', 'openai', 'tp-limit-group', 0.2, 'reduced', 'prediction', ?,"
                + " ?, ?)")) {
            st.setTimestamp(1, Timestamp.from(now));
            st.setTimestamp(2, Timestamp.from(now.plusSeconds(900)));
            st.setTimestamp(3, Timestamp.from(now));
            st.executeUpdate();
        }

        pin("tp-limit-b", "{\"keepShare\":1.0}").statusCode(409).contentType("application/problem+json")
                .body("title", equalTo("Too many pins"));

        List<Map<String, Object>> entries = given().when().get("/api/v1/traffic-policy").then().statusCode(200)
                .extract().jsonPath().getList("deployments");
        assertThat(entries).filteredOn(e -> "pinned".equals(e.get("state"))).hasSize(MAX_PINS)
                .extracting(e -> e.get("deployment")).contains("tp-limit-a");
        assertThat(entries).filteredOn(e -> "tp-limit-b".equals(e.get("deployment")))
                .extracting(e -> e.get("state")).containsExactly("reduced");
        // Re-pinning a pinned deployment changes it in place: no new pin.
        pin("tp-limit-a", "{\"keepShare\":0.5}").statusCode(200).body("keepShare", equalTo(0.5f));
    }

    @Test
    void two_pins_made_at_once_cannot_both_take_the_last_place() throws Exception {
        Instant now = Instant.parse("2031-08-02T10:00:00Z");
        clock.set(now);
        pinOthersUpTo(MAX_PINS - 1);
        CompletableFuture<Integer> second;
        try (Connection first = dataSource.getConnection()) {
            // The first PUT has counted the pins and written its row, not yet committed, when the second one counts.
            first.setAutoCommit(false);
            try (PreparedStatement st = first.prepareStatement("insert into traffic_policy (deployment, provider,"
                    + " keep_share, state, reason, since, updated_at) values ('tp-limit-c', 'unknown', 1.0, 'pinned',"
                    + " 'pinned by an operator', ?, ?)")) {
                st.setTimestamp(1, Timestamp.from(now));
                st.setTimestamp(2, Timestamp.from(now));
                st.executeUpdate();
            }
            second = CompletableFuture.supplyAsync(() -> pin("tp-limit-d", "{\"keepShare\":1.0}").extract()
                    .statusCode());
            awaitLockWaiterOrEnd(second);
            first.commit();
        }
        assertThat(second.get(60, TimeUnit.SECONDS)).as("the second PUT finds the last place taken").isEqualTo(409);
        List<Map<String, Object>> entries = given().when().get("/api/v1/traffic-policy").then().statusCode(200)
                .extract().jsonPath().getList("deployments");
        assertThat(entries).filteredOn(e -> "pinned".equals(e.get("state"))).hasSize(MAX_PINS)
                .extracting(e -> e.get("deployment")).contains("tp-limit-c").doesNotContain("tp-limit-d");
    }

    @Test
    void a_pin_that_has_ended_leaves_its_place_before_any_tick_records_its_expiry() throws Exception {
        Instant now = Instant.parse("2031-08-03T10:00:00Z");
        clock.set(now);
        pinOthersUpTo(MAX_PINS - 1);
        pin("tp-limit-e", "{\"keepShare\":0.5,\"until\":\"" + now.plusSeconds(60) + "\"}").statusCode(200);
        // A minute after e's pin ended, no tick has run (or preemption is off, so none ever expires it): it is not
        // published and keeps no traffic away, yet it held its place.
        clock.set(now.plusSeconds(120));
        pin("tp-limit-f", "{\"keepShare\":1.0}").statusCode(200).body("state", equalTo("pinned"));
        // Pinning e again puts a pin back in force: it needs a free place like any new one.
        pin("tp-limit-e", "{\"keepShare\":0.5}").statusCode(409).body("title", equalTo("Too many pins"));
    }

    /** Returns once a request waits for a lock of the policy, or has ended without waiting. */
    private void awaitLockWaiterOrEnd(CompletableFuture<?> request) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                        + " and query like '%traffic_policy%' and pid <> pg_backend_pid()")) {
            while (!request.isDone()) {
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    if (rs.getLong(1) > 0) {
                        return;
                    }
                }
            }
        }
    }

    /** Pins of other deployments until {@code total} pins are in force, whatever other test classes left pinned. */
    private void pinOthersUpTo(int total) throws Exception {
        try (Connection c = dataSource.getConnection()) {
            long pinned;
            try (PreparedStatement st = c.prepareStatement("select count(*) from traffic_policy where state ="
                    + " 'pinned' and (until is null or until > ?)")) {
                st.setTimestamp(1, Timestamp.from(clock.instant()));
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    pinned = rs.getLong(1);
                }
            }
            assertThat(pinned).as("pins left by other tests").isLessThan(total);
            try (PreparedStatement st = c.prepareStatement("insert into traffic_policy (deployment, provider,"
                    + " keep_share, state, reason, since, updated_at) values (?, 'unknown', 1.0, 'pinned', 'filler',"
                    + " now(), now())")) {
                for (long i = pinned; i < total; i++) {
                    st.setString(1, "tp-limit-filler-" + i);
                    st.addBatch();
                }
                st.executeBatch();
            }
        }
    }

    /** A pin of {@code body}'s share: the deployments here have no calls, so each names its provider. */
    private static ValidatableResponse pin(String deployment, String body) {
        String withProvider = "{\"provider\":\"openai\"," + body.substring(1);
        return given().header("Authorization", "Bearer " + Api.KEY).contentType("application/json").body(withProvider)
                .when().put("/api/v1/traffic-policy/" + deployment).then().log().ifValidationFails();
    }
}
