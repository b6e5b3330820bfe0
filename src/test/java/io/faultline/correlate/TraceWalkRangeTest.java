package io.faultline.correlate;

import static org.assertj.core.api.Assertions.assertThat;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * A step's own trace walks read {@code llm_calls} only within the range its episode's walks can reach
 * ({@link FailureCorrelationEngine#walkRange}), so that a generic plan prunes the partitions when it starts. The
 * range must lose nothing: over episodes whose attempts lasted from a second to more than a day, whose fallbacks came
 * right after them, during them or up to an hour and more after they began, and whose attempts were stored with the
 * call or must be looked up, the bounded walks return exactly the rows of the unbounded ones.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TraceWalkRangeTest {

    @Inject
    TestClock clock;

    @Inject
    CorrelateConfig config;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    /** How long a failed attempt lasted, seconds: the last is a call reported as lasting over a day. */
    private static final long[] LATENCIES = {1, 600, 3_000, 23 * 3_600, 25 * 3_600};

    /** When the fallback began after the failed attempt did, seconds (-1: two seconds after the attempt ended). */
    private static final long[] LAGS = {-1, 10, 59 * 60, 61 * 60};

    @Test
    void the_bounded_walks_return_what_the_unbounded_walks_return() throws SQLException {
        Instant t0 = Instant.parse("2029-05-10T06:00:00Z");
        clock.set(t0.plus(Duration.ofDays(4)));
        Random random = new Random(20291205L);
        List<String> primaries = new ArrayList<>();
        List<String> fallbacks = new ArrayList<>();
        List<Payloads> calls = new ArrayList<>();
        for (int k = 0; k < LATENCIES.length * LAGS.length; k++) {
            long latency = LATENCIES[k / LAGS.length];
            long lag = LAGS[k % LAGS.length];
            String primary = "walk-oa-" + k + "-" + UUID.randomUUID().toString().substring(0, 6);
            String fallback = "walk-an-" + k + "-" + UUID.randomUUID().toString().substring(0, 6);
            primaries.add(primary);
            fallbacks.add(fallback);
            Instant base = t0.plus(Duration.ofHours(2L * k));
            for (int i = 0; i < 3; i++) {
                Instant start = base.plusSeconds(i * 40L + random.nextInt(20));
                String trace = UUID.randomUUID().toString();
                Map<String, Object> json = Map.of("response_format", Map.of("type", "json_object"));
                calls.add(Payloads.failure("openai", "gpt-4o-mini", primary, start, 408, "Timeout",
                        "Request timed out.").latency(latency).set("trace_id", trace).set("model_parameters", json));
                Instant fallbackStart = start.plusSeconds(lag < 0 ? latency + 2 : lag);
                calls.add(Payloads.success("anthropic", "claude-3-5-haiku", fallback, fallbackStart)
                        .set("trace_id", trace).set("model_parameters", json)
                        .answer("Sure! Here is the data you asked for: city Paris", "stop"));
            }
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);

        List<UUID> providerEpisodes = episodes(primaries);
        List<UUID> qualityEpisodes = episodes(fallbacks);
        assertThat(providerEpisodes).hasSize(primaries.size());
        assertThat(qualityEpisodes).hasSize(fallbacks.size());
        int forwardRows = 0;
        int backRows = 0;
        for (boolean storedAttempts : new boolean[] {true, false}) {
            if (!storedAttempts) {
                forgetStoredAttempts(providerEpisodes, qualityEpisodes);
            }
            for (UUID episode : providerEpisodes) {
                List<String> unbounded = walk(FailureCorrelationEngine.TRACE_WALK_FORWARD_WITH_EPISODES, episode,
                        false, true);
                assertThat(walk(FailureCorrelationEngine.TRACE_WALK_FORWARD_BOUNDED, episode, true, true))
                        .as("forward walk of %s, attempts stored: %s", episode, storedAttempts)
                        .isEqualTo(unbounded);
                forwardRows += unbounded.size();
            }
            for (UUID episode : qualityEpisodes) {
                List<String> unbounded = walk(FailureCorrelationEngine.TRACE_WALK_BACK, episode, false, false);
                assertThat(walk(FailureCorrelationEngine.TRACE_WALK_BACK_BOUNDED, episode, true, false))
                        .as("walk back of %s, attempts stored: %s", episode, storedAttempts).isEqualTo(unbounded);
                backRows += unbounded.size();
            }
        }
        // What each walk can reach, in both passes (attempts stored, attempts looked up), 3 requests a scenario.
        // Forward, from the attempt's start to an hour on: after an attempt of up to 50 minutes, the fallbacks that
        // came 2 s after it ended, 10 s and 59 min after it began (3 x 3 scenarios); after the 23-hour attempt, the
        // two that came during it (10 s, 59 min); none past the hour, none from the call said to have lasted 25 h.
        assertThat(forwardRows).isEqualTo(2 * 3 * (3 * 3 + 2));
        // Back, from each fallback to the failed attempts of its trace in the hour before: the same 11 scenarios
        // and the two fallbacks that came 10 s and 59 min into the 25-hour call (one provider episode each).
        assertThat(backRows).isEqualTo(2 * (3 * 3 + 2 + 2));
    }

    /**
     * A drain's connection keeps its generic plan of a walk for as long as nothing invalidates it, and the coming
     * days' partitions are created ahead, empty. Planned while its partition was empty (and analysed so), a day must
     * still be read through its index once it has filled: here 20,000 calls arrive in it, with no ANALYZE since, and
     * the plan the connection made before is asked for a walk that reads that day.
     */
    @Test
    void a_plan_made_while_a_day_was_empty_reads_it_through_its_index_once_it_has_filled() throws SQLException {
        Instant day = Instant.parse("2031-03-17T00:00:00Z");
        String partition = "llm_calls_20310318";
        String run = UUID.randomUUID().toString().substring(0, 6);
        try (Connection c = dataSource.getConnection(); java.sql.Statement st = c.createStatement()) {
            st.execute("create table if not exists llm_calls_20310317 partition of llm_calls"
                    + " for values from ('2031-03-17') to ('2031-03-18')");
            st.execute("create table if not exists " + partition + " partition of llm_calls"
                    + " for values from ('2031-03-18') to ('2031-03-19')");
            // Statistics of the empty day, as a database-wide ANALYZE (an operator's, or the bench's seed) leaves
            // them: the planner then trusts that the day has no rows.
            st.execute("analyze " + partition);
        }
        UUID early = fellBack("plan-early-" + run, day.plus(Duration.ofHours(12)));
        try (Connection drain = dataSource.getConnection()) {
            drain.setAutoCommit(false);
            try {
                try (java.sql.Statement st = drain.createStatement()) {
                    st.execute("select " + FailureCorrelationEngine.PLAN_SETTINGS);
                    st.execute("prepare walk_plan (uuid, int, timestamptz, timestamptz, timestamptz, timestamptz,"
                            + " uuid) as " + numbered(FailureCorrelationEngine.TRACE_WALK_FORWARD_BOUNDED));
                    assertThat(rows(st, "execute walk_plan" + arguments(drain, early))).hasSize(3);
                }
                drain.commit();

                try (Connection c = dataSource.getConnection(); java.sql.Statement st = c.createStatement()) {
                    st.execute("insert into llm_calls (call_id, started_at, ended_at, trace_id, provider, model,"
                            + " deployment, stream, success, latency_ms, prompt_tokens, completion_tokens,"
                            + " reasoning_tokens, cached_tokens, cost_usd, response_chars, rate_limit_headers,"
                            + " requester_metadata, received_at) select 'filler-" + run + "-' || i, t, t,"
                            + " 'filler-trace-' || i, 'openai', 'gpt-4o-mini', 'filler', false, true, 100, 10, 10,"
                            + " 0, 0, 0, 10, '{}', '{}', t from generate_series(1, 20000) i, lateral"
                            + " (select timestamptz '2031-03-18 00:00:00+00' + i * interval '1 second' as t) x");
                }
                UUID late = fellBack("plan-late-" + run, day.plus(Duration.ofHours(24 + 3)));
                try (java.sql.Statement st = drain.createStatement()) {
                    st.execute("select " + FailureCorrelationEngine.PLAN_SETTINGS);
                    String plan = String.join("\n", rows(st, "explain (costs off) execute walk_plan"
                            + arguments(drain, late)));
                    assertThat(plan).as("the cached generic plan of the walk").contains(partition)
                            .doesNotContain("Seq Scan on " + partition);
                    assertThat(rows(st, "execute walk_plan" + arguments(drain, late))).hasSize(3);
                }
            } finally {
                drain.rollback();
                try (java.sql.Statement st = drain.createStatement()) {
                    // The pool keeps the connection: leave it without this test's statement, as it came.
                    if (!rows(st, "select name from pg_prepared_statements where name = 'walk_plan'").isEmpty()) {
                        st.execute("deallocate walk_plan");
                    }
                }
                drain.commit();
                drain.setAutoCommit(true);
            }
        }
    }

    /** Three requests on a new deployment that timed out and fell back to another: the timeouts' episode. */
    private UUID fellBack(String name, Instant at) throws SQLException {
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Instant start = at.plusSeconds(i * 30L);
            String trace = UUID.randomUUID().toString();
            calls.add(Payloads.failure("openai", "gpt-4o-mini", name, start, 408, "Timeout", "Request timed out.")
                    .latency(2).set("trace_id", trace));
            calls.add(Payloads.success("anthropic", "claude-3-5-haiku", name + "-fallback", start.plusSeconds(4))
                    .set("trace_id", trace));
        }
        clock.set(at.plusSeconds(120));
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        List<UUID> ids = episodes(List.of(name));
        assertThat(ids).hasSize(1);
        return ids.get(0);
    }

    /** The walk's arguments for an episode, as EXECUTE takes them. */
    private String arguments(Connection c, UUID episode) throws SQLException {
        Instant[] range = range(c, episode);
        return String.format("('%s', %d, '%s', '%s', '%s', '%s', '%s')", episode, config.maxTracedCalls(), range[0],
                range[1], range[0], range[1], episode);
    }

    private static String numbered(String sql) {
        StringBuilder out = new StringBuilder();
        int n = 0;
        for (char ch : sql.toCharArray()) {
            if (ch == '?') {
                out.append('$').append(++n);
            } else {
                out.append(ch);
            }
        }
        return out.toString();
    }

    private static List<String> rows(java.sql.Statement st, String sql) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                rows.add(rs.getString(1));
            }
        }
        return rows;
    }

    private List<UUID> episodes(List<String> deployments) throws SQLException {
        List<UUID> ids = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select failure_id from failure_events where deployment = any (?) order by deployment")) {
            st.setArray(1, c.createArrayOf("text", deployments.toArray()));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getObject(1, UUID.class));
                }
            }
        }
        return ids;
    }

    /** As a call linked before the fold stored attempts (V30): the walk looks its attempt up among the calls. */
    private void forgetStoredAttempts(List<UUID> providerEpisodes, List<UUID> qualityEpisodes) throws SQLException {
        List<UUID> all = new ArrayList<>(providerEpisodes);
        all.addAll(qualityEpisodes);
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "update failure_event_calls set trace_id = null, call_started_at = null, model = null"
                        + " where failure_id = any (?)")) {
            st.setArray(1, c.createArrayOf("uuid", all.toArray()));
            assertThat(st.executeUpdate()).isEqualTo(3 * all.size());
        }
    }

    /** Every row of a walk, all columns, in the walk's order. */
    private List<String> walk(String sql, UUID episode, boolean bounded, boolean forward) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            int i = 1;
            st.setObject(i++, episode);
            st.setInt(i++, config.maxTracedCalls());
            if (bounded) {
                Instant[] range = range(c, episode);
                for (int k = 0; k < 2; k++) {
                    st.setTimestamp(i++, Timestamp.from(range[0]));
                    st.setTimestamp(i++, Timestamp.from(range[1]));
                }
            }
            if (forward) {
                st.setObject(i, episode);
            }
            try (ResultSet rs = st.executeQuery()) {
                int columns = rs.getMetaData().getColumnCount();
                while (rs.next()) {
                    StringBuilder row = new StringBuilder();
                    for (int col = 1; col <= columns; col++) {
                        row.append(col == 1 ? "" : " | ").append(rs.getString(col));
                    }
                    rows.add(row.toString());
                }
            }
        }
        if (!forward) {
            rows.sort(null); // "select distinct" has no order of its own
        }
        return rows;
    }

    private static Instant[] range(Connection c, UUID episode) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(
                "select first_seen, last_seen from failure_events where failure_id = ?")) {
            st.setObject(1, episode);
            try (ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).isTrue();
                return FailureCorrelationEngine.walkRange(rs.getTimestamp(1).toInstant(),
                        rs.getTimestamp(2).toInstant());
            }
        }
    }
}
