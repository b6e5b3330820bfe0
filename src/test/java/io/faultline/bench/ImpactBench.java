package io.faultline.bench;

import io.agroal.api.AgroalDataSource;
import io.faultline.impact.Assessment;
import io.faultline.impact.FailureImpactAssessor;
import io.faultline.impact.ImpactResource;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Locale;
import java.util.UUID;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code assess_impact()} of one episode of 100,000 requests (an hour-long OpenAI outage, half of its requests
 * answered by a priced Anthropic fallback: 150,000 attempts) and the ranked list over 10,000 assessed episodes in
 * 500 patterns plus 100 clusters. Seeded straight into PostgreSQL; medians of 7 after 2 warm-ups; targets 200 ms and
 * 500 ms. Writes target/bench-impact.md. Run with {@code make bench}.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
class ImpactBench {

    private static final int REQUESTS = Integer.getInteger("bench.impact.requests", 100_000);
    private static final int EPISODES = 10_000;

    @Inject
    TestClock clock;

    @Inject
    FailureImpactAssessor assessor;

    @Inject
    ImpactResource ranking;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void assess_an_episode_of_100k_requests_and_rank_10k_episodes() throws Exception {
        Instant t0 = Instant.parse("2033-03-03T10:00:00Z");
        Instant end = t0.plus(Duration.ofHours(1));
        UUID episode = UUID.randomUUID();
        long seedStart = System.nanoTime();
        seed(episode, t0, end);
        double seedSeconds = (System.nanoTime() - seedStart) / 1e9;
        clock.set(end.plus(Duration.ofMinutes(1)));

        Assessment[] last = new Assessment[1];
        double assess = median(() -> last[0] = assessor.assessEpisode(episode).orElseThrow());
        double rankPatterns = median(() -> ranking.ranked(t0.toString(), "pattern", 20));
        double rankEpisodes = median(() -> ranking.ranked(t0.toString(), "none", 20));

        String md = String.format(Locale.ROOT, "# Impact bench%n%n| measured | median | target |%n|---|---|---|%n"
                + "| assess one episode of %,d requests (%,d attempts) | %.1f ms | 200 ms |%n"
                + "| rank %,d assessed episodes in patterns + 100 clusters (top 20) | %.1f ms | 500 ms |%n"
                + "| rank them as single episodes (top 20) | %.1f ms | 500 ms |%n%nSeeded in %.0f s.%n",
                last[0].userImpact().affectedRequests(), last[0].userImpact().attempts(), assess, EPISODES,
                rankPatterns, rankEpisodes, seedSeconds);
        System.out.print(md);
        Path out = Path.of("target", "bench-impact.md");
        Files.createDirectories(out.getParent());
        Files.writeString(out, md);

        assertThat(last[0].userImpact().affectedRequests()).isEqualTo(REQUESTS);
        assertThat(last[0].userImpact().failedResponses()).isEqualTo(REQUESTS / 2);
        assertThat(last[0].costImpact().fallbacks()).isEqualTo(REQUESTS / 2);
        // each fallback: 100 x 3e-6 + 50 x 15e-6 = 0.00105 against 0.0002 at the original's prices
        assertThat(last[0].costImpact().fallbackExtraCostUsd()).isCloseTo(REQUESTS / 2 * 0.00085,
                org.assertj.core.data.Offset.offset(1e-6));
    }

    private static double median(Supplier<?> run) {
        for (int i = 0; i < 2; i++) {
            run.get();
        }
        long[] nanos = new long[7];
        for (int i = 0; i < nanos.length; i++) {
            long t = System.nanoTime();
            run.get();
            nanos[i] = System.nanoTime() - t;
        }
        Arrays.sort(nanos);
        return nanos[nanos.length / 2] / 1e6;
    }

    private void seed(UUID episode, Instant t0, Instant end) throws Exception {
        long spanMs = Duration.between(t0, end).toMillis();
        String attempt = "insert into llm_calls (call_id, started_at, ended_at, trace_id, provider, model, model_group,"
                + " deployment, stream, success, http_status, latency_ms, prompt_tokens, completion_tokens,"
                + " reasoning_tokens, cached_tokens, cost_usd, response_chars, user_ref, rate_limit_headers,"
                + " requester_metadata, received_at, input_cost_per_token, output_cost_per_token)"
                + " select 'bench-imp-' || r, ts, ts + interval '500 milliseconds', 'trace-' || r, ?, ?, ?, ?, false,"
                + " ?, ?, 500, ?, ?, 0, 0, ?, 10, 'user-' || (r % 5000), '{}', '{}', ts, ?, ?"
                + " from generate_series(0, ?) r, lateral (select ?::timestamptz + (r * ?::bigint / ?)"
                + " * interval '1 millisecond' + ? * interval '1 second' ts) t where r % ? = 0";
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            // every request: a failed OpenAI attempt; every second one: an answering Anthropic fallback 2 s later
            Object[][] kinds = { { "openai", "gpt-4o-mini", "bench-imp-group", "bench-imp-oa", false, 503, 0L, 0L,
                    0.0, 1e-6, 2e-6, 0, 1 }, { "anthropic", "claude", "bench-imp-fb", "bench-imp-an", true, 200, 100L,
                            50L, 0.00105, 3e-6, 15e-6, 2, 2 } };
            for (Object[] k : kinds) {
                try (PreparedStatement st = c.prepareStatement(attempt)) {
                    st.setString(1, (String) k[0]);
                    st.setString(2, (String) k[1]);
                    st.setString(3, (String) k[2]);
                    st.setString(4, (String) k[3]);
                    st.setBoolean(5, (Boolean) k[4]);
                    st.setInt(6, (Integer) k[5]);
                    st.setLong(7, (Long) k[6]);
                    st.setLong(8, (Long) k[7]);
                    st.setDouble(9, (Double) k[8]);
                    st.setDouble(10, (Double) k[9]);
                    st.setDouble(11, (Double) k[10]);
                    st.setInt(12, REQUESTS - 1);
                    st.setTimestamp(13, Timestamp.from(t0));
                    st.setLong(14, spanMs);
                    st.setInt(15, REQUESTS);
                    st.setInt(16, (Integer) k[11]);
                    st.setInt(17, (Integer) k[12]);
                    st.executeUpdate();
                }
            }
            try (PreparedStatement st = c.prepareStatement("insert into failure_events (failure_id, fingerprint,"
                    + " category, type, severity, provider, deployment, detection_method, evidence, impact_scope,"
                    + " first_seen, last_seen, occurrences, affected_requests, affected_users) values (?,"
                    + " 'bench-imp', 'PROVIDER', 'outage', 'P1', 'openai', 'bench-imp-oa', 'provider.status', '{}',"
                    + " '{\"model_group\":\"bench-imp-group\"}', ?, ?, ?, ?, 5000)")) {
                st.setObject(1, episode);
                st.setTimestamp(2, Timestamp.from(t0));
                st.setTimestamp(3, Timestamp.from(end));
                st.setLong(4, REQUESTS);
                st.setLong(5, REQUESTS);
                st.executeUpdate();
            }
            try (PreparedStatement st = c.prepareStatement("insert into failure_event_calls (failure_id, call_id,"
                    + " seen_at) select ?, call_id, ended_at from llm_calls where deployment = 'bench-imp-oa'"
                    + " and started_at >= ? and started_at <= ?")) {
                st.setObject(1, episode);
                st.setTimestamp(2, Timestamp.from(t0));
                st.setTimestamp(3, Timestamp.from(end));
                st.executeUpdate();
            }
            // 10,000 assessed episodes in 500 patterns, 100 clusters, spread over the hour
            try (PreparedStatement st = c.prepareStatement("insert into failure_impacts (subject_id, subject_kind,"
                    + " fingerprint, provider, category, model_group, first_seen, last_seen, assessed_at,"
                    + " affected_requests, failed_responses, affected_users, cost_impact_usd, budget_consumed,"
                    + " total_impact_usd, assessment) select gen_random_uuid(), case when i < 100 then 'cluster'"
                    + " else 'episode' end, 'bench-pattern-' || (i % 500), 'openai', 'PROVIDER', 'g', t, t, t, i % 97,"
                    + " i % 13, i % 7, (i % 101) * 0.01, 0.001, (i % 1009) * 0.1, jsonb_build_object('total',"
                    + " jsonb_build_object('costUsd', (i % 101) * 0.01, 'failedResponsesUsd', (i % 13) * 0.05,"
                    + " 'usersUsd', (i % 7) * 0.5, 'errorBudgetUsd', 1.0)) from generate_series(0, ?) i,"
                    + " lateral (select ?::timestamptz + i * interval '300 milliseconds' t) x")) {
                st.setInt(1, EPISODES + 99);
                st.setTimestamp(2, Timestamp.from(t0));
                st.executeUpdate();
            }
            c.commit();
            try (Statement st = c.createStatement()) {
                c.setAutoCommit(true);
                st.execute("analyze llm_calls");
                st.execute("analyze failure_event_calls");
                st.execute("analyze failure_impacts");
            }
        }
    }
}
