package io.faultline.predict;

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
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The tick's in-memory windows against the one aggregate query over the stored calls ({@link WindowReader}, the
 * reference): through the real ingest path on the test clock, with late calls (started minutes before they arrive),
 * resends of calls already stored, calls out of order inside a batch, every failure type and both providers' headers
 * with resets, the windows built from the held calls topped up each tick are the same, bucket by bucket, as the
 * aggregate of the whole window; and a cache that starts cold (a restart, another replica) gives the same answer.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class WindowCacheTest {

    private static final Duration WINDOW = Duration.ofMinutes(15);
    private static final long BUCKET = 60_000;
    private static final Set<String> TIMEOUTS = Set.of("Timeout", "APITimeoutError");
    private static final double TIMEOUT_MS = 20_000;

    @Inject
    TestClock clock;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void topped_up_windows_equal_the_aggregate_of_the_stored_calls_with_late_calls_and_resends() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        Instant t0 = Instant.parse("2035-07-07T08:00:00Z").plus(Duration.ofMinutes(new Random().nextInt(10_000)));
        Random rnd = new Random(12);
        WindowCache cache = new WindowCache();
        List<Payloads> sent = new ArrayList<>();
        int incremental = 0;
        int deployments = 0;
        for (int m = 0; m < 40; m++) {
            Instant minute = t0.plus(Duration.ofMinutes(m));
            // Ticks at odd seconds too: the window's buckets are not aligned to the minutes of the calls.
            Instant now = minute.plus(Duration.ofSeconds(m % 3 == 0 ? 60 : 37));
            clock.set(now);
            List<Payloads> batch = new ArrayList<>();
            for (int d = 0; d < 7; d++) {
                // The seventh is the first's id under the other provider: another deployment, with its own resets.
                String dep = "wc-" + run + "-" + (d % 6);
                String provider = d % 2 == 0 && d < 6 ? "openai" : "anthropic";
                for (int k = 0; k < 4 + rnd.nextInt(8); k++) {
                    // Half in a 2-second burst: busy seconds are held as slices, quiet ones call by call.
                    Instant start = minute.plusMillis(rnd.nextBoolean() ? rnd.nextInt(55_000) : 20_000 + rnd.nextInt(2_000));
                    batch.add(call(provider, dep, start, m, rnd));
                }
            }
            if (m % 4 == 3) {
                // The spool's late delivery: calls that started 3 to 20 minutes ago arrive now.
                for (int k = 0; k < 5; k++) {
                    Instant start = minute.minus(Duration.ofSeconds(180 + rnd.nextInt(1020)));
                    batch.add(call(k % 2 == 0 ? "openai" : "anthropic", "wc-" + run + "-" + k, start, m, rnd));
                }
            }
            if (m % 5 == 4 && sent.size() > 40) {
                // A retried ingest: calls already stored, sent again (with the same ids and starts).
                batch.addAll(sent.subList(sent.size() - 40, sent.size() - 10));
            }
            java.util.Collections.shuffle(batch, rnd);
            Api.ingest(Payloads.array(batch.toArray(Payloads[]::new))).statusCode(200);
            sent.addAll(batch);

            try (Connection c = dataSource.getConnection()) {
                Instant from = now.minus(WINDOW);
                List<DeploymentWindow> held = cache.read(c, from, now, BUCKET, TIMEOUTS, TIMEOUT_MS,
                        Duration.ofSeconds(60), Duration.ofHours(1));
                if (!cache.lastWasFull()) {
                    incremental++;
                }
                List<DeploymentWindow> reference = WindowReader.read(c, from, now, BUCKET, TIMEOUTS, TIMEOUT_MS);
                assertSame(held, reference, "minute " + m);
                deployments = Math.max(deployments, (int) held.stream().filter(w -> w.deployment().startsWith("wc-" + run))
                        .count());
                for (DeploymentWindow w : held) {
                    for (int slot = 0; slot < DeploymentWindow.LIMIT_TYPES.length; slot++) {
                        assertThat(cache.latestReset(w, slot)).as("reset of %s slot %d minute %d", w.deployment(), slot, m)
                                .isEqualTo(WindowReader.latestReset(c, w.provider(), w.deployment(), slot, from, now));
                    }
                }
                if (m == 39) {
                    WindowCache cold = new WindowCache();
                    assertSame(cold.read(c, from, now, BUCKET, TIMEOUTS, TIMEOUT_MS, Duration.ofSeconds(60),
                            Duration.ofHours(1)), held, "a cold cache (restart) at minute " + m);
                    assertThat(cold.lastWasFull()).isTrue();
                }
            }
        }
        assertThat(deployments).as("the compared windows hold the test's deployments").isEqualTo(7);
        assertThat(incremental).as("ticks that only topped the window up").isEqualTo(39);
        assertThat(cache.heldSlices()).as("busy seconds held as slices").isPositive();
        assertThat(cache.heldCalls()).as("calls held: the window's, not the history's").isPositive()
                .isLessThan(sent.size() / 2);
    }

    @Test
    void calls_committed_late_or_stamped_ahead_of_the_tick_are_each_counted_once() throws Exception {
        String dep = "wc-late-" + UUID.randomUUID().toString().substring(0, 8);
        Instant now = Instant.parse("2036-01-01T00:00:00Z").plus(Duration.ofMinutes(new Random().nextInt(10_000)));
        WindowCache cache = new WindowCache();
        try (Connection c = dataSource.getConnection()) {
            insert(c, dep, "a", now.minusSeconds(100), now.minusSeconds(10));
            // Stamped ahead of the tick's clock (a replica whose clock runs ahead): held, but it must not move the
            // mark past the calls that arrive in between.
            insert(c, dep, "d", now.minusSeconds(70), now.plusSeconds(600));
            List<DeploymentWindow> first = cache.read(c, now.minus(WINDOW), now, BUCKET, TIMEOUTS, TIMEOUT_MS,
                    Duration.ofSeconds(60), Duration.ofHours(1));
            assertThat(calls(first, dep)).isEqualTo(2);
            // Stamped 40 s before the newest call read, committed after the read (inside the 60 s overlap); one
            // stamped before the overlap, which only the next full read sees; and one that simply came next.
            insert(c, dep, "b", now.minusSeconds(90), now.minusSeconds(50));
            insert(c, dep, "c", now.minusSeconds(80), now.minusSeconds(200));
            insert(c, dep, "e", now.plusSeconds(30), now.plusSeconds(30));
            Instant next = now.plusSeconds(60);
            List<DeploymentWindow> topped = cache.read(c, next.minus(WINDOW), next, BUCKET, TIMEOUTS, TIMEOUT_MS,
                    Duration.ofSeconds(60), Duration.ofHours(1));
            assertThat(cache.lastWasFull()).isFalse();
            assertThat(calls(topped, dep)).as("a, b, d and e; c was stamped before the overlap").isEqualTo(4);
            Instant later = next.plusSeconds(60);
            List<DeploymentWindow> full = cache.read(c, later.minus(WINDOW), later, BUCKET, TIMEOUTS, TIMEOUT_MS,
                    Duration.ofSeconds(60), Duration.ofSeconds(120));
            assertThat(cache.lastWasFull()).as("the full read is due").isTrue();
            assertThat(calls(full, dep)).isEqualTo(5);
            // Past the stamp of d: topped up again, d is not counted twice.
            Instant after = now.plusSeconds(700);
            insert(c, dep, "f", now.plusSeconds(650), now.plusSeconds(690));
            List<DeploymentWindow> past = cache.read(c, after.minus(WINDOW), after, BUCKET, TIMEOUTS, TIMEOUT_MS,
                    Duration.ofSeconds(60), Duration.ofHours(1));
            assertThat(cache.lastWasFull()).isFalse();
            assertThat(calls(past, dep)).isEqualTo(6).isEqualTo(calls(WindowReader.read(c, after.minus(WINDOW), after,
                    BUCKET, TIMEOUTS, TIMEOUT_MS), dep));
            // The clock going back (another test, a replica with an older clock) reads everything again.
            cache.read(c, now.minus(WINDOW), now, BUCKET, TIMEOUTS, TIMEOUT_MS, Duration.ofSeconds(60),
                    Duration.ofHours(1));
            assertThat(cache.lastWasFull()).isTrue();
        }
    }

    @Test
    void a_deployment_is_a_candidate_of_each_proxys_model_group_it_was_called_from_within_the_window()
            throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        String dep = "wc-lists-" + run;
        String group = "wc-group-" + run;
        Instant now = Instant.parse("2036-05-01T00:00:00Z").plus(Duration.ofMinutes(new Random().nextInt(10_000)));
        clock.set(now);
        // Proxy A's call leaves the window first; a call naming no proxy is the default proxy's (older plugins).
        Api.ingest(Payloads.array(Payloads.success("openai", group, dep, now.minusSeconds(800)).proxy("proxy-a"),
                Payloads.success("openai", group, dep, now.minusSeconds(100)).proxy("Proxy-B"),
                Payloads.success("openai", group, dep, now.minusSeconds(90)),
                Payloads.success("openai", group, dep, now.minusSeconds(80)).proxy("proxy-b"),
                Payloads.success("openai", group, dep, now.minusSeconds(70)).without("model_group")
                        .proxy("proxy-c"))).statusCode(200);
        WindowCache cache = new WindowCache();
        try (Connection c = dataSource.getConnection()) {
            DeploymentWindow w = window(cache.read(c, now.minus(WINDOW), now, BUCKET, TIMEOUTS, TIMEOUT_MS,
                    Duration.ofSeconds(60), Duration.ofHours(1)), dep);
            assertThat(cache.listsOf(w)).as("each proxy's group; a call of no model group is of no list")
                    .containsExactlyInAnyOrder(WindowCache.list("proxy-a", group), WindowCache.list("proxy-b", group),
                            WindowCache.list(null, group));
            Instant later = now.plusSeconds(120);
            w = window(cache.read(c, later.minus(WINDOW), later, BUCKET, TIMEOUTS, TIMEOUT_MS,
                    Duration.ofSeconds(60), Duration.ofHours(1)), dep);
            assertThat(cache.lastWasFull()).isFalse();
            assertThat(cache.listsOf(w)).as("proxy A's only call left the window")
                    .containsExactlyInAnyOrder(WindowCache.list("proxy-b", group), WindowCache.list(null, group));
        }
    }

    private static DeploymentWindow window(List<DeploymentWindow> windows, String deployment) {
        return windows.stream().filter(w -> w.deployment().equals(deployment)).findFirst().orElseThrow();
    }

    @Test
    void a_call_that_took_exactly_the_timeout_is_not_timed_out_as_the_classifier_judges_it() throws Exception {
        String dep = "wc-edge-" + UUID.randomUUID().toString().substring(0, 8);
        Instant now = Instant.parse("2036-03-01T00:00:00Z").plus(Duration.ofMinutes(new Random().nextInt(10_000)));
        int timeout = java.util.Arrays.asList(DeploymentWindow.FAILURE_TYPES).indexOf("timeout");
        try (Connection c = dataSource.getConnection()) {
            // ProviderRules types a call a timeout when its latency is above the timeout, not at it.
            insert(c, dep, "at", now.minusSeconds(100), now.minusSeconds(10), TIMEOUT_MS);
            insert(c, dep, "past", now.minusSeconds(100), now.minusSeconds(10), TIMEOUT_MS + 1);
            for (List<DeploymentWindow> windows : List.of(
                    WindowReader.read(c, now.minus(WINDOW), now, BUCKET, TIMEOUTS, TIMEOUT_MS),
                    new WindowCache().read(c, now.minus(WINDOW), now, BUCKET, TIMEOUTS, TIMEOUT_MS,
                            Duration.ofSeconds(60), Duration.ofHours(1)))) {
                int timedOut = windows.stream().filter(w -> w.deployment().equals(dep))
                        .flatMap(w -> java.util.Arrays.stream(w.buckets())).filter(java.util.Objects::nonNull)
                        .mapToInt(b -> b.failed()[timeout]).sum();
                assertThat(timedOut).as("timed-out calls of %s", dep).isEqualTo(1);
            }
        }
    }

    @Test
    void slices_never_straddle_a_bucket_or_an_end_of_the_window() {
        long second = 1_000_000L;
        long t = 2_000_000_000L * second;
        assertThat(WindowCache.sliceWidth(t - 900 * second, t, 60 * second)).isEqualTo(second);
        assertThat(WindowCache.sliceWidth(t - 900 * second + 250_000, t + 250_000, 60 * second)).isEqualTo(250_000);
        assertThat(WindowCache.sliceWidth(t - 900 * second, t, 1_500_000)).isEqualTo(500_000);
        assertThat(WindowCache.sliceWidth(t - 900 * second + 1, t + 1, 60 * second)).isEqualTo(1);
    }

    @Test
    void windows_whose_ends_fall_inside_a_second_equal_the_aggregate_too() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        Instant t0 = Instant.parse("2036-03-03T08:00:00Z").plus(Duration.ofMinutes(new Random().nextInt(10_000)));
        Random rnd = new Random(5);
        WindowCache cache = new WindowCache();
        // Ticks 250 ms past the second, then 100 ms (finer slices: everything is read again), then 100 ms again.
        long[] offsets = { 250, 250, 100, 100 };
        boolean[] full = { true, false, true, false };
        for (int m = 0; m < offsets.length; m++) {
            Instant minute = t0.plus(Duration.ofMinutes(m));
            Instant now = minute.plus(Duration.ofSeconds(60)).plusMillis(offsets[m]);
            clock.set(now);
            List<Payloads> batch = new ArrayList<>();
            for (int k = 0; k < 40; k++) {
                // Starts at any millisecond, some in the 250 ms just before the tick and after it; half in bursts.
                Instant start = minute.plusMillis(k % 2 == 0 ? rnd.nextInt(60_500) : 30_000 + rnd.nextInt(1_500));
                batch.add(call(k % 2 == 0 ? "openai" : "anthropic", "wcs-" + run + "-" + k % 4, start, m, rnd));
            }
            Api.ingest(Payloads.array(batch.toArray(Payloads[]::new))).statusCode(200);
            try (Connection c = dataSource.getConnection()) {
                Instant from = now.minus(WINDOW);
                List<DeploymentWindow> held = cache.read(c, from, now, BUCKET, TIMEOUTS, TIMEOUT_MS,
                        Duration.ofSeconds(60), Duration.ofHours(1));
                assertThat(cache.lastWasFull()).as("full read at tick %d", m).isEqualTo(full[m]);
                assertSame(held, WindowReader.read(c, from, now, BUCKET, TIMEOUTS, TIMEOUT_MS), "tick " + m);
                for (DeploymentWindow w : held) {
                    for (int slot = 0; slot < DeploymentWindow.LIMIT_TYPES.length; slot++) {
                        assertThat(cache.latestReset(w, slot)).as("reset of %s slot %d tick %d", w.deployment(), slot,
                                m).isEqualTo(
                                        WindowReader.latestReset(c, w.provider(), w.deployment(), slot, from, now));
                    }
                }
                assertThat(held.stream().filter(w -> w.deployment().startsWith("wcs-" + run)).count()).isEqualTo(4);
                assertThat(cache.heldSlices()).as("busy seconds held as slices").isPositive();
            }
        }
    }

    @Test
    void header_values_are_read_as_the_sql_reads_them_hostile_ones_included() throws Exception {
        String[] values = { "100", "0", "12345.5", "000000000000001", "0000000000000001", "123456789012345.123456789",
                "1.1234567890", "1.", ".5", "1e5", " 100", "100 ", "-1", "+1", "NaN", "Infinity", "１２３", "1.2.3", "",
                "10\n", "9".repeat(64), "4000.000000001" };
        try (Connection c = dataSource.getConnection();
                PreparedStatement st = c.prepareStatement("select case when ?::text ~ '^[0-9]{1,15}(\\.[0-9]{1,9})?$'"
                        + " then ?::text::double precision end")) {
            for (String v : values) {
                st.setString(1, v);
                st.setString(2, v);
                try (var rs = st.executeQuery()) {
                    rs.next();
                    double sql = rs.getDouble(1);
                    double expected = rs.wasNull() ? Double.NaN : sql;
                    assertThat((Object) WindowCache.number(v)).as("[%s]", v).isEqualTo(expected); // NaN equals NaN
                }
            }
        }
        // The stored JSON text, as the tick reads it, against ->> on the stored jsonb (escapes, nesting, nulls).
        String[] objects = { "{\"x-ratelimit-remaining-tokens\": \"\\u0031\\u0030\", \"x-ratelimit-limit-tokens\": null}",
                "{\"anthropic-ratelimit-tokens-remaining\": {\"a\": [1, 2]}, \"x-ratelimit-remaining-tokens\": \"5\"}",
                "{\"x-ratelimit-remaining-requests\": 42, \"x-ratelimit-reset-requests\": \"1m\\\"0s\"}", "{}", "[1]",
                "{\"x-ratelimit-remaining-tokens\": \"1\", \"x-ratelimit-remaining-tokens\": \"2\"}" };
        try (Connection c = dataSource.getConnection();
                PreparedStatement st = c.prepareStatement("select (?::jsonb)::text, coalesce(?::jsonb ->>"
                        + " 'anthropic-ratelimit-tokens-remaining', ?::jsonb ->> 'x-ratelimit-remaining-tokens'),"
                        + " ?::jsonb ->> 'x-ratelimit-remaining-requests', ?::jsonb ->> 'x-ratelimit-reset-requests'")) {
            for (String o : objects) {
                for (int i = 1; i <= 5; i++) {
                    st.setString(i, o);
                }
                try (var rs = st.executeQuery()) {
                    rs.next();
                    String[] read = WindowCache.headerValues(rs.getString(1));
                    String tokens = read[6] != null ? read[6] : read[7];
                    assertThat((Object) WindowCache.number(tokens)).as(o).isEqualTo(WindowCache.number(rs.getString(2)));
                    assertThat(read[0] != null ? read[0] : read[1]).as(o).isEqualTo(rs.getString(3));
                    assertThat(read[4] != null ? read[4] : read[5]).as(o).isEqualTo(rs.getString(4));
                }
            }
        }
    }

    private static int calls(List<DeploymentWindow> windows, String deployment) {
        int n = 0;
        for (DeploymentWindow w : windows) {
            if (w.deployment().equals(deployment)) {
                for (DeploymentWindow.Bucket b : w.buckets()) {
                    n += b == null ? 0 : b.calls();
                }
            }
        }
        return n;
    }

    private static void insert(Connection c, String deployment, String id, Instant started, Instant received)
            throws Exception {
        insert(c, deployment, id, started, received, 500);
    }

    private static void insert(Connection c, String deployment, String id, Instant started, Instant received,
            double latencyMs) throws Exception {
        try (PreparedStatement st = c.prepareStatement("insert into llm_calls (call_id, started_at, ended_at, provider,"
                + " model, model_group, deployment, stream, success, http_status, latency_ms, prompt_tokens,"
                + " completion_tokens, reasoning_tokens, cached_tokens, cost_usd, response_chars, rate_limit_headers,"
                + " requester_metadata, received_at) values (?, ?, ?, 'openai', 'm', 'g', ?, false, true, 200, ?, 1,"
                + " 1, 0, 0, 0, 1, '{}'::jsonb, '{}'::jsonb, ?)");
                PreparedStatement seen = c.prepareStatement("insert into provider_deployments (provider, deployment,"
                        + " last_seen) values ('openai', ?, ?) on conflict (provider, deployment) do update set"
                        + " last_seen = greatest(provider_deployments.last_seen, excluded.last_seen)")) {
            st.setString(1, deployment + "-" + id);
            st.setTimestamp(2, Timestamp.from(started));
            st.setTimestamp(3, Timestamp.from(started.plusMillis((long) latencyMs)));
            st.setString(4, deployment);
            st.setDouble(5, latencyMs);
            st.setTimestamp(6, Timestamp.from(received));
            st.executeUpdate();
            seen.setString(1, deployment);
            seen.setTimestamp(2, Timestamp.from(started));
            seen.executeUpdate();
        }
    }

    /** A call of minute m: successes with drifting latency, every failure type, headers that drain and reset. */
    private static Payloads call(String provider, String dep, Instant start, int m, Random rnd) {
        String group = "wc-group";
        int roll = rnd.nextInt(20);
        Payloads p;
        if (roll == 0) {
            p = Payloads.failure(provider, group, dep, start, 429, "RateLimitError", "rate limited");
        } else if (roll == 1) {
            p = Payloads.failure(provider, group, dep, start, 529, "InternalServerError", "overloaded");
        } else if (roll == 2) {
            p = Payloads.failure(provider, group, dep, start, 503, "ServiceUnavailableError", "unavailable");
        } else if (roll == 3) {
            p = Payloads.failure(provider, group, dep, start, 408, "Timeout", "timed out").latency(25);
        } else {
            p = Payloads.success(provider, group, dep, start).latency(0.3 + m * 0.05 + rnd.nextDouble());
        }
        long remaining = Math.max(0, 10_000 - (m % 12) * 800 - rnd.nextInt(200));
        if ("openai".equals(provider)) {
            p.header("x-ratelimit-limit-requests", "10000").header("x-ratelimit-remaining-requests",
                    String.valueOf(remaining)).header("x-ratelimit-reset-requests", (12 - m % 12) + "m0s");
            if (rnd.nextBoolean()) {
                p.header("x-ratelimit-remaining-tokens", rnd.nextBoolean() ? "bogus" : "12345.5");
            }
        } else {
            p.header("anthropic-ratelimit-tokens-limit", "80000").header("anthropic-ratelimit-tokens-remaining",
                    String.valueOf(remaining * 8)).header("anthropic-ratelimit-tokens-reset",
                            start.plus(Duration.ofMinutes(12 - m % 12)).toString())
                    .header("anthropic-ratelimit-output-tokens-remaining", String.valueOf(remaining));
        }
        return p;
    }

    /** Windows equal field by field (arrays element-wise); averages within a rounding error of the SQL's. */
    private static void assertSame(List<DeploymentWindow> actual, List<DeploymentWindow> expected, String when) {
        assertThat(actual).as(when).hasSameSizeAs(expected);
        assertThat(actual).as(when).usingRecursiveFieldByFieldElementComparator(
                org.assertj.core.api.recursive.comparison.RecursiveComparisonConfiguration.builder()
                        .withComparatorForType((a, b) -> a == null || b == null ? (a == b ? 0 : 1)
                                : Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a)) ? 0 : Double.compare(a, b),
                                Double.class)
                        .build())
                .containsExactlyInAnyOrderElementsOf(expected);
        // The readings' mean times are epoch seconds, which the relative tolerance above would let drift by
        // minutes: to the millisecond.
        for (DeploymentWindow a : actual) {
            DeploymentWindow e = expected.stream().filter(x -> x.provider().equals(a.provider())
                    && x.deployment().equals(a.deployment())).findFirst().orElseThrow();
            for (int b = 0; b < a.buckets().length; b++) {
                for (int slot = 0; a.buckets()[b] != null && slot < DeploymentWindow.LIMIT_TYPES.length; slot++) {
                    DeploymentWindow.Reading r = a.buckets()[b].headroom()[slot];
                    if (r != null) {
                        assertThat(r.atEpochSeconds()).as("%s %s bucket %d slot %d", when, a.deployment(), b, slot)
                                .isCloseTo(e.buckets()[b].headroom()[slot].atEpochSeconds(),
                                        org.assertj.core.data.Offset.offset(1e-3));
                    }
                }
            }
        }
    }
}
