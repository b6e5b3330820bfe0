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
import java.util.Locale;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code assess_impact()} of one episode of 100,000 requests (an hour-long OpenAI outage, half of its requests
 * answered by a priced Anthropic fallback: 150,000 attempts) and the ranked list over 10,000 assessed episodes in
 * 500 patterns plus 100 clusters. Seeded straight into PostgreSQL; medians of 7 after 2 warm-ups; targets 200 ms and
 * 500 ms. The assessment is measured as it runs for an open episode: re-assessed after each further minute of the
 * outage (1,667 requests, written between the runs, not timed), and with nothing new; beside it, the fold from
 * nothing (the first assessment) and the one-query full recomputation, the assessment before it was incremental.
 * Writes target/bench-impact.md. Run with {@code make bench}.
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

        long t = System.nanoTime();
        Assessment first = assessor.assessEpisode(episode).orElseThrow();
        double fromNothing = (System.nanoTime() - t) / 1e6;
        double full = Timings.medianAndMax(() -> assessor.recomputeEpisode(episode).orElseThrow())[0];
        assertThat(first.userImpact().affectedRequests()).isEqualTo(REQUESTS);
        assertThat(first.userImpact().failedResponses()).isEqualTo(REQUESTS / 2);
        assertThat(first.costImpact().fallbacks()).isEqualTo(REQUESTS / 2);
        // each fallback: 100 x 3e-6 + 50 x 15e-6 = 0.00105 against 0.0002 at the original's prices
        assertThat(first.costImpact().fallbackExtraCostUsd()).isCloseTo(REQUESTS / 2 * 0.00085,
                org.assertj.core.data.Offset.offset(1e-6));

        // the outage goes on: each run re-assesses after one more minute of it (written before the run, not timed)
        int perMinute = REQUESTS / 60;
        long[] nanos = new long[9];
        Assessment[] last = new Assessment[1];
        for (int i = 0; i < nanos.length; i++) {
            Instant minute = end.plus(Duration.ofMinutes(i));
            clock.set(minute.plus(Duration.ofMinutes(1)));
            try (Connection c = dataSource.getConnection()) {
                c.setAutoCommit(false);
                requests(c, REQUESTS + i * perMinute, perMinute, minute, 60_000, clock.instant());
                link(c, episode, minute, minute.plus(Duration.ofMinutes(1)));
                c.commit();
            }
            long s0 = System.nanoTime();
            last[0] = assessor.assessEpisode(episode).orElseThrow();
            nanos[i] = System.nanoTime() - s0;
        }
        long[] measured = java.util.Arrays.copyOfRange(nanos, 2, nanos.length);
        java.util.Arrays.sort(measured);
        double assess = measured[measured.length / 2] / 1e6;
        double unchanged = Timings.medianAndMax(() -> assessor.assessEpisode(episode).orElseThrow())[0];
        long grown = REQUESTS + (long) nanos.length * perMinute;
        double rankPatterns = Timings.medianAndMax(() -> ranking.ranked(t0.toString(), "pattern", "20"))[0];
        double rankEpisodes = Timings.medianAndMax(() -> ranking.ranked(t0.toString(), "none", "20"))[0];

        String md = String.format(Locale.ROOT, "# Impact bench%n%n| measured | median | target |%n|---|---|---|%n"
                + "| re-assess an open episode of %,d requests (%,d attempts) after a minute of %,d more | %.1f ms"
                + " | 200 ms |%n| re-assess it with nothing new | %.1f ms | 200 ms |%n"
                + "| its first assessment: the fold from nothing of %,d requests (once) | %.1f ms | |%n"
                + "| the one-query full recomputation of %,d requests (the assessment before the fold) | %.1f ms | |%n"
                + "| rank %,d assessed episodes in patterns + 100 clusters (top 20) | %.1f ms | 500 ms |%n"
                + "| rank them as single episodes (top 20) | %.1f ms | 500 ms |%n%nSeeded in %.0f s.%n",
                last[0].userImpact().affectedRequests(), last[0].userImpact().attempts(), perMinute, assess,
                unchanged, REQUESTS, fromNothing, REQUESTS, full, EPISODES,
                rankPatterns, rankEpisodes, seedSeconds);
        System.out.print(md);
        Path out = Path.of("target", "bench-impact.md");
        Files.createDirectories(out.getParent());
        Files.writeString(out, md);

        assertThat(last[0].userImpact().affectedRequests()).isEqualTo(grown);
        assertThat(last[0].costImpact().fallbacks()).as("the even requests").isEqualTo((grown + 1) / 2);
        assertThat(last[0]).as("the fold kept up with the full recomputation").usingRecursiveComparison()
                .ignoringFields("assessedAt").withComparatorForType((a, b) -> Math.abs(a - b) <= 1e-6 ? 0
                        : Double.compare(a, b), Double.class)
                .isEqualTo(assessor.recomputeEpisode(episode).orElseThrow());
    }

    private static final String ATTEMPT = "insert into llm_calls (call_id, started_at, ended_at, trace_id, provider,"
            + " model, model_group, deployment, stream, success, http_status, latency_ms, prompt_tokens,"
            + " completion_tokens, reasoning_tokens, cached_tokens, cost_usd, response_chars, user_ref,"
            + " rate_limit_headers, requester_metadata, received_at, input_cost_per_token, output_cost_per_token)"
            + " select 'bench-imp-' || r, ts, ts + interval '500 milliseconds', 'trace-' || r, ?, ?, ?, ?, false,"
            + " ?, ?, 500, ?, ?, 0, 0, ?, 10, 'user-' || (r % 5000), '{}', '{}', coalesce(?::timestamptz, ts), ?, ?"
            + " from generate_series(?, ?) r, lateral (select ?::timestamptz + ((r - ?) * ?::bigint / ?)"
            + " * interval '1 millisecond' + ? * interval '1 second' ts) t where r % ? = 0";

    /**
     * Requests {@code from .. from + count - 1} spread over {@code spanMs} from {@code start}: each a failed OpenAI
     * attempt, every second one answered by an Anthropic fallback 2 s later; received at {@code received} (null:
     * when they started).
     */
    private static void requests(Connection c, int from, int count, Instant start, long spanMs, Instant received)
            throws Exception {
        Object[][] kinds = { { "openai", "gpt-4o-mini", "bench-imp-group", "bench-imp-oa", false, 503, 0L, 0L, 0.0,
                1e-6, 2e-6, 0, 1 }, { "anthropic", "claude", "bench-imp-fb", "bench-imp-an", true, 200, 100L, 50L,
                        0.00105, 3e-6, 15e-6, 2, 2 } };
        for (Object[] k : kinds) {
            try (PreparedStatement st = c.prepareStatement(ATTEMPT)) {
                st.setString(1, (String) k[0]);
                st.setString(2, (String) k[1]);
                st.setString(3, (String) k[2]);
                st.setString(4, (String) k[3]);
                st.setBoolean(5, (Boolean) k[4]);
                st.setInt(6, (Integer) k[5]);
                st.setLong(7, (Long) k[6]);
                st.setLong(8, (Long) k[7]);
                st.setDouble(9, (Double) k[8]);
                st.setTimestamp(10, received == null ? null : Timestamp.from(received));
                st.setDouble(11, (Double) k[9]);
                st.setDouble(12, (Double) k[10]);
                st.setInt(13, from);
                st.setInt(14, from + count - 1);
                st.setTimestamp(15, Timestamp.from(start));
                st.setInt(16, from);
                st.setLong(17, spanMs);
                st.setInt(18, count);
                st.setInt(19, (Integer) k[11]);
                st.setInt(20, (Integer) k[12]);
                st.executeUpdate();
            }
        }
    }

    /** Links the OpenAI attempts started in [from, to) to the episode, which stays open until {@code to}. */
    private static void link(Connection c, UUID episode, Instant from, Instant to) throws Exception {
        try (PreparedStatement st = c.prepareStatement("insert into failure_event_calls (failure_id, call_id,"
                + " seen_at) select ?, call_id, ended_at from llm_calls where deployment = 'bench-imp-oa'"
                + " and started_at >= ? and started_at < ?")) {
            st.setObject(1, episode);
            st.setTimestamp(2, Timestamp.from(from));
            st.setTimestamp(3, Timestamp.from(to));
            st.executeUpdate();
        }
        try (PreparedStatement st = c.prepareStatement("update failure_events set last_seen = ? where failure_id = ?")) {
            st.setTimestamp(1, Timestamp.from(to));
            st.setObject(2, episode);
            st.executeUpdate();
        }
    }


    private void seed(UUID episode, Instant t0, Instant end) throws Exception {
        long spanMs = Duration.between(t0, end).toMillis();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            requests(c, 0, REQUESTS, t0, spanMs, null);
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
