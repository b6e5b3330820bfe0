package io.faultline.impact;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.path.json.config.JsonPathConfig;
import io.restassured.path.json.config.JsonPathConfig.NumberReturnType;
import io.restassured.response.ValidatableResponse;
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
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

/**
 * SLOs on the real ingest path and the test clock: requests (LiteLLM call ids) that failed over and were answered are
 * not failed responses, requests whose every attempt failed are; burn rates and the error budget match hand-computed
 * figures; a late fallback within the settle time turns a failed response into an answered one; a restart catches up
 * in bounded runs; the SLO API validates its input and needs the API key; the gauges pass promtool.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SloTest {

    static final String PROBLEM = "application/problem+json";
    static final Offset<Double> CLOSE = Offset.offset(1e-9);

    @Inject
    TestClock clock;

    @Inject
    SloRollup rollup;

    @Inject
    SloService slos;

    @Inject
    SloMetrics sloMetrics;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    ErrorBudgets budgets;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    /**
     * An old episode assessed now: its SLO period ends at its last sighting and may reach past the 91 days of minutes
     * the rollup keeps. The budget is then the kept part's traffic over the whole period, not the kept part's own,
     * which shrank the budget and inflated the share the episode consumed.
     */
    @Test
    void a_budget_whose_period_reaches_past_the_kept_minutes_is_the_kept_traffic_over_the_whole_period()
            throws Exception {
        Instant now = Instant.parse("2033-06-01T00:00:00Z");
        clock.set(now);
        String group = "slo-kept-" + UUID.randomUUID();
        slos.put(group, 0.99, Duration.ofDays(90), null, null).orElseThrow();
        // What retention (91 days) left: a day's 1,000 requests in one minute a day, for the last 91 days.
        dailyMinutes(group, now, 91, 0);
        ErrorBudgets.Budget today = budgets.budget(group, now);
        assertThat(today.budgetRequests()).isCloseTo(900.0, CLOSE);
        assertThat(today.coverage()).isEqualTo(1.0);

        ErrorBudgets.Budget old = budgets.budget(group, now.minus(Duration.ofDays(30)));
        assertThat(old.coverage()).as("61 of the period's 90 days are kept").isCloseTo(61 / 90.0, CLOSE);
        assertThat(old.budgetRequests()).as("61 days of 1,000 requests, over 90 days, at 1%")
                .isCloseTo(900.0, Offset.offset(1e-6));
    }

    /**
     * Retention prunes on its own schedule, so minutes older than it may still be stored when a budget is read. A
     * period that reaches past the kept minutes counts only the kept ones (those its coverage says it counted), not
     * the older rows still waiting for the prune, which the scale to the whole period then counted twice over.
     */
    @Test
    void a_budget_counts_no_minute_older_than_the_retention_that_the_prune_has_not_deleted_yet() throws Exception {
        Instant now = Instant.parse("2033-09-01T00:00:00Z");
        clock.set(now);
        String group = "slo-unpruned-" + UUID.randomUUID();
        slos.put(group, 0.99, Duration.ofDays(90), null, null).orElseThrow();
        // A day's 1,000 requests in one minute a day for 120 days: the 29 beyond the 91 kept are not pruned yet.
        dailyMinutes(group, now, 120, 0);
        ErrorBudgets.Budget old = budgets.budget(group, now.minus(Duration.ofDays(30)));
        assertThat(old.coverage()).as("61 of the period's 90 days are kept").isCloseTo(61 / 90.0, CLOSE);
        assertThat(old.budgetRequests()).as("the kept 61 days of 1,000 requests, over 90 days, at 1%")
                .isCloseTo(900.0, Offset.offset(1e-6));
        assertThat(slos.budget(group, now.minus(Duration.ofDays(30))).periodRequests())
                .as("requests counted: the 61 kept days'").isEqualTo(61_000);
    }

    /**
     * A listing page evaluated at an old instant (a cursor carries the first page's {@code at}, and a client may send
     * any) counts the kept minutes only, as the error budget does: not the rows older than the retention that the
     * prune has not deleted yet.
     */
    @Test
    void a_listing_page_at_an_old_cursor_instant_counts_no_minute_older_than_the_retention() throws Exception {
        Instant now = Instant.parse("2033-10-01T00:00:00Z");
        clock.set(now);
        String group = "slo-old-cursor-" + UUID.randomUUID();
        slos.put(group, 0.99, Duration.ofDays(90), null, null).orElseThrow();
        // A day's 1,000 requests (10 failed) in one minute a day for 120 days: 29 beyond the 91 kept, unpruned.
        dailyMinutes(group, now, 120, 10);
        Instant at = now.minus(Duration.ofDays(30));
        String cursor = new SloService.SloCursor(at, -Double.MAX_VALUE, "-").encode();
        JsonPath page = given().queryParam("cursor", cursor).queryParam("limit", 1000).when().get("/api/v1/slos")
                .then().log().ifValidationFails().statusCode(200).extract().jsonPath();
        assertThat(page.getString("at")).isEqualTo(at.toString());
        String budget = "items.find { it.modelGroup == '" + group + "' }.budget.";
        assertThat(page.getLong(budget + "periodRequests")).as("the kept 61 days' requests, not the 90 days' stored")
                .isEqualTo(61_000);
        assertThat(page.getLong(budget + "periodFailedResponses")).isEqualTo(610);
        assertThat(slos.statuses(now, 1000, cursor).items()).filteredOn(s -> s.modelGroup().equals(group))
                .singleElement().satisfies(s -> assertThat(s.budget().periodRequests()).isEqualTo(61_000));
    }

    /**
     * A listing page whose period reaches past the kept minutes says which share of the period it counted, as the
     * error budget's coverage does (and as the impact's {@code budgetCoverage}, null when the whole period was): its
     * budget had the kept part's requests only, with nothing to tell it from a whole period's.
     */
    @Test
    void a_listing_page_whose_period_reaches_past_the_kept_minutes_says_the_share_it_counted() throws Exception {
        Instant now = Instant.parse("2033-11-01T00:00:00Z");
        clock.set(now);
        String group = "slo-coverage-" + UUID.randomUUID();
        slos.put(group, 0.99, Duration.ofDays(90), null, null).orElseThrow();
        dailyMinutes(group, now, 91, 0);
        Instant at = now.minus(Duration.ofDays(30));
        String cursor = new SloService.SloCursor(at, -Double.MAX_VALUE, "-").encode();
        String budget = "items.find { it.modelGroup == '" + group + "' }.budget.";
        JsonPath old = given().queryParam("cursor", cursor).queryParam("limit", 1000).when().get("/api/v1/slos")
                .then().log().ifValidationFails().statusCode(200).extract().jsonPath(
                        new JsonPathConfig(NumberReturnType.DOUBLE));
        assertThat(old.getDouble(budget + "coverage")).as("61 of the period's 90 days are kept")
                .isCloseTo(61 / 90.0, CLOSE);
        assertThat(old.getDouble(budget + "coverage"))
                .isCloseTo(budgets.budget(group, at).coverage(), CLOSE);
        JsonPath today = given().queryParam("limit", 1000).when().get("/api/v1/slos").then().statusCode(200)
                .extract().jsonPath();
        assertThat(today.getMap("items.find { it.modelGroup == '" + group + "' }.budget")).containsKey("coverage");
        assertThat(today.getString(budget + "coverage")).as("the whole period counted").isNull();
        given().when().get("/api/v1/slos/" + group).then().statusCode(200).body("budget.coverage",
                org.hamcrest.Matchers.nullValue());
    }

    /**
     * A cursor carries the instant its pages are evaluated at; one ahead of this server's clock is no cursor this
     * list issued (a forged or corrupted one): a 400 naming {@code cursor}, not a page of budgets of a time to come.
     */
    @Test
    void a_listing_cursor_whose_instant_is_in_the_future_is_a_400_naming_the_cursor() {
        Instant now = Instant.parse("2034-01-01T00:00:00Z");
        clock.set(now);
        String ahead = new SloService.SloCursor(now.plusSeconds(1), 0.5, "any").encode();
        given().queryParam("cursor", ahead).when().get("/api/v1/slos").then().log().ifValidationFails()
                .statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("cursor"))
                .body("detail", org.hamcrest.Matchers.containsString("future"));
        String atNow = new SloService.SloCursor(now, 0.5, "any").encode();
        given().queryParam("cursor", atNow).when().get("/api/v1/slos").then().statusCode(200)
                .body("at", equalTo(now.toString()));
    }

    /**
     * The listing holds the groups seen within their own period: one whose last traffic is 40 days old is gone from a
     * 30-day default, however long another group's SLO period is.
     */
    @Test
    void the_listing_leaves_out_a_group_not_seen_within_its_own_period_when_another_slo_is_longer() throws Exception {
        Instant now = Instant.parse("2034-03-01T00:00:00Z");
        clock.set(now);
        String longer = "slo-90d-" + UUID.randomUUID();
        String stale = "slo-stale-" + UUID.randomUUID();
        String recent = "slo-recent-" + UUID.randomUUID();
        slos.put(longer, 0.99, Duration.ofDays(90), null, null).orElseThrow();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("insert into"
                + " slo_minutes (model_group, minute, requests, failed_responses) values (?, ?, 100, 0)")) {
            for (Object[] row : new Object[][] { { longer, now.minus(Duration.ofDays(60)) },
                    { stale, now.minus(Duration.ofDays(40)) }, { recent, now.minus(Duration.ofDays(20)) } }) {
                st.setString(1, (String) row[0]);
                st.setTimestamp(2, Timestamp.from((Instant) row[1]));
                st.executeUpdate();
            }
        }
        List<String> listed = slos.statuses(now, 1000).items().stream().map(SloService.SloStatus::modelGroup)
                .toList();
        assertThat(listed).contains(longer, recent).doesNotContain(stale);
        given().when().get("/api/v1/slos?limit=1000").then().statusCode(200)
                .body("items.modelGroup", org.hamcrest.Matchers.not(org.hamcrest.Matchers.hasItem(stale)));
    }

    /**
     * More groups than one page: the pages, walked by {@code nextCursor}, hold every group exactly once and in the
     * order of one unpaged listing, even when traffic arrives and the clock moves between pages (later pages are
     * evaluated at the first page's {@code at}); a cursor of another list is a 400 naming {@code cursor}.
     */
    @Test
    void the_listing_pages_by_cursor_through_every_group_exactly_once_in_a_stable_order() throws Exception {
        Instant now = Instant.parse("2036-05-01T00:00:00Z");
        clock.set(now);
        String prefix = "slo-page-" + UUID.randomUUID() + "-";
        List<String> mine = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("insert into"
                + " slo_minutes (model_group, minute, requests, failed_responses) values (?, ?, 1000, ?)")) {
            for (int i = 0; i < 7; i++) {
                String group = prefix + i;
                mine.add(group);
                st.setString(1, group);
                st.setTimestamp(2, Timestamp.from(now.minus(Duration.ofMinutes(10))));
                st.setInt(3, i / 2); // pairs of equal budgets: ties are ordered by group
                st.executeUpdate();
            }
        }
        List<String> unpaged = slos.statuses(now, 1000).items().stream().map(SloService.SloStatus::modelGroup)
                .toList();
        assertThat(unpaged).containsAll(mine);
        List<String> paged = new ArrayList<>();
        String cursor = null;
        int pages = 0;
        do {
            var request = given().queryParam("limit", 3);
            if (cursor != null) {
                request.queryParam("cursor", cursor);
            }
            JsonPath page = request.when().get("/api/v1/slos").then().statusCode(200).extract().jsonPath();
            assertThat(page.getString("at")).isEqualTo(now.toString());
            List<String> items = page.getList("items.modelGroup", String.class);
            assertThat(items).hasSizeLessThanOrEqualTo(3);
            paged.addAll(items);
            cursor = page.getString("nextCursor");
            assertThat(page.getBoolean("truncated")).isEqualTo(cursor != null);
            if (pages++ == 0) {
                // Between pages: the clock moves and the worst budget of all arrives; the walk is not disturbed.
                clock.set(now.plus(Duration.ofMinutes(20)));
                try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                        "insert into slo_minutes (model_group, minute, requests, failed_responses)"
                        + " values (?, ?, 10, 10)")) {
                    st.setString(1, mine.get(6));
                    st.setTimestamp(2, Timestamp.from(now.plus(Duration.ofMinutes(5))));
                    st.executeUpdate();
                }
            }
        } while (cursor != null && pages < 1000);
        assertThat(pages).isGreaterThan(2);
        assertThat(paged).doesNotHaveDuplicates().isEqualTo(unpaged);

        String failuresCursor = given().queryParam("limit", 1).when().get("/api/v1/slos").then().statusCode(200)
                .extract().jsonPath().getString("nextCursor");
        given().queryParam("cursor", failuresCursor).when().get("/api/v1/failures").then().statusCode(400)
                .contentType(PROBLEM).body("detail", org.hamcrest.Matchers.containsString("slos list"))
                .body("errors[0].field", equalTo("cursor"));
        String other = new io.faultline.web.KeysetCursor("failures", now, UUID.randomUUID()).encode();
        given().queryParam("cursor", other).when().get("/api/v1/slos").then().statusCode(400).contentType(PROBLEM)
                .body("detail", org.hamcrest.Matchers.containsString("failures list"))
                .body("errors[0].field", equalTo("cursor"));
        given().queryParam("cursor", "not-a-cursor").when().get("/api/v1/slos").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("cursor"));
    }

    /** One request answered at its first attempt. */
    private static List<Payloads> answered(String group, Instant at) {
        return List.of(Payloads.success("openai", group, "slo-openai", at));
    }

    /** One request whose first attempt failed and whose fallback (another model group) answered. */
    private static List<Payloads> failedOver(String group, String fallbackGroup, Instant at) {
        Payloads first = Payloads.failure("openai", group, "slo-openai", at, 503, "ServiceUnavailableError", "down");
        return List.of(first, attempt(Payloads.success("gemini", fallbackGroup, "slo-gemini", at.plusSeconds(2)),
                first));
    }

    /** One request whose attempt and fallback both failed: a failed response. */
    private static List<Payloads> failedEverywhere(String group, String fallbackGroup, Instant at) {
        Payloads first = Payloads.failure("openai", group, "slo-openai", at, 429, "RateLimitError", "slow down");
        return List.of(first, attempt(Payloads.failure("gemini", fallbackGroup, "slo-gemini", at.plusSeconds(1),
                503, "ServiceUnavailableError", "down"), first));
    }

    /** Another attempt of {@code first}'s request: LiteLLM gives it the same call id and trace id. */
    private static Payloads attempt(Payloads p, Payloads first) {
        return p.set("litellm_call_id", first.id()).set("trace_id", first.node().get("trace_id").asText());
    }

    private static void ingest(List<Payloads> calls) {
        for (int i = 0; i < calls.size(); i += 200) {
            Api.ingest(Payloads.array(calls.subList(i, Math.min(calls.size(), i + 200)).toArray(Payloads[]::new)))
                    .statusCode(200);
        }
    }

    /** As if the rollup had last reached {@code at} (it runs on demand here: the scheduled one is off in tests). */
    private void rolledThrough(Instant at) throws Exception {
        SloRollupPosition.set(dataSource, at);
    }

    private static ValidatableResponse putSlo(String group, Object body) {
        return given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY)
                .contentType(ContentType.JSON).body(body).when().put("/api/v1/slos/" + group).then().log()
                .ifValidationFails();
    }

    private static JsonPath status(String group) {
        // Read numbers as doubles: the default (float) would lose the figures' precision.
        return given().when().get("/api/v1/slos/" + group).then().statusCode(200).extract().jsonPath()
                .using(JsonPathConfig.jsonPathConfig().numberReturnType(NumberReturnType.DOUBLE));
    }

    private static double burn(JsonPath status, String window) {
        return status.getDouble("burnRates.find { it.window == '" + window + "' }.burnRate");
    }

    private static long requests(JsonPath status, String window) {
        return (long) status.getDouble("burnRates.find { it.window == '" + window + "' }.requests");
    }

    @Test
    void burn_rates_and_budget_count_requests_not_attempts_and_only_requests_no_attempt_answered() throws Exception {
        String group = "slo-a-" + UUID.randomUUID();
        String fallback = "slo-fb-" + UUID.randomUUID();
        Instant t0 = Instant.parse("2034-03-01T10:00:00Z");
        List<Payloads> calls = new ArrayList<>();
        // 5 h before: 100 answered requests (inside 6 h and 3 d, outside 1 h).
        for (int i = 0; i < 100; i++) {
            calls.addAll(answered(group, t0.minus(Duration.ofHours(5)).plusSeconds(i)));
        }
        for (int m = 0; m < 60; m++) {
            Instant minute = t0.plus(Duration.ofMinutes(m));
            if (m < 30) { // 3 answered a minute: 90
                for (int i = 0; i < 3; i++) {
                    calls.addAll(answered(group, minute.plusSeconds(10 + i)));
                }
            } else if (m < 55) { // 1 answered and 1 failed over to the fallback and answered: 50, none failed
                calls.addAll(answered(group, minute.plusSeconds(5)));
                calls.addAll(failedOver(group, fallback, minute.plusSeconds(20)));
            } else { // the last 5 minutes: 1 answered and 1 failed on every attempt: 10, 5 failed responses
                calls.addAll(answered(group, minute.plusSeconds(5)));
                calls.addAll(failedEverywhere(group, fallback, minute.plusSeconds(20)));
            }
        }
        // The batch arrives once its calls have ended (within the ingest's clock skew), before the late-commit
        // margin of the runs below, which must see it as received before them.
        clock.set(t0.plus(Duration.ofMinutes(55)));
        ingest(calls);
        putSlo(group, Map.of("availabilityTarget", 0.99, "period", "1d")).statusCode(200)
                .body("slo.source", equalTo("api"));

        Instant now = t0.plus(Duration.ofHours(1));
        clock.set(now);
        rolledThrough(t0.minus(Duration.ofHours(6)));
        SloRollup.Run run = rollup.catchUp();
        assertThat(run.caughtUp()).isTrue();

        JsonPath s = status(group);
        // 5m: 10 requests, 5 failed: (5/10) / 0.01 = 50.
        assertThat(requests(s, "5m")).isEqualTo(10);
        assertThat(burn(s, "5m")).isCloseTo(50.0, CLOSE);
        // 30m: 25 * 2 + 10 = 60 requests, 5 failed: (5/60) / 0.01.
        assertThat(requests(s, "30m")).isEqualTo(60);
        assertThat(burn(s, "30m")).isCloseTo(5.0 / 60 / 0.01, CLOSE);
        // 1h: 90 + 50 + 10 = 150 requests (the 25 fallback attempts are not requests of their own), 5 failed.
        assertThat(requests(s, "1h")).isEqualTo(150);
        assertThat(burn(s, "1h")).isCloseTo(5.0 / 150 / 0.01, CLOSE);
        // 6h and 3d: 250 requests, 5 failed: (5/250) / 0.01 = 2.
        assertThat(requests(s, "6h")).isEqualTo(250);
        assertThat(burn(s, "6h")).isCloseTo(2.0, CLOSE);
        assertThat(burn(s, "3d")).isCloseTo(2.0, CLOSE);
        // Budget over 1 d: 1% of 250 = 2.5 failed responses; 5 spent: 1 - 5 / 2.5 = -1.
        SloService.Budget budget = slos.budget(group, now);
        assertThat(budget.periodRequests()).isEqualTo(250);
        assertThat(budget.periodFailedResponses()).isEqualTo(5);
        assertThat(budget.budgetRequests()).isCloseTo(2.5, CLOSE);
        assertThat(budget.remainingRatio()).isCloseTo(-1.0, CLOSE);
        assertThat(budget.slo().period()).isEqualTo(Duration.ofDays(1));
        assertThat(s.getDouble("budget.remainingRatio")).isCloseTo(-1.0, CLOSE);
        // A request belongs to its first attempt's model group: the fallback group has no requests of its own.
        assertThat(requests(status(fallback), "3d")).isZero();
        assertThat(slos.budget(fallback, now).periodRequests()).isZero();
        given().when().get("/api/v1/slos?limit=1000").then().statusCode(200).body("items.modelGroup", hasItem(group));

        // The gauges, read from the database after the run, as a scraper sees them; promtool accepts them.
        String scrape = Metrics.scrape();
        assertThat(Metrics.value(scrape, "faultline_slo_burn_rate", "model_group", group, "window", "5m"))
                .isCloseTo(50.0, CLOSE);
        assertThat(Metrics.value(scrape, "faultline_slo_burn_rate", "model_group", group, "window", "6h"))
                .isCloseTo(2.0, CLOSE);
        assertThat(Metrics.value(scrape, "faultline_slo_error_budget_remaining", "model_group", group))
                .isCloseTo(-1.0, CLOSE);
        assertThat(Metrics.value(scrape, "faultline_slo_target", "model_group", group)).isCloseTo(0.99, CLOSE);
        promtoolCheck();

        // A late fallback of one failed request (LiteLLM's spool delivers it now), within the settle time: the next
        // run derives that minute again and the request is answered, not failed.
        Payloads late = calls.stream().filter(p -> p.node().path("status").asText().equals("failure")
                && p.node().path("model_group").asText().equals(group)
                && p.node().path("error_information").path("error_code").asText().equals("429")).findFirst()
                .orElseThrow();
        double lateStart = late.node().get("startTime").asDouble() + 3;
        ingest(List.of(attempt(Payloads.success("gemini", fallback, "slo-gemini",
                Instant.ofEpochMilli((long) (lateStart * 1000))), late)));
        SloRollup.Run again = rollup.run(false);
        Instant lateMinute = Instant.ofEpochMilli((long) (late.node().get("startTime").asDouble() * 1000))
                .truncatedTo(ChronoUnit.MINUTES);
        assertThat(again.incremental()).as("caught up: only what arrived since the last run").isTrue();
        assertThat(again.touched()).as("the late attempt's minute (its request's) and the one before").isEqualTo(2);
        assertThat(again.from()).isEqualTo(lateMinute.minus(Duration.ofMinutes(1)));
        JsonPath after = status(group);
        assertThat(requests(after, "5m")).as("still one request, not a new one").isEqualTo(10);
        assertThat(burn(after, "5m")).isCloseTo(4.0 / 10 / 0.01, CLOSE);
        assertThat(slos.budget(group, clock.instant()).periodFailedResponses()).isEqualTo(4);
        assertThat(rollup.run(false).touched()).as("nothing arrived since; the last run's snapshot saw the late one")
                .isZero();

        // An ingest that stamped its calls 30 s ago and commits only now (after the last run's snapshot): the next
        // run reads it within the late-commit margin. One more answered request 20 minutes back.
        Instant stamped = clock.instant().minusSeconds(30);
        clock.set(stamped);
        Instant lateCommitted = t0.plus(Duration.ofMinutes(40)).plusSeconds(50);
        ingest(answered(group, lateCommitted));
        clock.set(now);
        SloRollup.Run committedLate = rollup.run(false);
        assertThat(committedLate.incremental()).isTrue();
        assertThat(committedLate.from()).isEqualTo(lateCommitted.truncatedTo(ChronoUnit.MINUTES).minus(
                Duration.ofMinutes(1)));
        assertThat(requests(status(group), "1h")).isEqualTo(151);

        // Half an hour on, past the settle time, LiteLLM's spool delivers another request's fallback: a run a minute
        // later still finds its request (older minutes are derived again when a call of theirs arrives).
        clock.set(now.plus(Duration.ofMinutes(30)));
        SloRollup.Run afterPause = rollup.run(false);
        assertThat(afterPause.incremental()).as("not run for longer than the settle time").isFalse();
        assertThat(afterPause.from()).as("from the last rolled minute").isEqualTo(now);
        Payloads older = calls.stream().filter(p -> p.node().path("status").asText().equals("failure")
                && p.node().path("model_group").asText().equals(group)
                && p.node().path("error_information").path("error_code").asText().equals("429")
                && p != late).findFirst().orElseThrow();
        double olderStart = older.node().get("startTime").asDouble() + 3;
        clock.set(now.plus(Duration.ofMinutes(31)));
        ingest(List.of(attempt(Payloads.success("gemini", fallback, "slo-gemini",
                Instant.ofEpochMilli((long) (olderStart * 1000))), older)));
        clock.set(now.plus(Duration.ofMinutes(32)));
        SloRollup.Run later = rollup.run(false);
        assertThat(later.incremental()).isTrue();
        assertThat(later.from()).isEqualTo(Instant.ofEpochMilli((long) (older.node().get("startTime").asDouble()
                * 1000)).truncatedTo(ChronoUnit.MINUTES).minus(Duration.ofMinutes(1)));
        assertThat(slos.budget(group, clock.instant()).periodFailedResponses()).isEqualTo(3);
        assertThat(slos.budget(group, clock.instant()).periodRequests()).as("one request still").isEqualTo(251);
        clock.set(now);

        // Back to the default: 99.5% over 30 d.
        given().header("Authorization", "Bearer " + Api.KEY).when().delete("/api/v1/slos/" + group).then()
                .statusCode(204);
        SloService.Budget byDefault = slos.budget(group, clock.instant());
        assertThat(byDefault.slo().source()).isEqualTo("config");
        assertThat(byDefault.slo().availabilityTarget()).isCloseTo(0.995, CLOSE);
        assertThat(byDefault.slo().period()).isEqualTo(Duration.ofDays(30));
        assertThat(byDefault.remainingRatio()).isCloseTo(1 - 3 / (0.005 * 251), CLOSE);
    }

    /**
     * A caller's own mistakes are requests, not failed responses (the passive baselines' rule,
     * {@code SloRollup.SERVICE_FAILURE}): a prompt over the context window (400) and a virtual key LiteLLM refused
     * itself (401, under provider {@code litellm} or under the provider it stamped) spend no availability budget; a
     * provider's 503 and 429 do. Counted, make run's demo spent 2 context overflows and an unknown key of the budget.
     */
    @Test
    void a_callers_own_4xx_spends_no_error_budget_while_provider_side_failures_do() throws Exception {
        String group = "slo-client-" + UUID.randomUUID();
        Instant t0 = Instant.parse("2034-04-01T10:00:00Z");
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 15; i++) {
            calls.addAll(answered(group, t0.plusSeconds(i)));
        }
        calls.add(Payloads.failure("openai", group, "slo-openai", t0.plusSeconds(20), 503,
                "ServiceUnavailableError", "down"));
        calls.add(Payloads.failure("openai", group, "slo-openai", t0.plusSeconds(21), 429, "RateLimitError",
                "slow down"));
        calls.add(Payloads.failure("openai", group, "slo-openai", t0.plusSeconds(22), 400,
                "ContextWindowExceededError", "This model's maximum context length is 128000 tokens"));
        calls.add(Payloads.failure("openai", group, "slo-openai", t0.plusSeconds(23), 401, "ProxyException",
                "Authentication Error, Invalid proxy server token passed.").latency(0));
        calls.add(Payloads.failure("litellm", group, "slo-openai", t0.plusSeconds(24), 401, "ProxyException",
                "Authentication Error, Invalid proxy server token passed.").latency(0));
        // A request whose first attempt hit a 429 and whose fallback overflowed the smaller context: its last
        // attempt is the caller's mistake, so it spends nothing either.
        Payloads first = Payloads.failure("openai", group, "slo-openai", t0.plusSeconds(30), 429, "RateLimitError",
                "slow down");
        calls.add(first);
        calls.add(attempt(Payloads.failure("gemini", group, "slo-gemini", t0.plusSeconds(31), 400,
                "ContextWindowExceededError", "input token count exceeds the maximum"), first));
        clock.set(t0.plus(Duration.ofMinutes(5)));
        ingest(calls);
        putSlo(group, Map.of("availabilityTarget", 0.99, "period", "1d")).statusCode(200);
        Instant now = t0.plus(Duration.ofMinutes(10));
        clock.set(now);
        rolledThrough(t0.minus(Duration.ofHours(1)));
        assertThat(rollup.catchUp().caughtUp()).isTrue();

        SloService.Budget budget = slos.budget(group, now);
        assertThat(budget.periodRequests()).as("every request counts").isEqualTo(21);
        assertThat(budget.periodFailedResponses()).as("the 503 and the 429 only").isEqualTo(2);
        assertThat(status(group).getDouble("budget.periodFailedResponses")).isEqualTo(2.0);
    }

    /**
     * A request for a model LiteLLM does not serve is logged with {@code model_group: ""} (the router resolved no
     * group) and the requested model: it belongs to that model, as a request without a group does. Counted under
     * "", make run's request for an unknown model listed an SLO group with an empty name, which
     * {@code GET /api/v1/slos/{modelGroup}} cannot name.
     */
    @Test
    void a_request_logged_with_an_empty_model_group_belongs_to_its_model() throws Exception {
        // Letters only: an unrouted call's model name is the caller's text and is masked like it, and a random UUID
        // holds a run of 9 digits (a phone number to the masking) about one time in seven.
        String model = "slo-unknown-model-" + UUID.randomUUID().toString().chars()
                .map(ch -> Character.isDigit(ch) ? 'g' + ch - '0' : ch)
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append);
        Instant t0 = Instant.parse("2034-05-02T10:00:00Z");
        Payloads unknown = Payloads.failure("litellm", model, "unused", t0, 400, "ProxyModelNotFoundError",
                "Invalid model name passed in model=" + model).set("model_group", "").without("model_id")
                .set("hidden_params", Map.of()).latency(0);
        clock.set(t0.plus(Duration.ofMinutes(5)));
        ingest(List.of(unknown));
        Instant now = t0.plus(Duration.ofMinutes(10));
        clock.set(now);
        rolledThrough(t0.minus(Duration.ofHours(1)));
        assertThat(rollup.catchUp().caughtUp()).isTrue();

        assertThat(slos.budget(model, now).periodRequests()).as("the request, under its model").isEqualTo(1);
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from slo_minutes where model_group = '' and minute = ?")) {
            st.setTimestamp(1, Timestamp.from(t0.truncatedTo(ChronoUnit.MINUTES)));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                assertThat(rs.getLong(1)).as("no group without a name").isZero();
            }
        }
    }

    @Test
    void a_burn_exactly_at_an_alert_threshold_is_exported_at_it() throws Exception {
        String g = "slo-thr-" + UUID.randomUUID();
        Instant t0 = Instant.parse("2036-05-10T12:00:00Z");
        List<Payloads> calls = new ArrayList<>();
        // 18 failed of 125 at 99%: (18 / 125) / 0.01 = 14.4, the fast-burn page's threshold.
        for (int i = 0; i < 125; i++) {
            Instant at = t0.plusSeconds(2L * i);
            calls.add(i < 18 ? Payloads.failure("openai", g, "slo-openai", at, 503, "ServiceUnavailableError", "down")
                    : Payloads.success("openai", g, "slo-openai", at));
        }
        clock.set(t0.plus(Duration.ofMinutes(5)));
        ingest(calls);
        putSlo(g, Map.of("availabilityTarget", 0.99, "period", "1h")).statusCode(200);
        rolledThrough(t0.minus(Duration.ofHours(1)));
        rollup.catchUp();
        JsonPath status = status(g);
        assertThat(burn(status, "5m")).as("not 14.399999999999986, under the alert's >= 14.4").isEqualTo(14.4);
        assertThat(burn(status, "1h")).isEqualTo(14.4);
        // The period's budget is 1.25 failed responses: 18 of them is 1 - 18 / 1.25 = -13.4 of it left.
        assertThat(status.getDouble("budget.remainingRatio")).isEqualTo(-13.4);
    }

    @Test
    void calls_from_a_proxy_whose_clock_runs_ahead_are_counted() throws Exception {
        String g = "slo-skew-" + UUID.randomUUID();
        Instant t0 = Instant.parse("2036-08-10T12:00:10Z");
        clock.set(t0);
        rolledThrough(t0.minus(Duration.ofMinutes(30)));
        rollup.catchUp();
        // Eight minutes of 2 answered calls a minute from a proxy 3 to 3.5 min ahead (the ingest tolerates 5), each
        // minute rolled up as the schedule does, then eight quiet minutes.
        for (int i = 0; i < 16; i++) {
            Instant now = t0.plus(Duration.ofMinutes(i));
            clock.set(now);
            if (i < 8) {
                ingest(List.of(Payloads.success("openai", g, "slo-openai", now.plusSeconds(180)),
                        Payloads.success("openai", g, "slo-openai", now.plusSeconds(210))));
            }
            rollup.run(false);
        }
        assertThat(requests(status(g), "30m")).isEqualTo(16);
    }

    @Test
    void a_new_providers_first_calls_count_when_a_run_falls_between_their_commit_and_the_providers_record()
            throws Exception {
        String g = "slo-new-provider-" + UUID.randomUUID();
        String provider = "p-" + UUID.randomUUID().toString().substring(0, 8); // a label: at most 40 characters
        Instant t0 = Instant.parse("2036-08-12T12:00:10Z");
        clock.set(t0);
        rolledThrough(t0.minus(Duration.ofMinutes(30)));
        rollup.catchUp();
        clock.set(t0.plusSeconds(60));
        assertThat(rollup.run(false).incremental()).isTrue();
        ingest(List.of(Payloads.success(provider, g, "slo-new", t0.plusSeconds(62)),
                Payloads.success(provider, g, "slo-new", t0.plusSeconds(64))));
        // The fold records a new provider in provider_deployments after the calls commit. A run between the two
        // commits sees the calls but not the provider: the record is taken away for that run and put back after.
        List<Object[]> recorded = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "delete from provider_deployments where provider = ? returning deployment, last_seen")) {
            st.setString(1, provider);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    recorded.add(new Object[] {rs.getString(1), rs.getTimestamp(2)});
                }
            }
        }
        assertThat(recorded).hasSize(1);
        clock.set(t0.plusSeconds(120));
        assertThat(rollup.run(false).incremental()).isTrue();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "insert into provider_deployments (provider, deployment, last_seen) values (?, ?, ?)")) {
            st.setString(1, provider);
            st.setString(2, (String) recorded.get(0)[0]);
            st.setTimestamp(3, (Timestamp) recorded.get(0)[1]);
            st.executeUpdate();
        }
        for (int i = 3; i <= 6; i++) {
            clock.set(t0.plus(Duration.ofMinutes(i)));
            rollup.run(false);
        }
        assertThat(requests(status(g), "30m")).isEqualTo(2);
    }

    @Test
    void calls_ahead_of_the_clock_stored_before_a_catch_up_are_counted() throws Exception {
        String g = "slo-skew-range-" + UUID.randomUUID();
        Instant t0 = Instant.parse("2036-08-11T12:00:10Z");
        clock.set(t0);
        // Stored at 12:00 starting 4 min ahead, while no rollup ran (a restart); the catch-up at 12:03 derives every
        // minute in a range, and the runs after it read only what arrived since (less the 2 min late-commit margin).
        ingest(List.of(Payloads.success("openai", g, "slo-openai", t0.plusSeconds(250)),
                Payloads.success("openai", g, "slo-openai", t0.plusSeconds(260))));
        clock.set(t0.plus(Duration.ofMinutes(3)));
        rolledThrough(t0.minus(Duration.ofMinutes(30)));
        rollup.catchUp();
        for (int i = 4; i <= 9; i++) {
            clock.set(t0.plus(Duration.ofMinutes(i)));
            rollup.run(false);
        }
        assertThat(requests(status(g), "30m")).isEqualTo(2);
    }

    private static double latencyBurn(JsonPath status, String window) {
        return status.getDouble("latency.burnRates.find { it.window == '" + window + "' }.burnRate");
    }

    private static long slow(JsonPath status, String window) {
        return (long) status.getDouble("latency.burnRates.find { it.window == '" + window + "' }.slow");
    }

    private static long answered(JsonPath status, String window) {
        return (long) status.getDouble("latency.burnRates.find { it.window == '" + window + "' }.answered");
    }

    @Test
    void the_latency_slo_counts_answered_requests_slower_than_the_target_end_to_end_across_attempts()
            throws Exception {
        String group = "slo-l-" + UUID.randomUUID();
        String fallback = "slo-lfb-" + UUID.randomUUID();
        String plain = "slo-lp-" + UUID.randomUUID();
        Instant t0 = Instant.parse("2034-04-01T10:00:00Z");
        List<Payloads> calls = new ArrayList<>();
        // 5 h before: 100 answered in 420 ms.
        for (int i = 0; i < 100; i++) {
            calls.addAll(answered(group, t0.minus(Duration.ofHours(5)).plusSeconds(i)));
        }
        calls.addAll(answered(plain, t0.plusSeconds(30)));
        for (int m = 0; m < 60; m++) {
            Instant minute = t0.plus(Duration.ofMinutes(m));
            calls.addAll(answered(group, minute.plusSeconds(5))); // 60 in 420 ms
            if (m >= 50) {
                // each attempt is fast (200 ms, then 420 ms 2 s later) but the user waited 2.42 s: slow
                calls.addAll(failedOver(group, fallback, minute.plusSeconds(20)));
            }
            if (m >= 55) {
                // 780 ms: within the 800 ms target but above the 750 ms edge it is evaluated at: slow
                calls.add(Payloads.success("openai", group, "slo-openai", minute.plusSeconds(30)).latency(0.78));
                // never answered: a failed response, no latency
                calls.addAll(failedEverywhere(group, fallback, minute.plusSeconds(40)));
            }
        }
        clock.set(t0.plus(Duration.ofHours(1))); // every call below has ended when the batch arrives
        ingest(calls);
        putSlo(group, Map.of("availabilityTarget", 0.99, "period", "1d", "latencyTargetMs", 800,
                "latencyQuantile", 0.9)).statusCode(200);
        Instant now = t0.plus(Duration.ofHours(1));
        clock.set(now);
        rolledThrough(t0.minus(Duration.ofHours(6)));
        assertThat(rollup.catchUp().caughtUp()).isTrue();

        JsonPath s = status(group);
        assertThat(s.getDouble("latency.budget.targetMs")).isEqualTo(800.0);
        assertThat(s.getDouble("latency.budget.evaluatedAtMs")).isEqualTo(750.0);
        // 5m: answered 5 fast + 5 failed over + 5 at 780 ms = 15; slow 10: (10/15) / 0.1.
        assertThat(answered(s, "5m")).isEqualTo(15);
        assertThat(slow(s, "5m")).isEqualTo(10);
        assertThat(latencyBurn(s, "5m")).isCloseTo(10.0 / 15 / 0.1, CLOSE);
        // the availability SLO is unchanged: 20 requests, the 5 never answered failed.
        assertThat(requests(s, "5m")).isEqualTo(20);
        assertThat(burn(s, "5m")).isCloseTo(5.0 / 20 / 0.01, CLOSE);
        // 1h: answered 60 + 10 + 5 = 75, slow 15: (15/75) / 0.1 = 2.
        assertThat(answered(s, "1h")).isEqualTo(75);
        assertThat(latencyBurn(s, "1h")).isCloseTo(2.0, CLOSE);
        // 6h and 3d: answered 175, slow 15.
        assertThat(answered(s, "6h")).isEqualTo(175);
        assertThat(latencyBurn(s, "3d")).isCloseTo(15.0 / 175 / 0.1, CLOSE);
        // Budget over 1 d: 10% of 175 = 17.5 slow requests allowed, 15 spent.
        SloService.LatencyBudget budget = slos.budgets(group, now).latency();
        assertThat(budget.periodAnswered()).isEqualTo(175);
        assertThat(budget.periodSlow()).isEqualTo(15);
        assertThat(budget.budgetRequests()).isCloseTo(17.5, CLOSE);
        assertThat(budget.remainingRatio()).isCloseTo(1 - 15 / 17.5, CLOSE);
        assertThat(s.getDouble("latency.budget.remainingRatio")).isCloseTo(1 - 15 / 17.5, CLOSE);
        // A group without a latency SLO reports none.
        assertThat(status(plain).getString("latency")).isNull();
        assertThat(slos.budgets(plain, now).latency()).isNull();

        String scrape = Metrics.scrape();
        assertThat(Metrics.value(scrape, "faultline_slo_latency_burn_rate", "model_group", group, "window", "1h"))
                .isCloseTo(2.0, CLOSE);
        assertThat(Metrics.value(scrape, "faultline_slo_latency_burn_rate", "model_group", group, "window", "5m"))
                .isCloseTo(10.0 / 15 / 0.1, CLOSE);
        assertThat(Metrics.value(scrape, "faultline_slo_latency_error_budget_remaining", "model_group", group))
                .isCloseTo(1 - 15 / 17.5, CLOSE);
        assertThat(Metrics.value(scrape, "faultline_slo_latency_target_seconds", "model_group", group))
                .isCloseTo(0.75, CLOSE);
        assertThat(scrape).doesNotContain("faultline_slo_latency_burn_rate{model_group=\"" + plain);
        // the availability gauges keep their names and labels
        assertThat(Metrics.value(scrape, "faultline_slo_burn_rate", "model_group", group, "window", "5m"))
                .isCloseTo(25.0, CLOSE);
        promtoolCheck();

        // A new target re-evaluates the stored history without a recount: at 2 s the 780 ms answers are fast, the
        // failed-over ones (2.42 s end to end) still slow.
        putSlo(group, Map.of("availabilityTarget", 0.99, "period", "1d", "latencyTargetMs", 2000,
                "latencyQuantile", 0.9)).statusCode(200).body("latency.budget.evaluatedAtMs", equalTo(2000.0f));
        JsonPath after = status(group);
        assertThat(slow(after, "5m")).isEqualTo(5);
        assertThat(slow(after, "1h")).isEqualTo(10);
        assertThat(slos.budgets(group, now).latency().periodSlow()).isEqualTo(10);

        // Without its latency SLO the group has no latency target series any more (not the old target).
        putSlo(group, Map.of("availabilityTarget", 0.99, "period", "1d")).statusCode(200);
        sloMetrics.refresh();
        assertThat(Metrics.scrape()).doesNotContain("faultline_slo_latency_target_seconds{model_group=\"" + group)
                .contains("faultline_slo_target{model_group=\"" + group);
    }

    @Test
    void after_a_restart_the_rollup_catches_up_from_the_last_rolled_minute_in_bounded_runs() throws Exception {
        String group = "slo-r-" + UUID.randomUUID();
        Instant t1 = Instant.parse("2034-06-01T00:00:00Z");
        List<Payloads> calls = new ArrayList<>();
        // Every 10 minutes for 3 hours: one answered request and, every hour's first slot, one failed on every attempt.
        for (int slot = 0; slot < 18; slot++) {
            Instant at = t1.plus(Duration.ofMinutes(10L * slot)).plusSeconds(30);
            calls.addAll(answered(group, at));
            if (slot % 6 == 0) {
                calls.addAll(failedEverywhere(group, group + "-fb", at.plusSeconds(1)));
            }
        }
        clock.set(t1.plus(Duration.ofHours(3))); // every call below has ended when the batch arrives
        ingest(calls);
        rolledThrough(t1); // the rollup reached t1, then Faultline was down for 3 hours
        clock.set(t1.plus(Duration.ofHours(3)));

        SloRollup.Run first = rollup.run(false);
        assertThat(first.from()).isEqualTo(t1);
        assertThat(first.to()).as("one catch-up step (1 h in tests)").isEqualTo(t1.plus(Duration.ofHours(1)));
        assertThat(first.caughtUp()).isFalse();
        assertThat(slos.budget(group, clock.instant()).periodRequests()).as("the first hour only").isEqualTo(7);

        SloRollup.Run last = rollup.catchUp();
        assertThat(last.caughtUp()).isTrue();
        SloService.Budget budget = slos.budget(group, clock.instant());
        assertThat(budget.periodRequests()).isEqualTo(21);
        assertThat(budget.periodFailedResponses()).isEqualTo(3);
        assertThat(budget.remainingRatio()).isCloseTo(1 - 3 / (0.005 * 21), CLOSE);
        JsonPath s = status(group);
        assertThat(requests(s, "1h")).isEqualTo(7);
        assertThat(burn(s, "1h")).isCloseTo(1.0 / 7 / 0.005, CLOSE);
        assertThat(burn(s, "5m")).as("no request in the last 5 minutes").isZero();

        // A first start (no state): from the backfill horizon (2 h in tests), at the oldest call after it.
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "delete from slo_rollup_state")) {
            st.executeUpdate();
        }
        SloRollup.Run fresh = rollup.run(false);
        assertThat(fresh.from()).isEqualTo(t1.plus(Duration.ofHours(1)));
        assertThat(fresh.caughtUp()).isFalse();
        assertThat(rollup.catchUp().caughtUp()).isTrue();
        assertThat(slos.budget(group, clock.instant()).periodRequests()).as("earlier minutes stay as derived")
                .isEqualTo(21);
    }

    @Test
    void the_slo_api_names_the_field_to_fix_and_writes_need_the_api_key() {
        String group = "slo-v-" + UUID.randomUUID();
        given().contentType(ContentType.JSON).body(Map.of("availabilityTarget", 0.99)).when()
                .put("/api/v1/slos/" + group).then().statusCode(401).contentType(PROBLEM);
        given().when().delete("/api/v1/slos/" + group).then().statusCode(401).contentType(PROBLEM);

        for (Object[] bad : new Object[][] {
                { Map.of("availabilityTarget", 1.0), "availabilityTarget" },
                { Map.of("availabilityTarget", 0.3), "availabilityTarget" },
                { Map.of("availabilityTarget", "0.99"), "availabilityTarget" },
                { Map.of("period", "30d"), "availabilityTarget" },
                { Map.of("availabilityTarget", 0.99, "period", "400d"), "period" },
                { Map.of("availabilityTarget", 0.99, "period", "10m"), "period" },
                { Map.of("availabilityTarget", 0.99, "period", "a month"), "period" },
                { Map.of("availabilityTarget", 0.99, "period", 30), "period" },
                { Map.of("availabilityTarget", 0.99, "latencyTargetMs", 2000), "latencyQuantile" },
                { Map.of("availabilityTarget", 0.99, "latencyTargetMs", -1, "latencyQuantile", 0.99),
                        "latencyTargetMs" },
                { Map.of("availabilityTarget", 0.99, "latencyTargetMs", 50, "latencyQuantile", 0.99),
                        "latencyTargetMs" },
                { Map.of("availabilityTarget", 0.99, "latencyTargetMs", 600_001, "latencyQuantile", 0.99),
                        "latencyTargetMs" },
                { Map.of("availabilityTarget", 0.99, "latencyTargetMs", 2000, "latencyQuantile", 1.5),
                        "latencyQuantile" },
                { Map.of("availabilityTarget", 0.99, "target", 0.9), "target" } }) {
            putSlo(group, bad[0]).statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo(bad[1]));
        }
        // A target written as a percentage is there, not missing: the problem says how to write it.
        putSlo(group, Map.of("availabilityTarget", 99.9)).statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("availabilityTarget"))
                .body("detail", org.hamcrest.Matchers.containsString("send 0.999"))
                .body("detail", org.hamcrest.Matchers.not(org.hamcrest.Matchers.containsString("required")));
        putSlo(group, Map.of("period", "30d")).statusCode(400).contentType(PROBLEM)
                .body("detail", org.hamcrest.Matchers.containsString("availabilityTarget is required"));
        putSlo(group, "[1, 2]").statusCode(400).contentType(PROBLEM);
        putSlo(group, "{not json").statusCode(400).contentType(PROBLEM);
        putSlo("x".repeat(201), Map.of("availabilityTarget", 0.99)).statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("modelGroup"));
        given().when().get("/api/v1/slos?limit=0").then().statusCode(400).contentType(PROBLEM);

        JsonPath set = putSlo(group, Map.of("availabilityTarget", 0.999, "period", "P7D", "latencyTargetMs", 2000,
                "latencyQuantile", 0.99)).statusCode(200).extract().jsonPath()
                .using(JsonPathConfig.jsonPathConfig().numberReturnType(NumberReturnType.DOUBLE));
        assertThat(set.getDouble("slo.availabilityTarget")).isCloseTo(0.999, CLOSE);
        assertThat(set.getString("slo.source")).isEqualTo("api");
        assertThat(set.getString("slo.period")).as("ISO-8601").isEqualTo("PT168H");
        assertThat(slos.slo(group).period()).isEqualTo(Duration.ofDays(7));
        assertThat(slos.slo(group).latencyTargetMs()).isEqualTo(2000.0);
        assertThat(slos.slo(group).latencyQuantile()).isEqualTo(0.99);
        given().when().get("/api/v1/slos?limit=1000").then().statusCode(200).body("items.modelGroup", hasItem(group));

        given().header("Authorization", "Bearer " + Api.KEY).when().delete("/api/v1/slos/" + group).then()
                .statusCode(204);
        given().header("Authorization", "Bearer " + Api.KEY).when().delete("/api/v1/slos/" + group).then()
                .statusCode(404).contentType(PROBLEM);
        assertThat(slos.slo(group).source()).isEqualTo("config");

        // LiteLLM model names often carry a slash ("openai/gpt-4o"): the path takes the rest of the URL.
        String slashed = "openai/" + group;
        putSlo(slashed, Map.of("availabilityTarget", 0.98)).statusCode(200).body("modelGroup", equalTo(slashed));
        given().when().get("/api/v1/slos/" + slashed).then().statusCode(200).body("modelGroup", equalTo(slashed))
                .body("slo.source", equalTo("api"));
        assertThat(slos.slo(slashed).availabilityTarget()).isCloseTo(0.98, CLOSE);
        given().header("Authorization", "Bearer " + Api.KEY).when().delete("/api/v1/slos/" + slashed).then()
                .statusCode(204);
    }

    @Test
    void a_semicolon_in_the_model_group_is_part_of_it_or_a_problem_never_another_group() {
        String group = "slo-semi-" + UUID.randomUUID();
        // Unencoded, ";" starts a JAX-RS matrix parameter: the SLO of the group before it was set instead.
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body(Map.of("availabilityTarget", 0.98)).when().put("/api/v1/slos/" + group + ";fast").then()
                .statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("modelGroup"));
        given().urlEncodingEnabled(false).when().get("/api/v1/slos/" + group + ";fast").then().statusCode(400)
                .contentType(PROBLEM);
        assertThat(slos.slo(group).source()).as("no SLO set for the group before the semicolon").isEqualTo("config");
        // Encoded, it is part of the name.
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body(Map.of("availabilityTarget", 0.98)).when().put("/api/v1/slos/" + group + "%3Bfast").then()
                .statusCode(200).body("modelGroup", equalTo(group + ";fast"));
        assertThat(slos.slo(group + ";fast").source()).isEqualTo("api");
    }

    /** promtool check metrics on the SLO families of a scrape (text format 0.0.4). */
    private static void promtoolCheck() throws Exception {
        String families = Metrics.families("faultline_slo_");
        assertThat(families).contains("# TYPE faultline_slo_burn_rate gauge")
                .contains("# TYPE faultline_slo_error_budget_remaining gauge")
                .contains("# TYPE faultline_slo_target gauge");
        assertThat(Metrics.promtool(families)).as("promtool's complaints").isEmpty();
    }

    /** One minute a day of 1,000 requests, {@code failed} of them failed, on each of the {@code days} before now. */
    private void dailyMinutes(String group, Instant now, int days, int failed) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("insert into"
                + " slo_minutes (model_group, minute, requests, failed_responses)"
                + " select ?, ?::timestamptz - d * interval '1 day', 1000, ? from generate_series(1, ?) d")) {
            st.setString(1, group);
            st.setTimestamp(2, Timestamp.from(now));
            st.setInt(3, failed);
            st.setInt(4, days);
            st.executeUpdate();
        }
    }
}
