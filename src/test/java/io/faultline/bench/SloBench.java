package io.faultline.bench;

import io.agroal.api.AgroalDataSource;
import io.faultline.impact.SloRollup;
import io.faultline.impact.SloService;
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

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SLO read and write paths at scale: 50 model groups with 30 days of per-minute rollups each (2.16 M rows), and
 * 100 requests a second of stored calls (one in ten retried once; {@code -Dbench.slo.rps}) around now. Measures a
 * rollup run that derives the whole settle window again (a start, a pause) against a steady-state run (the minutes the
 * calls received in the last minute touch), the listing every metric refresh and {@code GET /api/v1/slos} make
 * (every group's 30-day budget and 5 burn rates), and one group's budget (what the impact assessor calls). Medians of 7 after
 * 2 warm-ups; writes target/bench-slo.md. Run with {@code make bench}.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
class SloBench {

    private static final int GROUPS = 50;
    private static final int REQUESTS_PER_SECOND = Integer.getInteger("bench.slo.rps", 100);

    @Inject
    TestClock clock;

    @Inject
    SloRollup rollup;

    @Inject
    SloService slos;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void rollup_listing_and_budget_over_fifty_groups_and_thirty_days() throws Exception {
        Instant now = Instant.parse("2035-01-31T12:00:00Z");
        long minutes = seedMinutes(now.minus(Duration.ofDays(30)), now);
        long calls = seedCalls(now.minus(Duration.ofMinutes(45)), now);
        clock.set(now);
        // A latency SLO on a fifth of the groups (the listing evaluates every group's histogram either way).
        for (int g = 0; g < GROUPS; g += 5) {
            slos.put("bench-slo-" + g, 0.995, Duration.ofDays(30), 2000.0, 0.99).orElseThrow();
        }

        // The whole settle window derived again (a start, or a pause longer than the settle time), against a run in
        // steady state: the calls received in the minute since the last run, whose snapshot saw those before.
        double[] run = Timings.medianAndMax(() -> {
            state(now, null);
            return rollup.run(false);
        });
        state(now, null);
        SloRollup.Run full = rollup.run(false);
        assertThat(full.incremental()).isFalse();
        assertThat(full.from()).isEqualTo(now.minus(Duration.ofMinutes(10)));
        double[] steady = Timings.medianAndMax(() -> {
            state(now, now.minus(Duration.ofMinutes(1)));
            return rollup.run(false);
        });
        state(now, now.minus(Duration.ofMinutes(1)));
        SloRollup.Run last = rollup.run(false);
        assertThat(last.incremental()).isTrue();
        assertThat(last.touched()).as("the minutes of the calls received in the last minute and the one before")
                .isBetween(2, 3);
        double[] list = Timings.medianAndMax(() -> slos.statuses(now, 1000));
        SloService.SloList listed = slos.statuses(now, 1000);
        double[] budget = Timings.medianAndMax(() -> slos.budget("bench-slo-7", now));
        SloService.Budget b = slos.budget("bench-slo-7", now);

        String md = String.format(Locale.ROOT, "# SLO bench%n%n%d requests/s, one in ten retried once.%n%n"
                + "| what | rows | median | max |%n|---|---|---|---|%n"
                + "| rollup run, whole settle window (10 min re-derived; attempts read over 41 min) | %d calls stored |"
                + " %.1f ms | %.1f ms |%n"
                + "| rollup run, steady state (the calls received in the last minute: %d minutes derived again) | %d calls"
                + " stored | %.1f ms | %.1f ms |%n"
                + "| listing: every group's 30-day budgets (availability, latency) and 5 burn rates each | %d minute rows, %d groups |"
                + " %.1f ms | %.1f ms |%n| one group's 30-day budget | %d minute rows | %.2f ms | %.2f ms |%n"
                + "%nsteady / whole window: %.3f%n",
                REQUESTS_PER_SECOND, calls, run[0], run[1], last.touched(), calls, steady[0], steady[1], minutes,
                listed.items().size(), list[0], list[1], minutes / GROUPS, budget[0], budget[1], steady[0] / run[0]);
        System.out.print(md);
        Path out = Path.of("target", "bench-slo.md");
        Files.createDirectories(out.getParent());
        Files.writeString(out, md);

        assertThat(listed.items().stream().filter(s -> s.modelGroup().startsWith("bench-slo-")).count())
                .isEqualTo(GROUPS);
        assertThat(b.periodRequests()).as("seeded minutes plus the rolled-up calls of the group").isPositive();
    }


    /** The rollup's state as if it had last run at {@code now}, read by arrival up to {@code receivedThrough}. */
    private void state(Instant now, Instant receivedThrough) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("insert into"
                + " slo_rollup_state (state_key, rolled_through, last_run, received_through, snapshot)"
                + " values (1, ?, ?, ?, case when ?::timestamptz is null then null else pg_current_snapshot()::text end)"
                + " on conflict (state_key) do update set rolled_through = excluded.rolled_through,"
                + " last_run = excluded.last_run, received_through = excluded.received_through,"
                + " snapshot = excluded.snapshot")) {
            st.setTimestamp(1, Timestamp.from(now));
            st.setTimestamp(2, Timestamp.from(now));
            st.setTimestamp(3, receivedThrough == null ? null : Timestamp.from(receivedThrough));
            st.setTimestamp(4, receivedThrough == null ? null : Timestamp.from(receivedThrough));
            st.executeUpdate();
        }
    }

    /** 30 days of minutes for every group, ending 15 minutes before now (the calls cover the rest). */
    private long seedMinutes(Instant from, Instant now) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("insert into"
                + " slo_minutes (model_group, minute, requests, failed_responses, latency_le) select 'bench-slo-' || g,"
                + " m, 100 + (g % 7), case when extract(minute from m)::int % 97 = g then 5 else 0 end,"
                + " (select array_agg(least(95::bigint, 10 * i) order by i) from generate_series(1, 23) i)"
                + " from generate_series(0, ?) g, generate_series(?::timestamptz, ?::timestamptz, interval '1 minute') m"
                + " on conflict do nothing")) {
            st.setInt(1, GROUPS - 1);
            st.setTimestamp(2, Timestamp.from(from));
            st.setTimestamp(3, Timestamp.from(now.minus(Duration.ofMinutes(16))));
            long rows = st.executeUpdate();
            try (Statement s = c.createStatement()) {
                s.execute("analyze slo_minutes");
            }
            return rows;
        }
    }

    /** 100 requests a second over the groups, one in ten failing first and answered by a retry 2 s later. */
    private long seedCalls(Instant from, Instant to) throws Exception {
        String insert = "insert into llm_calls (call_id, started_at, ended_at, provider, model, model_group,"
                + " deployment, stream, success, http_status, latency_ms, prompt_tokens, completion_tokens,"
                + " reasoning_tokens, cached_tokens, cost_usd, response_chars, rate_limit_headers, requester_metadata,"
                + " received_at) select 'slo-bench-' || n, ts + (a * interval '2 seconds'), ts + (a * interval"
                + " '2 seconds') + interval '500 milliseconds', 'openai', 'm', 'bench-slo-' || (n % " + GROUPS + "),"
                + " 'slo-bench-dep', false, not (a = 0 and n % 10 = 0), 200, 500, 10, 10, 0, 0, 0, 10, '{}'::jsonb,"
                + " '{}'::jsonb, ts from generate_series(0, ?) n,"
                + " lateral (select ?::timestamptz + n * interval '1 second' / " + REQUESTS_PER_SECOND + " ts) t,"
                + " lateral (select generate_series(0, case when n % 10 = 0 then 1 else 0 end) a) att";
        try (Connection c = dataSource.getConnection()) {
            long rows;
            try (PreparedStatement st = c.prepareStatement(insert)) {
                st.setLong(1, Duration.between(from, to).toSeconds() * REQUESTS_PER_SECOND - 1);
                st.setTimestamp(2, Timestamp.from(from));
                rows = st.executeUpdate();
            }
            try (PreparedStatement st = c.prepareStatement("insert into provider_deployments (provider, deployment,"
                    + " last_seen) values ('openai', 'slo-bench-dep', ?) on conflict (provider, deployment) do update"
                    + " set last_seen = excluded.last_seen")) {
                st.setTimestamp(1, Timestamp.from(to));
                st.executeUpdate();
            }
            try (Statement st = c.createStatement()) {
                st.execute("analyze llm_calls");
            }
            return rows;
        }
    }
}
