package io.faultline.signals;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
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
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

import static io.faultline.signals.SignalsApi.failuresOf;
import static io.faultline.signals.SignalsApi.map;
import static io.faultline.signals.SignalsApi.post;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A realistic retrieval stream: an hour of healthy queries (top score around 0.80, 5 hits) every 30 s, then the
 * index degrades. Defaults: 5-minute window against the hour before it, drop when 25% below.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RetrievalQualityDropTest {

    private static final Instant T0 = Instant.parse("2026-11-20T09:00:00Z");
    private static final Instant DEGRADED = T0.plus(Duration.ofHours(1));
    private static final Duration STEP = Duration.ofSeconds(30);
    private static final double[] HEALTHY = { 0.78, 0.80, 0.82 };

    @Inject
    TestClock clock;

    @Inject
    RetrievalTracker tracker;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    private interface Sender {
        void send(String index, double topScore, int hits);
    }

    private final Sender viaApi = (index, top, hits) -> post("retrieval", map("signalId", UUID.randomUUID()
            .toString(), "index", index, "at", clock.instant().toString(), "topScore", top, "hits", hits, "k", 10))
            .statusCode(200).body("accepted", equalTo(1));

    /** An hour of healthy samples, ending with the clock at {@link #DEGRADED}. */
    private void healthyHour(String index, Sender sender) {
        clock.set(T0);
        for (int i = 0; i < 120; i++) {
            sender.send(index, HEALTHY[i % 3], 5);
            clock.advance(STEP);
        }
    }

    /** Degraded samples number {@code from} (inclusive) to {@code to} (exclusive), 30 s apart from {@link #DEGRADED}. */
    private void degraded(String index, Sender sender, int from, int to, double topScore, int hits) {
        for (int i = from; i < to; i++) {
            clock.set(DEGRADED.plus(STEP.multipliedBy(i)));
            sender.send(index, topScore, hits);
        }
    }

    @Test
    void top_scores_30_percent_below_the_hour_before_raise_a_drop_once_the_window_is_degraded() {
        String index = "kb-" + UUID.randomUUID();
        healthyHour(index, viaApi);
        // The window still holds healthy minutes for the first 8 degraded samples (mean 0.608 after the 8th).
        degraded(index, viaApi, 0, 8, 0.56, 5);
        failuresOf(index).body("items", hasSize(0));

        degraded(index, viaApi, 8, 9, 0.56, 5); // the window now holds degraded minutes only
        failuresOf(index).body("items", hasSize(1))
                .body("items[0].type", equalTo("retrieval_quality_drop"))
                .body("items[0].severity", equalTo("P3"))
                .body("items[0].provider", equalTo("pipeline"))
                .body("items[0].detectionMethod", equalTo("signals.retrieval_window"))
                .body("items[0].firstSeen", equalTo(DEGRADED.plus(Duration.ofMinutes(4)).toString()))
                .body("items[0].evidence.index", equalTo(index))
                .body("items[0].evidence.dropped", contains("top_score"))
                .body("items[0].evidence.current_top_score", equalTo(0.56f))
                .body("items[0].evidence.baseline_top_score", equalTo(0.8f))
                .body("items[0].evidence.baseline_samples", equalTo(120))
                .body("items[0].evidence.source", equalTo("signals_api"));
    }

    /**
     * The drop a sample raises is stored with the sample or not at all: when the database refuses the failure (here a
     * trigger on the inbox, for this index only), the request fails and the sample is not kept either, so the
     * client's resend is new, raises the drop, and counts in the window once. Before, the sample was committed first
     * and the drop raised after: a resend was a duplicate and the drop was lost for good.
     */
    @Test
    void a_drop_the_database_refuses_is_raised_by_the_resend_and_its_sample_counts_once() throws Exception {
        String index = "kb-refused-" + UUID.randomUUID();
        String reference = "kb-reference-" + UUID.randomUUID();
        for (String i : new String[] { reference, index }) {
            healthyHour(i, viaApi);
            degraded(i, viaApi, 0, 8, 0.56, 5);
        }
        Instant ninth = DEGRADED.plus(STEP.multipliedBy(8));
        clock.set(ninth);
        viaApi.send(reference, 0.56, 5);
        Object windowSamples = failuresOf(reference).body("items", hasSize(1)).extract()
                .path("items[0].evidence.window_samples");

        String trigger = "refuse_" + UUID.randomUUID().toString().replace("-", "");
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("create function " + trigger + "() returns trigger language plpgsql as $$ begin"
                    + " if new.evidence ->> 'index' = '" + index + "' then raise exception 'inbox refuses'; end if;"
                    + " return new; end $$");
            st.execute("create trigger " + trigger + " before insert on failure_inbox for each row execute function "
                    + trigger + "()");
        }
        Map<String, Object> sample = map("signalId", "ninth-" + index, "index", index, "at", ninth.toString(),
                "topScore", 0.56, "hits", 5, "k", 10);
        try {
            post("retrieval", sample).statusCode(greaterThanOrEqualTo(500));
        } finally {
            try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
                st.execute("drop trigger " + trigger + " on failure_inbox");
                st.execute("drop function " + trigger + "()");
            }
        }
        failuresOf(index).body("items", hasSize(0));

        post("retrieval", sample).statusCode(200).body("accepted", equalTo(1)).body("duplicates", equalTo(0));
        failuresOf(index).body("items", hasSize(1)).body("items[0].evidence.window_samples", equalTo(windowSamples));
    }

    /**
     * A call's retrieval sample is stored in the call's transaction: when the database refuses the sample (a trigger on
     * the sample table, for this index only), the call is not acknowledged either and the window does not count it, so
     * the resend stores the call and its sample once and raises the drop the sample shows. Before, the call was
     * committed first and the sample stored after: its failure was only logged, and the resend was a duplicate.
     */
    @Test
    void a_call_whose_retrieval_sample_the_database_refuses_is_not_acknowledged_and_its_resend_stores_both_once()
            throws Exception {
        String index = "kb-refused-" + UUID.randomUUID();
        RetrievalIndexTrustTest.register(index).statusCode(201);
        Sender viaCalls = viaCalls();
        healthyHour(index, viaCalls);
        degraded(index, viaCalls, 0, 8, 0.56, 5);
        clock.set(DEGRADED.plus(STEP.multipliedBy(8)));
        Payloads crossing = Payloads.success("openai", "gpt-4o-mini", "dep-rag", clock.instant())
                .metadata(Map.of("retrieval", Map.of("index", index, "top_score", 0.56, "hits", 5)));

        try (AutoCloseable refusing = refuseSamplesOf(index, null)) {
            Api.ingest(Payloads.array(crossing)).statusCode(greaterThanOrEqualTo(500));
        }
        assertEquals(0, storedCalls(crossing.id()));
        assertEquals(0, storedSamples(crossing.id()));
        failuresOf(index).body("items", hasSize(0));

        // The receipt's failures are what the calls were classified as: the index's drop is raised beside them.
        Api.ingest(Payloads.array(crossing)).statusCode(200).body("accepted", equalTo(1))
                .body("duplicates", equalTo(0)).body("failures", equalTo(0));
        Api.ingest(Payloads.array(crossing)).statusCode(200).body("duplicates", equalTo(1));
        assertEquals(1, storedCalls(crossing.id()));
        assertEquals(1, storedSamples(crossing.id()));
        failuresOf(index).body("items", hasSize(1)).body("items[0].occurrences", equalTo(1))
                .body("items[0].evidence.source", equalTo("call_metadata"))
                .body("items[0].evidence.window_samples", equalTo(9));
    }

    /**
     * A sample the database refuses for what it holds (a data error) makes its call a rejected item of the batch, by
     * index; the other calls are stored with their samples, and the resend stores the rejected call with its sample.
     */
    @Test
    void a_call_whose_sample_is_refused_as_data_is_rejected_by_index_and_the_rest_of_the_batch_is_stored()
            throws Exception {
        String refused = "kb-refused-" + UUID.randomUUID();
        String kept = "kb-kept-" + UUID.randomUUID();
        RetrievalIndexTrustTest.register(refused).statusCode(201);
        RetrievalIndexTrustTest.register(kept).statusCode(201);
        clock.set(T0);
        Payloads first = Payloads.success("openai", "gpt-4o-mini", "dep-rag", clock.instant())
                .metadata(Map.of("retrieval", Map.of("index", kept, "top_score", 0.8, "hits", 5)));
        Payloads second = Payloads.success("openai", "gpt-4o-mini", "dep-rag", clock.instant())
                .metadata(Map.of("retrieval", Map.of("index", refused, "top_score", 0.8, "hits", 5)));
        String batch = Payloads.array(first, second);

        try (AutoCloseable refusing = refuseSamplesOf(refused, "check_violation")) {
            Api.ingest(batch).statusCode(200).body("accepted", equalTo(1)).body("rejected", hasSize(1))
                    .body("rejected[0].index", equalTo(1)).body("rejected[0].callId", equalTo(second.id()));
        }
        assertEquals(1, storedSamples(first.id()));
        assertEquals(0, storedCalls(second.id()));
        assertEquals(0, storedSamples(second.id()));

        Api.ingest(batch).statusCode(200).body("accepted", equalTo(1)).body("duplicates", equalTo(1))
                .body("rejected", hasSize(0));
        assertEquals(1, storedCalls(second.id()));
        assertEquals(1, storedSamples(second.id()));
    }

    /** Makes the database refuse retrieval samples of {@code index}, with {@code errcode} (null: a plain exception). */
    private AutoCloseable refuseSamplesOf(String index, String errcode) throws Exception {
        String trigger = "refuse_" + UUID.randomUUID().toString().replace("-", "");
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("create function " + trigger + "() returns trigger language plpgsql as $$ begin"
                    + " if new.subject = '" + index + "' then raise exception 'samples refused'"
                    + (errcode == null ? "" : " using errcode = '" + errcode + "'") + "; end if;"
                    + " return new; end $$");
            st.execute("create trigger " + trigger + " before insert on data_signals for each row execute function "
                    + trigger + "()");
        }
        return () -> {
            try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
                st.execute("drop trigger " + trigger + " on data_signals");
                st.execute("drop function " + trigger + "()");
            }
        };
    }

    private long storedSamples(String callId) throws Exception {
        return count("select count(*) from data_signals where kind = 'retrieval_call' and signal_id = ?", callId);
    }

    private long storedCalls(String callId) throws Exception {
        return count("select count(*) from llm_calls where call_id = ?", callId);
    }

    private long count(String sql, String id) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            st.setString(1, id);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    @Test
    void the_same_stream_just_under_the_threshold_raises_nothing() {
        String index = "kb-" + UUID.randomUUID();
        healthyHour(index, viaApi);
        degraded(index, viaApi, 0, 30, 0.61, 5); // 23.75% below: 15 minutes of it, under the 25% threshold
        failuresOf(index).body("items", hasSize(0));
    }

    @Test
    void hit_counts_that_fall_raise_a_drop_even_when_top_scores_hold() {
        String index = "kb-" + UUID.randomUUID();
        healthyHour(index, viaApi);
        degraded(index, viaApi, 0, 10, 0.80, 3); // crosses with the 7th (mean 3.44 < 3.75)
        failuresOf(index).body("items", hasSize(1)).body("items[0].evidence.dropped", contains("hits"))
                .body("items[0].evidence.current_hits", equalTo(3.4444f))
                .body("items[0].evidence.baseline_hits", equalTo(5.0f))
                .body("items[0].firstSeen", equalTo(DEGRADED.plus(Duration.ofMinutes(3)).toString()));
    }

    @Test
    void a_restart_in_the_middle_of_the_drop_does_not_hide_it() {
        String index = "kb-" + UUID.randomUUID();
        healthyHour(index, viaApi);
        degraded(index, viaApi, 0, 8, 0.56, 5);

        tracker.forget(); // what a restart loses
        tracker.rebuild(); // what start-up does
        clock.set(DEGRADED.plus(STEP.multipliedBy(8)));
        viaApi.send(index, 0.56, 5);

        failuresOf(index).body("items", hasSize(1))
                .body("items[0].firstSeen", equalTo(DEGRADED.plus(Duration.ofMinutes(4)).toString()))
                .body("items[0].evidence.baseline_samples", equalTo(120));
    }

    @Test
    void a_restart_after_a_drop_was_raised_does_not_raise_it_again_within_the_window() {
        String index = "kb-" + UUID.randomUUID();
        healthyHour(index, viaApi);
        degraded(index, viaApi, 0, 9, 0.56, 5);
        failuresOf(index).body("items", hasSize(1)).body("items[0].occurrences", equalTo(1));

        tracker.forget(); // what a restart loses
        tracker.rebuild(); // what start-up does
        degraded(index, viaApi, 9, 12, 0.56, 5);

        // As without the restart: the same drop is raised again once the window has turned over, not before.
        failuresOf(index).body("items", hasSize(1)).body("items[0].occurrences", equalTo(1));
    }

    @Test
    void a_negative_hit_count_in_call_metadata_is_no_count_and_raises_no_hit_drop() {
        String index = "kb-" + UUID.randomUUID();
        RetrievalIndexTrustTest.register(index).statusCode(201);
        Sender viaCalls = viaCalls();
        healthyHour(index, viaCalls);
        // Scores hold; the application now writes -1 where it does not know the hits (the API refuses it with 400).
        degraded(index, viaCalls, 0, 12, 0.80, -1);

        failuresOf(index).body("items", hasSize(0));
    }

    /** Reports a retrieval as the metadata of one successful call at the clock's time. */
    private Sender viaCalls() {
        return (idx, top, hits) -> Api.ingest(Payloads.array(Payloads.success("openai", "gpt-4o-mini", "dep-rag",
                clock.instant()).metadata(Map.of("retrieval", Map.of("index", idx, "top_score", top, "hits", hits)))))
                .statusCode(200).body("accepted", equalTo(1));
    }

    @Test
    void retrieval_scores_in_call_metadata_feed_the_same_windows_and_a_resent_call_counts_once() {
        String index = "kb-" + UUID.randomUUID();
        RetrievalIndexTrustTest.register(index).statusCode(201);
        Sender viaCalls = viaCalls();
        healthyHour(index, viaCalls);
        degraded(index, viaCalls, 0, 8, 0.56, 5);
        failuresOf(index).body("items", hasSize(0));

        clock.set(DEGRADED.plus(STEP.multipliedBy(8)));
        String crossing = Payloads.array(Payloads.success("openai", "gpt-4o-mini", "dep-rag", clock.instant())
                .metadata(Map.of("retrieval", Map.of("index", index, "top_score", 0.56, "hits", 5))));
        Api.ingest(crossing).statusCode(200).body("accepted", equalTo(1));
        Api.ingest(crossing).statusCode(200).body("duplicates", equalTo(1));
        tracker.forget();
        tracker.rebuild();
        Api.ingest(crossing).statusCode(200).body("duplicates", equalTo(1));

        // LiteLLM's endTime is the call's start plus its 0.42 s latency.
        failuresOf(index).body("items", hasSize(1)).body("items[0].occurrences", equalTo(1))
                .body("items[0].firstSeen", startsWith("2026-11-20T10:04:00.4"))
                .body("items[0].evidence.source", equalTo("call_metadata"))
                .body("items[0].evidence.window_samples", equalTo(9))
                .body("items[0].impactScope.model", equalTo("gpt-4o-mini"));
    }
}
