package io.faultline.predict;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.BaselineRuns;
import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
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
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * The prediction API end to end on the real ingest path: a draining headroom is predicted once and renewed, listed,
 * scored when the 429s come, exported as a promtool-clean score; the evaluation needs the key; bad parameters are
 * problems naming the parameter; one replica evaluates a scheduled tick; a prediction whose traffic reduction kept
 * the failure away is judged by the "prevented" rule.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PredictionApiTest {

    static final String PROBLEM = "application/problem+json";

    @Inject
    TestClock clock;

    @Inject
    FailurePredictor predictor;

    @Inject
    PredictionStore store;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    TrafficPolicy policy;

    @Inject
    TrafficConfig trafficConfig;

    @Inject
    PredictConfig config;

    @Inject
    io.faultline.common.MetricLabels labels;

    @Inject
    PredictionMetrics predictionMetrics;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void a_draining_headroom_is_predicted_once_renewed_listed_and_scored_as_a_hit_when_the_429s_come()
            throws Exception {
        Instant t0 = Instant.parse("2031-04-01T10:00:00Z");
        String dep = "api-drain-" + UUID.randomUUID();
        PredictionScenarios.Script drain = PredictionScenarios.drain("openai", "tokens", 100_000, 2, 20, 12, false);
        Random rnd = new Random(7);
        for (int m = 0; m < 10; m++) {
            minute(drain, m, t0, rnd, dep);
        }
        given().when().post("/api/v1/predictions/evaluate").then().statusCode(401);

        JsonPath first = evaluate();
        Map<String, Object> p = ofDeployment(first, dep);
        assertThat(p).as("a prediction for " + dep).isNotNull();
        assertThat(p.get("predictedType")).isEqualTo("rate_limit");
        assertThat(p.get("provider")).isEqualTo("openai");
        assertThat(p.get("status")).isEqualTo("active");
        assertThat(((Number) p.get("confidence")).doubleValue()).isBetween(0.5, 1.0);
        Duration ttf = Duration.parse((String) p.get("estimatedTimeToFailure"));
        assertThat(ttf).isBetween(Duration.ofMinutes(5), Duration.ofMinutes(15));
        assertThat(Duration.parse((String) p.get("horizon"))).isEqualTo(Duration.ofMinutes(15));
        @SuppressWarnings("unchecked")
        Map<String, Object> indicators = (Map<String, Object>) p.get("indicators");
        assertThat(indicators).containsEntry("indicator", "headroom_trend").containsEntry("limit_type", "tokens");
        assertThat(indicators.get("resets_at")).isNotNull();
        assertThat((String) p.get("recommendedAction")).contains(dep);
        String id = (String) p.get("predictionId");

        minute(drain, 10, t0, rnd, dep);
        Map<String, Object> renewed = ofDeployment(evaluate(), dep);
        assertThat(renewed.get("predictionId")).as("renewed, not a second row").isEqualTo(id);
        assertThat(Instant.parse((String) renewed.get("updatedAt"))).isAfter(Instant.parse((String) p.get("updatedAt")));
        assertThat(rows(dep)).isEqualTo(1);

        predictions("deployment=" + dep).statusCode(200).body("items.size()", equalTo(1))
                .body("items[0].predictionId", equalTo(id));
        predictions("deployment=" + dep + "&type=timeout").statusCode(200).body("items.size()", equalTo(0));
        predictions("deployment=" + dep + "&status=resolved").statusCode(200).body("items.size()", equalTo(0));
        given().when().get("/api/v1/predictions/" + id).then().statusCode(200).body("deployment", equalTo(dep));
        assertThat(store.active(dep)).extracting(PredictedFailure::predictionId).containsExactly(UUID.fromString(id));

        String scrape = Metrics.scrape();
        assertThat(Metrics.value(scrape, "failure_prediction_score", "provider", "openai", "failure_type",
                "rate_limit")).isGreaterThanOrEqualTo(((Number) renewed.get("confidence")).doubleValue() - 1e-6);
        assertThat(Metrics.value(scrape, "failure_prediction_score", "provider", "openai", "failure_type",
                "overloaded")).isNotNaN();
        assertThat(promtool()).isEmpty();

        for (int m = 11; m < 24; m++) {
            minute(drain, m, t0, rnd, dep);
            evaluate();
        }
        JsonPath hit = predictions("deployment=" + dep + "&status=hit").statusCode(200).extract().jsonPath();
        assertThat(hit.getString("items[0].predictionId")).isEqualTo(id);
        Duration lead = Duration.parse(hit.getString("items[0].leadTime"));
        assertThat(lead).as("announced well before the first 429").isGreaterThanOrEqualTo(Duration.ofMinutes(2));
        assertThat(Instant.parse(hit.getString("items[0].failureOnset"))).isAfter(t0.plus(Duration.ofMinutes(19)));
        given().when().get("/api/v1/predictions/accuracy?since=" + t0).then().statusCode(200)
                .body("overall.hits", org.hamcrest.Matchers.greaterThanOrEqualTo(1))
                .body("types.find { it.failureType == 'rate_limit' }.announced",
                        org.hamcrest.Matchers.greaterThanOrEqualTo(1));
        assertThat(Metrics.value(Metrics.scrape(), "failure_prediction_precision", "failure_type", "rate_limit"))
                .isBetween(0.0, 1.0);
    }

    @Test
    void a_529_share_rising_on_every_deployment_of_a_provider_is_predicted_provider_wide_warns_only_and_is_a_hit()
            throws Exception {
        Instant t0 = Instant.parse("2031-06-01T10:00:00Z");
        String provider = "anthropic-org-" + UUID.randomUUID().toString().substring(0, 8);
        List<String> deps = List.of(provider + "-a", provider + "-b", provider + "-c");
        PredictionScenarios.Script rising = PredictionScenarios.asProvider(provider, PredictionScenarios.rising(
                "anthropic", 12, m -> m < 5 ? 0 : 0.4 * (m - 5) / 25.0, 529, "InternalServerError",
                "AnthropicException - overloaded_error: Overloaded"));
        List<Random> seeds = List.of(new Random(1), new Random(2), new Random(3));
        Map<String, Object> first = null;
        int m = 0;
        for (; m < 40 && first == null; m++) {
            for (int i = 0; i < deps.size(); i++) {
                minute(rising, m, t0, seeds.get(i), deps.get(i));
            }
            first = ofDeployment(evaluate(), "*");
            if (first != null && !provider.equals(first.get("provider"))) {
                first = null;
            }
        }
        assertThat(first).as("a provider-level prediction for " + provider).isNotNull();
        assertThat(first.get("predictedType")).isEqualTo("overloaded");
        assertThat(first.get("modelGroup")).isNull();
        @SuppressWarnings("unchecked")
        Map<String, Object> indicators = (Map<String, Object>) first.get("indicators");
        assertThat(indicators).containsEntry("scope", "provider").containsEntry("deployments", 3);
        assertThat(((Number) indicators.get("deployments_failing")).intValue()).isGreaterThanOrEqualTo(2);
        assertThat((String) first.get("recommendedAction")).startsWith("Provider-wide").contains(provider);
        String id = (String) first.get("predictionId");

        predictions("provider=" + provider + "&deployment=*").statusCode(200).body("items.size()", equalTo(1))
                .body("items[0].predictionId", equalTo(id));
        String scrape = Metrics.scrape();
        assertThat(Metrics.value(scrape, "failure_prediction_score", "provider", labels.value("provider", provider),
                "failure_type", "overloaded")).isGreaterThanOrEqualTo(((Number) first.get("confidence")).doubleValue()
                        - 1e-6);
        // It warns: no deployment's share moves because of it.
        assertThat(policy.current().deployments()).noneMatch(e -> UUID.fromString(id).equals(e.predictionId()));

        for (; m < 45; m++) {
            for (int i = 0; i < deps.size(); i++) {
                minute(rising, m, t0, seeds.get(i), deps.get(i));
            }
            evaluate();
        }
        PredictedFailure resolved = store.byId(UUID.fromString(id)).orElseThrow();
        assertThat(resolved.status()).as("hit by the first of its deployments to fail").isEqualTo("hit");
        assertThat(resolved.deployment()).isEqualTo("*");
        assertThat(Duration.parse(resolved.leadTime())).isPositive();
        assertThat(rowsOf(provider)).as("one active row per provider and type at a time: renewed, not repeated")
                .isEqualTo(1);
    }

    @Test
    void a_prediction_whose_traffic_reduction_kept_the_headroom_from_running_out_is_prevented_not_a_false_alarm() {
        Instant t0 = Instant.parse("2031-05-01T10:00:00Z");
        String dep = "api-prevented-" + UUID.randomUUID();
        // A second deployment of the group, healthy: the plugin never thins a deployment alone in its group.
        String other = "api-prevented-b-" + UUID.randomUUID();
        String group = "api-prevented-group-" + UUID.randomUUID();
        long remaining = 90_000;
        UUID id = null;
        int resetAt = Integer.MAX_VALUE;
        for (int m = 0; m < 45; m++) {
            // Full traffic drains 5,000 a minute; the plugin keeps the share the policy published for the minute.
            // A quarter of an hour after the reduction the provider's window resets, and the demand is gone: at
            // full traffic the headroom would have run out before (about 65,000 left at 5,000 a minute).
            double kept = policy.current().deployments().stream().filter(e -> e.deployment().equals(dep))
                    .mapToDouble(TrafficPolicy.Entry::keepShare).findFirst().orElse(1.0);
            if (m == resetAt) {
                remaining = 100_000;
            }
            long drain = m >= resetAt ? 0 : Math.round(5_000 * kept);
            remaining = drainMinute(group, dep, other, t0.plus(Duration.ofMinutes(m)), remaining, drain);
            if (id == null && policy.current().deployments().stream().anyMatch(e -> e.deployment().equals(dep))) {
                id = policy.current().deployments().stream().filter(e -> e.deployment().equals(dep))
                        .findFirst().orElseThrow().predictionId();
                resetAt = m + 15;
            }
        }
        assertThat(id).as("the drain was predicted and the policy acted on it").isNotNull();
        PredictedFailure p = store.byId(id).orElseThrow();
        assertThat(remaining).as("the headroom never ran out").isGreaterThan(0);
        assertThat(p.status()).isEqualTo("prevented");
        assertThat(p.keptShare()).isEqualTo(trafficConfig.keepShare());
    }

    @Test
    void a_prediction_that_an_operators_pin_below_full_traffic_kept_from_failing_is_prevented_not_a_false_alarm() {
        Instant t0 = Instant.parse("2031-05-03T10:00:00Z");
        String dep = "api-pinned-" + UUID.randomUUID();
        String other = "api-pinned-b-" + UUID.randomUUID();
        String group = "api-pinned-group-" + UUID.randomUUID();
        // An operator holds the deployment at half its traffic (a canary) before anything is predicted.
        clock.set(t0);
        given().header("Authorization", "Bearer " + Api.KEY).contentType("application/json")
                .body("{\"provider\":\"openai\",\"keepShare\":0.5,\"reason\":\"canary\"}").when()
                .put("/api/v1/traffic-policy/" + dep)
                .then().statusCode(200);
        long remaining = 90_000;
        UUID id = null;
        int resetAt = Integer.MAX_VALUE;
        for (int m = 0; m < 40; m++) {
            // Full traffic would drain 10,000 a minute; the plugin keeps the pinned half. Eight minutes after the
            // prediction the window resets and the demand is gone: at full traffic the headroom ran out before.
            if (m == resetAt) {
                remaining = 100_000;
            }
            long drain = m >= resetAt ? 0 : 5_000;
            remaining = drainMinute(group, dep, other, t0.plus(Duration.ofMinutes(m)), remaining, drain);
            if (id == null && !store.active(dep).isEmpty()) {
                id = store.active(dep).get(0).predictionId();
                resetAt = m + 8;
            }
        }
        assertThat(id).as("the drain was predicted").isNotNull();
        assertThat(policy.current().deployments()).as("the pin held throughout")
                .anyMatch(e -> e.deployment().equals(dep) && e.state().equals("pinned"));
        PredictedFailure p = store.byId(id).orElseThrow();
        assertThat(remaining).as("the headroom never ran out").isGreaterThan(0);
        assertThat(p.keptShare()).as("what the pin kept").isEqualTo(0.5);
        assertThat(p.status()).isEqualTo("prevented");
    }

    /**
     * A profile is stored under the normalised provider (text-completion-openai is openai) while the plugin stores
     * each call under the provider LiteLLM logged: the latency trend of those calls is judged against that profile,
     * not against the 60 s timeout alone.
     */
    @Test
    void a_latency_rise_on_a_variant_of_the_profiled_provider_is_judged_against_its_profile() throws Exception {
        Instant t0 = Instant.parse("2034-03-01T10:00:00Z").plusSeconds(new Random().nextInt(100_000) * 60L);
        String provider = "var" + Long.toHexString(System.nanoTime());
        String label = "text-completion-" + provider; // LiteLLM's variant; a run is locked on the normalised name
        String group = "api-variant-group-" + UUID.randomUUID();
        String dep = "api-variant-" + UUID.randomUUID();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "insert into provider_baselines (baseline_id, provider, model, deployment, metric_name, p50, p95,"
                        + " p99, mean, sample_size, source, run_id, measured_at) values (gen_random_uuid(), ?, ?,"
                        + " null, 'latency_ms', 300, 470, 480, 290, 40, 'profile', ?, ?)")) {
            // The group's profile only (none of dep): it alone can be the reference of dep's calls.
            st.setString(1, provider);
            st.setString(2, group);
            st.setObject(3, BaselineRuns.completed(dataSource, provider, group, 40));
            st.setTimestamp(4, java.sql.Timestamp.from(t0));
            st.executeUpdate();
        }
        // Latency rises 50 ms a minute from 300 ms: past the profile's p95 now, twice it within minutes, the
        // timeout not within the horizon.
        for (int m = 0; m < 10; m++) {
            Instant start = t0.plus(Duration.ofMinutes(m));
            List<Payloads> calls = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                calls.add(Payloads.success(label, group, dep, start.plusSeconds(i * 10L)).latency(0.3 + 0.05 * m));
            }
            clock.set(start.plus(Duration.ofMinutes(1)));
            Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        }
        Map<String, Object> p = ofDeployment(evaluate(), dep);
        assertThat(p).as("a prediction for " + dep).isNotNull();
        assertThat(p.get("predictedType")).isEqualTo("timeout");
        @SuppressWarnings("unchecked")
        Map<String, Object> indicators = (Map<String, Object>) p.get("indicators");
        assertThat(indicators).containsEntry("indicator", "latency_trend").containsEntry("target", "baseline_factor");
        assertThat(((Number) indicators.get("baseline_p95_ms")).longValue()).isEqualTo(470L);
    }

    @Test
    void a_headroom_that_stopped_draining_when_its_calls_stopped_is_not_projected_through_the_silence() {
        Instant t0 = Instant.parse("2034-02-01T10:00:00Z");
        String dep = "api-burst-" + UUID.randomUUID();
        String other = "api-burst-b-" + UUID.randomUUID();
        String group = "api-burst-group-" + UUID.randomUUID();
        // A batch drains 4,000 tokens a minute for six minutes (76,000 of 100,000 left: 19 minutes at that pace,
        // beyond the horizon), then stops calling; the counter drains only with calls, so it stays at 76,000.
        long remaining = 100_000;
        for (int m = 0; m < 15; m++) {
            List<Payloads> calls = new ArrayList<>();
            Instant start = t0.plus(Duration.ofMinutes(m));
            for (int i = 0; i < 10; i++) {
                Instant at = start.plusSeconds(i * 6L);
                if (m < 6) {
                    remaining -= 400;
                    calls.add(headroomCall(group, dep, at, remaining, "20h0m0s"));
                }
                calls.add(Payloads.success("openai", group, other, at.plusSeconds(3)).latency(0.5));
            }
            clock.set(start.plus(Duration.ofMinutes(1)));
            Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
            evaluate();
            assertThat(store.active(dep)).as("active predictions of the idle deployment at minute %d", m + 1)
                    .isEmpty();
            assertThat(policy.current().deployments()).as("policy at minute %d", m + 1)
                    .noneMatch(e -> e.deployment().equals(dep));
        }
    }

    @Test
    void the_score_of_a_prediction_whose_horizon_ended_while_no_tick_ran_drops_to_zero() {
        Instant t0 = Instant.parse("2034-03-01T10:00:00Z");
        String provider = "openai-org-" + UUID.randomUUID().toString().substring(0, 8);
        String dep = "api-expired-" + UUID.randomUUID();
        PredictionScenarios.Script drain = PredictionScenarios.asProvider(provider,
                PredictionScenarios.drain("openai", "tokens", 100_000, 2, 20, 12, false));
        Random rnd = new Random(11);
        for (int m = 0; m < 10; m++) {
            minute(drain, m, t0, rnd, dep);
        }
        Map<String, Object> p = ofDeployment(evaluate(), dep);
        assertThat(p).as("a prediction for " + dep).isNotNull();
        String label = labels.value("provider", provider);
        assertThat(Metrics.value(Metrics.scrape(), "failure_prediction_score", "provider", label, "failure_type",
                "rate_limit")).isGreaterThan(0.5);

        // The predictor stops (faultline.predict.enabled=false rolled out, or every tick failing): nothing renews
        // the prediction or resolves it, and its horizon ends. What it said is no longer a forecast.
        clock.set(Instant.parse((String) p.get("horizonEndsAt")).plusSeconds(60));
        predictionMetrics.refresh();
        assertThat(Metrics.value(Metrics.scrape(), "failure_prediction_score", "provider", label, "failure_type",
                "rate_limit")).as("the score once its horizon ended").isZero();
    }

    /**
     * Minutes of a token headroom draining 5,000 a minute, until a prediction of the drain is active (at most 12);
     * returns the next minute.
     */
    private int drainUntilPredicted(Instant t0, String dep, String group, long[] remaining) {
        int m = 0;
        for (; m < 12 && store.active(dep).isEmpty(); m++) {
            tokensMinute(t0, m, dep, group, remaining, 5_000, 0);
        }
        assertThat(store.active(dep)).as("the drain is predicted").hasSize(1);
        return m;
    }

    @Test
    void a_prediction_that_already_hit_one_failure_does_not_announce_the_next_failure_of_its_deployment() {
        Instant t0 = Instant.parse("2034-04-01T10:00:00Z");
        String dep = "api-twice-" + UUID.randomUUID();
        String group = "api-twice-group-" + UUID.randomUUID();
        long[] remaining = { 90_000 };
        // The token headroom drains 5,000 a minute until it is predicted to run out.
        int m = drainUntilPredicted(t0, dep, group, remaining);
        UUID id = store.active(dep).get(0).predictionId();
        for (int i = 0; i < 3; i++) {
            tokensMinute(t0, m++, dep, group, remaining, 5_000, 0);
        }
        // A minute of 429s: the failure it predicted, three minutes ahead.
        tokensMinute(t0, m++, dep, group, remaining, 5_000, 10);
        assertThat(store.byId(id).orElseThrow().status()).isEqualTo("hit");
        // The limit resets and the callers slow down: eleven quiet minutes without a prediction, then 429s again,
        // still within the horizon the old prediction had when it was last renewed.
        remaining[0] = 100_000;
        for (int i = 0; i < 11; i++) {
            tokensMinute(t0, m++, dep, group, remaining, 0, 0);
            assertThat(store.active(dep)).as("nothing predicted %d minutes after the failure", i + 1).isEmpty();
        }
        Instant secondMinute = t0.plus(Duration.ofMinutes(m));
        tokensMinute(t0, m++, dep, group, remaining, 0, 10);
        assertThat(secondMinute).isBefore(store.byId(id).orElseThrow().horizonEndsAt());
        JsonPath accuracy = given().when().get("/api/v1/predictions/accuracy?since=" + t0 + "&until="
                + t0.plus(Duration.ofHours(1))).then().statusCode(200).extract().jsonPath();
        assertThat(accuracy.getInt("overall.failures")).as("two failures observed").isEqualTo(2);
        assertThat(accuracy.getInt("overall.announced")).as("announced: only the first, by a prediction that was"
                + " live before it").isEqualTo(1);
        assertThat(accuracy.getInt("overall.hits")).isEqualTo(1);
    }

    @Test
    void a_deployment_named_like_the_provider_level_is_not_announced_by_another_providers_prediction()
            throws Exception {
        Instant t0 = Instant.parse("2035-03-01T10:00:00Z");
        String elsewhere = "api-elsewhere-" + UUID.randomUUID().toString().substring(0, 8);
        // Another provider's provider-level prediction, live across the minute below.
        UUID foreign = UUID.randomUUID();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "insert into failure_predictions (prediction_id, predicted_type, provider, deployment, confidence,"
                        + " peak_confidence, time_to_failure_ms, recommended_action, indicators, created_at,"
                        + " updated_at, horizon_ms, horizon_ends_at, status) values (?, 'rate_limit', ?, '*', 0.9,"
                        + " 0.9, 300000, 'route elsewhere', '{}', ?, ?, 900000, ?, 'active')")) {
            st.setObject(1, foreign);
            st.setString(2, elsewhere);
            st.setTimestamp(3, Timestamp.from(t0.minus(Duration.ofMinutes(5))));
            st.setTimestamp(4, Timestamp.from(t0.minus(Duration.ofMinutes(5))));
            st.setTimestamp(5, Timestamp.from(t0.plus(Duration.ofMinutes(10))));
            st.executeUpdate();
        }
        // LiteLLM's model_info.id is the caller's to choose: an OpenAI deployment called "*" runs dry.
        tokensMinute(t0, 0, "*", "api-star-group", new long[] { 1_000 }, 0, 10);
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select announced_by from observed_failures where deployment = '*' and provider = 'openai'"
                        + " and onset >= ? and onset < ?")) {
            st.setTimestamp(1, Timestamp.from(t0));
            st.setTimestamp(2, Timestamp.from(t0.plus(Duration.ofMinutes(1))));
            try (ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).as("the failure is observed").isTrue();
                assertThat(rs.getObject(1, UUID.class)).as("announced by " + elsewhere + "'s prediction").isNull();
            }
        }
        assertThat(store.byId(foreign).orElseThrow().status()).as("no hit of the other provider").isEqualTo("active");
    }

    @Test
    void the_drain_of_a_predictions_last_minute_counts_for_the_prevented_rule() throws Exception {
        Instant t0 = Instant.parse("2035-04-01T10:00:00Z");
        String dep = "api-last-minute-" + UUID.randomUUID();
        String group = "api-last-minute-group-" + UUID.randomUUID();
        // A reduced rate-limit prediction whose counterfactual stood 100 tokens short of the 1,000 left at the action
        // when the last tick ran; its horizon ends half a minute into the next one.
        UUID id = reducedRateLimitPrediction(dep, group, t0, t0.plusSeconds(30));
        // One whose horizon had ended before the readings below: what drained after it is none of its business.
        String ended = "api-last-minute-ended-" + UUID.randomUUID();
        UUID endedId = reducedRateLimitPrediction(ended, group, t0, t0.minusSeconds(1));
        // Within its horizon the headroom drains from 500 to 300: full traffic would have run it dry.
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            calls.add(headroomCall(group, dep, t0.plusSeconds(i * 2L), 300, "3h0m0s"));
            calls.add(headroomCall(group, ended, t0.plusSeconds(i * 2L), 300, "3h0m0s"));
        }
        clock.set(t0.plus(Duration.ofMinutes(1)));
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        predictor.predictFailure();
        assertThat(store.byId(id).orElseThrow().status()).as("judged with its last minute's drain")
                .isEqualTo("prevented");
        assertThat(store.byId(endedId).orElseThrow().status()).as("not judged on a drain after its horizon")
                .isEqualTo("false_alarm");
    }

    @Test
    void failing_calls_that_arrive_late_move_the_failures_onset_back_and_a_prediction_made_after_it_is_no_hit()
            throws Exception {
        Instant t0 = Instant.parse("2035-08-01T10:00:00Z");
        String dep = "api-late-onset-" + UUID.randomUUID();
        String group = "api-late-onset-group-" + UUID.randomUUID();
        // Two live predictions of the deployment's rate limit: an earlier one (its provider's, made at t0) and one made
        // at t0 + 5 min.
        UUID early = UUID.randomUUID();
        UUID late = UUID.randomUUID();
        StoredPredictions.insertActive(dataSource,
                early, "openai-late-onset", "*", t0, t0.plus(Duration.ofMinutes(15)));
        StoredPredictions.insertActive(dataSource,
                late, "openai-late-onset", dep, t0.plus(Duration.ofMinutes(5)),
                t0.plus(Duration.ofMinutes(20)));
        // The 429s of minute 6 arrive on time: a failure from 10:06, the hit of both.
        List<Payloads> onTime = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            onTime.add(Payloads.failure("openai-late-onset", group, dep, t0.plus(Duration.ofMinutes(6)).plusSeconds(i),
                    429, "RateLimitError", "Rate limit reached for tokens"));
        }
        clock.set(t0.plus(Duration.ofMinutes(7)));
        Api.ingest(Payloads.array(onTime.toArray(Payloads[]::new))).statusCode(200);
        predictor.predictFailure();
        assertThat(store.byId(late).orElseThrow().status()).isEqualTo("hit");
        // Then another proxy's spool delivers the 429s it had from minute 3 on: the failure began then, before the
        // later prediction was made.
        List<Payloads> delivered = new ArrayList<>();
        Instant trueStart = t0.plus(Duration.ofMinutes(3));
        for (int i = 0; i < 10; i++) {
            delivered.add(Payloads.failure("openai-late-onset", group, dep, trueStart.plusSeconds(i), 429,
                    "RateLimitError", "Rate limit reached for tokens"));
        }
        clock.set(t0.plus(Duration.ofMinutes(8)));
        Api.ingest(Payloads.array(delivered.toArray(Payloads[]::new))).statusCode(200);
        predictor.predictFailure();
        Instant onset = trueStart.plusMillis(200); // Payloads.failure answers in 200 ms
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select onset, announced_by, lead_time_ms from observed_failures where deployment = ?")) {
            st.setString(1, dep);
            try (ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).as("the failure is observed").isTrue();
                assertThat(rs.getTimestamp(1).toInstant()).as("its onset").isEqualTo(onset);
                assertThat(rs.getObject(2, UUID.class)).as("announced by the prediction live before it")
                        .isEqualTo(early);
                assertThat(rs.getLong(3)).isEqualTo(Duration.between(t0, onset).toMillis());
                assertThat(rs.next()).as("one failure").isFalse();
            }
        }
        PredictedFailure earlier = store.byId(early).orElseThrow();
        assertThat(earlier.status()).isEqualTo("hit");
        assertThat(earlier.failureOnset()).as("the earlier prediction's hit, at the onset").isEqualTo(onset);
        assertThat(earlier.leadTime()).isEqualTo(Duration.between(t0, onset).toString());
        PredictedFailure later = store.byId(late).orElseThrow();
        assertThat(later.status()).as("made while the deployment was already failing").isEqualTo("false_alarm");
        assertThat(later.failureOnset()).isNull();
    }

    /** An active rate-limit prediction cut at 1,000 tokens left, 100 short of the counterfactual at 500 left. */
    private UUID reducedRateLimitPrediction(String dep, String group, Instant t0, Instant horizonEnd)
            throws Exception {
        UUID id = UUID.randomUUID();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "insert into failure_predictions (prediction_id, predicted_type, provider, deployment, model_group,"
                        + " confidence, peak_confidence, time_to_failure_ms, recommended_action, indicators,"
                        + " created_at, updated_at, horizon_ms, horizon_ends_at, status, kept_share, action_at,"
                        + " action_remaining, action_last_remaining, action_unreduced_drain) values (?, 'rate_limit',"
                        + " 'openai', ?, ?, 0.9, 0.9, 300000, 'reduce', '{\"limit_type\": \"tokens\","
                        + " \"fitted_remaining_now\": 1000}', ?, ?, 900000, ?, 'active', 0.2, ?, 1000, 500, 900)")) {
            st.setObject(1, id);
            st.setString(2, dep);
            st.setString(3, group);
            st.setTimestamp(4, Timestamp.from(t0.minus(Duration.ofMinutes(14))));
            st.setTimestamp(5, Timestamp.from(t0.minus(Duration.ofMinutes(14))));
            st.setTimestamp(6, Timestamp.from(horizonEnd));
            st.setTimestamp(7, Timestamp.from(t0.minus(Duration.ofMinutes(13))));
            st.executeUpdate();
        }
        return id;
    }

    @Test
    void a_prediction_resolved_after_its_last_renewal_is_listed_as_updated_since_then() {
        Instant t0 = Instant.parse("2034-05-01T10:00:00Z");
        String dep = "api-resolved-" + UUID.randomUUID();
        String group = "api-resolved-group-" + UUID.randomUUID();
        long[] remaining = { 90_000 };
        int m = drainUntilPredicted(t0, dep, group, remaining);
        UUID id = store.active(dep).get(0).predictionId();
        tokensMinute(t0, m++, dep, group, remaining, 5_000, 0);
        // An operator polls the resolutions: everything updated since the last poll, which followed the renewal.
        Instant lastPoll = clock.instant().plusSeconds(1);
        tokensMinute(t0, m++, dep, group, remaining, 5_000, 10);
        PredictedFailure hit = store.byId(id).orElseThrow();
        assertThat(hit.status()).isEqualTo("hit");
        assertThat(hit.resolvedAt()).isAfter(lastPoll);
        predictions("status=resolved&deployment=" + dep + "&since=" + lastPoll).statusCode(200)
                .body("items.size()", equalTo(1)).body("items[0].predictionId", equalTo(id.toString()))
                .body("items[0].status", equalTo("hit"));
        predictions("status=all&deployment=" + dep + "&since=" + hit.resolvedAt().plusSeconds(1)).statusCode(200)
                .body("items.size()", equalTo(0));
    }

    @Test
    void one_deployment_id_under_two_providers_is_two_deployments_to_predict_and_to_score() throws Exception {
        Instant t0 = Instant.parse("2035-06-01T10:00:00Z");
        // LiteLLM's model_info.id is the operator's to choose: two proxies may both call a deployment "primary".
        String dep = "api-twice-named-" + UUID.randomUUID();
        String group = "api-twice-named-group-" + UUID.randomUUID();
        long[] openai = { 90_000 };
        long[] azure = { 90_000 };
        int m = 0;
        for (; m < 12 && store.active(dep).size() < 2; m++) {
            twoProvidersMinute(t0, m, dep, group, openai, 5_000, azure, 5_000, 0);
        }
        assertThat(store.active(dep)).as("each provider's drain predicted on its own")
                .extracting(PredictedFailure::provider).containsExactlyInAnyOrder("openai", "azure");
        UUID openaiId = store.active(dep).stream().filter(p -> p.provider().equals("openai")).findFirst()
                .orElseThrow().predictionId();
        UUID azureId = store.active(dep).stream().filter(p -> p.provider().equals("azure")).findFirst()
                .orElseThrow().predictionId();
        // Only Azure's runs dry; OpenAI's limit resets.
        openai[0] = 100_000;
        twoProvidersMinute(t0, m, dep, group, openai, 0, azure, 5_000, 10);
        assertThat(store.byId(azureId).orElseThrow().status()).as("Azure's prediction").isEqualTo("hit");
        assertThat(store.byId(openaiId).orElseThrow().status()).as("OpenAI's: Azure's failure is not its own")
                .isEqualTo("active");
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select provider, announced_by from observed_failures where deployment = ?")) {
            st.setString(1, dep);
            try (ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).as("the failure is observed").isTrue();
                assertThat(rs.getString(1)).isEqualTo("azure");
                assertThat(rs.getObject(2, UUID.class)).as("announced by Azure's prediction").isEqualTo(azureId);
                assertThat(rs.next()).as("one failure").isFalse();
            }
        }
    }

    @Test
    void a_reset_header_of_one_provider_does_not_excuse_the_drain_of_the_same_id_under_another() {
        Instant t0 = Instant.parse("2035-08-01T10:00:00Z");
        String dep = "api-reset-twice-named-" + UUID.randomUUID();
        String group = "api-reset-twice-named-group-" + UUID.randomUUID();
        long[] openai = { 90_000 };
        long[] azure = { 90_000 };
        // Both drain alike. Azure's limit refills in 20 s, OpenAI's in three hours; Azure's calls come a second
        // after OpenAI's, so the latest reset header of the name, read across providers, is Azure's.
        for (int m = 0; m < 12 && store.active(dep).isEmpty(); m++) {
            List<Payloads> calls = new ArrayList<>();
            Instant start = t0.plus(Duration.ofMinutes(m));
            for (int i = 0; i < 10; i++) {
                openai[0] -= 500;
                azure[0] -= 500;
                calls.add(headroomCall("openai", group, dep, start.plusSeconds(i * 6L), openai[0], "3h0m0s"));
                calls.add(headroomCall("azure", group, dep, start.plusSeconds(i * 6L + 1), azure[0], "20s"));
            }
            clock.set(t0.plus(Duration.ofMinutes(m + 1)));
            Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
            predictor.predictFailure();
        }
        assertThat(store.active(dep)).as("OpenAI's drain predicted; Azure's refills first")
                .extracting(PredictedFailure::provider).containsExactly("openai");
    }

    @Test
    void what_litellm_raised_itself_is_neither_predicted_nor_reduced_nor_scored() throws Exception {
        Instant t0 = Instant.parse("2035-07-01T10:00:00Z");
        // Calls LiteLLM answered itself (provider "litellm"): a caller's virtual key draining the proxy's own token
        // limit, on a model name the caller wrote. A real deployment drains alike beside it, as the control.
        String named = "litellm:callers-model-" + UUID.randomUUID();
        String control = "api-control-" + UUID.randomUUID();
        String group = "api-proxy-group-" + UUID.randomUUID();
        long[] proxy = { 90_000 };
        long[] real = { 90_000 };
        int m = 0;
        for (; m < 12 && store.active(control).isEmpty(); m++) {
            List<Payloads> calls = new ArrayList<>(tokensCalls("litellm", t0, m, named, group, proxy, 5_000, 0));
            calls.addAll(tokensCalls("openai", t0, m, control, group, real, 5_000, 0));
            clock.set(t0.plus(Duration.ofMinutes(m + 1)));
            Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
            predictor.predictFailure();
        }
        assertThat(store.active(control)).as("the real deployment's drain is predicted").hasSize(1);
        // The key runs dry: LiteLLM refuses its calls with 429s.
        List<Payloads> calls = tokensCalls("litellm", t0, m, named, group, proxy, 5_000, 10);
        clock.set(t0.plus(Duration.ofMinutes(m + 1)));
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        predictor.predictFailure();
        assertThat(rows(named)).as("predictions of what LiteLLM raised itself").isZero();
        given().when().get("/api/v1/traffic-policy").then().statusCode(200)
                .body("deployments.findAll { it.deployment == '" + named + "' }.size()", equalTo(0));
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from observed_failures where deployment = ?")) {
            st.setString(1, named);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                assertThat(rs.getInt(1)).as("failures counted against the predictor's recall").isZero();
            }
        }
    }

    /**
     * One minute from {@code start}: 10 calls of {@code dep} that drain {@code drain} tokens of its headroom (the
     * window resets in 3 hours) beside 10 successes of {@code other}, ingested at the minute's end, then a tick.
     * Returns the headroom left.
     */
    private long drainMinute(String group, String dep, String other, Instant start, long remaining, long drain) {
        List<Payloads> calls = new ArrayList<>();
        long left = remaining;
        for (int i = 0; i < 10; i++) {
            left -= drain / 10;
            Instant at = start.plusSeconds(i * 6L);
            calls.add(headroomCall(group, dep, at, left, "3h0m0s"));
            calls.add(Payloads.success("openai", group, other, at.plusSeconds(3)).latency(0.5));
        }
        clock.set(start.plus(Duration.ofMinutes(1)));
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        predictor.predictFailure();
        return left;
    }

    /** A successful OpenAI call reporting {@code remaining} tokens of 100,000 left, resetting in {@code reset}. */
    private static Payloads headroomCall(String group, String dep, Instant at, long remaining, String reset) {
        return headroomCall("openai", group, dep, at, remaining, reset);
    }

    /** The same under another provider (one that reports OpenAI's headers, as Azure does). */
    private static Payloads headroomCall(String provider, String group, String dep, Instant at, long remaining,
            String reset) {
        return Payloads.success(provider, group, dep, at).latency(0.5).header("x-ratelimit-limit-tokens", "100000")
                .header("x-ratelimit-remaining-tokens", String.valueOf(remaining))
                .header("x-ratelimit-reset-tokens", reset);
    }

    /** One minute of 10 calls on {@code dep} reading the token headroom, the first {@code failing} answered 429. */
    private void tokensMinute(Instant t0, int m, String dep, String group, long[] remaining, long drain,
            int failing) {
        List<Payloads> calls = tokensCalls("openai", t0, m, dep, group, remaining, drain, failing);
        clock.set(t0.plus(Duration.ofMinutes(m + 1)));
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        predictor.predictFailure();
    }

    /** The calls of such a minute under {@code provider}. */
    private static List<Payloads> tokensCalls(String provider, Instant t0, int m, String dep, String group,
            long[] remaining, long drain, int failing) {
        Instant start = t0.plus(Duration.ofMinutes(m));
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            Instant at = start.plusSeconds(i * 6L);
            remaining[0] -= drain / 10;
            calls.add(i < failing ? Payloads.failure(provider, group, dep, at, 429, "RateLimitError",
                    "Rate limit reached for tokens")
                    : headroomCall(provider, group, dep, at, remaining[0], "3h0m0s"));
        }
        return calls;
    }

    /** One minute of the same deployment id's calls under OpenAI and under Azure, then a tick. */
    private void twoProvidersMinute(Instant t0, int m, String dep, String group, long[] openai, long openaiDrain,
            long[] azure, long azureDrain, int azureFailing) {
        List<Payloads> calls = new ArrayList<>(tokensCalls("openai", t0, m, dep, group, openai, openaiDrain, 0));
        calls.addAll(tokensCalls("azure", t0, m, dep, group, azure, azureDrain, azureFailing));
        clock.set(t0.plus(Duration.ofMinutes(m + 1)));
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        predictor.predictFailure();
    }

    @Test
    void only_one_replica_evaluates_a_scheduled_tick() throws Exception {
        clock.set(Instant.parse("2032-01-01T00:00:00Z").plusSeconds(new Random().nextInt(100_000) * 60L));
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            CyclicBarrier start = new CyclicBarrier(3);
            List<Future<Boolean>> runs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                runs.add(pool.submit(() -> {
                    start.await(30, TimeUnit.SECONDS);
                    return predictor.evaluate(true).ran();
                }));
            }
            int ran = 0;
            for (Future<Boolean> f : runs) {
                ran += f.get(60, TimeUnit.SECONDS) ? 1 : 0;
            }
            assertThat(ran).as("replicas that evaluated the same tick").isEqualTo(1);
            assertThat(predictor.evaluate(false).ran()).as("on demand always evaluates").isTrue();
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void the_wellness_check_goes_down_when_no_replica_evaluated_for_three_intervals() {
        Instant t = Instant.parse("2033-01-01T00:00:00Z").plusSeconds(new Random().nextInt(100_000) * 60L);
        clock.set(t);
        predictor.predictFailure();
        given().when().get("/q/health/well").then().statusCode(200)
                .body("checks.find { it.name == 'prediction-tick' }.status", equalTo("UP"))
                .body("checks.find { it.name == 'prediction-tick' }.data.lastTick", equalTo(t.toString()));
        Duration interval = FailurePredictor.intervalOf(config);
        clock.set(t.plus(interval.multipliedBy(PredictionTickHealth.MISSED_INTERVALS)));
        given().when().get("/q/health/well").then().statusCode(200);
        clock.set(t.plus(interval.multipliedBy(PredictionTickHealth.MISSED_INTERVALS)).plusSeconds(1));
        given().when().get("/q/health/well").then().statusCode(503)
                .body("checks.find { it.name == 'prediction-tick' }.status", equalTo("DOWN"));
        given().when().get("/q/health/ready").then().statusCode(200);
    }

    /**
     * A replica whose clock ran a day ahead stamped the last tick in the future. That stamp says nothing of when a
     * tick last ran: read as the time of one, it kept the check up for the day however long no tick ran.
     */
    @Test
    void a_last_tick_stamped_in_the_future_does_not_keep_the_wellness_check_up() {
        Instant t = Instant.parse("2034-01-01T00:00:00Z").plusSeconds(new Random().nextInt(100_000) * 60L);
        clock.set(t.plus(Duration.ofDays(1)));
        predictor.predictFailure(); // the replica a day ahead
        clock.set(t);
        given().when().get("/q/health/well").then().statusCode(200);
        Duration interval = FailurePredictor.intervalOf(config);
        clock.set(t.plus(interval.multipliedBy(PredictionTickHealth.MISSED_INTERVALS)).plusSeconds(1));
        given().when().get("/q/health/well").then().statusCode(503)
                .body("checks.find { it.name == 'prediction-tick' }.status", equalTo("DOWN"));
        clock.set(t.plus(interval.multipliedBy(PredictionTickHealth.MISSED_INTERVALS + 1)));
        predictor.predictFailure(); // a tick on this clock: the stamp is sane again
        given().when().get("/q/health/well").then().statusCode(200);
    }

    @Test
    void bad_parameters_are_problems_naming_the_parameter() {
        for (String[] bad : List.of(new String[] { "status=open", "status" }, new String[] { "type=slow", "type" },
                new String[] { "since=yesterday", "since" }, new String[] { "cursor=%21%21", "cursor" })) {
            predictions(bad[0]).statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo(bad[1]));
        }
        predictions("limit=0").statusCode(400).contentType(PROBLEM);
        given().when().get("/api/v1/predictions/not-a-uuid").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("predictionId"));
        given().when().get("/api/v1/predictions/" + UUID.randomUUID()).then().statusCode(404).contentType(PROBLEM);
        given().when().get("/api/v1/predictions/accuracy?since=soon").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("since"));
        given().when().get("/api/v1/predictions/accuracy?since=2031-01-02T00:00:00Z&until=2031-01-01T00:00:00Z")
                .then().statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("since"));
    }

    @Test
    void predictions_page_with_a_cursor() {
        Instant t0 = Instant.parse("2031-06-01T10:00:00Z");
        List<String> deps = List.of("api-page-a-" + UUID.randomUUID(), "api-page-b-" + UUID.randomUUID());
        PredictionScenarios.Script drain = PredictionScenarios.drain("anthropic", "tokens", 100_000, 2, 18, 12, false);
        Random rnd = new Random(3);
        for (int m = 0; m < 10; m++) {
            for (String dep : deps) {
                minute(drain, m, t0, rnd, dep);
            }
        }
        evaluate();
        String query = "status=all&provider=Anthropic&since=" + t0; // any case, as on the failures list
        JsonPath page1 = predictions(query + "&limit=1").statusCode(200).extract().jsonPath();
        assertThat(page1.getList("items")).hasSize(1);
        String cursor = page1.getString("nextCursor");
        assertThat(cursor).isNotNull();
        List<String> seen = new ArrayList<>(List.of(page1.getString("items[0].deployment")));
        // A tick between two pages renews every active row: the walk must still reach the rest.
        clock.set(t0.plus(Duration.ofMinutes(11)));
        evaluate();
        while (cursor != null) {
            JsonPath next = predictions(query + "&limit=1&cursor=" + cursor).statusCode(200).extract().jsonPath();
            assertThat(next.getList("items")).hasSize(1);
            seen.add(next.getString("items[0].deployment"));
            cursor = next.getString("nextCursor");
            assertThat(seen).as("pages so far").hasSizeLessThanOrEqualTo(3);
        }
        // The two deployments read one token counter (the same script): the provider level sees it too.
        List<String> expected = new ArrayList<>(deps);
        expected.add("*");
        assertThat(seen).containsExactlyInAnyOrderElementsOf(expected);
    }

    private void minute(PredictionScenarios.Script script, int m, Instant t0, Random rnd, String dep) {
        Instant start = t0.plus(Duration.ofMinutes(m));
        clock.set(start.plus(Duration.ofMinutes(1)));
        Api.ingest(Payloads.array(script.minute(m, start, rnd, dep).toArray(Payloads[]::new))).statusCode(200);
    }

    private static JsonPath evaluate() {
        return given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY).when()
                .post("/api/v1/predictions/evaluate").then().log().ifValidationFails().statusCode(200)
                .body("ran", equalTo(true)).extract().jsonPath();
    }

    private static Map<String, Object> ofDeployment(JsonPath evaluation, String dep) {
        List<Map<String, Object>> predictions = evaluation.getList("predictions");
        return predictions.stream().filter(p -> dep.equals(p.get("deployment"))).findFirst().orElse(null);
    }

    private static io.restassured.response.ValidatableResponse predictions(String query) {
        return given().log().ifValidationFails().when().get("/api/v1/predictions?" + query).then().log()
                .ifValidationFails();
    }

    private int rowsOf(String provider) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from failure_predictions where deployment = '*' and provider = ?"
                        + " and predicted_type = 'overloaded'")) {
            st.setString(1, provider);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    private int rows(String dep) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from failure_predictions where deployment = ?")) {
            st.setString(1, dep);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    /** promtool's complaints about the prediction families of a scrape. */
    private static String promtool() throws Exception {
        String families = Metrics.families("failure_prediction_");
        assertThat(families).contains("# TYPE failure_prediction_score gauge")
                .contains("# TYPE failure_prediction_precision gauge").contains("# TYPE failure_prediction_recall gauge");
        return Metrics.promtool(families);
    }
}
