package io.faultline.impact;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Correlations;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.assertj.core.data.Offset;
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
import java.util.UUID;
import java.util.function.DoubleSupplier;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;

/**
 * Each impact dimension against hand-computed figures on replayed calls (the test clock): an OpenAI outage whose
 * requests fell back to a pricier Anthropic model (two answered, one of them breaking the asked-for JSON), one
 * request that failed on every attempt and one with no fallback; a cluster whose members share a request; the
 * ranking's terms.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ImpactTest {

    static final Offset<Double> CENT_FRACTION = Offset.offset(1e-9);

    @Inject
    TestClock clock;

    @Inject
    ImpactConfig config;

    @Inject
    SloService slos;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    FailureImpactAssessor assessor;

    @Inject
    SloRollup rollup;

    @AfterEach
    void releaseClock() throws Exception {
        clock.release();
        forgetRollups();
    }

    /**
     * The SLO rollup's position is global: this test's clock lies years away from other tests', so it starts the
     * rollup afresh (at the oldest call within the backfill) and leaves no position behind for the next test.
     */
    private void forgetRollups() throws Exception {
        SloRollupPosition.forget(dataSource);
    }

    @Test
    void an_outage_that_fell_back_to_a_pricier_model_is_priced_from_its_calls() throws Exception {
        Instant t0 = Instant.parse("2031-09-01T10:00:00Z");
        ImpactTestData.Incident inc = replayedAt(t0);
        // The default availability SLO and a latency SLO: 99% of answered requests within 2 s.
        slos.put(inc.group(), 0.995, Duration.ofDays(30), 2000.0, 0.99).orElseThrow();
        forgetRollups();
        rollup.catchUp();
        String id = episodeOf(inc.primary(), "outage");

        JsonPath a = given().when().get("/api/v1/failures/" + id + "/impact").then().statusCode(200).extract()
                .jsonPath();
        assertThat(a.getString("kind")).isEqualTo("episode");
        assertThat(a.getString("modelGroup")).isEqualTo(inc.group());
        // Users: 4 requests (call ids), 2 answered by the fallback, 2 failed on every attempt; 7 attempts; u1-u3.
        assertThat(a.getLong("userImpact.affectedRequests")).isEqualTo(4);
        assertThat(a.getLong("userImpact.failedResponses")).isEqualTo(2);
        assertThat(a.getLong("userImpact.recoveredRequests")).isEqualTo(2);
        assertThat(a.getLong("userImpact.attempts")).isEqualTo(7);
        assertThat(a.getLong("userImpact.affectedUsers")).isEqualTo(3);
        // Cost: the failed attempts cost nothing; each fallback 100 x 3e-6 + 50 x 15e-6 = 0.00105 against
        // 100 x 1e-6 + 50 x 2e-6 = 0.0002 at the original's prices.
        assertThat(a.getLong("costImpact.fallbacks")).isEqualTo(2);
        assertThat(a.getDouble("costImpact.fallbackCostUsd")).isCloseTo(0.0021, CENT_FRACTION);
        assertThat(a.getDouble("costImpact.fallbackAtOriginalPricesUsd")).isCloseTo(0.0004, CENT_FRACTION);
        assertThat(a.getDouble("costImpact.fallbackExtraCostUsd")).isCloseTo(0.0017, CENT_FRACTION);
        assertThat(a.getDouble("costImpact.wastedCostUsd")).isZero();
        assertThat(a.getLong("costImpact.unpricedFallbacks")).isZero();
        // Quality: 1 of the 2 fallback answers broke the JSON; the fallback had 0 of 10 bad answers the hour before.
        assertThat(a.getLong("qualityImpact.answers")).isEqualTo(2);
        assertThat(a.getLong("qualityImpact.qualityFailures")).isEqualTo(1);
        assertThat(a.getDouble("qualityImpact.rate")).isEqualTo(0.5);
        assertThat(a.getLong("qualityImpact.baselineAnswers")).isEqualTo(10);
        assertThat(a.getDouble("qualityImpact.baselineRate")).isZero();
        assertThat(a.getDouble("qualityImpact.excessFailures")).isEqualTo(1.0);
        // Error budget: 1,000 requests in the 30-day period at 99.5% allow 5 failed responses; 2 of them is 40%.
        assertThat(a.getDouble("slaImpact.availabilityTarget")).isEqualTo(0.995);
        assertThat(a.getDouble("slaImpact.budgetRequests")).isCloseTo(5.0, CENT_FRACTION);
        assertThat(a.getDouble("slaImpact.budgetConsumed")).isCloseTo(0.4, CENT_FRACTION);
        // Latency budget: 996 + 2 answered requests in the period at 99% allow 9.98 slower than 2 s; the 2 answered
        // by the fallback took 2.42 s end to end (a 200 ms failure, the fallback 2 s later in 420 ms): 2 / 9.98.
        assertThat(a.getLong("slaImpact.answeredRequests")).isEqualTo(2);
        assertThat(a.getLong("slaImpact.slowRequests")).isEqualTo(2);
        assertThat(a.getDouble("slaImpact.latencyEvaluatedAtMs")).isEqualTo(2000.0);
        assertThat(a.getDouble("slaImpact.latencyBudgetRequests")).isCloseTo(9.98, CENT_FRACTION);
        // (JsonPath reads the figure as a float: 7 significant digits)
        assertThat(a.getDouble("slaImpact.latencyBudgetConsumed")).isCloseTo(2 / 9.98, Offset.offset(1e-7));
        // Total: cost + 0.05 x 2 + 0.50 x 3 + 10 x (40 + 20.04) percent of budget.
        double expected = 0.0017 + config.pricePerFailedRequestUsd() * 2 + config.pricePerUserUsd() * 3
                + config.pricePerBudgetPercentUsd() * (40 + 100 * 2 / 9.98);
        // (a float of about 600 carries 4 decimals)
        assertThat(a.getDouble("total.totalUsd")).isCloseTo(expected, Offset.offset(1e-4));
        assertThat(a.getDouble("total.usersUsd")).isCloseTo(config.pricePerUserUsd() * 3, CENT_FRACTION);
        assertThat(a.getString("total.formula")).contains("failed responses");
    }

    @Test
    void an_error_budget_spent_many_times_over_is_priced_as_one_whole_budget() throws Exception {
        Instant t0 = Instant.parse("2031-09-15T10:00:00Z");
        ImpactTestData.Incident inc = replayedAt(t0);
        // 1,000 requests in the period at 99.99% allow 0.1 failed responses: the outage's 2 spend 20 budgets.
        slos.put(inc.group(), 0.9999, Duration.ofDays(30), null, null).orElseThrow();
        forgetRollups();
        rollup.catchUp();

        JsonPath a = impactOf(episodeOf(inc.primary(), "outage"));
        assertThat(a.getDouble("slaImpact.budgetConsumed")).isCloseTo(20.0, Offset.offset(1e-6));
        // The money saturates at a breached SLO: the failed responses and users past it have their own terms.
        double whole = config.maxBudgetPercentPriced() * config.pricePerBudgetPercentUsd();
        assertThat(a.getDouble("total.errorBudgetUsd")).isCloseTo(whole, CENT_FRACTION);
        assertThat(a.getDouble("total.totalUsd")).isCloseTo(a.getDouble("total.costUsd")
                + a.getDouble("total.failedResponsesUsd") + a.getDouble("total.usersUsd") + whole, Offset.offset(1e-4));
        assertThat(a.getString("total.formula")).contains("up to " + config.maxBudgetPercentPriced());
    }

    @Test
    void a_cluster_counts_a_request_its_members_share_once() throws Exception {
        Instant t0 = Instant.parse("2031-09-02T10:00:00Z");
        ImpactTestData.Incident inc = replayedAt(t0);
        String outage = episodeOf(inc.primary(), "outage");
        String overloaded = episodeOf(inc.fallback(), "overloaded");
        UUID cluster = UUID.randomUUID();
        try (Connection c = dataSource.getConnection()) {
            activeCascade(c, cluster, "[\"openai\",\"anthropic\"]", t0, t0.plusSeconds(62));
            for (String member : List.of(outage, overloaded)) {
                member(c, cluster, member, t0);
            }
        }
        JsonPath overloadedAlone = given().when().get("/api/v1/failures/" + overloaded + "/impact").then()
                .statusCode(200).extract().jsonPath();
        assertThat(overloadedAlone.getLong("userImpact.affectedRequests")).isEqualTo(1);
        JsonPath a = given().when().get("/api/v1/failures/correlations/" + cluster + "/impact").then()
                .statusCode(200).extract().jsonPath();
        assertThat(a.getString("kind")).isEqualTo("cluster");
        assertThat(a.getLong("userImpact.affectedRequests")).as("4 + 1, the shared request once").isEqualTo(4);
        assertThat(a.getLong("userImpact.failedResponses")).isEqualTo(2);
        assertThat(a.getLong("userImpact.affectedUsers")).isEqualTo(3);

        assertThat(assessor.refreshOpen()).as("the scheduled job assesses every open episode and cluster")
                .isGreaterThanOrEqualTo(3);
        JsonPath ranked = given().when().get("/api/v1/failures/ranked?since=" + t0.minusSeconds(1) + "&group=none")
                .then().statusCode(200).extract().jsonPath();
        List<Map<String, Object>> items = ranked.getList("items");
        assertThat(items).extracting(i -> i.get("id")).contains(outage, overloaded, cluster.toString());
        assertThat(items.stream().filter(i -> cluster.toString().equals(i.get("id"))).findFirst().orElseThrow()
                .get("episodes")).as("the cluster's member episodes").isEqualTo(2);
        for (int i = 1; i < items.size(); i++) {
            assertThat(((Number) items.get(i).get("totalUsd")).doubleValue())
                    .isLessThanOrEqualTo(((Number) items.get(i - 1).get("totalUsd")).doubleValue());
        }
        Map<String, Object> first = items.get(0);
        double terms = ((Number) first.get("costUsd")).doubleValue()
                + ((Number) first.get("failedResponsesUsd")).doubleValue()
                + ((Number) first.get("usersUsd")).doubleValue() + ((Number) first.get("errorBudgetUsd")).doubleValue();
        assertThat(((Number) first.get("totalUsd")).doubleValue()).as("the total is the sum of its terms")
                .isCloseTo(terms, Offset.offset(1e-3));
    }

    @Test
    void a_pattern_counts_a_user_its_episodes_share_once() throws Exception {
        Instant t0 = Instant.parse("2031-09-03T10:00:00Z");
        String deployment = "pattern-users-" + UUID.randomUUID().toString().substring(0, 8);
        // Two bursts of one fingerprint three hours apart, so two episodes: one hits users a, b and c, the next a, b
        // and d. The pattern's users are a, b, c and d.
        List<String> ids = new ArrayList<>();
        for (List<String> users : List.of(List.of("a", "b", "c"), List.of("a", "b", "d"))) {
            Instant at = t0.plus(Duration.ofHours(3 * ids.size()));
            clock.set(at.plus(Duration.ofMinutes(5)));
            List<Payloads> calls = new ArrayList<>();
            for (int i = 0; i < users.size(); i++) {
                calls.add(Payloads.failure("openai", "gpt-4o-mini", deployment, at.plusSeconds(i), 503,
                        "ServiceUnavailableError", "upstream connect error").user("pattern-user-" + users.get(i)));
            }
            Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
            List<String> episodes = given().when().get("/api/v1/failures?deployment=" + deployment).then()
                    .statusCode(200).extract().jsonPath().getList("items.failureId");
            episodes.removeAll(ids);
            assertThat(episodes).as("a new episode").hasSize(1);
            ids.add(episodes.get(0));
        }
        Offset<Double> close = Offset.offset(1e-3); // JsonPath reads figures as floats: 7 significant digits
        String fingerprint = null;
        double usersUsd = 0;
        double total = 0;
        for (String id : ids) {
            JsonPath a = impactOf(id);
            assertThat(a.getLong("userImpact.affectedUsers")).isEqualTo(3);
            fingerprint = a.getString("fingerprint");
            usersUsd += a.getDouble("total.usersUsd");
            total += a.getDouble("total.totalUsd");
        }
        assertThat(usersUsd).isCloseTo(6 * config.pricePerUserUsd(), close);

        List<Map<String, Object>> items = given().when().get("/api/v1/failures/ranked?since=" + t0 + "&limit=500")
                .then().statusCode(200).extract().jsonPath().getList("items");
        String of = fingerprint;
        Map<String, Object> pattern = items.stream().filter(i -> of.equals(i.get("fingerprint"))
                && "pattern".equals(i.get("kind"))).findFirst().orElseThrow();
        assertThat(((Number) pattern.get("episodes")).intValue()).isEqualTo(2);
        assertThat(((Number) pattern.get("affectedUsers")).longValue()).as("a and b once").isEqualTo(4);
        assertThat(((Number) pattern.get("usersUsd")).doubleValue())
                .isCloseTo(4 * config.pricePerUserUsd(), close);
        assertThat(((Number) pattern.get("totalUsd")).doubleValue()).as("the total follows its users' term")
                .isCloseTo(total - 2 * config.pricePerUserUsd(), close);

        // The first episode's state pruned (a day after it was last assessed): its stored count stands for its users.
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "delete from impact_state where subject_id = ?::uuid")) {
            st.setString(1, ids.get(0));
            assertThat(st.executeUpdate()).isEqualTo(1);
        }
        Map<String, Object> pruned = given().when().get("/api/v1/failures/ranked?since=" + t0 + "&limit=500").then()
                .statusCode(200).extract().jsonPath().<Map<String, Object>>getList("items").stream()
                .filter(i -> of.equals(i.get("fingerprint"))).findFirst().orElseThrow();
        assertThat(((Number) pruned.get("affectedUsers")).longValue()).as("3 stored + a, b and d").isEqualTo(6);
    }

    /**
     * Episodes stamped days ahead of Faultline's clock: ingest refuses such calls now (beyond
     * {@code faultline.ingest.max-clock-skew}), but a replica whose clock ran days fast, or a version before that
     * check, stored them. The re-assessment takes the most recently active first, so more of those than
     * {@code max-per-run} would take every place from the episode that is open now; they wait until the clock nears
     * them instead.
     */
    @Test
    void episodes_stamped_days_ahead_do_not_crowd_the_open_ones_out_of_the_reassessment() throws Exception {
        Instant now = Instant.parse("2031-11-20T12:00:00Z");
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        List<Payloads> stampedAhead = new ArrayList<>();
        for (int i = 0; i <= config.maxPerRun(); i++) {
            stampedAhead.add(Payloads.failure("openai", "gpt-4o-mini", "ahead-" + i + "-" + suffix,
                    now.plus(Duration.ofDays(3)).plusSeconds(i), 503, "ServiceUnavailableError",
                    "upstream connect error"));
        }
        // Stored by a replica whose clock ran three days fast.
        clock.set(now.plus(Duration.ofDays(3)).plusSeconds(config.maxPerRun() + 1));
        Api.ingest(Payloads.array(stampedAhead.toArray(Payloads[]::new))).statusCode(200);
        clock.set(now);
        Api.ingest(Payloads.array(Payloads.failure("openai", "gpt-4o-mini", "open-now-" + suffix,
                now.minus(Duration.ofMinutes(5)), 503, "ServiceUnavailableError", "upstream connect error")))
                .statusCode(200);
        String open = episodeOf("open-now-" + suffix, "outage");
        String ahead = episodeOf("ahead-" + config.maxPerRun() + "-" + suffix, "outage"); // the newest: first in a run
        assertThat(open).isNotNull();
        assertThat(ahead).isNotNull();
        assertThat(assessed(open)).isFalse();

        assertThat(assessor.refreshOpen()).isGreaterThanOrEqualTo(1);
        assertThat(assessed(open)).as("the episode open now is re-assessed").isTrue();
        assertThat(assessed(ahead)).as("an episode stamped three days ahead waits").isFalse();

        clock.set(now.plus(Duration.ofDays(3)));
        assertThat(assessor.refreshOpen()).isGreaterThanOrEqualTo(1);
        assertThat(assessed(ahead)).as("once the clock reached it").isTrue();
    }

    /**
     * More open episodes than a run takes, and a cluster of some of them active more recently than any: the run takes
     * the most recently active first, whatever their kind, so the cluster is among them.
     */
    @Test
    void a_cluster_active_more_recently_than_a_runs_worth_of_episodes_is_reassessed() throws Exception {
        Instant now = Instant.parse("2031-11-22T12:00:00Z");
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        List<Payloads> outages = new ArrayList<>();
        for (int i = 0; i <= config.maxPerRun(); i++) {
            outages.add(Payloads.failure("openai", "gpt-4o-mini", "busy-" + i + "-" + suffix,
                    now.minus(Duration.ofMinutes(10)).plusSeconds(i), 503, "ServiceUnavailableError",
                    "upstream connect error"));
        }
        clock.set(now);
        Api.ingest(Payloads.array(outages.toArray(Payloads[]::new))).statusCode(200);
        UUID member = UUID.fromString(episodeOf("busy-0-" + suffix, "outage"));
        UUID cluster = UUID.randomUUID();
        try (Connection c = dataSource.getConnection()) {
            activeCascade(c, cluster, "[\"openai\"]", now.minus(Duration.ofMinutes(10)), now.minusSeconds(30));
            member(c, cluster, member.toString(), now.minus(Duration.ofMinutes(9)));
        }

        assertThat(assessor.refreshOpen()).isEqualTo(config.maxPerRun());
        assertThat(assessed(cluster.toString())).as("the most recently active subject").isTrue();
        assertThat(assessed(member.toString())).as("the least recently active episode waits").isFalse();
    }

    @Test
    void an_answer_a_quality_episode_flagged_was_delivered_so_it_is_no_failed_response() throws Exception {
        // The fallback's answer that broke the asked-for JSON: its request failed on OpenAI first, then was answered.
        String id = fallbackEpisode(Instant.parse("2031-09-05T10:00:00Z"), "format_non_compliance").getKey();
        JsonPath a = impactOf(id);
        assertThat(a.getLong("userImpact.affectedRequests")).isEqualTo(1);
        assertThat(a.getLong("userImpact.failedResponses")).as("the user got an answer").isZero();
        assertThat(a.getLong("qualityImpact.qualityFailures")).isEqualTo(1);
        assertThat(a.getDouble("slaImpact.budgetConsumed")).as("no availability budget spent").isZero();
        assertThat(a.getDouble("total.failedResponsesUsd")).isZero();
        assertThat(assessor.recomputeEpisode(UUID.fromString(id)).orElseThrow().userImpact().failedResponses())
                .as("the one-query recomputation agrees").isZero();
    }

    @Test
    void a_failed_response_spends_the_budget_of_the_group_its_request_began_in() throws Exception {
        // The fallback's overload: its one request began in the OpenAI group (1,000 requests at the default 99.5%:
        // a budget of 5), failed there, and failed again on the fallback, whose own group saw 10 requests.
        Map.Entry<String, ImpactTestData.Incident> replayed = fallbackEpisode(Instant.parse("2031-09-06T10:00:00Z"),
                "overloaded");
        String id = replayed.getKey();
        ImpactTestData.Incident inc = replayed.getValue();
        JsonPath a = impactOf(id);
        assertThat(a.getLong("userImpact.failedResponses")).isEqualTo(1);
        assertThat(a.getString("slaImpact.modelGroup")).as("the episode's own group").isNotEqualTo(inc.group());
        assertThat(a.getList("slaImpact.budgetByGroup.modelGroup", String.class)).containsExactly(inc.group());
        // (the rollup has the group's requests to the minute it covered: 999 or 1,000)
        double budget = a.getDouble("slaImpact.budgetByGroup[0].budgetRequests");
        assertThat(budget).isCloseTo(5.0, Offset.offset(0.01));
        assertThat(a.getDouble("slaImpact.budgetConsumed")).as("1 of the OpenAI group's budget, not of the fallback"
                + " group's 0.05").isCloseTo(1 / budget, Offset.offset(1e-6));
        assertThat(assessor.recomputeEpisode(UUID.fromString(id)).orElseThrow().slaImpact().budgetConsumed())
                .as("the one-query recomputation agrees").isCloseTo(1 / budget, Offset.offset(1e-6));
    }

    @Test
    void a_slow_request_spends_the_latency_budget_of_the_group_it_began_in() throws Exception {
        // Two requests began in group a, failed there (503), failed again on the fallback b (529, the overload
        // episode assessed here) and were answered by a third group 2 s after they began: 2.42 s end to end. Both
        // a and b have a latency SLO of 99% within 2 s; a answered 200 requests of its own in the hour before, b 100.
        Instant t0 = Instant.parse("2031-09-09T10:00:00Z");
        String sfx = UUID.randomUUID().toString().substring(0, 8);
        String a = "lat-a-" + sfx;
        String b = "lat-b-" + sfx;
        String fallback = "lat-b-dep-" + sfx;
        clock.set(t0.plus(Duration.ofMinutes(5)));
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            calls.add(Payloads.success("openai", a, "lat-a-dep-" + sfx, t0.minusSeconds(3000 - i * 10L)));
        }
        for (int i = 0; i < 100; i++) {
            calls.add(Payloads.success("anthropic", b, fallback, t0.minusSeconds(3000 - i * 20L)));
        }
        for (int r = 0; r < 2; r++) {
            Instant at = t0.plusSeconds(20L * r);
            Payloads first = Payloads.failure("openai", a, "lat-a-dep-" + sfx, at, 503, "ServiceUnavailableError",
                    "Service Unavailable");
            String trace = first.node().get("trace_id").asText();
            calls.add(first);
            calls.add(Payloads.failure("anthropic", b, fallback, at.plusSeconds(1), 529, "InternalServerError",
                    "Overloaded").set("litellm_call_id", first.id()).set("trace_id", trace));
            calls.add(Payloads.success("gemini", "lat-c-" + sfx, "lat-c-dep-" + sfx, at.plusSeconds(2))
                    .set("litellm_call_id", first.id()).set("trace_id", trace));
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        slos.put(a, 0.995, Duration.ofDays(30), 2000.0, 0.99).orElseThrow();
        slos.put(b, 0.995, Duration.ofDays(30), 2000.0, 0.99).orElseThrow();
        forgetRollups();
        rollup.catchUp();
        String id = episodeOf(fallback, "overloaded");
        assertThat(id).isNotNull();

        JsonPath impact = impactOf(id);
        assertThat(impact.getString("slaImpact.modelGroup")).as("the episode's own group").isEqualTo(b);
        assertThat(impact.getLong("userImpact.failedResponses")).isZero();
        assertThat(impact.getLong("slaImpact.slowRequests")).isEqualTo(2);
        // a's latency budget: 1% of its 202 answered requests; not b's 1% of 100, which a's requests never touched.
        assertThat(impact.getDouble("slaImpact.latencyBudgetConsumed")).as("2 of a's 2.02, not of b's 1")
                .isCloseTo(2 / 2.02, Offset.offset(1e-6));
        assertThat(assessor.recomputeEpisode(UUID.fromString(id)).orElseThrow().slaImpact().latencyBudgetConsumed())
                .as("the one-query recomputation agrees").isCloseTo(2 / 2.02, Offset.offset(1e-6));
    }

    @Test
    void failed_responses_without_a_model_group_spend_the_budget_the_slo_counts_them_in() throws Exception {
        // A proxy that logs no model_group: the SLO rollup counts each request in its model's group (README "SLOs and
        // error budgets"), here 200 answered and the 2 failed responses of the outage assessed.
        Instant t0 = Instant.parse("2031-09-10T10:00:00Z");
        String sfx = UUID.randomUUID().toString().substring(0, 8);
        String model = "no-group-" + sfx;
        String deployment = "no-group-dep-" + sfx;
        clock.set(t0.plus(Duration.ofMinutes(5)));
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            calls.add(Payloads.success("openai", model, deployment, t0.minusSeconds(3000 - i * 10L))
                    .without("model_group"));
        }
        for (int r = 0; r < 2; r++) {
            calls.add(Payloads.failure("openai", model, deployment, t0.plusSeconds(20L * r), 503,
                    "ServiceUnavailableError", "Service Unavailable").without("model_group"));
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        forgetRollups();
        rollup.catchUp();
        SloService.Budget budget = slos.budget(model, t0.plusSeconds(60));
        assertThat(budget.periodFailedResponses()).as("the SLO's figures").isEqualTo(2);
        String id = episodeOf(deployment, "outage");
        assertThat(id).isNotNull();

        JsonPath impact = impactOf(id);
        assertThat(impact.getLong("userImpact.failedResponses")).isEqualTo(2);
        assertThat(impact.getString("slaImpact.budgetConsumed")).as("priced").isNotNull();
        assertThat(impact.getDouble("slaImpact.budgetConsumed")).as("2 of the model's budget, 0.5% of 202")
                .isCloseTo(2 / 1.01, Offset.offset(1e-6));
        assertThat(assessor.recomputeEpisode(UUID.fromString(id)).orElseThrow().slaImpact().budgetConsumed())
                .as("the one-query recomputation agrees").isCloseTo(2 / 1.01, Offset.offset(1e-6));
    }

    /**
     * The error budget's term counts the failed responses the SLO counts: a caller's context overflow and a virtual
     * key LiteLLM refused itself are failed responses of their users but spend no availability budget; a provider's
     * 503 does. Priced as budget, make run's unknown key ranked above a P2 card-number leak.
     */
    @Test
    void a_callers_own_4xx_is_a_failed_response_that_spends_no_error_budget() throws Exception {
        Instant t0 = Instant.parse("2031-09-12T10:00:00Z");
        String sfx = UUID.randomUUID().toString().substring(0, 8);
        String group = "client-4xx-" + sfx;
        String deployment = "client-4xx-dep-" + sfx;
        clock.set(t0.plus(Duration.ofMinutes(5)));
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            calls.add(Payloads.success("openai", group, deployment, t0.minusSeconds(3000 - i * 10L)));
        }
        List<Payloads> outage = new ArrayList<>();
        List<Payloads> overflows = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            outage.add(Payloads.failure("openai", group, deployment, t0.plusSeconds(20L * r), 503,
                    "ServiceUnavailableError", "Service Unavailable"));
            overflows.add(Payloads.failure("openai", group, deployment, t0.plusSeconds(20L * r + 5), 400,
                    "ContextWindowExceededError", "This model's maximum context length is 128000 tokens"));
        }
        Payloads badKey = Payloads.failure("openai", group, deployment, t0.plusSeconds(50), 401, "ProxyException",
                "Authentication Error, Invalid proxy server token passed.").latency(0);
        calls.addAll(outage);
        calls.addAll(overflows);
        calls.add(badKey);
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        forgetRollups();
        rollup.catchUp();
        SloService.Budget budget = slos.budget(group, t0.plusSeconds(60));
        assertThat(budget.periodRequests()).isEqualTo(205);
        assertThat(budget.periodFailedResponses()).as("the SLO's: the 503s only").isEqualTo(2);

        JsonPath down = impactOf(failureOf(outage.get(0).id()));
        assertThat(down.getDouble("slaImpact.budgetConsumed")).as("2 of the group's budget, 0.5% of 205")
                .isCloseTo(2 / 1.025, Offset.offset(1e-6));
        String overflow = failureOf(overflows.get(0).id());
        JsonPath tooLong = impactOf(overflow);
        assertThat(tooLong.getLong("userImpact.failedResponses")).as("its users got no answer").isEqualTo(2);
        assertThat(tooLong.getDouble("slaImpact.budgetConsumed")).as("no budget spent").isZero();
        assertThat(tooLong.getDouble("total.errorBudgetUsd")).isZero();
        assertThat(assessor.recomputeEpisode(UUID.fromString(overflow)).orElseThrow().slaImpact().budgetConsumed())
                .as("the one-query recomputation agrees").isZero();
        String refused = failureOf(badKey.id());
        assertThat(impactOf(refused).getDouble("total.errorBudgetUsd")).as("the unknown key's").isZero();
        assertThat(assessor.recomputeEpisode(UUID.fromString(refused)).orElseThrow().total().errorBudgetUsd())
                .isZero();
    }

    /**
     * A provider's answer that did not parse is the provider's failure whatever status LiteLLM gave it: Gemini's
     * broken JSON comes back as a 422 BadRequestError ("Error converting to valid response block"), which the
     * classifier types malformed_response (PROVIDER, P3) and the provider-error alert counts, so it spends the
     * error budget as an outage's 503 does. make run's malformed Gemini answer spent none: the SLO counted gemini-flash
     * 3 failed responses, not 4, and its episode priced no budget.
     */
    @Test
    void a_malformed_answer_that_litellm_reports_as_a_4xx_spends_the_error_budget() throws Exception {
        Instant t0 = Instant.parse("2031-10-03T10:00:00Z");
        String sfx = UUID.randomUUID().toString().substring(0, 8);
        String group = "malformed-4xx-" + sfx;
        String deployment = "malformed-4xx-dep-" + sfx;
        clock.set(t0.plus(Duration.ofMinutes(5)));
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 198; i++) {
            calls.add(Payloads.success("gemini", group, deployment, t0.minusSeconds(3000 - i * 10L)));
        }
        List<Payloads> broken = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            broken.add(Payloads.failure("gemini", group, deployment, t0.plusSeconds(20L * r), 422, "BadRequestError",
                    "litellm.BadRequestError: GeminiException - Error converting to valid response block=Unterminated"
                            + " string starting at: line 1 column 172 (char 171). File an issue if litellm error"));
        }
        calls.addAll(broken);
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        forgetRollups();
        rollup.catchUp();
        SloService.Budget budget = slos.budget(group, t0.plusSeconds(60));
        assertThat(budget.periodRequests()).isEqualTo(200);
        assertThat(budget.periodFailedResponses()).as("both malformed answers").isEqualTo(2);

        String failure = failureOf(broken.get(0).id());
        JsonPath impact = impactOf(failure);
        assertThat(impact.getString("type")).isEqualTo("malformed_response");
        assertThat(impact.getDouble("slaImpact.budgetConsumed")).as("2 of the group's budget, 0.5% of 200")
                .isCloseTo(2.0, Offset.offset(1e-6));
        assertThat(assessor.recomputeEpisode(UUID.fromString(failure)).orElseThrow().slaImpact().budgetConsumed())
                .as("the one-query recomputation agrees").isCloseTo(2.0, Offset.offset(1e-6));
    }

    /** The episode that linked a call. */
    private String failureOf(String callId) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select failure_id::text from failure_event_calls where call_id = ?")) {
            st.setString(1, callId);
            try (ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).as("an episode linked %s", callId).isTrue();
                return rs.getString(1);
            }
        }
    }

    /**
     * A cluster's ranked item is the assessment's: a member that joined after it was assessed is not in its figures,
     * so {@code episodes} is the count the figures cover, beside the members it has now ({@code episodesNow}) and
     * when it was assessed; once assessed again, both count the new member.
     */
    @Test
    void a_ranked_clusters_episodes_are_those_its_figures_cover_beside_those_it_has_now() throws Exception {
        Instant t0 = Instant.parse("2031-09-14T10:00:00Z");
        ImpactTestData.Incident inc = replayedAt(t0);
        String outage = episodeOf(inc.primary(), "outage");
        String overloaded = episodeOf(inc.fallback(), "overloaded");
        UUID cluster = UUID.randomUUID();
        try (Connection c = dataSource.getConnection()) {
            activeCascade(c, cluster, "[\"openai\"]", t0, t0.plusSeconds(62));
            member(c, cluster, outage, t0);
        }
        given().when().get("/api/v1/failures/correlations/" + cluster + "/impact").then().statusCode(200)
                .body("userImpact.affectedRequests", equalTo(4));
        // The overload joins the cluster (as a join of the engine does) before the next assessment.
        try (Connection c = dataSource.getConnection()) {
            member(c, cluster, overloaded, t0.plusSeconds(60));
        }
        Map<String, Object> item = rankedCluster(t0, cluster);
        assertThat(item.get("episodes")).as("the episodes its figures cover").isEqualTo(1);
        assertThat(item.get("episodesNow")).as("the members it has now").isEqualTo(2);
        assertThat(item.get("assessedAt")).isNotNull();

        given().when().get("/api/v1/failures/correlations/" + cluster + "/impact").then().statusCode(200)
                .body("episodes", equalTo(2));
        item = rankedCluster(t0, cluster);
        assertThat(item.get("episodes")).isEqualTo(2);
        assertThat(item.get("episodesNow")).isEqualTo(2);
    }

    /**
     * An active cascade cluster over {@code providers} (a JSON array), opened and first seen at {@code first},
     * last seen and last active at {@code last}, strength and confidence 0.9.
     */
    private static void activeCascade(Connection c, UUID cluster, String providers, Instant first, Instant last)
            throws Exception {
        try (PreparedStatement st = c.prepareStatement("insert into correlation_clusters (cluster_id, type, status,"
                + " strength, confidence, providers, evidence, first_seen, last_seen, last_activity, opened_at)"
                + " values (?, 'cascade', 'active', 0.9, 0.9, ?::jsonb, '{}', ?, ?, ?, ?)")) {
            st.setObject(1, cluster);
            st.setString(2, providers);
            st.setTimestamp(3, Timestamp.from(first));
            st.setTimestamp(4, Timestamp.from(last));
            st.setTimestamp(5, Timestamp.from(last));
            st.setTimestamp(6, Timestamp.from(first));
            st.executeUpdate();
        }
    }

    private static void member(Connection c, UUID cluster, String episode, Instant at) throws Exception {
        try (PreparedStatement st = c.prepareStatement("insert into correlation_members (cluster_id, failure_id,"
                + " joined_at) values (?, ?, ?)")) {
            st.setObject(1, cluster);
            st.setObject(2, UUID.fromString(episode));
            st.setTimestamp(3, Timestamp.from(at));
            st.executeUpdate();
        }
    }

    private static Map<String, Object> rankedCluster(Instant since, UUID cluster) {
        List<Map<String, Object>> items = given().when().get("/api/v1/failures/ranked?group=none&limit=500&since="
                + since.minusSeconds(1)).then().statusCode(200).extract().jsonPath().getList("items");
        return items.stream().filter(i -> cluster.toString().equals(i.get("id"))).findFirst().orElseThrow();
    }

    /**
     * Two clusters that a new episode bridges are merged into the older one, which deletes the other (the split is
     * made as CorrelationTest makes it: a state the engine reaches when links arrive in another order). Both were
     * assessed before; the absorbed cluster's members are the surviving one's now, so it leaves the ranking.
     */
    @Test
    void a_cluster_absorbed_by_a_merge_leaves_the_ranking() throws Exception {
        Instant t0 = Instant.parse("2031-09-11T08:00:00Z");
        String sfx = UUID.randomUUID().toString().substring(0, 8);
        String oa = "merge-oa-" + sfx;
        String an = "merge-an-" + sfx;
        String ge = "merge-ge-" + sfx;
        clock.set(t0.plus(Duration.ofMinutes(2)));
        Api.ingest(Payloads.array(outage("openai", "gpt-4o-mini", oa, t0),
                outage("anthropic", "claude-3-5-haiku", an, t0.plusSeconds(30)))).statusCode(200);
        Correlations.drain();
        String openai = episodeOf(oa, "outage");
        String anthropic = episodeOf(an, "outage");
        List<String> first = clustersOf(openai);
        assertThat(first).hasSize(1);
        assertThat(clustersOf(anthropic)).isEqualTo(first);
        UUID split = UUID.randomUUID();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("insert into"
                + " correlation_clusters (cluster_id, type, status, strength, confidence, providers, evidence,"
                + " first_seen, last_seen, last_activity, opened_at) select ?, type, status, strength, confidence,"
                + " providers, evidence, first_seen, last_seen, last_activity, opened_at + interval '1 second'"
                + " from correlation_clusters where cluster_id = ?::uuid; update correlation_members set cluster_id = ?"
                + " where cluster_id = ?::uuid and failure_id = ?::uuid")) {
            st.setObject(1, split);
            st.setString(2, first.get(0));
            st.setObject(3, split);
            st.setString(4, first.get(0));
            st.setString(5, anthropic);
            st.execute();
        }
        for (String cluster : List.of(first.get(0), split.toString())) {
            given().when().get("/api/v1/failures/correlations/" + cluster + "/impact").then().statusCode(200);
        }
        clock.set(t0.plus(Duration.ofMinutes(3)));
        Api.ingest(Payloads.array(outage("openai", "gpt-4o-mini", oa, t0.plusSeconds(40)),
                outage("anthropic", "claude-3-5-haiku", an, t0.plusSeconds(50)),
                outage("gemini", "gemini-2.0-flash", ge, t0.plusSeconds(60)))).statusCode(200);
        Correlations.drain();
        assertThat(clustersOf(episodeOf(ge, "outage"))).as("the older cluster absorbed the split one")
                .containsExactly(first.get(0));
        // The absorbed cluster's address answers where it went: a permanent redirect to the cluster that absorbed
        // it, with a problem naming that cluster for a client that does not follow it.
        given().redirects().follow(false).when().get("/api/v1/failures/correlations/" + split).then()
                .log().ifValidationFails().statusCode(308).contentType("application/problem+json")
                .header("Location", endsWith("/api/v1/failures/correlations/" + first.get(0)))
                .body("status", equalTo(308)).body("mergedInto", equalTo(first.get(0)))
                .body("title", equalTo("Permanent Redirect")).body("mergedAt", org.hamcrest.Matchers.notNullValue())
                .body("detail", containsString(first.get(0)));
        given().redirects().follow(false).when().get("/api/v1/failures/correlations/" + split + "/impact").then()
                .log().ifValidationFails().statusCode(308).contentType("application/problem+json")
                .header("Location", endsWith("/api/v1/failures/correlations/" + first.get(0)
                        + "/impact"))
                .body("mergedInto", equalTo(first.get(0)));
        // followed, it is the surviving cluster
        given().when().get("/api/v1/failures/correlations/" + split).then().statusCode(200)
                .body("clusterId", equalTo(first.get(0)));
        // an id no cluster ever had is still a plain 404
        given().redirects().follow(false).when().get("/api/v1/failures/correlations/" + UUID.randomUUID()).then()
                .statusCode(404).contentType("application/problem+json");

        List<String> ranked = given().when().get("/api/v1/failures/ranked?group=none&limit=500&since="
                + t0.minusSeconds(1)).then().statusCode(200).extract().jsonPath().getList("items.id", String.class);
        assertThat(ranked).contains(first.get(0)).doesNotContain(split.toString());
        assertThat(given().when().get("/api/v1/failures/ranked?limit=500&since=" + t0.minusSeconds(1)).then()
                .statusCode(200).extract().jsonPath().getList("items.id", String.class))
                .as("by pattern too").doesNotContain(split.toString());
    }

    private static Payloads outage(String provider, String model, String deployment, Instant at) {
        return Payloads.failure(provider, model, deployment, at, 503, "ServiceUnavailableError",
                "upstream connect error or disconnect/reset before headers");
    }

    private static List<String> clustersOf(String failureId) {
        return given().when().get("/api/v1/failures/" + failureId).then().statusCode(200).extract().jsonPath()
                .getList("clusters", String.class);
    }

    @Test
    void the_cost_counter_counts_a_figure_that_fell_and_rose_again_once() throws Exception {
        Instant t0 = Instant.parse("2031-09-07T10:00:00Z");
        ImpactTestData.Incident inc = replayedAt(t0);
        String id = episodeOf(inc.primary(), "outage");
        DoubleSupplier counted = () -> Metrics.valueOrZero(Metrics.scrape(), "failure_impact_cost_usd_total",
                "provider", "openai", "category", "PROVIDER");
        double before = counted.getAsDouble();
        double first = costOf(id);
        // Request 3 (no fallback so far) answered late by a free fallback: the extra cost falls by its tokens at the
        // original's prices (100 x 1e-6 + 50 x 2e-6).
        Api.ingest(Payloads.array(ImpactTestData.request(ImpactTestData.priced(Payloads.success("anthropic",
                "imp-fb-" + inc.suffix(), inc.fallback(), t0.plusSeconds(62)).tokens(100, 50, 0, 0)
                .set("response_cost", 0.0), 3e-6, 15e-6), "imp-req-3-" + inc.suffix(), UUID.randomUUID().toString(),
                "u3"))).statusCode(200);
        clock.set(t0.plus(Duration.ofMinutes(6)));
        double fell = costOf(id);
        assertThat(fell).isCloseTo(first - 0.0002, CENT_FRACTION);
        // A new request fails over to the pricier fallback: the figure rises past where it was.
        String call = "imp-req-9-" + inc.suffix();
        String trace = UUID.randomUUID().toString();
        Instant at = t0.plusSeconds(90);
        Api.ingest(Payloads.array(
                ImpactTestData.request(ImpactTestData.priced(Payloads.failure("openai", inc.group(), inc.primary(), at,
                        503, "ServiceUnavailableError", "Service Unavailable"), 1e-6, 2e-6), call, trace, "u1"),
                ImpactTestData.request(ImpactTestData.priced(Payloads.success("anthropic", "imp-fb-" + inc.suffix(),
                        inc.fallback(), at.plusSeconds(2)).tokens(100, 50, 0, 0).set("response_cost", 0.00105), 3e-6,
                        15e-6), call, trace, "u1"))).statusCode(200);
        clock.set(t0.plus(Duration.ofMinutes(7)));
        double rose = costOf(id);
        assertThat(rose).isGreaterThan(first);
        assertThat(counted.getAsDouble() - before).as("counted up to the most the figure reached, once")
                .isCloseTo(rose, Offset.offset(1e-9));
    }

    private static double costOf(String failureId) {
        return given().when().get("/api/v1/failures/" + failureId + "/impact").then().statusCode(200).extract()
                .jsonPath().getDouble("costImpact.totalUsd");
    }

    @Test
    void a_closed_episode_whose_request_is_answered_late_is_assessed_again_by_the_run() throws Exception {
        Instant t0 = Instant.parse("2031-09-08T10:00:00Z");
        ImpactTestData.Incident inc = replayedAt(t0);
        String id = episodeOf(inc.primary(), "outage");
        clock.set(t0.plus(Duration.ofMinutes(6)));
        assessor.refreshOpen();
        assertThat(storedFailedResponses(id)).as("requests 2 and 3 failed").isEqualTo(2);
        // Long after the episode closed (open-for: 30 min), the plugin's spool delivers request 3's fallback.
        clock.set(t0.plus(Duration.ofMinutes(45)));
        Api.ingest(Payloads.array(ImpactTestData.request(ImpactTestData.priced(Payloads.success("anthropic",
                "imp-fb-" + inc.suffix(), inc.fallback(), t0.plusSeconds(62)).tokens(100, 50, 0, 0)
                .set("response_cost", 0.00105), 3e-6, 15e-6), "imp-req-3-" + inc.suffix(), UUID.randomUUID()
                .toString(), "u3"))).statusCode(200);
        clock.set(t0.plus(Duration.ofMinutes(46)));
        assessor.refreshOpen();
        assertThat(storedFailedResponses(id)).as("request 3 was answered after all").isEqualTo(1);
    }

    @Test
    void a_late_answer_received_while_no_run_ran_is_still_found_by_the_next_run() throws Exception {
        Instant t0 = Instant.parse("2031-09-12T10:00:00Z");
        ImpactTestData.Incident inc = replayedAt(t0);
        String id = episodeOf(inc.primary(), "outage");
        clock.set(t0.plus(Duration.ofMinutes(6)));
        assessor.refreshOpen();
        assertThat(storedFailedResponses(id)).as("requests 2 and 3 failed").isEqualTo(2);
        // Runs go on every interval while nothing arrives; then request 3's fallback arrives from the spool, long
        // after the episode closed, and no run follows for five intervals (every replica down, say).
        Duration interval = io.faultline.common.ClusterJobs.every(config.interval());
        clock.set(t0.plus(Duration.ofMinutes(6)).plus(interval));
        assessor.refreshOpen();
        clock.set(t0.plus(Duration.ofMinutes(7)).plus(interval));
        Api.ingest(Payloads.array(ImpactTestData.request(ImpactTestData.priced(Payloads.success("anthropic",
                "imp-fb-" + inc.suffix(), inc.fallback(), t0.plusSeconds(62)).tokens(100, 50, 0, 0)
                .set("response_cost", 0.00105), 3e-6, 15e-6), "imp-req-3-" + inc.suffix(), UUID.randomUUID()
                .toString(), "u3"))).statusCode(200);
        clock.set(t0.plus(Duration.ofMinutes(8)).plus(interval.multipliedBy(6)));
        assessor.refreshOpen();
        assertThat(storedFailedResponses(id)).as("request 3 was answered after all").isEqualTo(1);
    }

    private long storedFailedResponses(String failureId) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select failed_responses from failure_impacts where subject_id = ?::uuid")) {
            st.setString(1, failureId);
            try (java.sql.ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).as("stored").isTrue();
                return rs.getLong(1);
            }
        }
    }

    /** The incident replayed at {@code t0}, the clock five minutes on. */
    private ImpactTestData.Incident replayedAt(Instant t0) throws Exception {
        clock.set(t0.plus(Duration.ofMinutes(5)));
        return ImpactTestData.replay(t0);
    }

    /** The incident replayed at {@code t0} with its SLO minutes rolled up; the fallback's episode of the type. */
    private Map.Entry<String, ImpactTestData.Incident> fallbackEpisode(Instant t0, String type) throws Exception {
        ImpactTestData.Incident inc = replayedAt(t0);
        forgetRollups();
        rollup.catchUp();
        String id = episodeOf(inc.fallback(), type);
        assertThat(id).as("the %s episode on the fallback", type).isNotNull();
        return Map.entry(id, inc);
    }

    private static JsonPath impactOf(String failureId) {
        return given().when().get("/api/v1/failures/" + failureId + "/impact").then().statusCode(200).extract()
                .jsonPath();
    }

    private boolean assessed(String failureId) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select 1 from failure_impacts where subject_id = ?::uuid")) {
            st.setString(1, failureId);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next();
            }
        }
    }

    @Test
    void bad_ids_and_unknown_subjects_are_problems() {
        given().when().get("/api/v1/failures/not-a-uuid/impact").then().statusCode(400)
                .contentType("application/problem+json").body("errors[0].field", equalTo("failureId"));
        given().when().get("/api/v1/failures/" + UUID.randomUUID() + "/impact").then().statusCode(404)
                .contentType("application/problem+json");
        given().when().get("/api/v1/failures/correlations/x/impact").then().statusCode(400)
                .contentType("application/problem+json").body("errors[0].field", equalTo("clusterId"));
        given().when().get("/api/v1/failures/ranked?group=team").then().statusCode(400)
                .contentType("application/problem+json").body("errors[0].field", equalTo("group"));
        given().when().get("/api/v1/failures/ranked?since=soon").then().statusCode(400)
                .contentType("application/problem+json").body("errors[0].field", equalTo("since"));
    }

    private static String episodeOf(String deployment, String type) {
        return given().when().get("/api/v1/failures?deployment=" + deployment + "&type=" + type).then()
                .statusCode(200).extract().jsonPath().getString("items[0].failureId");
    }
}
