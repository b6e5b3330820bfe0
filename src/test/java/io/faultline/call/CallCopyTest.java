package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The binary COPY that ingest writes calls with: every column as the INSERT path stores it, and a call that a
 * concurrent request stores between the resend lookup and the COPY (the COPY then fails on the primary key and the
 * batch is written again with INSERT ... ON CONFLICT). Real PostgreSQL.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CallCopyTest {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    CallStore store;

    @Inject
    CallMapper mapper;

    @Inject
    IngestService ingest;

    /** Calls that fill every column, null where a column allows it, with non-ASCII text and JSON. */
    private List<LlmCall> calls(String deployment, Instant at) {
        List<LlmCall> calls = new ArrayList<>();
        calls.add(mapper.map(Payloads.success("openai", "gpt-4o-mini", deployment, at)
                .tokens(1200, 340, 17, 800).user("user-ü-\u65e5\u672c").header("x-ratelimit-remaining-requests", "42")
                .metadata(Map.of("batch_id", "b\t1\\n", "retrieval", Map.of("index", "docs", "top_score", 0.25)))
                .set("trace_id", "trace-\u00e9").set("call_type", "acompletion")
                .set("model_map_information", Map.of("model_map_key", "gpt-4o-mini", "model_map_value", Map.of(
                        "input_cost_per_token", 1.5e-7, "output_cost_per_token", 6e-7,
                        "cache_read_input_token_cost", 7.5e-8))).proxy("litellm-7d9f-x2k").node()));
        // A start with microseconds, which COPY must keep to the microsecond.
        double start = at.getEpochSecond() + 0.123456;
        calls.add(mapper.map(Payloads.failure("anthropic", "claude", deployment, at, 429,
                "RateLimitError", "Rate limit\nreached \"quoted\" \\ back").header("retry-after", "7")
                .set("startTime", start).set("endTime", start + 0.25).without("model_group").node()));
        calls.add(mapper.map(Payloads.failure("gemini", "gemini-pro", deployment, at.minusSeconds(86_400 * 3), 503,
                "ServiceUnavailableError", "overloaded").latency(12.345678).node()));
        return calls;
    }

    @Test
    void copy_stores_every_column_as_the_insert_path_does() throws Exception {
        String viaInsert = "dep-" + UUID.randomUUID();
        String viaCopy = "dep-" + UUID.randomUUID();
        Instant at = Instant.now();
        Instant received = Instant.parse("2026-12-03T07:00:00.123456Z");
        List<LlmCall> a = calls(viaInsert, at);
        List<LlmCall> b = calls(viaCopy, at.plusSeconds(1));
        Map<String, Object> none = Map.of();
        QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                assertThat(store.insert(c, a, received)).hasSize(3);
                assertThat(store.copy(c, b, received)).containsExactlyInAnyOrderElementsOf(
                        b.stream().map(LlmCall::attemptKey).toList());
            }
            return none;
        });
        List<List<Object>> inserted = rows(viaInsert);
        List<List<Object>> copied = rows(viaCopy);
        assertThat(copied).hasSize(3);
        for (int i = 0; i < 3; i++) {
            // Same content but the ids, the deployment and the times (one second apart by construction).
            // Rows by provider: anthropic (the second call), gemini (the third), openai (the first).
            List<Object> x = inserted.get(i);
            List<Object> y = copied.get(i);
            assertThat(y.size()).isEqualTo(x.size());
            for (int col = 0; col < x.size(); col++) {
                if (col == 0 || col == 1 || col == 2 || col == 3 || col == 7) {
                    continue;
                }
                assertThat(y.get(col)).as("column %d of call %d", col + 1, i).isEqualTo(x.get(col));
            }
        }
        // The three prices of the model map, the cached-token one included (the last column).
        assertThat(copied.get(2).subList(32, 35)).extracting(v -> ((Number) v).doubleValue())
                .containsExactly(1.5e-7, 6e-7, 7.5e-8);
        // The proxy that made the call (the last column), null for the two that named none.
        assertThat(copied).extracting(row -> row.get(35)).containsExactly(null, null, "litellm-7d9f-x2k");
        // Times to the microsecond, and the JSON and text columns read back as sent.
        assertThat(b.get(1).startedAt().getNano()).isEqualTo(123_456_000);
        assertThat(copied.get(0).get(1)).isEqualTo(b.get(1).startedAt().toString());
        assertThat(copied.get(0).get(2)).isEqualTo(b.get(1).endedAt().toString());
        assertThat(copied.get(0).get(31)).isEqualTo(received.toString());
        assertThat(copied.get(2).get(26)).isEqualTo(b.get(0).userRef());
        assertThat(b.get(0).userRef()).contains("\u65e5");
        assertThat((String) copied.get(0).get(15)).endsWith("Rate limit\nreached \"quoted\" \\ back");
        assertThat((String) copied.get(2).get(30)).contains("b\\t1\\\\n");
    }

    /** Every column of the calls of a deployment as text, by start time (timestamps as ISO instants). */
    private List<List<Object>> rows(String deployment) throws SQLException {
        List<List<Object>> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select call_id, to_json(started_at)#>>'{}', to_json(ended_at)#>>'{}', trace_id, provider, model,"
                        + " model_group, deployment, api_base, call_type, stream, success, http_status, error_class,"
                        + " error_code, error_message, latency_ms, ttft_ms, prompt_tokens, completion_tokens,"
                        + " reasoning_tokens, cached_tokens, cost_usd, cache_hit, finish_reason, response_chars,"
                        + " user_ref, team_id, api_key_hash, rate_limit_headers::text, requester_metadata::text,"
                        + " to_json(received_at)#>>'{}', input_cost_per_token, output_cost_per_token,"
                        + " cache_read_cost_per_token, proxy_id"
                        + " from llm_calls where deployment = ? order by provider")) {
            st.setString(1, deployment);
            try (ResultSet rs = st.executeQuery()) {
                ResultSetMetaData meta = rs.getMetaData();
                while (rs.next()) {
                    List<Object> row = new ArrayList<>();
                    for (int i = 1; i <= meta.getColumnCount(); i++) {
                        Object value = rs.getObject(i);
                        row.add(value instanceof String s && s.matches("\\d{4}-\\d\\d-\\d\\dT.*")
                                ? java.time.OffsetDateTime.parse(s).toInstant().toString() : value);
                    }
                    rows.add(row);
                }
            }
        }
        return rows;
    }

    @Test
    void copy_of_a_stored_call_fails_on_the_primary_key() throws Exception {
        List<LlmCall> batch = calls("dep-" + UUID.randomUUID(), Instant.now());
        assertThat(ingest.store(batch).inserted()).hasSize(3);
        assertThatThrownBy(() -> QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                return store.copy(c, batch.subList(1, 2), Instant.now());
            }
        })).satisfies(e -> assertThat(IngestService.dataError(e).getSQLState()).isEqualTo("23505"));
    }

    @Test
    void a_call_stored_by_a_concurrent_request_after_the_resend_lookup_is_a_resend_not_a_failure() throws Exception {
        String dep = "dep-" + UUID.randomUUID();
        List<LlmCall> batch = calls(dep, Instant.now());
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (Connection other = dataSource.getConnection()) {
            // Another request's transaction holds the second call, not yet committed: the lookup cannot see it, the
            // COPY waits on its primary-key entry.
            other.setAutoCommit(false);
            store.insert(other, batch.subList(1, 2), Instant.now());
            CompletableFuture<IngestService.Stored> stored = CompletableFuture.supplyAsync(() -> ingest.store(batch),
                    pool);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (waitingOnALock() == 0) {
                assertThat(System.nanoTime()).as("the COPY never waited on the other transaction").isLessThan(deadline);
                assertThat(stored).isNotDone();
                java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
            }
            other.commit();
            IngestService.Stored result = stored.get(60, TimeUnit.SECONDS);
            assertThat(result.inserted()).extracting(LlmCall::callId)
                    .containsExactlyInAnyOrder(batch.get(0).callId(), batch.get(2).callId());
            assertThat(result.refused()).isEmpty();
            // The other request classified the second call: its failure is not counted again here.
            assertThat(result.failures()).extracting(f -> f.impactScope().callId())
                    .containsOnly(batch.get(2).callId());
        } finally {
            pool.shutdownNow();
        }
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from llm_calls where deployment = ?")) {
            st.setString(1, dep);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                assertThat(rs.getLong(1)).isEqualTo(3);
            }
        }
    }

    @Test
    void two_requests_holding_the_same_calls_in_opposite_orders_do_not_deadlock() throws Exception {
        String dep = "dep-" + UUID.randomUUID();
        Instant at = Instant.now();
        List<LlmCall> pair = new ArrayList<>(List.of(
                mapper.map(Payloads.success("openai", "gpt-4o-mini", dep, at).node()),
                mapper.map(Payloads.success("openai", "gpt-4o-mini", dep, at).node())));
        pair.sort(IngestService.KEY_ORDER);
        LlmCall first = pair.get(0);
        LlmCall second = pair.get(1);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (Connection other = dataSource.getConnection()) {
            // Another request writing in key order holds the first call; this request got them the other way round.
            other.setAutoCommit(false);
            store.insert(other, List.of(first), at);
            CompletableFuture<IngestService.Stored> stored = CompletableFuture.supplyAsync(
                    () -> ingest.store(List.of(second, first)), pool);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (waitingOnALock() == 0) {
                assertThat(System.nanoTime()).as("the COPY never waited on the other transaction").isLessThan(deadline);
                assertThat(stored).isNotDone();
                java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
            }
            // Written in request order, this request would hold the second call and wait for the first while the
            // other waits for the second: PostgreSQL would abort one of the two ("deadlock detected").
            store.insert(other, List.of(second), at);
            other.commit();
            IngestService.Stored result = stored.get(60, TimeUnit.SECONDS);
            assertThat(result.inserted()).as("both stored by the other request: resends here").isEmpty();
            assertThat(result.refused()).isEmpty();
        } finally {
            pool.shutdownNow();
        }
    }

    private long waitingOnALock() throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like 'copy llm_calls%'");
                ResultSet rs = st.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
