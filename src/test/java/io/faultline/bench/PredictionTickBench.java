package io.faultline.bench;

import io.agroal.api.AgroalDataSource;
import io.faultline.predict.FailurePredictor;
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

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One prediction tick ({@code predictFailure()}: window top-up, failure observation, resolution, indicators, upserts
 * and the metric refresh) over 1,000 deployments with an hour of stored calls each (one call every 15 s, half with
 * OpenAI and half with Anthropic rate-limit headers, 20 of them draining). The calls are written straight into
 * {@code llm_calls} (the bench measures the tick, not ingest). As in production, each tick comes a minute after the
 * previous one with that minute's 4,000 new calls stored in between (not timed). Prints the first tick after the
 * start (it reads the whole window from the table), then the median of 7 ticks after 2 warm-up ticks, and writes
 * target/bench-predict.md; the target is ≤ 100 ms. Run with {@code make bench}.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
class PredictionTickBench {

    private static final int DEPLOYMENTS = Integer.getInteger("bench.predict.deployments", 1000);
    private static final int CALLS = 240; // an hour, one call every 15 s

    @Inject
    TestClock clock;

    @Inject
    FailurePredictor predictor;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void one_tick_over_a_thousand_deployments_with_an_hour_of_history() throws Exception {
        Instant t0 = Instant.parse("2033-02-02T10:00:00Z");
        Instant end = t0.plus(Duration.ofHours(1));
        long seeded;
        try (Connection c = dataSource.getConnection()) {
            seeded = seed(c, t0, 0, CALLS);
            markSeen(c, end);
        }
        // The first tick after a start reads the whole window from the table (no calls held yet).
        clock.set(end);
        long t = System.nanoTime();
        predictor.predictFailure();
        double cold = (System.nanoTime() - t) / 1e6;
        // Then each minute: the next minute's calls are stored (not timed), the clock moves on, one tick.
        int minute = 0;
        for (int i = 0; i < 2; i++) {
            seeded += nextMinute(t0, minute++);
            predictor.predictFailure();
        }
        long[] nanos = new long[7];
        FailurePredictor.Evaluation last = null;
        for (int i = 0; i < nanos.length; i++) {
            seeded += nextMinute(t0, minute++);
            t = System.nanoTime();
            last = predictor.predictFailure();
            nanos[i] = System.nanoTime() - t;
        }
        Arrays.sort(nanos);
        double median = nanos[nanos.length / 2] / 1e6;
        double max = nanos[nanos.length - 1] / 1e6;
        String md = String.format(Locale.ROOT, "# Prediction tick bench%n%n| deployments | stored calls | calls in the"
                + " 15-min window | new calls per tick | predictions | median tick | max tick | first tick (full"
                + " read) |%n|---|---|---|---|---|---|---|---|%n| %d | %d | %d | %d | %d | %.1f ms | %.1f ms | %.1f ms |%n%n"
                + "Target: ≤ 100 ms per tick.%n", last.deployments(), seeded, DEPLOYMENTS * 60L, DEPLOYMENTS * 4L,
                last.predictions().size(), median, max, cold);
        System.out.print(md);
        Path out = Path.of("target", "bench-predict.md");
        Files.createDirectories(out.getParent());
        Files.writeString(out, md);

        assertThat(last.deployments()).isGreaterThanOrEqualTo(DEPLOYMENTS);
        assertThat(last.predictions()).as("the draining deployments, and only those").isNotEmpty()
                .allSatisfy(p -> assertThat(p.deployment()).startsWith("bench-drain-"));
    }

    /** Stores minute {@code 60 + minute} of every deployment's calls and moves the clock to its end. */
    private long nextMinute(Instant t0, int minute) throws Exception {
        long rows;
        Instant end = t0.plus(Duration.ofMinutes(61 + minute));
        try (Connection c = dataSource.getConnection()) {
            rows = seed(c, t0, CALLS + minute * 4, CALLS + minute * 4 + 4);
            markSeen(c, end);
        }
        clock.set(end);
        return rows;
    }

    /**
     * Writes the calls {@code k} in {@code [fromK, toK)} of every deployment (call k starts at t0 + 15 s × k and is
     * received then) in one statement per provider; returns how many.
     */
    private long seed(Connection c, Instant t0, int fromK, int toK) throws Exception {
        String common = "insert into llm_calls (call_id, started_at, ended_at, provider, model, model_group,"
                + " deployment, stream, success, http_status, latency_ms, prompt_tokens, completion_tokens,"
                + " reasoning_tokens, cached_tokens, cost_usd, response_chars, rate_limit_headers, requester_metadata,"
                + " received_at) select 'bench-' || d || '-' || k, ts, ts + interval '800 milliseconds', ?, 'm',"
                + " 'bench-group-' || (d % 50), case when d < 20 then 'bench-drain-' else 'bench-dep-' end || d,"
                + " false, true, 200, 600 + random() * 400, 10, 10, 0, 0, 0, 10, ";
        String from = " , '{}'::jsonb, ts from generate_series(?, ?) d, generate_series(" + fromK + ", " + (toK - 1)
                + ") k, lateral (select ?::timestamptz + k * interval '15 seconds' ts) t";
        // The draining deployments lose 1,400 tokens a minute: 16,000 left after the hour, under 4,000 ten minutes on.
        String openAi = "jsonb_build_object('x-ratelimit-limit-requests', '1000', 'x-ratelimit-remaining-requests',"
                + " (1000 - (k % 4) * 10)::text, 'x-ratelimit-reset-requests', '15s', 'x-ratelimit-limit-tokens',"
                + " '100000', 'x-ratelimit-remaining-tokens', case when d < 20 then (100000 - k * 350)::text"
                + " else (100000 - (k % 4) * 500)::text end, 'x-ratelimit-reset-tokens',"
                + " case when d < 20 then '3h0m0s' else '15s' end)";
        String anthropic = "jsonb_build_object('anthropic-ratelimit-requests-limit', '1000',"
                + " 'anthropic-ratelimit-requests-remaining', (1000 - (k % 4) * 10)::text,"
                + " 'anthropic-ratelimit-requests-reset', to_char((ts + interval '15 seconds') at time zone 'UTC',"
                + " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))";
        long rows = 0;
        for (String[] p : new String[][] { { "openai", openAi, "0" }, { "anthropic", anthropic, "1" } }) {
            int half = DEPLOYMENTS / 2;
            try (PreparedStatement st = c.prepareStatement(common + p[1] + from)) {
                st.setString(1, p[0]);
                int first = p[2].equals("0") ? 0 : half;
                st.setInt(2, first);
                st.setInt(3, first + half - 1);
                st.setTimestamp(4, Timestamp.from(t0));
                rows += st.executeUpdate();
            }
        }
        if (fromK == 0) {
            try (Statement st = c.createStatement()) {
                st.execute("analyze llm_calls");
            }
        }
        return rows;
    }

    private static void markSeen(Connection c, Instant at) throws Exception {
        try (PreparedStatement st = c.prepareStatement("insert into provider_deployments (provider, deployment,"
                + " last_seen) select distinct provider, deployment, ?::timestamptz from llm_calls where started_at >= ?"
                + " and started_at < ? on conflict (provider, deployment) do update set last_seen ="
                + " excluded.last_seen")) {
            st.setTimestamp(1, Timestamp.from(at));
            st.setTimestamp(2, Timestamp.from(at.minus(Duration.ofMinutes(15))));
            st.setTimestamp(3, Timestamp.from(at));
            st.executeUpdate();
        }
    }
}
