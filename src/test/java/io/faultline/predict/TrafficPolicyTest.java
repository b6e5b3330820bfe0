package io.faultline.predict;

import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * The preemptive traffic policy on the real ingest path and the test clock: a prediction above the act threshold
 * reduces its deployment to the keep share, the policy is published and recorded, the share comes back in steps once
 * the indicators are healthy, an operator's pin beats the predictor, and a predictor that stopped ticking never keeps
 * traffic away.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TrafficPolicyTest {

    static final String PROBLEM = "application/problem+json";
    /** JSON numbers come back as floats. */
    static final Offset<Double> CLOSE = Offset.offset(1e-6);

    @Inject
    TestClock clock;

    @Inject
    TrafficConfig config;

    @Inject
    TrafficPolicy policy;

    @Inject
    PredictionStore store;

    @Inject
    io.agroal.api.AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    /** Two deployments of one model group: A's token headroom drains by {@code drainA} a minute, B's stays full. */
    private final class Pair {
        final String group = "tp-group-" + UUID.randomUUID();
        final String a = "tp-a-" + UUID.randomUUID();
        final String b;
        final Instant t0;
        long remaining = 90_000;
        int minute;
        /** A's calls a minute (the plugin thins a reduced deployment's); B always gets 10. */
        int callsA = 10;
        /** False: A is alone in its model group. */
        boolean withB = true;
        /** B's headroom, drained by {@code drainB} a minute (none by default). */
        long remainingB = 100_000;
        long drainB;

        Pair(Instant t0) {
            this(t0, "tp-b-" + UUID.randomUUID());
        }

        /** B named {@code b}. */
        Pair(Instant t0, String b) {
            this.t0 = t0;
            this.b = b;
        }

        /** One replayed minute of 10 calls on each deployment, then a tick at its end. */
        JsonPath minute(long drainA) {
            return minute(drainA, 0);
        }

        /** The same, with the first {@code failingA} of A's calls answered 429 (A ran dry). */
        JsonPath minute(long drainA, int failingA) {
            Instant start = t0.plus(Duration.ofMinutes(minute++));
            List<Payloads> calls = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                remaining = Math.max(1, remaining - drainA / 10);
                Instant at = start.plusSeconds(i * 6L);
                if (i < callsA) {
                    calls.add(i < failingA ? Payloads.failure("openai", group, a, at, 429, "RateLimitError",
                            "Rate limit reached for tokens")
                            : reading(Payloads.success("openai", group, a, at).latency(0.5), remaining));
                }
                if (withB) {
                    remainingB = Math.max(1, remainingB - drainB / 10);
                    calls.add(reading(Payloads.success("openai", group, b, at.plusSeconds(3)).latency(0.5),
                            remainingB));
                }
            }
            clock.set(start.plus(Duration.ofMinutes(1)));
            Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
            return evaluate();
        }

        private Payloads reading(Payloads p, long left) {
            return p.header("x-ratelimit-limit-tokens", "100000")
                    .header("x-ratelimit-remaining-tokens", String.valueOf(left))
                    .header("x-ratelimit-reset-tokens", "3h0m0s");
        }
    }

    /** Drains A minute by minute until the predictor reduces it (at most 12 minutes); answers A's entry. */
    private Map<String, Object> drainUntilReduced(Pair pair) {
        Map<String, Object> reduced = null;
        for (int m = 0; m < 12 && reduced == null; m++) {
            pair.minute(5_000);
            reduced = entry(pair.a);
        }
        assertThat(reduced).as("A's drain reduced its traffic").isNotNull();
        return reduced;
    }

    @Test
    void a_confident_prediction_reduces_its_deployment_and_the_share_comes_back_in_steps_once_healthy() {
        Pair pair = new Pair(Instant.parse("2031-07-01T10:00:00Z"));
        Map<String, Object> reduced = drainUntilReduced(pair);
        assertThat(entry(pair.b)).as("the healthy deployment of the group keeps everything").isNull();
        assertThat(((Number) reduced.get("keepShare")).doubleValue()).isCloseTo(config.keepShare(), CLOSE);
        assertThat(reduced).containsEntry("state", "reduced").containsEntry("reason", "prediction")
                .containsEntry("modelGroup", pair.group).containsEntry("provider", "openai")
                .containsEntry("predictedType", "rate_limit").containsEntry("soleDeployment", false);
        assertThat(((Number) reduced.get("confidence")).doubleValue()).isGreaterThan(config.actAbove());
        UUID predictionId = UUID.fromString((String) reduced.get("predictionId"));
        assertThat(store.byId(predictionId).orElseThrow().keptShare()).as("the prediction knows what was done")
                .isEqualTo(config.keepShare());
        Instant reducedAt = clock.instant();

        // The plugin keeps a fifth of A's requests and the limit window resets: nothing is predicted any more.
        pair.remaining = 100_000;
        List<Double> shares = new ArrayList<>();
        List<Instant> at = new ArrayList<>();
        for (int m = 0; m < 15; m++) {
            pair.minute(200);
            Map<String, Object> e = entry(pair.a);
            shares.add(e == null ? 1.0 : Math.round(((Number) e.get("keepShare")).doubleValue() * 1e6) / 1e6);
            at.add(clock.instant());
        }
        assertThat(shares.get(shares.size() - 1)).as("full traffic again").isEqualTo(1.0);
        assertThat(shares).as("never down again, only up").isSorted();
        List<Double> steps = shares.stream().distinct().toList();
        assertThat(steps).as("back in steps of " + config.recoveryStep()).hasSizeGreaterThanOrEqualTo(3);
        for (int i = 1; i < steps.size(); i++) {
            assertThat(steps.get(i) - steps.get(i - 1)).isCloseTo(config.recoveryStep(), CLOSE);
        }
        Instant firstStep = at.get(shares.indexOf(steps.get(1)));
        assertThat(Duration.between(reducedAt, firstStep)).as("recovery waits for the healthy period")
                .isGreaterThanOrEqualTo(config.healthyFor());

        JsonPath actions = given().when().get("/api/v1/traffic-policy/actions?deployment=" + pair.a).then()
                .statusCode(200).extract().jsonPath();
        List<String> kinds = new ArrayList<>(actions.getList("items.action", String.class));
        java.util.Collections.reverse(kinds);
        assertThat(kinds.get(0)).isEqualTo("reduce");
        assertThat(kinds.get(kinds.size() - 1)).isEqualTo("restore");
        assertThat(kinds.subList(1, kinds.size() - 1)).containsOnly("step_up").hasSize(steps.size() - 2);
        assertThat(actions.getString("items[-1].predictionId")).isEqualTo(predictionId.toString());
        assertThat(actions.getString("items[-1].actor")).isEqualTo("predictor");
    }

    @Test
    void a_deployment_that_fails_after_its_reduction_keeps_its_reduced_share_until_it_is_healthy_again() {
        Pair pair = new Pair(Instant.parse("2031-08-01T10:00:00Z"));
        drainUntilReduced(pair);

        // A runs dry anyway: half of the calls it still gets answer 429 for five minutes. No prediction is made
        // during a failure, yet that is no reason to give A its traffic back.
        int failingMinutes = 5;
        for (int m = 0; m < failingMinutes; m++) {
            pair.minute(200, 5);
            Map<String, Object> e = entry(pair.a);
            assertThat(e).as("A's entry in failing minute %d", m + 1).isNotNull();
            assertThat(((Number) e.get("keepShare")).doubleValue()).as("A's share in failing minute %d", m + 1)
                    .isCloseTo(config.keepShare(), CLOSE);
        }
        Instant lastFailingMinute = clock.instant();

        // Healthy again (the limit reset): the share comes back in steps, the first a healthy period after the
        // last failing minute.
        pair.remaining = 100_000;
        Instant firstStep = null;
        for (int m = 0; m < 15 && firstStep == null; m++) {
            pair.minute(200);
            Map<String, Object> e = entry(pair.a);
            if (e == null || ((Number) e.get("keepShare")).doubleValue() > config.keepShare() + 1e-6) {
                firstStep = clock.instant();
            }
        }
        assertThat(firstStep).as("A's share came back").isNotNull();
        assertThat(Duration.between(lastFailingMinute, firstStep)).as("the healthy period counts from the last"
                + " failing minute").isGreaterThanOrEqualTo(config.healthyFor());
        List<String> kinds = given().when().get("/api/v1/traffic-policy/actions?deployment=" + pair.a).then()
                .statusCode(200).extract().jsonPath().getList("items.action", String.class);
        assertThat(kinds).as("actions of A, newest first").endsWith("reduce").contains("step_up");
    }

    @Test
    void a_deployment_whose_indicators_still_worsen_after_a_failure_keeps_its_reduced_share() {
        Pair pair = new Pair(Instant.parse("2031-09-01T10:00:00Z"));
        drainUntilReduced(pair);
        // One failing minute, then the drain goes on without failures for longer than the healthy period: inside
        // the failure's quiet period nothing is predicted, but the indicators still point at the next failure.
        pair.minute(5_000, 5);
        for (int m = 0; m < 4; m++) {
            pair.minute(5_000);
            Map<String, Object> e = entry(pair.a);
            assertThat(e).as("A's entry %d minutes after its failure", m + 1).isNotNull();
            assertThat(((Number) e.get("keepShare")).doubleValue()).as("A's share %d minutes after its failure",
                    m + 1).isCloseTo(config.keepShare(), CLOSE);
        }
    }

    @Test
    void a_pin_that_ends_while_its_deployment_is_predicted_to_fail_hands_it_back_to_the_predictor_at_once() {
        Pair pair = new Pair(Instant.parse("2031-10-01T10:00:00Z"));
        drainUntilReduced(pair);
        Instant until = clock.instant().plusSeconds(150);
        pin(pair.a, "{\"provider\":\"openai\",\"keepShare\":1.0,\"until\":\"" + until + "\"}").statusCode(200);
        pair.minute(5_000);
        assertThat(entry(pair.a)).as("the pin holds while it lasts").containsEntry("state", "pinned");
        pair.minute(5_000);
        pair.minute(5_000);
        assertThat(clock.instant()).isAfter(until);
        assertThat(entry(pair.a)).as("the tick after the pin ended, the drain still predicted").isNotNull()
                .containsEntry("state", "reduced");
        // Newest first, by time: the pin came the instant of the first reduction, the expiry with the second.
        assertThat(actionsOf(pair.a)).containsExactlyInAnyOrder("reduce", "expire", "pin", "reduce");
    }

    @Test
    void a_reduction_that_went_stale_while_the_predictor_was_stopped_is_not_put_back() {
        Pair pair = new Pair(Instant.parse("2031-10-02T10:00:00Z"));
        drainUntilReduced(pair);
        // An hour without ticks (every replica down): the entry stopped being published after stale-after, so A had
        // all its traffic. The first tick after finds A healthy.
        pair.minute += 60;
        pair.remaining = 100_000;
        pair.minute(0);
        assertThat(entry(pair.a)).as("the old cut is not put back").isNull();
        assertThat(actionsOf(pair.a)).containsExactly("restore", "reduce");
    }

    @Test
    void a_reduction_that_went_stale_and_is_predicted_again_is_a_new_reduction() {
        Pair pair = new Pair(Instant.parse("2031-10-08T10:00:00Z"));
        drainUntilReduced(pair);
        // Five minutes without ticks (longer than stale-after, inside the predictor's window) and without readings,
        // the drain going on.
        pair.minute += 5;
        pair.remaining -= 5 * 5_000;
        pair.minute(5_000);
        Map<String, Object> e = entry(pair.a);
        assertThat(e).as("the drain is still predicted").isNotNull().containsEntry("state", "reduced");
        assertThat(Instant.parse((String) e.get("since"))).as("reduced again from full traffic, now")
                .isEqualTo(clock.instant());
        assertThat(actionsOf(pair.a)).containsExactly("reduce", "reduce");
    }

    @Test
    void the_few_calls_a_reduced_deployment_still_gets_show_its_failure_when_they_fail() {
        Pair pair = new Pair(Instant.parse("2031-10-09T10:00:00Z"));
        Map<String, Object> reduced = drainUntilReduced(pair);
        UUID predictionId = UUID.fromString((String) reduced.get("predictionId"));
        // A ran dry anyway: it gets a fifth of its calls, 2 a minute, and both answer 429 (under the 3 failing
        // calls a minute at full traffic needs, but all that its users sent it).
        pair.callsA = 2;
        Instant minute = clock.instant();
        pair.minute(5_000, 2);
        PredictedFailure p = store.byId(predictionId).orElseThrow();
        assertThat(p.status()).as("the failure it predicted came, in the first failing minute").isEqualTo("hit");
        assertThat(p.failureOnset()).isBetween(minute, clock.instant());
    }

    @Test
    void a_recovering_deployment_that_fails_again_goes_back_to_the_keep_share_even_on_its_few_calls() {
        Pair pair = new Pair(Instant.parse("2031-10-03T10:00:00Z"));
        drainUntilReduced(pair);
        pair.remaining = 100_000;
        Map<String, Object> e = null;
        for (int m = 0; m < 8; m++) {
            pair.minute(0);
            e = entry(pair.a);
            if (e == null || !"reduced".equals(e.get("state"))) {
                break;
            }
        }
        assertThat(e).as("A recovering").isNotNull().containsEntry("state", "recovering");
        // A gets few calls (the plugin thins it) and both fail: too few for an observed failure (3 calls), yet
        // every call A answered failed.
        pair.callsA = 2;
        pair.minute(0, 2);
        e = entry(pair.a);
        assertThat(e).as("A failing again").isNotNull().containsEntry("state", "reduced");
        assertThat(((Number) e.get("keepShare")).doubleValue()).isCloseTo(config.keepShare(), CLOSE);
        assertThat(actionsOf(pair.a).get(0)).isEqualTo("deepen");
    }

    @Test
    void a_weaker_prediction_during_the_recovery_starts_the_healthy_period_over() throws Exception {
        Instant t0 = Instant.parse("2031-10-04T10:00:00Z");
        String deployment = "tp-w-" + UUID.randomUUID();
        List<Double> shares = new ArrayList<>();
        // Minute by minute: a confident prediction, two healthy minutes (then the first step), a weaker prediction,
        // then healthy minutes again.
        double[] confidence = { 0.9, 0, 0, 0, 0.7, 0, 0, 0 };
        for (int m = 0; m < confidence.length; m++) {
            Instant now = t0.plus(Duration.ofMinutes(m));
            clock.set(now);
            List<PredictedFailure> firing = confidence[m] == 0 ? List.of()
                    : List.of(prediction(deployment, confidence[m], now));
            shares.add(applyAndReadShare(deployment, now, firing));
        }
        // 0.2 from the confident one; healthy from minute 1, first step at minute 3; the weak one at minute 4 holds;
        // healthy again from minute 5: the next step a healthy period later, at minute 7.
        assertThat(shares).containsExactly(0.2, 0.2, 0.2, 0.4, 0.4, 0.4, 0.4, 0.6);
    }

    @Test
    void the_share_comes_back_a_step_every_minute_though_each_tick_reads_its_clock_a_little_late_or_early()
            throws Exception {
        Instant t0 = Instant.parse("2031-10-11T10:00:00Z");
        String deployment = "tp-j-" + UUID.randomUUID();
        // The scheduler fires every 60 s, but each tick reads its clock after its own start-up work (a connection,
        // the job's row, the baselines): a few milliseconds later one minute, earlier the next.
        long[] lateMillis = { 0, 40, 0, 0, 40, 0, 40, 0 };
        List<Double> shares = new ArrayList<>();
        for (int m = 0; m < lateMillis.length; m++) {
            Instant now = t0.plus(Duration.ofMinutes(m)).plusMillis(lateMillis[m]);
            clock.set(now);
            List<PredictedFailure> firing = m == 0 ? List.of(prediction(deployment, 0.9, now)) : List.of();
            shares.add(applyAndReadShare(deployment, now, firing));
        }
        // Healthy from minute 1: the first step a healthy period later, at minute 3, then one every minute.
        assertThat(shares).containsExactly(0.2, 0.2, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0);
    }

    /** One tick of the policy for a deployment of a two-deployment group, nothing failing; its share after it. */
    private double applyAndReadShare(String deployment, Instant now, List<PredictedFailure> firing) throws Exception {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            policy.apply(c, now, firing, besideAnother(deployment), new TrafficPolicy.Unhealthy(Map.of(),
                    java.util.Set.of()));
            c.commit();
        }
        Map<String, Object> e = entry(deployment);
        return e == null ? 1.0 : Math.round(((Number) e.get("keepShare")).doubleValue() * 1e6) / 1e6;
    }

    @Test
    void what_a_reduction_prevented_is_counted_with_the_share_each_minute_kept() throws Exception {
        Pair pair = new Pair(Instant.parse("2031-10-05T10:00:00Z"));
        Map<String, Object> reduced = drainUntilReduced(pair);
        UUID predictionId = UUID.fromString((String) reduced.get("predictionId"));
        double shareBefore = ((Number) reduced.get("keepShare")).doubleValue();
        double drainedBefore = unreducedDrain(predictionId);
        java.util.Set<Double> sharesSeen = new java.util.TreeSet<>();
        for (int m = 0; m < 12; m++) {
            pair.minute(300);
            double drained = unreducedDrain(predictionId);
            // Counted from the first reading under the level fitted at the action; from then on each minute's
            // drain, scaled by the share kept during it (published by the tick before).
            if (drainedBefore > 0) {
                assertThat(drained - drainedBefore).as("minute %d after the reduction, kept share %.1f", m + 1,
                        shareBefore).isCloseTo(300 / shareBefore, Offset.offset(1e-6));
                sharesSeen.add(shareBefore);
            }
            drainedBefore = drained;
            Map<String, Object> e = entry(pair.a);
            shareBefore = e == null ? 1.0 : Math.round(((Number) e.get("keepShare")).doubleValue() * 1e6) / 1e6;
        }
        assertThat(sharesSeen).as("the minutes measured crossed the recovery").hasSizeGreaterThanOrEqualTo(3);
    }

    @Test
    void a_deployment_named_like_the_provider_level_is_a_member_of_its_model_group() throws Exception {
        // LiteLLM's model_info.id is the operator's to choose: B is called "*". The plugin thins A among two
        // candidates, so what A kept is the keep share, not everything as if A were alone in its group.
        Pair pair = new Pair(Instant.parse("2031-10-20T10:00:00Z"), "*");
        Map<String, Object> reduced = drainUntilReduced(pair);
        assertThat(reduced).containsEntry("soleDeployment", false);
        UUID predictionId = UUID.fromString((String) reduced.get("predictionId"));
        double before = unreducedDrain(predictionId);
        for (int m = 0; m < 3; m++) {
            pair.minute(300);
            double drained = unreducedDrain(predictionId);
            if (before > 0) {
                assertThat(drained - before).as("minute %d, A kept %s", m + 1, config.keepShare())
                        .isCloseTo(300 / config.keepShare(), Offset.offset(1e-6));
            }
            before = drained;
        }
        assertThat(before).as("counted at all").isPositive();
    }

    @Test
    void when_every_deployment_of_a_group_is_reduced_alike_what_each_kept_is_everything() throws Exception {
        Pair pair = new Pair(Instant.parse("2031-10-10T10:00:00Z"));
        pair.drainB = 5_000;
        pair.remainingB = 90_000;
        Map<String, Object> reduced = drainUntilReduced(pair);
        assertThat(entry(pair.b)).as("B, draining alike, reduced alike").isNotNull()
                .containsEntry("keepShare", reduced.get("keepShare"));
        UUID predictionId = UUID.fromString((String) reduced.get("predictionId"));
        // The plugin keeps the least at risk of a list in every request: two at 0.2 keep everything, so the drain
        // the remaining traffic shows is the full traffic's, not a fifth of it.
        double before = unreducedDrain(predictionId);
        for (int m = 0; m < 3; m++) {
            pair.minute(300);
            double drained = unreducedDrain(predictionId);
            if (before > 0) {
                assertThat(drained - before).as("minute %d", m + 1).isCloseTo(300, Offset.offset(1e-6));
            }
            before = drained;
        }
        assertThat(before).as("counted at all").isPositive();
    }

    @Test
    void pins_across_a_whole_group_count_what_the_plugin_keeps_relative_to_the_least_at_risk() throws Exception {
        Instant t0 = Instant.parse("2031-10-14T10:00:00Z");
        clock.set(t0);
        String a = "tp-pg-a-" + UUID.randomUUID();
        String b = "tp-pg-b-" + UUID.randomUUID();
        String keyA = TrafficPolicy.key("openai", a);
        String keyB = TrafficPolicy.key("openai", b);
        Map<String, java.util.Set<String>> group = Map.of("tp-pg-group", java.util.Set.of(keyA, keyB));
        // A pin has no model group of its own: its share was taken as what the deployment kept, while the plugin,
        // seeing every candidate at risk, keeps the least at risk in every list and the other relative to it.
        for (double[] pinned : new double[][] { { 0.3, 0.3, 1.0, 1.0 }, { 0.0, 0.0, 1.0, 1.0 },
                { 0.2, 0.8, 0.25, 1.0 } }) {
            pin(a, "{\"provider\":\"openai\",\"keepShare\":" + pinned[0] + "}").statusCode(200);
            pin(b, "{\"provider\":\"openai\",\"keepShare\":" + pinned[1] + "}").statusCode(200);
            try (Connection c = dataSource.getConnection()) {
                Map<String, TrafficPolicy.Kept> kept = policy.sharesInForce(c, t0, group);
                assertThat(kept.get(keyA).share()).as("A pinned %s beside %s", pinned[0], pinned[1])
                        .isCloseTo(pinned[2], CLOSE);
                assertThat(kept.get(keyB).share()).as("B pinned %s beside %s", pinned[1], pinned[0])
                        .isCloseTo(pinned[3], CLOSE);
            }
        }
        authorized().when().delete("/api/v1/traffic-policy/" + a).then().statusCode(204);
        authorized().when().delete("/api/v1/traffic-policy/" + b).then().statusCode(204);
    }

    @Test
    void a_pin_on_a_deployment_alone_in_its_group_keeps_everything_as_the_plugin_applies_it() throws Exception {
        Instant t0 = Instant.parse("2031-10-15T10:00:00Z");
        clock.set(t0);
        String solo = "tp-pin-solo-" + UUID.randomUUID();
        // The plugin never thins a lone candidate: a pin at 0.2 on it keeps every request. Taken as 0.2, a single
        // failing call in a minute was an observed failure, and each minute's drain counted five times over.
        pin(solo, "{\"provider\":\"openai\",\"keepShare\":0.2}").statusCode(200);
        try (Connection c = dataSource.getConnection()) {
            Map<String, TrafficPolicy.Kept> kept = policy.sharesInForce(c, t0,
                    Map.of("tp-pin-solo-group", java.util.Set.of(TrafficPolicy.key("openai", solo))));
            assertThat(kept.get(TrafficPolicy.key("openai", solo)).share()).as("what the lone pinned deployment kept")
                    .isCloseTo(1.0, CLOSE);
        } finally {
            authorized().when().delete("/api/v1/traffic-policy/" + solo).then().statusCode(204);
        }
    }

    @Test
    void a_deployment_alone_in_its_group_is_never_thinned_so_its_prediction_keeps_everything() {
        Pair solo = new Pair(Instant.parse("2031-10-06T10:00:00Z"));
        solo.withB = false;
        Map<String, Object> reduced = drainUntilReduced(solo);
        assertThat(reduced).containsEntry("soleDeployment", true);
        UUID predictionId = UUID.fromString((String) reduced.get("predictionId"));
        assertThat(store.byId(predictionId).orElseThrow().keptShare()).as("what the plugin kept").isEqualTo(1.0);
    }

    @Test
    void a_deployment_alone_in_its_group_kept_everything_though_its_prediction_weakened_below_the_act_threshold()
            throws Exception {
        Instant t0 = Instant.parse("2031-10-12T10:00:00Z");
        String deployment = "tp-sole-" + UUID.randomUUID();
        PredictedFailure strong = prediction(deployment, 0.9, t0);
        try (Connection c = dataSource.getConnection(); java.sql.PreparedStatement st = c.prepareStatement(
                "insert into failure_predictions (prediction_id, predicted_type, provider, deployment, model_group,"
                        + " confidence, peak_confidence, time_to_failure_ms, recommended_action, indicators,"
                        + " created_at, updated_at, horizon_ms, horizon_ends_at, status) values (?, 'rate_limit',"
                        + " 'openai', ?, 'tp-w-group', 0.9, 0.9, 300000, 'reduce', '{}', ?, ?, 900000, ?, 'active')")) {
            st.setObject(1, strong.predictionId());
            st.setString(2, deployment);
            st.setTimestamp(3, java.sql.Timestamp.from(t0));
            st.setTimestamp(4, java.sql.Timestamp.from(t0));
            st.setTimestamp(5, java.sql.Timestamp.from(strong.horizonEndsAt()));
            st.executeUpdate();
        }
        // The group has no other deployment in the window: the plugin never thins a lone candidate.
        Map<String, java.util.Set<String>> alone = Map.of("tp-w-group",
                java.util.Set.of(TrafficPolicy.key("openai", deployment)));
        applyAt(t0, List.of(strong), alone);
        assertThat(entry(deployment)).containsEntry("soleDeployment", true);
        assertThat(store.byId(strong.predictionId()).orElseThrow().keptShare()).isEqualTo(1.0);
        // The next tick renews it at 0.7: still firing, under the act threshold; the entry holds.
        Instant t1 = t0.plus(Duration.ofMinutes(1));
        PredictedFailure weaker = new PredictedFailure(strong.predictionId(), "rate_limit", "openai", deployment,
                "tp-w-group", 0.7, 0.9, "PT5M", t1.plusSeconds(300), "reduce", Map.of(), t0, t1, "PT15M",
                t1.plus(Duration.ofMinutes(15)), "active", null, null, null, null);
        applyAt(t1, List.of(weaker), alone);
        assertThat(entry(deployment)).as("held").containsEntry("soleDeployment", true);
        assertThat(store.byId(strong.predictionId()).orElseThrow().keptShare())
                .as("what the plugin kept of a lone deployment's traffic").isEqualTo(1.0);
    }

    @Test
    void every_prediction_firing_on_a_reduced_deployment_knows_the_share_it_kept() throws Exception {
        Instant t0 = Instant.parse("2031-10-16T10:00:00Z");
        String deployment = "tp-two-types-" + UUID.randomUUID();
        PredictedFailure limit = prediction(deployment, 0.85, t0);
        PredictedFailure slow = new PredictedFailure(UUID.randomUUID(), "timeout", "openai", deployment,
                "tp-w-group", 0.9, 0.9, "PT5M", t0.plusSeconds(300), "reduce", Map.of(), t0, t0, "PT15M",
                t0.plus(Duration.ofMinutes(15)), "active", null, null, null, null);
        insertActive(limit, t0);
        insertActive(slow, t0);
        // Both fire above the act threshold; the deployment is cut once, for the more confident one. The rate-limit
        // prediction lived under that cut all the same: without its kept share it could never be judged prevented,
        // and a cut that spared the limit counted as its false alarm.
        applyAt(t0, List.of(limit, slow), besideAnother(deployment));
        assertThat(entry(deployment)).containsEntry("predictedType", "timeout");
        assertThat(store.byId(slow.predictionId()).orElseThrow().keptShare()).isEqualTo(config.keepShare());
        assertThat(store.byId(limit.predictionId()).orElseThrow().keptShare())
                .as("the rate-limit prediction's traffic was cut too").isEqualTo(config.keepShare());
        // The next tick holds the cut while both still fire below the threshold: both keep it.
        Instant t1 = t0.plus(Duration.ofMinutes(1));
        PredictedFailure weakLimit = new PredictedFailure(limit.predictionId(), "rate_limit", "openai", deployment,
                "tp-w-group", 0.6, 0.85, "PT5M", t1.plusSeconds(300), "reduce", Map.of(), t0, t1, "PT15M",
                t1.plus(Duration.ofMinutes(15)), "active", null, null, null, null);
        applyAt(t1, List.of(weakLimit), besideAnother(deployment));
        assertThat(store.byId(limit.predictionId()).orElseThrow().keptShare()).isEqualTo(config.keepShare());
    }

    @Test
    void a_deployment_name_with_a_line_break_cannot_forge_a_line_of_the_policy_log() throws Exception {
        Instant t0 = Instant.parse("2031-10-17T10:00:00Z");
        // Deployment names come from the calls (a refused call's is "litellm:" + the model its caller asked for).
        String forged = "tp-forge-" + UUID.randomUUID() + "\nTraffic policy: restore prod-primary 0.20 -> 1.00 (x)";
        PredictedFailure p = prediction(forged, 0.9, t0);
        insertActive(p, t0);
        List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                lines.add(r instanceof org.jboss.logmanager.ExtLogRecord e ? e.getFormattedMessage() : r.getMessage());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        java.util.logging.Logger logger = java.util.logging.Logger.getLogger(TrafficPolicy.class.getName());
        logger.addHandler(capture);
        try {
            applyAt(t0, List.of(p), besideAnother(forged));
        } finally {
            logger.removeHandler(capture);
        }
        assertThat(lines).as("the reduction is logged").anySatisfy(l -> assertThat(l).contains("reduce tp-forge-"));
        assertThat(lines).as("each action one line").allSatisfy(l -> assertThat(l).doesNotContain("\n"));
        assertThat(entry(forged)).as("the policy names the deployment as it came").isNotNull();
    }

    @Test
    void a_pin_over_an_entry_no_longer_in_force_records_the_full_traffic_it_replaced() throws Exception {
        Instant now = Instant.parse("2031-10-18T10:00:00Z");
        clock.set(now);
        String deployment = "tp-pin-stale-" + UUID.randomUUID();
        // The predictor's cut, last renewed before the predictor stopped: not published, so the deployment has all.
        try (Connection c = dataSource.getConnection(); java.sql.PreparedStatement st = c.prepareStatement("insert"
                + " into traffic_policy (deployment, provider, model_group, keep_share, state, reason, since, until,"
                + " updated_at) values (?, 'openai', 'tp-stale-group', 0.2, 'reduced', 'prediction', ?, ?, ?)")) {
            Instant renewed = now.minus(config.staleAfter()).minusSeconds(60);
            st.setString(1, deployment);
            st.setTimestamp(2, java.sql.Timestamp.from(renewed));
            st.setTimestamp(3, java.sql.Timestamp.from(renewed.plusSeconds(900)));
            st.setTimestamp(4, java.sql.Timestamp.from(renewed));
            st.executeUpdate();
        }
        assertThat(entry(deployment)).as("not in force").isNull();
        pin(deployment, "{\"provider\":\"openai\",\"keepShare\":0.5}").statusCode(200);
        JsonPath actions = given().when().get("/api/v1/traffic-policy/actions?deployment=" + deployment).then()
                .statusCode(200).extract().jsonPath();
        assertThat(actions.getString("items[0].action")).isEqualTo("pin");
        assertThat(actions.getDouble("items[0].keepShareBefore")).as("what the deployment had before the pin")
                .isCloseTo(1.0, CLOSE);
        authorized().when().delete("/api/v1/traffic-policy/" + deployment).then().statusCode(204);
    }

    private void insertActive(PredictedFailure p, Instant at) throws Exception {
        try (Connection c = dataSource.getConnection(); java.sql.PreparedStatement st = c.prepareStatement(
                "insert into failure_predictions (prediction_id, predicted_type, provider, deployment, model_group,"
                        + " confidence, peak_confidence, time_to_failure_ms, recommended_action, indicators,"
                        + " created_at, updated_at, horizon_ms, horizon_ends_at, status) values (?, ?, 'openai', ?,"
                        + " ?, ?, ?, 300000, 'reduce', '{\"fitted_remaining_now\": 40000}', ?, ?, 900000, ?,"
                        + " 'active')")) {
            st.setObject(1, p.predictionId());
            st.setString(2, p.predictedType());
            st.setString(3, p.deployment());
            st.setString(4, p.modelGroup());
            st.setDouble(5, p.confidence());
            st.setDouble(6, p.confidence());
            st.setTimestamp(7, java.sql.Timestamp.from(at));
            st.setTimestamp(8, java.sql.Timestamp.from(at));
            st.setTimestamp(9, java.sql.Timestamp.from(p.horizonEndsAt()));
            st.executeUpdate();
        }
    }

    /** The window's candidate lists: one model group of one proxy, the OpenAI deployment beside another. */
    private static Map<String, java.util.Set<String>> besideAnother(String deployment) {
        return Map.of("tp-w-group", java.util.Set.of(TrafficPolicy.key("openai", deployment),
                TrafficPolicy.key("openai", "tp-w-other")));
    }

    private void applyAt(Instant now, List<PredictedFailure> firing, Map<String, java.util.Set<String>> groups)
            throws Exception {
        clock.set(now);
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            policy.apply(c, now, firing, groups, new TrafficPolicy.Unhealthy(Map.of(),
                    java.util.Set.of()));
            c.commit();
        }
    }

    @Test
    void a_false_alarm_whose_failure_shows_late_within_its_horizon_becomes_a_hit() {
        Pair pair = new Pair(Instant.parse("2031-10-07T10:00:00Z"));
        Map<String, Object> reduced = drainUntilReduced(pair);
        UUID predictionId = UUID.fromString((String) reduced.get("predictionId"));
        pair.remaining = 100_000;
        for (int m = 0; m < 25 && store.byId(predictionId).orElseThrow().status().equals("active"); m++) {
            pair.minute(0);
        }
        PredictedFailure resolved = store.byId(predictionId).orElseThrow();
        assertThat(resolved.status()).isEqualTo("false_alarm");
        // A's 429s from the last half minute of its horizon arrive now (the plugin's spool after an outage).
        Instant at = resolved.horizonEndsAt().minusSeconds(30);
        List<Payloads> late = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            late.add(Payloads.failure("openai", pair.group, pair.a, at.plusSeconds(i), 429, "RateLimitError",
                    "Rate limit reached for tokens"));
        }
        Api.ingest(Payloads.array(late.toArray(Payloads[]::new))).statusCode(200);
        pair.minute(0);
        PredictedFailure now = store.byId(predictionId).orElseThrow();
        assertThat(now.status()).as("the failure it announced came").isEqualTo("hit");
        // Payloads.failure answers in 200 ms (test clock): the onset is the first failing call's end.
        assertThat(now.failureOnset()).isEqualTo(at.plusMillis(200));
    }

    private double unreducedDrain(UUID predictionId) throws Exception {
        try (Connection c = dataSource.getConnection();
                java.sql.PreparedStatement st = c.prepareStatement("select coalesce(action_unreduced_drain, 0)"
                        + " from failure_predictions where prediction_id = ?")) {
            st.setObject(1, predictionId);
            try (java.sql.ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).isTrue();
                return rs.getDouble(1);
            }
        }
    }

    private static PredictedFailure prediction(String deployment, double confidence, Instant now) {
        return new PredictedFailure(UUID.randomUUID(), "rate_limit", "openai", deployment, "tp-w-group", confidence,
                confidence, "PT5M", now.plusSeconds(300), "reduce", Map.of(), now, now, "PT15M",
                now.plus(Duration.ofMinutes(15)), "active", null, null, null, null);
    }

    @Test
    void an_operator_pin_beats_the_predictor_until_it_is_removed() {
        Pair pair = new Pair(Instant.parse("2031-07-02T10:00:00Z"));
        clock.set(pair.t0);
        given().contentType("application/json").body("{\"keepShare\":1.0}").when()
                .put("/api/v1/traffic-policy/" + pair.a).then().statusCode(401);
        pin(pair.a, "{\"provider\":\"openai\",\"keepShare\":1.0,\"reason\":\"control group\"}").statusCode(200)
                .body("state", equalTo("pinned")).body("keepShare", equalTo(1.0f))
                .body("reason", equalTo("control group"));
        for (int m = 0; m < 10; m++) {
            pair.minute(5_000);
        }
        assertThat(store.active(pair.a)).as("the drain is predicted").isNotEmpty();
        assertThat(store.active(pair.a).get(0).confidence()).isGreaterThan(config.actAbove());
        assertThat(store.active(pair.a).get(0).keptShare()).as("a pin at 1.0 kept everything: judged on what happens")
                .isEqualTo(1.0);
        assertThat(entry(pair.a)).as("but the pin holds").containsEntry("state", "pinned")
                .containsEntry("keepShare", 1.0f);
        assertThat(actionsOf(pair.a)).containsExactly("pin");

        authorized().when().delete("/api/v1/traffic-policy/" + pair.a).then().statusCode(204);
        authorized().when().delete("/api/v1/traffic-policy/" + pair.a).then().statusCode(404).contentType(PROBLEM);
        pair.minute(5_000);
        assertThat(entry(pair.a)).as("the predictor decides again").containsEntry("state", "reduced");
        assertThat(actionsOf(pair.a)).containsExactly("reduce", "unpin", "pin");
    }

    @Test
    void a_pin_answers_what_a_read_of_the_policy_shows_afterwards() {
        // The clock at a nanosecond: the database keeps microseconds, and the PUT's answer said the nanoseconds.
        clock.set(Instant.parse("2031-10-21T10:00:00.123456789Z"));
        String deployment = "tp-echo-" + UUID.randomUUID();
        Map<String, Object> answered = pin(deployment, "{\"provider\":\"openai\",\"keepShare\": -0.0}")
                .statusCode(200).extract().jsonPath()
                .getMap("");
        Map<String, Object> read = entry(deployment);
        assertThat(answered.get("since")).as("since").isEqualTo(read.get("since"))
                .isEqualTo("2031-10-21T10:00:00.123456Z");
        assertThat(read.get("keepShare")).as("a negative zero is zero").isEqualTo(0.0f);
        assertThat(answered.get("keepShare")).isEqualTo(read.get("keepShare"));
        authorized().when().delete("/api/v1/traffic-policy/" + deployment).then().statusCode(204);
    }

    @Test
    void a_pin_committed_while_a_tick_reduces_the_same_deployment_is_not_overwritten_by_the_tick() throws Exception {
        Instant t0 = Instant.parse("2031-10-20T10:00:00Z");
        clock.set(t0);
        String deployment = "tp-race-" + UUID.randomUUID();
        PredictedFailure confident = prediction(deployment, 0.95, t0);
        java.util.concurrent.CompletableFuture<Void> tick;
        try (Connection operator = dataSource.getConnection()) {
            // The operator's pin has written its row (a new deployment: no row to lock before) but not committed
            // when the tick reads the policy's rows; the tick's write of the same deployment then waits for it.
            operator.setAutoCommit(false);
            try (java.sql.PreparedStatement st = operator.prepareStatement("insert into traffic_policy (deployment,"
                    + " provider, keep_share, state, reason, since, updated_at) values (?, 'openai', 1.0, 'pinned',"
                    + " 'control group', ?, ?)")) {
                st.setString(1, deployment);
                st.setTimestamp(2, java.sql.Timestamp.from(t0));
                st.setTimestamp(3, java.sql.Timestamp.from(t0));
                st.executeUpdate();
            }
            tick = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    applyAt(t0, List.of(confident), besideAnother(deployment));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            awaitLockWaiter(tick);
            operator.commit();
        }
        tick.get(60, java.util.concurrent.TimeUnit.SECONDS); // a guard against a hang, not a measure
        assertThat(entry(deployment)).as("the operator's pin holds").containsEntry("state", "pinned")
                .containsEntry("keepShare", 1.0f).containsEntry("reason", "control group");
    }

    /** Waits until the tick waits for a lock of the policy behind the uncommitted pin; fails if it never does. */
    private void awaitLockWaiter(java.util.concurrent.CompletableFuture<Void> tick) throws Exception {
        try (Connection c = dataSource.getConnection(); java.sql.PreparedStatement st = c.prepareStatement(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                        + " and query like '%traffic_policy%' and pid <> pg_backend_pid()")) {
            for (int i = 0; i < 600_000 && !tick.isDone(); i++) {
                try (java.sql.ResultSet rs = st.executeQuery()) {
                    rs.next();
                    if (rs.getLong(1) > 0) {
                        return;
                    }
                }
            }
        }
        throw new AssertionError("the tick never waited for the pin's row (tick done: " + tick.isDone() + ")");
    }

    @Test
    void a_predictor_that_stopped_ticking_keeps_no_traffic_away_but_a_pin_stays_until_it_ends() {
        Pair pair = new Pair(Instant.parse("2031-07-03T10:00:00Z"));
        for (int m = 0; m < 12 && entry(pair.a) == null; m++) {
            pair.minute(5_000);
        }
        assertThat(entry(pair.a)).as("reduced").isNotNull();
        Instant until = clock.instant().plus(config.staleAfter()).plus(Duration.ofMinutes(5));
        pin(pair.b, "{\"provider\":\"openai\",\"keepShare\":0.5,\"until\":\"" + until + "\"}").statusCode(200);

        clock.set(clock.instant().plus(config.staleAfter()).plusSeconds(1));
        assertThat(entry(pair.a)).as("no tick renewed it within stale-after").isNull();
        assertThat(entry(pair.b)).as("the operator's pin does not go stale").containsEntry("keepShare", 0.5f);
        clock.set(until.plusSeconds(1));
        assertThat(entry(pair.b)).as("the pin ended").isNull();
    }

    @Test
    void the_keep_share_gauge_follows_the_policy() {
        Pair pair = new Pair(Instant.parse("2031-07-04T10:00:00Z"));
        clock.set(pair.t0);
        pin(pair.a, "{\"provider\":\"openai\",\"keepShare\":0.3}").statusCode(200);
        policy.refreshGauges();
        assertThat(Metrics.value(Metrics.scrape(), "faultline_traffic_keep_share", "deployment", pair.a))
                .isEqualTo(0.3);
        authorized().when().delete("/api/v1/traffic-policy/" + pair.a).then().statusCode(204);
        policy.refreshGauges();
        assertThat(Metrics.value(Metrics.scrape(), "faultline_traffic_keep_share", "deployment", pair.a))
                .as("restored").isEqualTo(1.0);
    }

    @Test
    void bad_pins_are_problems_naming_the_field() {
        clock.set(Instant.parse("2031-07-05T10:00:00Z"));
        for (String[] bad : List.of(new String[] { "{}", "keepShare" }, new String[] { "{\"keepShare\":1.5}",
                "keepShare" }, new String[] { "{\"keepShare\":\"half\"}", "keepShare" },
                new String[] { "{\"keepShare\":0.5,\"share\":1}", "share" },
                new String[] { "{\"keepShare\":0.5,\"until\":\"2031-07-05T09:00:00Z\"}", "until" },
                new String[] { "{\"keepShare\":0.5,\"until\":\"tomorrow\"}", "until" },
                new String[] { "{\"keepShare\":0.5,\"reason\":\"a\\u0000b\"}", "reason" },
                new String[] { "[0.5]", "$" })) {
            pin("tp-bad", bad[0]).statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo(bad[1]));
        }
        pin("tp-bad", "{\"keepShare\":").statusCode(400).contentType(PROBLEM);
        pin("x".repeat(201), "{\"keepShare\":0.5}").statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("deployment"));
        given().when().get("/api/v1/traffic-policy/actions?since=later").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("since"));
        given().when().get("/api/v1/traffic-policy/actions?cursor=%21").then().statusCode(400).contentType(PROBLEM);
        assertThat(actionsOf("tp-bad")).isEmpty();
    }

    @Test
    void a_reason_that_could_not_be_stored_or_logged_as_written_is_refused_naming_it() {
        clock.set(Instant.parse("2031-07-05T11:00:00Z"));
        // A lone surrogate: UTF-8 cannot hold it, the driver stored '?' while the answer echoed it as sent.
        // A line break or another control character: the action's log line would carry a forged second line.
        for (String reason : List.of("a\\ud800b", "done\\n2031-07-05 11:00:00,000 INFO forged",
                "tab\\tbell\\u0007")) {
            pin("tp-bad-reason", "{\"keepShare\":0.5,\"reason\":\"" + reason + "\"}").statusCode(400)
                    .contentType(PROBLEM).body("errors[0].field", equalTo("reason"));
        }
        assertThat(entry("tp-bad-reason")).isNull();
        assertThat(actionsOf("tp-bad-reason")).isEmpty();
        pin("tp-bad-reason", "{\"provider\":\"openai\",\"keepShare\":0.5,"
                + "\"reason\":\"canary \\ud83d\\ude80 caf\\u00e9\"}").statusCode(200)
                .body("reason", equalTo("canary \ud83d\ude80 caf\u00e9"));
        assertThat(entry("tp-bad-reason")).containsEntry("reason", "canary \ud83d\ude80 caf\u00e9");
        authorized().when().delete("/api/v1/traffic-policy/tp-bad-reason").then().statusCode(204);
    }

    @Test
    void a_reason_quoting_a_key_or_an_e_mail_is_stored_and_shown_masked() throws Exception {
        clock.set(Instant.parse("2031-07-06T11:00:00Z"));
        String key = "sk-proj-" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd";
        String deployment = "tp-masked-" + UUID.randomUUID();
        // An operator pastes what the incident channel said; the policy goes to every proxy's plugin (ingest key),
        // the actions to every dashboard, and the reason to the log.
        pin(deployment, "{\"provider\":\"openai\",\"keepShare\":0.5,\"reason\":\"key " + key
                + " leaked, per jane.doe@corp.example\"}")
                .statusCode(200).body("reason", equalTo("key [secret] leaked, per [email]"));
        assertThat(entry(deployment)).containsEntry("reason", "key [secret] leaked, per [email]");
        assertThat(given().when().get("/api/v1/traffic-policy/actions?deployment=" + deployment).then()
                .statusCode(200).extract().jsonPath().getList("items.reason", String.class))
                .containsExactly("key [secret] leaked, per [email]");
        try (Connection c = dataSource.getConnection(); var st = c.prepareStatement("select reason from"
                + " traffic_policy where deployment = ? union all select reason from traffic_policy_actions"
                + " where deployment = ?")) {
            st.setString(1, deployment);
            st.setString(2, deployment);
            try (var rs = st.executeQuery()) {
                int rows = 0;
                while (rs.next()) {
                    rows++;
                    assertThat(rs.getString(1)).doesNotContain(key).doesNotContain("jane.doe");
                }
                assertThat(rows).isEqualTo(2);
            }
        }
        authorized().when().delete("/api/v1/traffic-policy/" + deployment).then().statusCode(204);
    }

    @Test
    void the_policy_names_its_refresh_and_staleness_for_the_plugin() {
        given().when().get("/api/v1/traffic-policy").then().statusCode(200)
                .body("preemption", equalTo(true))
                .body("refreshSeconds", equalTo((int) config.refresh().toSeconds()))
                .body("staleAfterSeconds", equalTo((int) config.staleAfter().toSeconds()));
    }

    private static Map<String, Object> entry(String deployment) {
        List<Map<String, Object>> all = given().when().get("/api/v1/traffic-policy").then().statusCode(200).extract()
                .jsonPath().getList("deployments");
        return all.stream().filter(e -> deployment.equals(e.get("deployment"))).findFirst().orElse(null);
    }

    private static List<String> actionsOf(String deployment) {
        return given().when().get("/api/v1/traffic-policy/actions?deployment=" + deployment).then().statusCode(200)
                .extract().jsonPath().getList("items.action", String.class);
    }

    private static io.restassured.specification.RequestSpecification authorized() {
        return given().header("Authorization", "Bearer " + Api.KEY);
    }

    private static ValidatableResponse pin(String deployment, String body) {
        return authorized().contentType("application/json").body(body).when()
                .put("/api/v1/traffic-policy/" + deployment).then().log().ifValidationFails();
    }

    private static JsonPath evaluate() {
        return authorized().when().post("/api/v1/predictions/evaluate").then().log().ifValidationFails()
                .statusCode(200).body("ran", equalTo(true)).extract().jsonPath();
    }
}
