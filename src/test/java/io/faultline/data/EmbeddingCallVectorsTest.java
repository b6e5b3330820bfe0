package io.faultline.data;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
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
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Embedding drift fed by LiteLLM embedding calls (16 vectors a call), as a model group's space sees them. */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class EmbeddingCallVectorsTest {

    private static final Instant T0 = Instant.parse("2026-11-29T10:00:00Z");
    private static final int D = 32;

    @Inject
    TestClock clock;

    @Inject
    EmbeddingDriftDetector detector;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void a_component_beyond_a_32_bit_float_does_not_blind_the_space_to_a_drift() {
        String space = "openai/emb-" + UUID.randomUUID().toString().substring(0, 8);
        SplittableRandom random = new SplittableRandom(11);
        Cluster cluster = Cluster.random(D, 1.0, random);
        clock.set(T0);
        List<float[]> reference = cluster.sample(496, random);
        ingest(space, T0, reference);
        // One answer carries 1e39: a finite JSON number, but infinite as the float the vectors are kept in.
        List<Object> odd = new ArrayList<>();
        for (int i = 0; i < D; i++) {
            odd.add(i == 0 ? 1e39 : 0.1);
        }
        Payloads call = embeddingCall(space, T0.plusSeconds(100), List.of(odd, odd, odd, odd));
        Api.ingest(Payloads.array(call)).statusCode(200);
        detector.flush();

        // The space's model then answers from another place altogether: opposite vectors.
        clock.set(T0.plus(Duration.ofMinutes(10)));
        ingest(space, clock.instant(), cluster.rotated(Math.PI, random).sample(200, random));
        clock.advance(Duration.ofMinutes(1));
        detector.check();

        JsonPath drift = Api.failures("type=embedding_drift&deployment=" + space).statusCode(200).extract()
                .jsonPath();
        assertEquals(1, drift.getList("items").size(), "the opposite window is a drift");
        assertEquals("P2", drift.getString("items[0].severity"));
    }

    @Test
    void a_model_group_whose_vectors_change_dimension_raises_a_drift() {
        String space = "openai/emb-" + UUID.randomUUID().toString().substring(0, 8);
        SplittableRandom random = new SplittableRandom(12);
        clock.set(T0);
        ingest(space, T0, Cluster.random(D, 1.0, random).sample(500, random));
        detector.flush();

        // The group now routes to a model of another dimension: none of its vectors compare with the reference.
        Instant switched = T0.plus(Duration.ofMinutes(10));
        clock.set(switched);
        Cluster other = Cluster.random(2 * D, 1.0, random);
        ingest(space, switched, other.sample(192, random));
        detector.flush();
        assertEquals(0, Api.failures("type=embedding_drift&deployment=" + space).extract().jsonPath()
                .getList("items").size(), "192 vectors are less than a window's worth");
        ingest(space, switched.plusSeconds(20), other.sample(16, random));
        clock.advance(Duration.ofMinutes(1));
        detector.check();

        JsonPath drift = Api.failures("type=embedding_drift&deployment=" + space).statusCode(200).extract()
                .jsonPath();
        assertEquals(1, drift.getList("items").size(), "vectors of another dimension are a drift, not silence");
        assertEquals("DATA", drift.getString("items[0].category"));
        assertEquals("P2", drift.getString("items[0].severity"));
        assertEquals("dimension_changed", drift.getString("items[0].evidence.reason"));
        assertEquals(D, drift.getInt("items[0].evidence.reference_dimensions"));
        assertEquals(2 * D, drift.getInt("items[0].evidence.dimensions"));
        assertEquals(208, drift.getInt("items[0].evidence.vectors_in_a_row"));
        assertEquals(switched, Instant.parse(drift.getString("items[0].firstSeen")));
    }

    /**
     * The vectors of another dimension are counted in the database: a restart (or a second replica taking half the
     * calls) mid-way used to start the count again, so the change was raised a window's worth of vectors later, or,
     * by each replica, twice.
     */
    @Test
    void a_dimension_change_is_raised_once_across_a_restart_in_the_middle_of_it() {
        String space = "openai/emb-" + UUID.randomUUID().toString().substring(0, 8);
        SplittableRandom random = new SplittableRandom(14);
        clock.set(T0);
        ingest(space, T0, Cluster.random(D, 1.0, random).sample(500, random));
        detector.flush();

        Instant switched = T0.plus(Duration.ofMinutes(10));
        clock.set(switched);
        Cluster other = Cluster.random(2 * D, 1.0, random);
        ingest(space, switched, other.sample(112, random));
        detector.flush();
        detector.forget(); // a restart: what memory held is gone
        ingest(space, switched.plusSeconds(20), other.sample(96, random));
        detector.flush();
        ingest(space, switched.plusSeconds(40), other.sample(96, random));
        detector.flush();

        JsonPath drift = Api.failures("type=embedding_drift&deployment=" + space).statusCode(200).extract()
                .jsonPath();
        assertEquals(1, drift.getList("items").size(), "raised at the window's worth, as without the restart");
        assertEquals(1, drift.getInt("items[0].occurrences"));
        assertEquals(208, drift.getInt("items[0].evidence.vectors_in_a_row"));
        assertEquals(switched, Instant.parse(drift.getString("items[0].firstSeen")));
    }

    /**
     * The database went away in the middle of a flush, after a call took a dimension change's stored run across the
     * window: the change collected in that flush was dropped, and the stored run, already past the window, never
     * crosses it again. It is raised exactly once, in spite of the outage.
     */
    @Test
    void a_dimension_change_found_in_a_flush_the_database_cuts_short_is_raised_once() throws Exception {
        String space = "openai/emb-" + UUID.randomUUID().toString().substring(0, 8);
        String other = "openai/emb-" + UUID.randomUUID().toString().substring(0, 8);
        SplittableRandom random = new SplittableRandom(15);
        clock.set(T0);
        ingest(space, T0, Cluster.random(D, 1.0, random).sample(500, random));
        detector.flush();

        Instant switched = T0.plus(Duration.ofMinutes(10));
        clock.set(switched);
        ingest(space, switched, Cluster.random(2 * D, 1.0, random).sample(208, random));
        ingest(other, switched.plusSeconds(30), Cluster.random(D, 1.0, random).sample(16, random));
        String trigger = "away_" + UUID.randomUUID().toString().replace("-", "");
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("create function " + trigger + "() returns trigger language plpgsql as $$ begin"
                    + " if new.space = '" + other + "' then raise exception 'database away' using errcode = '08006';"
                    + " end if; return new; end $$");
            st.execute("create trigger " + trigger + " before insert on embedding_samples for each row"
                    + " execute function " + trigger + "()");
        }
        try {
            assertThrows(RuntimeException.class, detector::flush, "the database went away mid-flush");
        } finally {
            try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
                st.execute("drop trigger " + trigger + " on embedding_samples");
                st.execute("drop function " + trigger + "()");
            }
        }
        detector.flush(); // the database is back: the rest of the flush is written

        JsonPath drift = Api.failures("type=embedding_drift&deployment=" + space).statusCode(200).extract()
                .jsonPath();
        assertEquals(1, drift.getList("items").size(), "the change found before the outage is raised");
        assertEquals(1, drift.getInt("items[0].occurrences"));
        assertEquals("dimension_changed", drift.getString("items[0].evidence.reason"));
        assertEquals(208, drift.getInt("items[0].evidence.vectors_in_a_row"));
    }

    @Test
    void a_model_group_whose_callers_mix_two_dimensions_raises_no_dimension_change() {
        String space = "openai/emb-" + UUID.randomUUID().toString().substring(0, 8);
        SplittableRandom random = new SplittableRandom(13);
        Cluster cluster = Cluster.random(D, 1.0, random);
        clock.set(T0);
        ingest(space, T0, cluster.sample(500, random));
        detector.flush();

        // Two applications share the group, one asking for twice the dimensions (OpenAI's `dimensions` parameter).
        Cluster wide = Cluster.random(2 * D, 1.0, random);
        Instant later = T0.plus(Duration.ofMinutes(10));
        for (int round = 0; round < 20; round++) {
            ingest(space, later.plusSeconds(2L * round), cluster.sample(16, random));
            ingest(space, later.plusSeconds(2L * round + 1), wide.sample(16, random));
        }
        clock.set(later.plus(Duration.ofMinutes(1)));
        detector.flush();

        assertEquals(0, Api.failures("type=embedding_drift&deployment=" + space).extract().jsonPath()
                .getList("items").size(), "320 vectors of the other dimension, never a window's worth in a row");
    }

    /** Posts the vectors as LiteLLM embedding calls of 16 vectors each, one a second from {@code start}. */
    private static void ingest(String space, Instant start, List<float[]> vectors) {
        List<Payloads> calls = new ArrayList<>();
        for (int from = 0; from < vectors.size(); from += 16) {
            List<Object> data = new ArrayList<>(vectors.subList(from, Math.min(vectors.size(), from + 16)));
            calls.add(embeddingCall(space, start.plusSeconds(from / 16), data));
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
    }

    private static Payloads embeddingCall(String space, Instant at, List<Object> vectors) {
        List<Map<String, Object>> data = new ArrayList<>();
        for (int i = 0; i < vectors.size(); i++) {
            data.add(Map.of("index", i, "embedding", vectors.get(i)));
        }
        return Payloads.success("openai", space, "dep-emb", at).set("call_type", "aembedding")
                .set("response", Map.of("object", "list", "data", data));
    }
}
