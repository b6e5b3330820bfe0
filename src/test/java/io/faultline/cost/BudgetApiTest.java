package io.faultline.cost;

import io.agroal.api.AgroalDataSource;
import io.faultline.call.CallMapper;
import io.faultline.call.CallStore;
import io.faultline.call.LlmCall;
import io.faultline.call.PartitionMaintenance;
import io.faultline.call.StoredCallsWriter;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.ValidatableResponse;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.restassured.RestAssured.given;
import static org.awaitility.Awaitility.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.empty;
import static org.hamcrest.Matchers.equalTo;

@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BudgetApiTest {

    private static final String PROBLEM = "application/problem+json";
    private static final Instant T0 = Instant.parse("2031-05-14T09:00:00Z");

    @Inject
    TestClock clock;

    @Inject
    BudgetTracker budgets;

    @Inject
    CostStore store;

    @Inject
    CallMapper mapper;

    @Inject
    CallStore calls;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    CostAlerts alerts;

    @Inject
    CostConfig config;

    @Inject
    PartitionMaintenance.RetentionConfig callRetention;

    @Inject
    Instance<StoredCallsWriter> writers;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    static ValidatableResponse put(String scope, String id, String body) {
        return given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY)
                .contentType(ContentType.JSON).body(body).when().put("/api/v1/budgets/" + scope + "/" + id).then()
                .log().ifValidationFails();
    }

    static String team() {
        return "team-" + UUID.randomUUID();
    }

    @Test
    void crossing_80_percent_raises_one_P3_and_crossing_100_percent_one_P2_at_the_crossing_calls() {
        clock.set(T0);
        String team = team();
        put("team", team, "{\"period\":\"month\",\"amountUsd\":10}").statusCode(200)
                .body("spentUsd", equalTo(0.0f)).body("warnAt", contains(0.8f, 1.0f));

        // 15 × $0.50 = $7.50: just under 80%.
        Instant start = T0;
        CostCalls.ingest(15, start, at -> CostCalls.call(team, 0.5, at));
        assertThat(CostCalls.failures("team:" + team).getList("items")).isEmpty();

        // The 16th reaches $8.00 = 80%.
        Instant crossing = CostCalls.ingest(1, start.plus(Duration.ofMinutes(15)), at -> CostCalls.call(team, 0.5,
                at));
        JsonPath p3 = CostCalls.failures("team:" + team);
        assertThat(p3.getList("items")).hasSize(1);
        assertThat(p3.getString("items[0].type")).isEqualTo("budget_exceeded");
        assertThat(p3.getString("items[0].category")).isEqualTo("COST");
        assertThat(p3.getString("items[0].severity")).isEqualTo("P3");
        assertThat(p3.getString("items[0].provider")).isEqualTo("budget");
        assertThat(Instant.parse(p3.getString("items[0].firstSeen"))).isEqualTo(crossing);
        Map<String, Object> evidence = p3.getMap("items[0].evidence");
        assertThat(evidence).containsEntry("scope", "team").containsEntry("scope_id", team)
                .containsEntry("period", "month").containsEntry("period_start", "2031-05-01T00:00:00Z")
                .containsEntry("spent_usd", 8.0f).containsEntry("budget_usd", 10.0f)
                .containsEntry("fraction", 0.8f).containsEntry("threshold", 0.8f).containsEntry("calls", 16);

        // An hour later, 3 more reach $9.50: still under 100%, nothing new.
        clock.advance(Duration.ofHours(1));
        Instant later = T0.plus(Duration.ofHours(1));
        CostCalls.ingest(3, later, at -> CostCalls.call(team, 0.5, at));
        assertThat(CostCalls.failures("team:" + team).getList("items")).hasSize(1);

        // The next one reaches $10.00.
        Instant full = CostCalls.ingest(1, later.plus(Duration.ofMinutes(3)), at -> CostCalls.call(team, 0.5, at));
        JsonPath p2 = JsonPath.from(Api.failures("deployment=team:" + team + "&severity=P2").statusCode(200)
                .extract().asString());
        assertThat(p2.getList("items")).hasSize(1);
        assertThat(Instant.parse(p2.getString("items[0].firstSeen"))).isEqualTo(full);
        assertThat(p2.getMap("items[0].evidence")).containsEntry("threshold", 1.0f)
                .containsEntry("spent_usd", 10.0f).containsEntry("calls", 20);
        assertThat(p2.getString("items[0].impactScope.team_id")).isEqualTo(team);

        given().when().get("/api/v1/budgets/team/" + team).then().statusCode(200).body("spentUsd", equalTo(10.0f))
                .body("fraction", equalTo(1.0f)).body("calls", equalTo(20)).body("alerted", contains(0.8f, 1.0f))
                .body("periodStart", equalTo("2031-05-01T00:00:00Z")).body("source", equalTo("api"));
    }

    @Test
    void a_restart_rebuilds_spend_from_stored_calls_and_does_not_alert_again() {
        clock.set(T0);
        String team = team();
        put("team", team, "{\"period\":\"day\",\"amountUsd\":5}").statusCode(200);
        CostCalls.ingest(9, T0, at -> CostCalls.call(team, 0.5, at)); // $4.50 = 90%
        assertThat(CostCalls.failures("team:" + team).getList("items")).hasSize(1);

        budgets.rebuild();

        given().when().get("/api/v1/budgets/team/" + team).then().statusCode(200).body("spentUsd", equalTo(4.5f))
                .body("calls", equalTo(9)).body("alerted", contains(0.8f));
        JsonPath after = CostCalls.failures("team:" + team);
        assertThat(after.getList("items")).hasSize(1);
        assertThat(after.getLong("items[0].occurrences")).isEqualTo(1);

        // Accumulation continues from the rebuilt spend: one more call reaches 100%.
        CostCalls.ingest(1, T0.plus(Duration.ofMinutes(9)), at -> CostCalls.call(team, 0.5, at));
        given().when().get("/api/v1/budgets/team/" + team).then().body("spentUsd", equalTo(5.0f))
                .body("alerted", contains(0.8f, 1.0f));
    }

    @Test
    void a_new_day_starts_from_zero_and_warns_again() {
        clock.set(T0);
        String team = team();
        put("team", team, "{\"period\":\"day\",\"amountUsd\":2}").statusCode(200);
        CostCalls.ingest(3, T0, at -> CostCalls.call(team, 0.5, at)); // $1.50 of $2: under 80%
        Instant nextDay = Instant.parse("2031-05-15T00:30:00Z");
        clock.set(nextDay);
        given().when().get("/api/v1/budgets/team/" + team).then().body("spentUsd", equalTo(0.0f))
                .body("periodStart", equalTo("2031-05-15T00:00:00Z"));
        CostCalls.ingest(3, nextDay, at -> CostCalls.call(team, 0.5, at));
        assertThat(CostCalls.failures("team:" + team).getList("items")).isEmpty();

        // $2.00 crosses both thresholds with one call: one episode, raised to P2.
        Instant crossing = CostCalls.ingest(1, nextDay.plus(Duration.ofMinutes(3)), at -> CostCalls.call(team, 0.5,
                at));
        JsonPath failures = CostCalls.failures("team:" + team);
        assertThat(failures.getList("items")).hasSize(1);
        assertThat(failures.getString("items[0].severity")).isEqualTo("P2");
        assertThat(failures.getLong("items[0].occurrences")).isEqualTo(2);
        assertThat(Instant.parse(failures.getString("items[0].firstSeen"))).isEqualTo(crossing);
        assertThat(failures.getMap("items[0].evidence")).containsEntry("period_start", "2031-05-15T00:00:00Z");
    }

    @Test
    void a_late_call_of_the_day_that_just_ended_is_judged_in_that_day_and_an_older_one_raises_nothing() {
        Instant nextDay = Instant.parse("2031-05-15T00:30:00Z");
        clock.set(nextDay);
        String team = team();
        put("team", team, "{\"period\":\"day\",\"amountUsd\":1}").statusCode(200);
        // LiteLLM's spool delivers after midnight what was spent at 23:59: yesterday's budget was crossed.
        Instant crossing = CostCalls.ingest(1, Instant.parse("2031-05-14T23:59:00Z"), at -> CostCalls.call(team,
                2.0, at));
        JsonPath failures = CostCalls.failures("team:" + team);
        assertThat(failures.getList("items")).hasSize(1);
        assertThat(failures.getString("items[0].severity")).isEqualTo("P2");
        assertThat(failures.getLong("items[0].occurrences")).isEqualTo(2);
        assertThat(Instant.parse(failures.getString("items[0].firstSeen"))).isEqualTo(crossing);
        assertThat(failures.getMap("items[0].evidence")).containsEntry("period_start", "2031-05-14T00:00:00Z");
        given().when().get("/api/v1/budgets/team/" + team).then().body("spentUsd", equalTo(0.0f))
                .body("alerted", empty());
        // Sent again, nothing more; a call of the day before that belongs to a period long closed.
        CostCalls.ingest(1, Instant.parse("2031-05-14T23:58:00Z"), at -> CostCalls.call(team, 2.0, at));
        CostCalls.ingest(1, Instant.parse("2031-05-13T12:00:00Z"), at -> CostCalls.call(team, 5.0, at));
        assertThat(CostCalls.failures("team:" + team).getLong("items[0].occurrences")).isEqualTo(2);
        assertThat(CostCalls.failures("team:" + team).getList("items")).hasSize(1);
    }

    @Test
    void a_budget_set_below_what_was_already_spent_alerts_at_the_call_that_crossed() {
        clock.set(T0);
        String team = team();
        Instant end = CostCalls.ingest(4, T0, at -> CostCalls.call(team, 1.0, at)); // $4 before any budget
        put("team", team, "{\"period\":\"month\",\"amountUsd\":5,\"warnAt\":[0.5]}").statusCode(200)
                .body("spentUsd", equalTo(4.0f)).body("alerted", contains(0.5f));
        JsonPath failures = CostCalls.failures("team:" + team);
        assertThat(failures.getList("items")).hasSize(1);
        // $2.50 is reached by the third call, not by the PUT.
        assertThat(Instant.parse(failures.getString("items[0].firstSeen")))
                .isEqualTo(end.minus(Duration.ofMinutes(1)));
        assertThat(failures.getString("items[0].severity")).isEqualTo("P4");

        // The same PUT again is a no-op: no second failure.
        put("team", team, "{\"period\":\"month\",\"amountUsd\":5,\"warnAt\":[0.5]}").statusCode(200);
        assertThat(CostCalls.failures("team:" + team).getLong("items[0].occurrences")).isEqualTo(1);
    }

    @Test
    void a_configured_budget_is_listed_and_watched() {
        clock.set(T0);
        String team = "configured-budget-test";
        given().when().get("/api/v1/budgets/team/" + team).then().statusCode(200).body("source", equalTo("config"))
                .body("amountUsd", equalTo(2.0f)).body("period", equalTo("day"));
        CostCalls.ingest(4, T0, at -> CostCalls.call(team, 0.5, at));
        JsonPath failures = CostCalls.failures("team:" + team);
        assertThat(failures.getString("items[0].severity")).isEqualTo("P2");
        assertThat(given().when().get("/api/v1/budgets").then().statusCode(200).extract().jsonPath()
                .getList("findAll { it.id == '" + team + "' }.source")).containsExactly("config");
    }

    @Test
    void budgets_by_key_user_and_model_count_only_their_calls() {
        clock.set(T0);
        String user = "user-" + UUID.randomUUID();
        put("user", user, "{\"period\":\"day\",\"amountUsd\":1}").statusCode(200);
        CostCalls.ingest(2, T0, at -> CostCalls.call(team(), 0.3, at).user(user));
        CostCalls.ingest(2, T0, at -> CostCalls.call(team(), 0.3, at)); // other users
        given().when().get("/api/v1/budgets/user/" + user).then().body("spentUsd", equalTo(0.6f))
                .body("calls", equalTo(2));
    }

    @Test
    void a_call_whose_user_names_another_user_is_charged_to_its_authenticated_identity() {
        clock.set(T0);
        String victim = "user-" + UUID.randomUUID();
        String caller = "user-" + UUID.randomUUID();
        put("user", victim, "{\"period\":\"day\",\"amountUsd\":1}").statusCode(200);
        put("user", caller, "{\"period\":\"day\",\"amountUsd\":1}").statusCode(200);
        // The caller's key belongs to `caller`; the request's free-form `user` names the victim.
        CostCalls.ingest(4, T0, at -> CostCalls.call(team(), 0.3, at).user(caller).endUser(victim));
        given().when().get("/api/v1/budgets/user/" + victim).then().body("spentUsd", equalTo(0.0f))
                .body("calls", equalTo(0));
        given().when().get("/api/v1/budgets/user/" + caller).then().body("spentUsd", equalTo(1.2f))
                .body("calls", equalTo(4));
        // The overrun is the caller's, not the victim's.
        assertThat(CostCalls.failures("user:" + caller).getList("items")).isNotEmpty();
        assertThat(CostCalls.failures("user:" + victim).getList("items")).isEmpty();
    }

    @Test
    void bad_bodies_are_problems_that_name_the_field() {
        String team = team();
        put("team", team, "{\"period\":\"week\",\"amountUsd\":1}").statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("period"));
        put("team", team, "{\"amountUsd\":1}").statusCode(400).body("errors[0].field", equalTo("period"));
        put("team", team, "{\"period\":\"day\",\"amountUsd\":-1}").statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("amountUsd"));
        put("team", team, "{\"period\":\"day\",\"amountUsd\":\"ten\"}").statusCode(400)
                .body("errors[0].field", equalTo("amountUsd"));
        put("team", team, "{\"period\":\"day\",\"amountUsd\":1,\"warnAt\":[0]}").statusCode(400)
                .body("errors[0].field", equalTo("warnAt"));
        put("team", team, "{\"period\":\"day\",\"amountUsd\":1,\"warnAt\":0.8}").statusCode(400)
                .body("errors[0].field", equalTo("warnAt"));
        put("team", team, "{\"period\":\"day\",\"amount\":1}").statusCode(400).body("errors[0].field",
                equalTo("amount"));
        put("org", team, "{\"period\":\"day\",\"amountUsd\":1}").statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("scope"));
        put("team", team, "{\"period\":").statusCode(400).contentType(PROBLEM)
                .body("title", equalTo("Malformed JSON"));
        put("team", team, "[]").statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("$"));
        given().when().get("/api/v1/budgets/team/" + team).then().statusCode(404).contentType(PROBLEM)
                .body("detail", containsString(team));
        given().when().get("/api/v1/budgets/galaxy/x").then().statusCode(400).body("errors[0].field",
                equalTo("scope"));
    }

    @Test
    void writes_need_the_api_key() {
        String team = team();
        given().contentType(ContentType.JSON).body("{\"period\":\"day\",\"amountUsd\":1}").when()
                .put("/api/v1/budgets/team/" + team).then().statusCode(401).contentType(PROBLEM);
        given().when().delete("/api/v1/budgets/team/" + team).then().statusCode(401);
        given().when().get("/api/v1/budgets/team/" + team).then().statusCode(404);
    }

    @Test
    void delete_removes_a_budget() {
        String team = team();
        put("team", team, "{\"period\":\"day\",\"amountUsd\":1}").statusCode(200);
        given().header("Authorization", "Bearer " + Api.KEY).when().delete("/api/v1/budgets/team/" + team).then()
                .statusCode(204);
        given().when().get("/api/v1/budgets/team/" + team).then().statusCode(404);
        assertThat(List.of(budgets.get(BudgetScope.TEAM, team))).allMatch(java.util.Optional::isEmpty);
    }
    private static ValidatableResponse raw(String method, String path, String body) {
        var request = given().urlEncodingEnabled(false).log().ifValidationFails()
                .header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON);
        if (body != null) {
            request = request.body(body);
        }
        return request.when().request(method, path).then().log().ifValidationFails();
    }

    @Test
    void a_semicolon_in_a_budget_id_is_part_of_it_or_a_problem_never_another_budget() {
        String team = team();
        String day = "{\"period\":\"day\",\"amountUsd\":1}";
        // Unencoded, ";" starts a JAX-RS matrix parameter, which is stripped from the id: the budget of the team
        // before it would be set, read and deleted instead.
        raw("PUT", "/api/v1/budgets/team/" + team + ";cheap", day).statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("id"));
        assertThat(budgets.get(BudgetScope.TEAM, team)).as("no budget set for the team before the semicolon")
                .isEmpty();
        put("team", team, day).statusCode(200);
        raw("GET", "/api/v1/budgets/team/" + team + ";cheap", null).statusCode(400).contentType(PROBLEM);
        raw("DELETE", "/api/v1/budgets/team/" + team + ";cheap", null).statusCode(400).contentType(PROBLEM);
        assertThat(budgets.get(BudgetScope.TEAM, team)).as("the team's own budget is still there").isPresent();
        // Encoded, it is part of the id.
        raw("PUT", "/api/v1/budgets/team/" + team + "%3Bcheap", day).statusCode(200)
                .body("id", equalTo(team + ";cheap"));
        assertThat(budgets.get(BudgetScope.TEAM, team + ";cheap")).isPresent();
    }
    @Test
    void a_model_budget_may_name_a_model_group_with_a_slash() {
        clock.set(T0);
        // LiteLLM's model names carry their provider: openai/gpt-4o, as the SLO API takes them.
        String group = "openai/gpt-" + UUID.randomUUID();
        String day = "{\"period\":\"day\",\"amountUsd\":1}";
        raw("PUT", "/api/v1/budgets/model/" + group, day).statusCode(200).body("scope", equalTo("model"))
                .body("id", equalTo(group));
        CostCalls.ingest(2, T0, at -> CostCalls.call(team(), 0.3, at).set("model_group", group));
        raw("GET", "/api/v1/budgets/model/" + group, null).statusCode(200).body("spentUsd", equalTo(0.6f))
                .body("calls", equalTo(2));
        raw("DELETE", "/api/v1/budgets/model/" + group, null).statusCode(204);
        raw("GET", "/api/v1/budgets/model/" + group, null).statusCode(404).contentType(PROBLEM);
    }
    @Test
    void a_budget_another_replica_set_changed_or_deleted_is_read_as_stored() {
        clock.set(T0);
        String team = team();
        CostCalls.ingest(2, T0, at -> CostCalls.call(team, 0.3, at));
        // Behind a load balancer the PUT reached the other replica: it stored the row, this one's memory has none.
        store.putBudget(new CostStore.BudgetRow(BudgetScope.TEAM, team, Period.DAY, 1.0, null, T0));
        given().when().get("/api/v1/budgets/team/" + team).then().log().ifValidationFails().statusCode(200)
                .body("amountUsd", equalTo(1.0f)).body("spentUsd", equalTo(0.6f)).body("calls", equalTo(2));
        assertThat(given().when().get("/api/v1/budgets").then().statusCode(200).extract().jsonPath()
                .getList("findAll { it.id == '" + team + "' }.amountUsd")).containsExactly(1.0f);

        store.putBudget(new CostStore.BudgetRow(BudgetScope.TEAM, team, Period.DAY, 5.0, null, T0));
        given().when().get("/api/v1/budgets/team/" + team).then().statusCode(200).body("amountUsd", equalTo(5.0f))
                .body("spentUsd", equalTo(0.6f));

        store.deleteBudget(BudgetScope.TEAM, team);
        given().when().get("/api/v1/budgets/team/" + team).then().statusCode(404).contentType(PROBLEM);
        assertThat(given().when().get("/api/v1/budgets").then().statusCode(200).extract().jsonPath()
                .getList("findAll { it.id == '" + team + "' }")).isEmpty();
    }
    @Test
    void a_replica_raises_no_alert_for_a_budget_another_replica_changed_or_deleted_before_its_reconcile() {
        clock.set(T0);
        String raised = team();
        String deleted = team();
        put("team", raised, "{\"period\":\"day\",\"amountUsd\":1}").statusCode(200);
        put("team", deleted, "{\"period\":\"day\",\"amountUsd\":1}").statusCode(200);
        // The other replica raised the first budget tenfold and deleted the second; this one has not reconciled.
        store.putBudget(new CostStore.BudgetRow(BudgetScope.TEAM, raised, Period.DAY, 10.0, null, T0));
        store.deleteBudget(BudgetScope.TEAM, deleted);

        CostCalls.ingest(3, T0, at -> CostCalls.call(raised, 0.4, at)); // $1.20: past the old $1, 12% of $10
        CostCalls.ingest(3, T0, at -> CostCalls.call(deleted, 0.4, at));
        assertThat(CostCalls.failures("team:" + raised).getList("items")).isEmpty();
        assertThat(CostCalls.failures("team:" + deleted).getList("items")).isEmpty();

        // The stored amount is the one judged: $8.40 more is past 80% of $10.
        CostCalls.ingest(1, T0.plus(Duration.ofMinutes(5)), at -> CostCalls.call(raised, 6.8, at));
        assertThat(CostCalls.failures("team:" + raised).getList("items.severity")).containsExactly("P3");
    }
    @Test
    void deleting_a_configured_budget_is_a_conflict_that_names_where_it_is_set() {
        // Listed and read as a budget, so a 404 "No budget" contradicted what the same API showed.
        given().when().get("/api/v1/budgets/team/configured-budget-test").then().statusCode(200)
                .body("source", equalTo("config"));
        given().header("Authorization", "Bearer " + Api.KEY).when()
                .delete("/api/v1/budgets/team/configured-budget-test").then().log().ifValidationFails()
                .statusCode(409).contentType(PROBLEM).body("detail", containsString("faultline.cost.budgets"));
        given().when().get("/api/v1/budgets/team/configured-budget-test").then().statusCode(200)
                .body("source", equalTo("config"));
    }
    @Test
    void a_budget_read_shows_the_spend_another_replica_stored_since_the_last_reconcile() throws Exception {
        clock.set(T0);
        String team = team();
        put("team", team, "{\"period\":\"day\",\"amountUsd\":10}").statusCode(200);
        CostCalls.ingest(2, T0, at -> CostCalls.call(team, 0.3, at)); // through this replica: $0.60
        // Behind a load balancer the other replica ingested the team's other calls ($2.00); no reconcile since.
        storeOnOtherReplica(calls(team, 0.5, T0.plus(Duration.ofMinutes(10)), 4));
        given().when().get("/api/v1/budgets/team/" + team).then().log().ifValidationFails().statusCode(200)
                .body("spentUsd", equalTo(2.6f)).body("calls", equalTo(6));
        assertThat(given().when().get("/api/v1/budgets").then().statusCode(200).extract().jsonPath()
                .getList("findAll { it.id == '" + team + "' }.calls")).containsExactly(6);
    }

    @Test
    void a_threshold_crossed_by_calls_spread_over_replicas_is_raised_at_once_not_at_the_next_reconcile()
            throws Exception {
        clock.set(T0);
        String team = team();
        put("team", team, "{\"period\":\"day\",\"amountUsd\":10}").statusCode(200);
        // The other replica behind the load balancer: its own memory, the same database.
        BudgetTracker other = new BudgetTracker(store, alerts, clock, config);
        other.reconcile();
        CostCalls.ingest(6, T0, at -> CostCalls.call(team, 1.0, at)); // through this replica: $6
        // $3 more through the other replica: $9 in all, 80% reached at its second call. Each replica's own share
        // ($6 here, $3 there) is under $8: until a reconcile, neither raised it.
        List<LlmCall> there = calls(team, 1.0, T0.plus(Duration.ofMinutes(10)), 3);
        storeOnOtherReplica(there);
        other.observe(there);
        JsonPath failures = CostCalls.failures("team:" + team);
        assertThat(failures.getList("items.severity")).containsExactly("P3");
        assertThat(Instant.parse(failures.getString("items[0].firstSeen")))
                .isEqualTo(T0.plus(Duration.ofMinutes(11)).plus(CostCalls.LATENCY));
        assertThat(failures.getMap("items[0].evidence")).containsEntry("spent_usd", 8.0f).containsEntry("calls", 8);

        // And the next call through this replica reaches $10: 100% is raised at once too.
        Instant full = CostCalls.ingest(1, T0.plus(Duration.ofMinutes(20)), at -> CostCalls.call(team, 1.0, at));
        JsonPath p2 = JsonPath.from(Api.failures("deployment=team:" + team + "&severity=P2").statusCode(200)
                .extract().asString());
        assertThat(Instant.parse(p2.getString("items[0].firstSeen"))).isEqualTo(full);
        assertThat(p2.getMap("items[0].evidence")).containsEntry("spent_usd", 10.0f).containsEntry("calls", 10);
    }

    @Test
    void a_budget_set_through_another_replica_is_judged_at_the_next_ingest_here_not_at_the_reconcile()
            throws Exception {
        clock.set(T0);
        String team = team();
        // The other replica behind the load balancer reconciled before the budget existed.
        BudgetTracker other = new BudgetTracker(store, alerts, clock, config);
        other.reconcile();
        put("team", team, "{\"period\":\"day\",\"amountUsd\":10}").statusCode(200); // through this replica
        // All the team's traffic goes through the other replica: $9, 80% reached at its eighth call.
        List<LlmCall> there = calls(team, 1.0, T0.plus(Duration.ofMinutes(10)), 9);
        try (Connection c = dataSource.getConnection()) {
            calls.insert(c, there, clock.instant());
            new BudgetSpendWriter(store, other).write(c, there, new ArrayList<>(), new ArrayList<>());
        }
        other.observe(there);
        JsonPath failures = CostCalls.failures("team:" + team);
        assertThat(failures.getList("items.severity")).containsExactly("P3");
        assertThat(Instant.parse(failures.getString("items[0].firstSeen")))
                .isEqualTo(T0.plus(Duration.ofMinutes(17)).plus(CostCalls.LATENCY));
        assertThat(failures.getMap("items[0].evidence")).containsEntry("spent_usd", 8.0f).containsEntry("calls", 8);
        // Its next call reaches $10 and is judged there at once too.
        List<LlmCall> last = calls(team, 1.0, T0.plus(Duration.ofMinutes(30)), 1);
        try (Connection c = dataSource.getConnection()) {
            calls.insert(c, last, clock.instant());
            new BudgetSpendWriter(store, other).write(c, last, new ArrayList<>(), new ArrayList<>());
        }
        other.observe(last);
        assertThat(CostCalls.failures("team:" + team).getList("items.severity")).containsExactlyInAnyOrder("P3", "P2");
    }

    @Test
    void the_reconcile_adds_to_the_stored_spend_what_no_ingest_added_and_keeps_what_they_did() throws Exception {
        clock.set(T0);
        String team = team();
        put("team", team, "{\"period\":\"day\",\"amountUsd\":10}").statusCode(200);
        CostCalls.ingest(2, T0, at -> CostCalls.call(team, 1.0, at));
        // Calls stored by a replica that did not know the budget yet (its configuration was older): in no row.
        try (Connection c = dataSource.getConnection()) {
            calls.insert(c, calls(team, 3.0, T0.plus(Duration.ofMinutes(5)), 2), clock.instant());
        }
        given().when().get("/api/v1/budgets/team/" + team).then().body("spentUsd", equalTo(2.0f));
        budgets.reconcile();
        given().when().get("/api/v1/budgets/team/" + team).then().body("spentUsd", equalTo(8.0f))
                .body("calls", equalTo(4)).body("alerted", contains(0.8f));
        // Ingests after it add to the corrected row; a second reconcile finds nothing to correct.
        CostCalls.ingest(1, T0.plus(Duration.ofMinutes(10)), at -> CostCalls.call(team, 1.0, at));
        budgets.reconcile();
        given().when().get("/api/v1/budgets/team/" + team).then().body("spentUsd", equalTo(9.0f))
                .body("calls", equalTo(5));
    }

    @Test
    void a_reconcile_does_not_wait_for_an_ingest_that_holds_a_budget_row() throws Exception {
        clock.set(T0);
        String team = team();
        put("team", team, "{\"period\":\"day\",\"amountUsd\":10}").statusCode(200);
        CostCalls.ingest(1, T0, at -> CostCalls.call(team, 1.0, at));
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            // Another replica's ingest has added its call to the team's row and not committed yet.
            List<LlmCall> there = calls(team, 2.0, T0.plus(Duration.ofMinutes(5)), 1);
            calls.insert(c, there, clock.instant());
            for (StoredCallsWriter writer : writers) {
                writer.write(c, there, new ArrayList<>(), new ArrayList<>());
            }
            // A restate that locked the row while summing waited here for the ingest (or a month's sum held the
            // ingest back); the bound only keeps a regression from hanging the build.
            java.util.concurrent.CompletableFuture.runAsync(budgets::reconcile)
                    .get(30, java.util.concurrent.TimeUnit.SECONDS);
            c.commit();
        }
        given().when().get("/api/v1/budgets/team/" + team).then().body("spentUsd", equalTo(3.0f))
                .body("calls", equalTo(2));
    }

    @Test
    void a_configured_day_budget_the_api_sets_to_a_month_has_only_its_month_spend_written() throws Exception {
        Instant at = Instant.parse("2031-07-03T10:00:00Z");
        clock.set(at);
        String team = "configured-budget-test";
        put("team", team, "{\"period\":\"month\",\"amountUsd\":100}").statusCode(200)
                .body("period", equalTo("month"));
        try {
            CostCalls.ingest(2, at, t -> CostCalls.call(team, 0.5, t));
            assertThat(spendRows(team)).as("the month the API set is written, not the configured day")
                    .containsExactly("month 2031-07-01T00:00:00Z 1.0");
        } finally {
            store.deleteBudget(BudgetScope.TEAM, team); // the configured day budget takes over again
            budgets.reconcile();
        }
    }

    /** The budget_spend rows of a team in July 2031: "period start spent". */
    private List<String> spendRows(String team) throws Exception {
        List<String> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); var st = c.prepareStatement("select period, period_start,"
                + " spent_usd from budget_spend where scope = 'team' and scope_id = ? and period_start >= ?"
                + " and period_start < ? order by period, period_start")) {
            st.setString(1, team);
            st.setTimestamp(2, Timestamp.from(Instant.parse("2031-07-01T00:00:00Z")));
            st.setTimestamp(3, Timestamp.from(Instant.parse("2031-08-01T00:00:00Z")));
            try (var rs = st.executeQuery()) {
                while (rs.next()) {
                    rows.add(rs.getString(1) + " " + rs.getTimestamp(2).toInstant() + " " + rs.getDouble(3));
                }
            }
        }
        return rows;
    }

    @Test
    void an_ingest_without_a_budget_writes_no_spend_and_a_budget_set_on_another_replica_is_judged_soon_after()
            throws Exception {
        clock.set(Instant.parse("2031-08-04T10:00:00Z"));
        String team = team();
        // The other replica behind the load balancer, reconciled before the team had a budget.
        BudgetTracker other = new BudgetTracker(store, alerts, clock, config);
        other.reconcile();
        List<String> sql = new ArrayList<>();
        storeThrough(other, calls(team, 1.0, clock.instant(), 2), sql);
        storeThrough(other, calls(team, 1.0, clock.instant().plus(Duration.ofMinutes(2)), 2), sql);
        assertThat(sql).as("statements of the ingests on budget_spend").noneMatch(s -> s.contains("budget_spend"));

        put("team", team, "{\"period\":\"day\",\"amountUsd\":10}").statusCode(200)
                .body("spentUsd", equalTo(4.0f)); // through this replica
        // Within the other replica's check interval its ingests do not know the budget yet: $5 more.
        storeThrough(other, calls(team, 1.0, clock.instant().plus(Duration.ofMinutes(10)), 5), sql);
        // Past it, the next ingest there ($1) knows it, and the $5 it did not write are counted: $10 in all.
        clock.advance(config.budgetCheckInterval());
        storeThrough(other, calls(team, 1.0, clock.instant().plus(Duration.ofMinutes(20)), 1), sql);
        assertThat(CostCalls.failures("team:" + team).getList("items.severity")).containsExactlyInAnyOrder("P3",
                "P2");
        given().when().get("/api/v1/budgets/team/" + team).then().statusCode(200).body("spentUsd", equalTo(10.0f))
                .body("calls", equalTo(10)).body("alerted", contains(0.8f, 1.0f));

        // A replica that ingests nothing after the calls it did not write judges them at its scheduled check.
        String quiet = team();
        put("team", quiet, "{\"period\":\"day\",\"amountUsd\":10}").statusCode(200);
        storeThrough(other, calls(quiet, 1.0, clock.instant().plus(Duration.ofMinutes(30)), 9), sql);
        assertThat(CostCalls.failures("team:" + quiet).getList("items")).isEmpty();
        other.checkBudgets();
        assertThat(CostCalls.failures("team:" + quiet).getList("items.severity")).containsExactly("P3");
    }

    /** An ingest through a replica whose budgets are {@code replica}: its statements' SQL is added to {@code sql}. */
    private void storeThrough(BudgetTracker replica, List<LlmCall> there, List<String> sql) throws Exception {
        try (Connection c = dataSource.getConnection()) {
            calls.insert(c, there, clock.instant());
            new BudgetSpendWriter(store, replica).write(recording(c, sql), there, new ArrayList<>(),
                    new ArrayList<>());
        }
        replica.observe(there);
    }

    /** {@code c}, noting the SQL of every statement prepared or created on it. */
    private static Connection recording(Connection c, List<String> sql) {
        return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(),
                new Class<?>[] {Connection.class}, (proxy, method, args) -> {
                    if (method.getName().startsWith("prepare")) {
                        sql.add((String) args[0]);
                    } else if (method.getName().equals("createStatement")) {
                        sql.add("createStatement");
                    }
                    try {
                        return method.invoke(c, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    @Test
    void the_reconcile_restates_the_stored_spend_on_one_replica_per_interval_and_every_replica_reads_it()
            throws Exception {
        clock.set(Instant.parse("2031-09-08T10:00:00Z"));
        String team = team();
        put("team", team, "{\"period\":\"day\",\"amountUsd\":10}").statusCode(200);
        AtomicInteger restates = new AtomicInteger();
        CostStore counting = new CostStore(dataSource, clock, callRetention) {
            @Override
            public Map<String, Sum> restateBudgetSpend(BudgetScope scope, Period period, Instant start,
                    Collection<String> ids) {
                restates.incrementAndGet();
                return super.restateBudgetSpend(scope, period, start, ids);
            }
        };
        // Two replicas on the database, started (their start restates every budget) before the calls below.
        BudgetTracker budgetsA = new BudgetTracker(counting, alerts, clock, config);
        BudgetTracker budgetsB = new BudgetTracker(counting, alerts, clock, config);
        budgetsA.rebuild();
        budgetsB.rebuild();
        CostMonitor a = replica(budgetsA, "replica-a");
        CostMonitor b = replica(budgetsB, "replica-b");
        // Calls stored by a replica that did not know the budget yet: in no row ($9, 90%).
        try (Connection c = dataSource.getConnection()) {
            calls.insert(c, calls(team, 3.0, clock.instant(), 3), clock.instant());
        }
        restates.set(0);

        a.tick();
        int pass = restates.get();
        assertThat(pass).as("one pass restates the budgets' rows").isPositive();
        b.tick(); // the same interval, seconds later
        assertThat(restates.get()).as("the other replica does not sum them again").isEqualTo(pass);
        assertThat(CostCalls.failures("team:" + team).getList("items.severity")).containsExactly("P3");
        for (BudgetTracker replica : List.of(budgetsA, budgetsB)) {
            assertThat(replica.list()).filteredOn(v -> v.id().equals(team))
                    .extracting(BudgetTracker.BudgetView::spentUsd).containsExactly(9.0);
        }

        // The next interval, whichever replica ticks first restates.
        clock.advance(config.reconcileInterval());
        b.tick();
        a.tick();
        assertThat(restates.get()).isEqualTo(2 * pass);
    }

    @Test
    void a_replica_that_loses_the_restate_claim_reads_the_rows_only_once_the_winner_restated_them() throws Exception {
        clock.set(Instant.parse("2031-10-21T10:00:00Z"));
        String team = team();
        put("team", team, "{\"period\":\"day\",\"amountUsd\":10}").statusCode(200);
        BudgetTracker budgetsA = new BudgetTracker(store, alerts, clock, config);
        BudgetTracker budgetsB = new BudgetTracker(store, alerts, clock, config);
        budgetsA.rebuild();
        budgetsB.rebuild();
        CostMonitor a = replica(budgetsA, "replica-a");
        CostMonitor b = replica(budgetsB, "replica-b");
        // Calls stored by a replica that did not know the budget yet: in no row ($6).
        try (Connection c = dataSource.getConnection()) {
            calls.insert(c, calls(team, 2.0, clock.instant(), 3), clock.instant());
        }
        try (Connection ingest = dataSource.getConnection()) {
            // An ingest holds the team's row: the winner's restate waits to add the $6 to it.
            ingest.setAutoCommit(false);
            try (var st = ingest.prepareStatement("select 1 from budget_spend where scope = 'team' and scope_id = ?"
                    + " for update")) {
                st.setString(1, team);
                st.executeQuery().close();
            }
            CompletableFuture<Void> winner = CompletableFuture.runAsync(a::tick);
            await().atMost(Duration.ofSeconds(30)).until(() -> waiting("transactionid"));
            // The other replica ticks the same interval while the winner is still restating.
            CompletableFuture<Void> loser = CompletableFuture.runAsync(b::tick);
            await().atMost(Duration.ofSeconds(30)).until(() -> loser.isDone() || waiting("advisory"));
            ingest.commit();
            winner.get(30, TimeUnit.SECONDS);
            loser.get(30, TimeUnit.SECONDS);
        }
        for (BudgetTracker replica : List.of(budgetsA, budgetsB)) {
            assertThat(replica.held(BudgetScope.TEAM, team)).as("what the replica judges by, until its next read")
                    .map(BudgetTracker.BudgetView::spentUsd).contains(6.0);
        }
    }

    @Test
    void an_ingest_that_chose_its_spend_rows_before_a_reload_here_and_commits_after_it_is_counted() throws Exception {
        Instant at = Instant.parse("2031-11-04T10:00:00Z");
        clock.set(at);
        String held = team();
        String added = team();
        put("team", held, "{\"period\":\"day\",\"amountUsd\":100}").statusCode(200);
        budgets.checkBudgets(); // every stored budget known here; the version read holds for the check interval
        try (Connection other = dataSource.getConnection()) {
            // Another replica's ingest holds the budgeted team's row a while.
            other.setAutoCommit(false);
            try (var st = other.prepareStatement("select 1 from budget_spend where scope = 'team' and scope_id = ?"
                    + " for update")) {
                st.setString(1, held);
                st.executeQuery().close();
            }
            // An ingest here: a call of that team, two of a team without a budget (whose spend it does not write).
            CompletableFuture<Void> ingest = CompletableFuture.runAsync(() -> Api.ingest(Payloads.array(
                    CostCalls.call(held, 1.0, at), CostCalls.call(added, 1.0, at.plusSeconds(60)),
                    CostCalls.call(added, 1.0, at.plusSeconds(120)))).statusCode(200));
            await().atMost(Duration.ofSeconds(30)).until(() -> waiting("transactionid"));
            // Meanwhile the second team gets a budget through another replica, and this one's check reloads the
            // budgets: the new budget's row is restated from the calls stored so far, not the ingest's.
            store.putBudget(new CostStore.BudgetRow(BudgetScope.TEAM, added, Period.DAY, 10, null, at));
            AtomicReference<Thread> checking = new AtomicReference<>();
            CompletableFuture<Void> check = CompletableFuture.runAsync(() -> {
                checking.set(Thread.currentThread());
                budgets.checkBudgets();
            });
            await().atMost(Duration.ofSeconds(30)).until(() -> check.isDone()
                    || (checking.get() != null && checking.get().getState() == Thread.State.TIMED_WAITING));
            other.commit();
            ingest.get(30, TimeUnit.SECONDS);
            check.get(30, TimeUnit.SECONDS);
        }
        given().when().get("/api/v1/budgets/team/" + added).then().log().ifValidationFails().statusCode(200)
                .body("spentUsd", equalTo(2.0f)).body("calls", equalTo(2));
        assertThat(spend(added, at)).as("the stored row, as every replica reads it").isEqualTo(2.0);
    }

    /** The stored spend of a team's day. */
    private double spend(String team, Instant day) {
        return store.budgetSpend(List.of(new CostStore.SpendKey(BudgetScope.TEAM, team, Period.DAY,
                Period.DAY.start(day)))).values().stream().mapToDouble(CostStore.Sum::spentUsd).sum();
    }

    /** Whether a session of this database waits for a lock of that type (a row's transaction, an advisory lock). */
    private boolean waiting(String lockType) throws Exception {
        try (Connection c = dataSource.getConnection(); var st = c.prepareStatement("select count(*) from pg_locks l"
                + " join pg_stat_activity a on a.pid = l.pid where not l.granted and l.locktype = ?"
                + " and a.datname = current_database()")) {
            st.setString(1, lockType);
            try (var rs = st.executeQuery()) {
                rs.next();
                return rs.getInt(1) > 0;
            }
        }
    }

    private CostMonitor replica(BudgetTracker tracker, String name) {
        var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        return new CostMonitor(tracker, new BatchTracker(store, alerts, clock, config), registry,
                new io.faultline.common.ClusterJobs(dataSource, clock, () -> true, registry, name), config);
    }

    private List<LlmCall> calls(String team, double cost, Instant from, int count) {
        List<LlmCall> list = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            list.add(mapper.map(CostCalls.call(team, cost, from.plus(Duration.ofMinutes(i))).node()));
        }
        return list;
    }

    /** What another replica's ingest stores in its transaction: the calls and what its writers keep with them. */
    private void storeOnOtherReplica(List<LlmCall> there) throws Exception {
        try (Connection c = dataSource.getConnection()) {
            calls.insert(c, there, clock.instant());
            for (StoredCallsWriter writer : writers) {
                writer.write(c, there, new ArrayList<>(), new ArrayList<>());
            }
        }
    }
}
