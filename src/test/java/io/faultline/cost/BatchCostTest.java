package io.faultline.cost;

import io.agroal.api.AgroalDataSource;
import io.faultline.call.CallMapper;
import io.faultline.call.CallStore;
import io.faultline.call.LlmCall;
import io.faultline.testing.Api;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.empty;
import static org.hamcrest.Matchers.equalTo;

@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BatchCostTest {

    private static final String PROBLEM = "application/problem+json";
    private static final Instant T0 = Instant.parse("2031-06-02T14:00:00Z");

    @Inject
    TestClock clock;

    @Inject
    BatchTracker batches;

    @Inject
    CostStore store;

    @Inject
    CallMapper mapper;

    @Inject
    CallStore calls;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    CostConfig config;

    /** The daily partitions of llm_calls in 2033 before the test: it leaves none of its own in the shared database. */
    private Set<String> partitionsBefore;
    /** The teams of this test's calls in 2033 (UUIDs): not moved back into the default partition. */
    private final List<String> februaryTeams = new ArrayList<>();

    @BeforeEach
    void notePartitions() throws Exception {
        partitionsBefore = partitions2033();
    }

    @AfterEach
    void releaseClock() throws Exception {
        clock.release();
        dropFebruaryPartitions();
        assertThat(partitions2033()).as("the test's partitions are dropped after it")
                .containsExactlyInAnyOrderElementsOf(partitionsBefore);
    }

    private Set<String> partitions2033() throws Exception {
        Set<String> names = new TreeSet<>();
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                java.sql.ResultSet rs = st.executeQuery("select c.relname from pg_inherits i join pg_class c"
                        + " on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent where p.relname = 'llm_calls'"
                        + " and c.relname like 'llm\\_calls\\_2033%'")) {
            while (rs.next()) {
                names.add(rs.getString(1));
            }
        }
        return names;
    }

    static ValidatableResponse put(String id, String body) {
        return given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY)
                .contentType(ContentType.JSON).body(body).when().put("/api/v1/batches/" + id).then().log()
                .ifValidationFails();
    }

    @Test
    void a_batch_past_its_expected_cost_is_P3_and_past_twice_P2() {
        clock.set(T0);
        String batch = "job-" + UUID.randomUUID();
        String team = "team-" + UUID.randomUUID();
        put(batch, "{\"expectedCostUsd\": 5}").statusCode(200);
        Map<String, Object> meta = Map.of("batch_id", batch);

        // 5 × $1.00 = exactly the expected $5.00: not past it.
        CostCalls.ingest(5, T0, at -> CostCalls.batchCall(team, meta, 1.0, at));
        assertThat(CostCalls.failures(batch).getList("items")).isEmpty();
        given().when().get("/api/v1/batches/" + batch).then().statusCode(200).body("expectedCostUsd", equalTo(5.0f))
                .body("expectedSource", equalTo("api")).body("spentUsd", equalTo(5.0f))
                .body("ratio", equalTo(1.0f)).body("calls", equalTo(5)).body("alerted", empty());

        Instant over = CostCalls.ingest(1, T0.plus(Duration.ofMinutes(5)), at -> CostCalls.batchCall(team, meta, 1.0,
                at));
        JsonPath p3 = CostCalls.failures(batch);
        assertThat(p3.getList("items")).hasSize(1);
        assertThat(p3.getString("items[0].type")).isEqualTo("batch_cost_overrun");
        assertThat(p3.getString("items[0].severity")).isEqualTo("P3");
        assertThat(p3.getString("items[0].provider")).isEqualTo("batch");
        assertThat(Instant.parse(p3.getString("items[0].firstSeen"))).isEqualTo(over);
        assertThat(p3.getMap("items[0].evidence")).containsEntry("batch_id", batch)
                .containsEntry("expected_cost_usd", 5.0f).containsEntry("spent_usd", 6.0f)
                .containsEntry("ratio", 1.2f).containsEntry("threshold", 1.0f).containsEntry("calls", 6)
                .containsEntry("expected_source", "api");

        // Up to exactly twice the expectation: nothing new. One more: P2.
        clock.advance(Duration.ofHours(1));
        Instant later = T0.plus(Duration.ofHours(1));
        CostCalls.ingest(4, later, at -> CostCalls.batchCall(team, meta, 1.0, at));
        assertThat(CostCalls.failures(batch).getList("items")).hasSize(1);
        Instant twice = CostCalls.ingest(1, later.plus(Duration.ofMinutes(4)), at -> CostCalls.batchCall(team, meta,
                1.0, at));
        JsonPath p2 = JsonPath.from(Api.failures("deployment=" + batch + "&severity=P2").statusCode(200).extract()
                .asString());
        assertThat(p2.getList("items")).hasSize(1);
        assertThat(Instant.parse(p2.getString("items[0].firstSeen"))).isEqualTo(twice);
        assertThat(p2.getMap("items[0].evidence")).containsEntry("spent_usd", 11.0f).containsEntry("ratio", 2.2f)
                .containsEntry("threshold", 2.0f).containsEntry("calls", 11);
    }

    @Test
    void an_expectation_set_through_the_api_counts_job_id_calls_and_survives_a_restart() {
        clock.set(T0);
        String batch = "nightly-" + UUID.randomUUID();
        String team = "team-" + UUID.randomUUID();
        put(batch, "{\"expectedCostUsd\": 2.0}").statusCode(200).body("batchId", equalTo(batch))
                .body("expectedSource", equalTo("api")).body("spentUsd", equalTo(0.0f));
        Map<String, Object> meta = Map.of("job_id", batch);
        CostCalls.ingest(4, T0, at -> CostCalls.batchCall(team, meta, 0.5, at)); // $2.00: not past
        assertThat(CostCalls.failures(batch).getList("items")).isEmpty();

        batches.rebuild();
        given().when().get("/api/v1/batches/" + batch).then().statusCode(200).body("spentUsd", equalTo(2.0f))
                .body("calls", equalTo(4));

        Instant over = CostCalls.ingest(1, T0.plus(Duration.ofMinutes(4)), at -> CostCalls.batchCall(team, meta, 0.5,
                at));
        JsonPath failures = CostCalls.failures(batch);
        assertThat(failures.getList("items")).hasSize(1);
        assertThat(Instant.parse(failures.getString("items[0].firstSeen"))).isEqualTo(over);
        assertThat(failures.getMap("items[0].evidence")).containsEntry("expected_source", "api");

        // A restart after the alert does not raise it again; nor does re-sending the same PUT.
        batches.rebuild();
        put(batch, "{\"expectedCostUsd\": 2.0}").statusCode(200).body("alerted", contains(1.0f));
        assertThat(CostCalls.failures(batch).getLong("items[0].occurrences")).isEqualTo(1);
    }

    @Test
    void a_call_carrying_an_expectation_for_a_batch_with_an_api_expectation_changes_nothing() {
        clock.set(T0);
        String batch = "job-" + UUID.randomUUID();
        String team = "team-" + UUID.randomUUID();
        put(batch, "{\"expectedCostUsd\": 10}").statusCode(200).body("expectedCostUsd", equalTo(10.0f));
        // A caller trying to silence the alert (a huge expectation) and one trying to fake it (a tiny one).
        CostCalls.ingest(1, T0, at -> CostCalls.batchCall(team, Map.of("batch_id", batch,
                "batch_expected_cost_usd", 1000.0), 4.0, at));
        CostCalls.ingest(1, T0.plus(Duration.ofMinutes(1)), at -> CostCalls.batchCall(team, Map.of("batch_id", batch,
                "expected_cost_usd", 0.01), 4.0, at));
        assertThat(CostCalls.failures(batch).getList("items")).isEmpty();
        given().when().get("/api/v1/batches/" + batch).then().body("expectedCostUsd", equalTo(10.0f))
                .body("expectedSource", equalTo("api")).body("spentUsd", equalTo(8.0f));
        batches.rebuild();
        given().when().get("/api/v1/batches/" + batch).then().body("expectedCostUsd", equalTo(10.0f));

        // The operator's $10 still alerts, whatever the calls claimed.
        Instant over = CostCalls.ingest(1, T0.plus(Duration.ofMinutes(2)), at -> CostCalls.batchCall(team,
                Map.of("batch_id", batch, "batch_expected_cost_usd", 1000.0), 4.0, at));
        JsonPath failures = CostCalls.failures(batch);
        assertThat(failures.getList("items")).hasSize(1);
        assertThat(Instant.parse(failures.getString("items[0].firstSeen"))).isEqualTo(over);
        assertThat(failures.getMap("items[0].evidence")).containsEntry("expected_cost_usd", 10.0f);
    }

    @Test
    void a_call_for_an_unknown_batch_cannot_create_an_expectation() {
        clock.set(T0);
        String batch = "job-" + UUID.randomUUID();
        CostCalls.ingest(3, T0, at -> CostCalls.batchCall("t", Map.of("batch_id", batch,
                "batch_expected_cost_usd", 0.5), 1.0, at));
        assertThat(CostCalls.failures(batch).getList("items")).isEmpty();
        given().when().get("/api/v1/batches/" + batch).then().statusCode(200).body("spentUsd", equalTo(3.0f))
                .body("expectedCostUsd", equalTo(null)).body("expectedSource", equalTo(null));
        batches.rebuild();
        given().when().get("/api/v1/batches/" + batch).then().body("expectedCostUsd", equalTo(null));
    }

    @Test
    void untagged_calls_and_batches_without_expectation_raise_nothing() {
        clock.set(T0);
        String batch = "job-" + UUID.randomUUID();
        CostCalls.ingest(3, T0, at -> CostCalls.batchCall("t", Map.of("batch_id", batch), 50.0, at));
        assertThat(CostCalls.failures(batch).getList("items")).isEmpty();
        given().when().get("/api/v1/batches/" + batch).then().statusCode(200).body("spentUsd", equalTo(150.0f))
                .body("expectedCostUsd", equalTo(null));
        given().when().get("/api/v1/batches/no-such-" + UUID.randomUUID()).then().statusCode(404)
                .contentType(PROBLEM);
    }

    @Test
    void bad_bodies_are_problems_that_name_the_field_and_writes_need_the_key() {
        String batch = "job-" + UUID.randomUUID();
        put(batch, "{\"expectedCostUsd\": 0}").statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("expectedCostUsd"));
        put(batch, "{\"expectedCostUsd\": \"12\"}").statusCode(400).body("errors[0].field",
                equalTo("expectedCostUsd"));
        put(batch, "{\"expected\": 3}").statusCode(400).body("errors[0].field", equalTo("expected"));
        put(batch, "{").statusCode(400).contentType(PROBLEM);
        put("x".repeat(201), "{\"expectedCostUsd\": 1}").statusCode(400).body("errors[0].field", equalTo("id"));
        given().contentType(ContentType.JSON).body("{\"expectedCostUsd\": 1}").when().put("/api/v1/batches/" + batch)
                .then().statusCode(401).contentType(PROBLEM);
        given().when().get("/api/v1/batches/" + batch).then().statusCode(404);
    }
    @Test
    void a_semicolon_in_a_batch_id_is_part_of_it_or_a_problem_never_another_batch() {
        String batch = "job-" + UUID.randomUUID();
        // Unencoded, ";" starts a JAX-RS matrix parameter, which is stripped from the id: another batch's
        // expectation would be set.
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"expectedCostUsd\": 5}").when().put("/api/v1/batches/" + batch + ";retry=2").then()
                .statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("id"));
        given().when().get("/api/v1/batches/" + batch).then().statusCode(404);
        given().urlEncodingEnabled(false).when().get("/api/v1/batches/" + batch + ";retry=2").then().statusCode(400)
                .contentType(PROBLEM);
        // Encoded, it is part of the id.
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"expectedCostUsd\": 5}").when().put("/api/v1/batches/" + batch + "%3Bretry=2").then()
                .statusCode(200).body("batchId", equalTo(batch + ";retry=2"));
    }
    @Test
    void a_batch_id_may_hold_a_slash() {
        clock.set(T0);
        String batch = "nightly/" + UUID.randomUUID() + "/embeddings";
        String team = "team-" + UUID.randomUUID();
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"expectedCostUsd\": 5}").when().put("/api/v1/batches/" + batch).then().statusCode(200)
                .body("batchId", equalTo(batch));
        CostCalls.ingest(2, T0, at -> CostCalls.batchCall(team, Map.of("batch_id", batch), 0.5, at));
        given().urlEncodingEnabled(false).when().get("/api/v1/batches/" + batch).then().statusCode(200)
                .body("spentUsd", equalTo(1.0f)).body("calls", equalTo(2)).body("expectedCostUsd", equalTo(5.0f));
    }
    @Test
    void a_replica_raises_no_overrun_for_an_expectation_another_replica_raised_before_its_reconcile() {
        clock.set(T0);
        String batch = "job-" + UUID.randomUUID();
        String team = "team-" + UUID.randomUUID();
        put(batch, "{\"expectedCostUsd\": 1}").statusCode(200);
        // The operator raised the expectation through the other replica; this one has not reconciled.
        store.putBatch(batch, 10, "api", T0);
        CostCalls.ingest(3, T0, at -> CostCalls.batchCall(team, Map.of("batch_id", batch), 0.5, at)); // $1.50
        assertThat(CostCalls.failures(batch).getList("items")).isEmpty();
        given().when().get("/api/v1/batches/" + batch).then().statusCode(200).body("expectedCostUsd", equalTo(10.0f))
                .body("spentUsd", equalTo(1.5f));
    }
    @Test
    void an_expectation_another_replica_set_for_a_batch_already_sending_is_watched_here_from_the_reconcile() {
        clock.set(T0);
        String batch = "job-" + UUID.randomUUID();
        String team = "team-" + UUID.randomUUID();
        Map<String, Object> meta = Map.of("batch_id", batch);
        // The job starts before its expectation is set: this replica remembers the batch as one without any.
        CostCalls.ingest(1, T0, at -> CostCalls.batchCall(team, meta, 0.5, at));
        // The operator sets it through the other replica, which then goes away (scaled down).
        store.putBatch(batch, 1.0, "api", T0);
        Instant over = CostCalls.ingest(2, T0.plus(Duration.ofMinutes(1)), at -> CostCalls.batchCall(team, meta, 0.5,
                at)); // $1.50 in all
        batches.reconcile();
        JsonPath failures = CostCalls.failures(batch);
        assertThat(failures.getList("items.type")).containsExactly("batch_cost_overrun");
        assertThat(Instant.parse(failures.getString("items[0].firstSeen"))).isEqualTo(over);
        given().when().get("/api/v1/batches/" + batch).then().statusCode(200).body("alerted", contains(1.0f));
    }
    @Test
    void a_batch_read_shows_the_spend_another_replica_stored_since_the_last_reconcile() throws Exception {
        clock.set(T0);
        String batch = "job-" + UUID.randomUUID();
        String team = "team-" + UUID.randomUUID();
        Map<String, Object> meta = Map.of("batch_id", batch);
        put(batch, "{\"expectedCostUsd\": 10}").statusCode(200);
        CostCalls.ingest(2, T0, at -> CostCalls.batchCall(team, meta, 0.5, at)); // through this replica: $1.00
        // The other replica ingested the batch's other calls ($2.00); no reconcile since.
        List<LlmCall> other = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            other.add(mapper.map(CostCalls.batchCall(team, meta, 0.5, T0.plus(Duration.ofMinutes(10 + i))).node()));
        }
        try (Connection c = dataSource.getConnection()) {
            calls.insert(c, other, T0.plus(Duration.ofMinutes(14)));
        }
        given().when().get("/api/v1/batches/" + batch).then().log().ifValidationFails().statusCode(200)
                .body("spentUsd", equalTo(3.0f)).body("calls", equalTo(6));
        // And the expectation it changed.
        store.putBatch(batch, 20, "api", T0);
        given().when().get("/api/v1/batches/" + batch).then().statusCode(200).body("expectedCostUsd", equalTo(20.0f))
                .body("spentUsd", equalTo(3.0f));
    }

    @Test
    void a_batchs_latest_run_is_found_from_its_latest_calls_not_from_every_night_it_ever_ran() throws Exception {
        Duration gap = config.batchRunGap();
        String nightly = "nightly-" + UUID.randomUUID();
        String split = "split-" + UUID.randomUUID();
        String team = "team-" + UUID.randomUUID();
        List<LlmCall> stored = new ArrayList<>();
        Instant night = T0;
        for (int n = 0; n < 30; n++) { // a month of nightly runs, three calls each
            night = T0.plus(Duration.ofDays(n));
            for (int i = 0; i < 3; i++) {
                stored.add(batchCall(nightly, team, night.plus(Duration.ofMinutes(i))));
                stored.add(batchCall(split, team, night.plus(Duration.ofMinutes(i))));
            }
        }
        // Last night, a call ending exactly the gap after the one before is of the same run; a millisecond later,
        // of a new one.
        Instant third = night.plus(Duration.ofMinutes(2));
        stored.add(batchCall(nightly, team, third.plus(gap)));
        stored.add(batchCall(split, team, third.plus(gap).plusMillis(1)));
        clock.set(third.plus(gap).plus(Duration.ofMinutes(1)));
        try (Connection c = dataSource.getConnection()) {
            calls.insert(c, stored, clock.instant());
        }

        Map<String, CostStore.Run> runs = store.batchRuns(List.of(nightly, split, "no-such-batch"), gap);
        assertThat(runs).containsOnlyKeys(nightly, split);
        assertThat(runs.get(nightly)).isEqualTo(new CostStore.Run(night.plus(CostCalls.LATENCY), 4.0, 4,
                third.plus(gap).plus(CostCalls.LATENCY)));
        Instant alone = third.plus(gap).plusMillis(1).plus(CostCalls.LATENCY);
        assertThat(runs.get(split)).isEqualTo(new CostStore.Run(alone, 1.0, 1, alone));

        // The calls read for it: the latest run's and its neighbours', not the 90 of the month's nights.
        Map<String, Instant> anywhere = new HashMap<>();
        anywhere.put(nightly, null);
        assertThat(callsRead(anywhere, gap)).isLessThan(30);
    }

    private LlmCall batchCall(String batch, String team, Instant start) {
        return mapper.map(CostCalls.batchCall(team, Map.of("batch_id", batch), 1.0, start).node());
    }

    /**
     * Rows of llm_calls the batch-runs query reads (returned or filtered out), from its executed plan, with sequential
     * scans priced out: the test's daily partitions hold a few hundred rows of every test's calls, which a planner
     * may rightly read whole (158 rows in one CI run), and the question is what the query reaches through its index.
     */
    private long callsRead(Map<String, Instant> ids, Duration gap) throws Exception {
        return rowsRead(batchRunsPlan(ids, gap));
    }

    /** The executed plan of the batch-runs query, sequential scans priced out (see {@link #callsRead}). */
    private JsonNode batchRunsPlan(Map<String, Instant> ids, Duration gap)
            throws Exception {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (Statement off = c.createStatement()) {
                off.execute("set local enable_seqscan = off");
            }
            try (java.sql.PreparedStatement st = c.prepareStatement("explain (analyze, format json) "
                    + CostStore.BATCH_RUNS)) {
                store.bindBatchRuns(c, st, ids, gap);
                try (java.sql.ResultSet rs = st.executeQuery()) {
                    rs.next();
                    return io.faultline.testing.Payloads.JSON.readTree(rs.getString(1)).get(0).get("Plan");
                }
            } finally {
                c.rollback();
            }
        }
    }

    /**
     * A month of daily partitions of llm_calls, far from the other tests' days; those not there before are dropped
     * after the test ({@link #dropFebruaryPartitions}).
     */
    private void februaryPartitions() throws Exception {
        LocalDate first = LocalDate.parse("2033-02-01");
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            for (int d = 0; d < 28; d++) {
                LocalDate day = first.plusDays(d);
                st.execute("create table if not exists llm_calls_" + day.toString().replace("-", "")
                        + " partition of llm_calls for values from ('" + day + " 00:00:00+00') to ('"
                        + day.plusDays(1) + " 00:00:00+00')");
            }
        }
    }

    /** A team for the calls of 2033, whose calls go with the partitions the test created. */
    private String februaryTeam() {
        String team = "team-" + UUID.randomUUID();
        februaryTeams.add(team);
        return team;
    }

    /**
     * Drops the partitions of 2033 the test created. The calls of other tests that fell into them go back to the
     * default partition, where they were before; this test's own calls there go with the partitions.
     */
    private void dropFebruaryPartitions() throws Exception {
        Set<String> created = partitions2033();
        created.removeAll(partitionsBefore);
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            for (String name : created) {
                st.execute("alter table llm_calls detach partition " + name);
                try (java.sql.PreparedStatement back = c.prepareStatement("insert into llm_calls select * from "
                        + name + " where not (team_id = any(?))")) {
                    back.setArray(1, c.createArrayOf("text", februaryTeams.toArray()));
                    back.executeUpdate();
                }
                st.execute("drop table " + name);
            }
        }
        februaryTeams.clear();
    }

    @Test
    void a_batchs_run_lookup_probes_only_the_daily_partitions_its_latest_run_can_reach() throws Exception {
        // A month of daily partitions, a run each night.
        februaryPartitions();
        Duration gap = config.batchRunGap();
        String nightly = "nightly-" + UUID.randomUUID();
        String team = februaryTeam();
        List<LlmCall> stored = new ArrayList<>();
        Instant night = null;
        for (int n = 0; n < 20; n++) {
            night = Instant.parse("2033-02-01T22:00:00Z").plus(Duration.ofDays(n));
            for (int i = 0; i < 3; i++) {
                stored.add(batchCall(nightly, team, night.plus(Duration.ofMinutes(i))));
            }
        }
        clock.set(night.plus(Duration.ofHours(1)));
        try (Connection c = dataSource.getConnection()) {
            calls.insert(c, stored, clock.instant());
        }
        Instant last = stored.get(stored.size() - 1).endedAt();
        // As an ingest of the last call asks (its end is where the latest call is looked for from).
        Map<String, Instant> since = Map.of(nightly, last);
        assertThat(store.batchRuns(since, gap).get(nightly))
                .isEqualTo(new CostStore.Run(night.plus(CostCalls.LATENCY), 3.0, 3, last));

        // The run began on 2033-02-20 at 22:00: a call of it, or one a gap before it, started that day or the day
        // before (a call lasts less than a day). The nights before are not probed; the days after may still hold a
        // later call (of another replica's ingest), so the latest is looked for there.
        Set<String> probed = new TreeSet<>();
        partitionsProbed(batchRunsPlan(since, gap), probed);
        probed.removeIf(p -> !p.startsWith("llm_calls_2033"));
        assertThat(probed).contains("llm_calls_20330219", "llm_calls_20330220")
                .allMatch(p -> p.compareTo("llm_calls_20330219") >= 0);
    }

    /**
     * A batch whose latest call no caller knows (an untracked batch's GET or PUT, the rebuild, an expectation set on
     * another replica) is looked for in the daily partitions the call retention keeps (30 days), not in every one
     * ever created: the calls of older days are gone, or about to be, with their partitions.
     */
    @Test
    void an_untracked_batchs_latest_call_is_looked_for_only_in_the_partitions_the_call_retention_keeps()
            throws Exception {
        februaryPartitions();
        Duration gap = config.batchRunGap();
        String nightly = "untracked-" + UUID.randomUUID();
        String expired = "expired-" + UUID.randomUUID();
        String team = februaryTeam();
        List<LlmCall> stored = new ArrayList<>();
        Instant night = null;
        for (int n = 0; n < 20; n++) {
            night = Instant.parse("2033-02-01T22:00:00Z").plus(Duration.ofDays(n));
            for (int i = 0; i < 3; i++) {
                stored.add(batchCall(nightly, team, night.plus(Duration.ofMinutes(i))));
            }
        }
        stored.add(batchCall(expired, team, Instant.parse("2033-02-02T22:00:00Z")));
        clock.set(night.plus(Duration.ofHours(1)));
        try (Connection c = dataSource.getConnection()) {
            calls.insert(c, stored, clock.instant());
        }
        // 30 days of calls kept: those started from 2033-02-08, whatever partitions are not dropped yet.
        clock.set(Instant.parse("2033-03-10T12:00:00Z"));
        Map<String, Instant> anywhere = new HashMap<>();
        anywhere.put(nightly, null);
        anywhere.put(expired, null);
        Instant last = stored.get(stored.size() - 2).endedAt();
        Map<String, CostStore.Run> runs = store.batchRuns(anywhere, gap);
        assertThat(runs.get(nightly)).isEqualTo(new CostStore.Run(night.plus(CostCalls.LATENCY), 3.0, 3, last));
        assertThat(runs).as("a batch whose calls are all past the retention").doesNotContainKey(expired);

        Set<String> probed = new TreeSet<>();
        partitionsProbed(batchRunsPlan(anywhere, gap), probed);
        probed.removeIf(p -> !p.startsWith("llm_calls_2033"));
        assertThat(probed).contains("llm_calls_20330220")
                .allMatch(p -> p.compareTo("llm_calls_20330207") >= 0, "no partition before the retention's day");
    }

    /**
     * The walk back from a batch's latest call stops at the retention's day too: a run that began in a partition
     * waiting to be dropped (the maintenance runs hourly) starts, as after the drop, at its first call still kept.
     */
    @Test
    void a_batchs_walk_back_stops_at_the_first_day_the_call_retention_keeps() throws Exception {
        februaryPartitions();
        Duration gap = config.batchRunGap();
        String nightly = "edge-" + UUID.randomUUID();
        String team = februaryTeam();
        List<LlmCall> stored = new ArrayList<>();
        // A call every two hours (within the gap) from 16:00 the day before the retention's first day.
        Instant from = Instant.parse("2033-02-07T16:00:00Z");
        for (int i = 0; i < 7; i++) {
            stored.add(batchCall(nightly, team, from.plus(Duration.ofHours(2L * i))));
        }
        clock.set(Instant.parse("2033-02-08T05:00:00Z"));
        try (Connection c = dataSource.getConnection()) {
            calls.insert(c, stored, clock.instant());
        }
        // 30 days of calls kept: those started from 2033-02-08.
        clock.set(Instant.parse("2033-03-10T12:00:00Z"));
        Map<String, Instant> anywhere = new HashMap<>();
        anywhere.put(nightly, null);
        Instant kept = Instant.parse("2033-02-08T00:00:00Z").plus(CostCalls.LATENCY);
        Instant last = stored.get(stored.size() - 1).endedAt();
        assertThat(store.batchRuns(anywhere, gap).get(nightly)).isEqualTo(new CostStore.Run(kept, 3.0, 3, last));
        Set<String> probed = new TreeSet<>();
        partitionsProbed(batchRunsPlan(anywhere, gap), probed);
        probed.removeIf(p -> !p.startsWith("llm_calls_2033"));
        assertThat(probed).contains("llm_calls_20330208")
                .allMatch(p -> p.compareTo("llm_calls_20330208") >= 0, "no partition before the retention's day");
    }

    /** The llm_calls partitions the executed plan read at least once (a pruned one runs no loop). */
    private static void partitionsProbed(JsonNode node, Set<String> out) {
        if (node.path("Relation Name").asText().startsWith("llm_calls_") && node.path("Actual Loops").asLong() > 0) {
            out.add(node.path("Relation Name").asText());
        }
        for (JsonNode child : node.path("Plans")) {
            partitionsProbed(child, out);
        }
    }

    private static long rowsRead(JsonNode node) {
        long read = 0;
        if (node.path("Relation Name").asText().startsWith("llm_calls")) {
            read += (node.path("Actual Rows").asLong() + node.path("Rows Removed by Filter").asLong()
                    + node.path("Rows Removed by Index Recheck").asLong()) * node.path("Actual Loops").asLong(1);
        }
        for (JsonNode child : node.path("Plans")) {
            read += rowsRead(child);
        }
        return read;
    }

    @Test
    void a_job_id_reused_every_night_is_judged_per_run_each_from_zero() throws Exception {
        clock.set(T0);
        String batch = "nightly-embed-" + UUID.randomUUID();
        String team = "team-" + UUID.randomUUID();
        Map<String, Object> meta = Map.of("job_id", batch);
        put(batch, "{\"expectedCostUsd\": 5}").statusCode(200);
        // Monday night: $4 of an expected $5.
        CostCalls.ingest(4, T0, at -> CostCalls.batchCall(team, meta, 1.0, at));

        // Tuesday night, the same id: another $4 is a run of its own, within its expectation (added to Monday's it
        // was $8, past the expectation of a run that had not even overrun).
        Instant tuesday = T0.plus(Duration.ofDays(1));
        clock.set(tuesday);
        CostCalls.ingest(4, tuesday, at -> CostCalls.batchCall(team, meta, 1.0, at));
        assertThat(CostCalls.failures(batch).getList("items")).isEmpty();
        given().when().get("/api/v1/batches/" + batch).then().log().ifValidationFails().statusCode(200)
                .body("spentUsd", equalTo(4.0f)).body("calls", equalTo(4))
                .body("runStartedAt", equalTo(tuesday.plus(CostCalls.LATENCY).toString()));
        batches.rebuild();
        given().when().get("/api/v1/batches/" + batch).then().statusCode(200).body("spentUsd", equalTo(4.0f));

        // Past its own $5, Tuesday's run is raised, with Tuesday's spend.
        Instant over = CostCalls.ingest(2, tuesday.plus(Duration.ofMinutes(4)), at -> CostCalls.batchCall(team, meta,
                1.0, at));
        JsonPath failures = CostCalls.failures(batch);
        assertThat(failures.getList("items")).hasSize(1);
        assertThat(Instant.parse(failures.getString("items[0].firstSeen"))).isEqualTo(over);
        assertThat(failures.getMap("items[0].evidence")).containsEntry("spent_usd", 6.0f).containsEntry("calls", 6)
                .containsEntry("run_started_at", tuesday.plus(CostCalls.LATENCY).toString());

        // Wednesday's run starts from zero and overruns too: raised again, once.
        Instant wednesday = tuesday.plus(Duration.ofDays(1));
        clock.set(wednesday);
        CostCalls.ingest(6, wednesday, at -> CostCalls.batchCall(team, meta, 1.0, at));
        batches.reconcile();
        given().when().get("/api/v1/batches/" + batch).then().statusCode(200).body("spentUsd", equalTo(6.0f))
                .body("alerted", contains(1.0f));
        try (Connection c = dataSource.getConnection(); java.sql.PreparedStatement st = c.prepareStatement(
                "select count(*) from batch_alerts where batch_id = ?")) {
            st.setString(1, batch);
            try (java.sql.ResultSet rs = st.executeQuery()) {
                rs.next();
                assertThat(rs.getInt(1)).as("one alert per run").isEqualTo(2);
            }
        }
    }
}
