package io.faultline.signals;

import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.faultline.signals.SignalsApi.PROBLEM;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;

/** Retrieval samples carried by calls are the caller's word: they count only for indexes an operator registered. */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RetrievalIndexTrustTest {

    private static final Instant T0 = Instant.parse("2026-11-21T09:00:00Z");
    private static final String IGNORED = "faultline_retrieval_samples_ignored_total";

    @Inject
    TestClock clock;

    @Inject
    RetrievalTracker tracker;

    @Inject
    io.agroal.api.AgroalDataSource dataSource;

    @Inject
    RetrievalIndexes indexes;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    static ValidatableResponse register(String index) {
        return given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY).when()
                .put("/api/v1/retrieval-indexes/" + index).then().log().ifValidationFails();
    }

    static ValidatableResponse unregister(String index) {
        return given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY).when()
                .delete("/api/v1/retrieval-indexes/" + index).then().log().ifValidationFails();
    }

    private static Payloads callFor(String index, double topScore, Instant at) {
        return Payloads.success("openai", "gpt-4o-mini", "dep-rag", at).metadata(Map.of("retrieval",
                Map.of("index", index, "top_score", topScore, "hits", 5)));
    }

    private long storedSamples(String index) throws Exception {
        try (var c = dataSource.getConnection(); var st = c.prepareStatement("select count(*) from data_signals"
                + " where kind = 'retrieval_call' and subject = ?")) {
            st.setString(1, index);
            try (var rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    @Test
    void indexes_are_registered_listed_and_deleted_through_the_api_with_problems_for_bad_names() throws Exception {
        String index = "kb-" + UUID.randomUUID();
        register(index).statusCode(201).body("index", equalTo(index));
        register(index).statusCode(200).body("index", equalTo(index));
        given().when().get("/api/v1/retrieval-indexes").then().statusCode(200).body("index", hasItem(index));
        unregister(index).statusCode(204);
        unregister(index).statusCode(404).contentType(PROBLEM);
        given().when().get("/api/v1/retrieval-indexes").then().statusCode(200).body("index", not(hasItem(index)));

        register("x".repeat(201)).statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("name"));
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).when()
                .put("/api/v1/retrieval-indexes/kb%0A1").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("name"));
        // The signal API refuses these names for an index: registered, they would never receive its samples.
        for (String padded : new String[] {"kb-1%20", "%20kb-1", "kb-1%E2%80%83"}) {
            given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).when()
                    .put("/api/v1/retrieval-indexes/" + padded).then().statusCode(400).contentType(PROBLEM)
                    .body("errors[0].field", equalTo("name"));
        }
        // One registered before the rule can still be unregistered.
        String legacy = "kb-legacy-" + UUID.randomUUID() + " ";
        try (var c = dataSource.getConnection(); var st = c.prepareStatement(
                "insert into retrieval_indexes (index_name, registered_at) values (?, now())")) {
            st.setString(1, legacy);
            st.executeUpdate();
        }
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).when()
                .delete("/api/v1/retrieval-indexes/" + legacy.strip() + "%20").then().statusCode(204);
        given().when().put("/api/v1/retrieval-indexes/" + index).then().statusCode(401).contentType(PROBLEM);
        given().when().delete("/api/v1/retrieval-indexes/" + index).then().statusCode(401).contentType(PROBLEM);
    }

    @Test
    void a_registration_with_a_body_is_refused_naming_what_it_does_not_take_and_registers_nothing() {
        String index = "kb-body-" + UUID.randomUUID();
        // The path's name is all a registration holds: a body with settings in it was taken and ignored in silence.
        given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY).contentType("application/json")
                .body("{\"maxAge\":\"PT1H\"}").when().put("/api/v1/retrieval-indexes/" + index).then()
                .log().ifValidationFails().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("maxAge"))
                .body("detail", containsString("takes no body"));
        given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY).contentType("text/plain")
                .body("kb-other").when().put("/api/v1/retrieval-indexes/" + index).then()
                .log().ifValidationFails().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("$"));
        given().when().get("/api/v1/retrieval-indexes").then().statusCode(200).body("index", not(hasItem(index)));
        // Without a body, or with an empty object (clients that always send one), it registers.
        given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY).contentType("application/json")
                .body("{ }").when().put("/api/v1/retrieval-indexes/" + index).then().log().ifValidationFails()
                .statusCode(201).body("index", equalTo(index));
        register(index).statusCode(200).body("index", equalTo(index));
        unregister(index).statusCode(204);
    }

    @Test
    void a_name_blank_by_unicode_is_refused_on_every_path_and_one_stored_before_can_still_be_removed()
            throws Exception {
        clock.set(T0);
        // no-break space, narrow no-break space, figure space, zero-width space, byte order mark, word joiner
        String[] blanks = {"%C2%A0", "%E2%80%AF", "%E2%80%87", "%E2%80%8B", "%EF%BB%BF", "%E2%81%A0",
            "%C2%A0%E2%80%8B"};
        for (String blank : blanks) {
            given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).when()
                    .put("/api/v1/retrieval-indexes/" + blank).then().log().ifValidationFails().statusCode(400)
                    .contentType(PROBLEM).body("errors[0].field", equalTo("name"));
        }
        for (String blank : new String[] {"\u00a0", "\u200b", "\ufeff", "\u00a0\u200b", "kb-1\u00a0",
            "\u200bkb-1"}) {
            given().header("Authorization", "Bearer " + Api.KEY).contentType("application/json")
                    .body("{\"signalId\": \"" + UUID.randomUUID() + "\", \"index\": \"" + blank
                            + "\", \"topScore\": 0.5}")
                    .when().post("/api/v1/signals/retrieval").then().log().ifValidationFails().statusCode(400)
                    .contentType(PROBLEM).body("errors[0].field", equalTo("index"));
        }
        // Stored before this rule (or by hand): call metadata naming it is malformed, and DELETE still removes it.
        String legacy = "\u00a0";
        try (var c = dataSource.getConnection(); var st = c.prepareStatement(
                "insert into retrieval_indexes (index_name, registered_at) values (?, now())"
                        + " on conflict do nothing")) {
            st.setString(1, legacy);
            st.executeUpdate();
        }
        indexes.reload();
        Api.ingest(Payloads.array(callFor(legacy, 0.8, T0))).statusCode(200).body("accepted", equalTo(1));
        assertThat(storedSamples(legacy)).isZero();
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).when()
                .delete("/api/v1/retrieval-indexes/%C2%A0").then().log().ifValidationFails().statusCode(204);
    }

    @Test
    void samples_from_calls_for_an_unregistered_index_are_ignored_and_counted() throws Exception {
        clock.set(T0);
        String registered = "kb-" + UUID.randomUUID();
        String unregistered = "kb-" + UUID.randomUUID();
        register(registered).statusCode(201);
        double before = Metrics.valueOrZero(Metrics.scrape(), IGNORED, "reason", "unregistered_index");

        Api.ingest(Payloads.array(callFor(registered, 0.8, T0), callFor(unregistered, 0.8, T0),
                callFor(unregistered, 0.1, T0))).statusCode(200).body("accepted", equalTo(3));

        assertThat(Metrics.value(Metrics.scrape(), IGNORED, "reason", "unregistered_index") - before).isEqualTo(2.0);
        assertThat(storedSamples(registered)).isEqualTo(1);
        assertThat(storedSamples(unregistered)).isZero();

        // Unregistering stops the counting; registering later does not revive what was ignored.
        unregister(registered).statusCode(204);
        Api.ingest(Payloads.array(callFor(registered, 0.8, T0.plusSeconds(30)))).statusCode(200);
        assertThat(storedSamples(registered)).isEqualTo(1);
        register(unregistered).statusCode(201);
        tracker.rebuild();
        assertThat(storedSamples(unregistered)).isZero();
    }

    @Test
    void a_flood_of_invented_indexes_in_call_metadata_cannot_evict_a_registered_one() throws Exception {
        clock.set(T0);
        String real = "kb-" + UUID.randomUUID();
        register(real).statusCode(201);
        Api.ingest(Payloads.array(callFor(real, 0.8, T0))).statusCode(200);
        int tracked = tracker.trackedIndexes();
        long evictions = tracker.evictions();

        // More invented names than the 1,000-index cap, in two batches (1,000 calls per request at most).
        for (int batch = 0; batch < 2; batch++) {
            List<Payloads> flood = new ArrayList<>();
            for (int i = 0; i < 600; i++) {
                flood.add(callFor("fake-" + batch + "-" + i + "-" + UUID.randomUUID(), 0.1, T0.plusSeconds(1)));
            }
            Api.ingest(Payloads.array(flood.toArray(Payloads[]::new))).statusCode(200)
                    .body("accepted", equalTo(600));
        }
        assertThat(tracker.evictions()).isEqualTo(evictions);
        assertThat(tracker.trackedIndexes()).isEqualTo(tracked);
        assertThat(tracker.tracks(real)).isTrue();
    }

    @Test
    void the_cap_on_registered_indexes_holds_for_registrations_racing_each_other() throws Exception {
        String prefix = "race-" + UUID.randomUUID() + "-";
        try {
            try (var c = dataSource.getConnection(); var st = c.prepareStatement("insert into retrieval_indexes"
                    + " (index_name, registered_at) select ? || g, now() from generate_series(1, 999 - (select"
                    + " count(*) from retrieval_indexes)) g")) {
                st.setString(1, prefix + "filler-");
                st.executeUpdate();
            }
            indexes.reload();
            CompletableFuture<Integer> first;
            CompletableFuture<Integer> second;
            try (var holder = dataSource.getConnection()) {
                // Holds off every writer of the table, so that both registrations count before either inserts.
                holder.setAutoCommit(false);
                try (var st = holder.createStatement()) {
                    st.execute("lock table retrieval_indexes in share mode");
                }
                first = CompletableFuture.supplyAsync(() -> register(prefix + "a").extract().statusCode());
                second = CompletableFuture.supplyAsync(() -> register(prefix + "b").extract().statusCode());
                await().atMost(Duration.ofSeconds(30)).until(() -> waitingLocks() >= 2);
                holder.commit();
            }
            assertThat(List.of(first.get(30, TimeUnit.SECONDS), second.get(30, TimeUnit.SECONDS)))
                    .containsExactlyInAnyOrder(201, 409);
            assertThat(indexes.list()).hasSize(1000);
        } finally {
            try (var c = dataSource.getConnection(); var st = c.prepareStatement(
                    "delete from retrieval_indexes where index_name like ? || '%'")) {
                st.setString(1, prefix);
                st.executeUpdate();
            }
            indexes.reload();
        }
    }

    private long waitingLocks() throws Exception {
        try (var c = dataSource.getConnection(); var st = c.prepareStatement(
                "select count(*) from pg_locks where not granted"); var rs = st.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
