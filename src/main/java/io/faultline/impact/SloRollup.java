package io.faultline.impact;

import io.agroal.api.AgroalDataSource;
import io.faultline.common.ClusterJobs;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.logging.Log;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * Keeps {@code slo_minutes} (requests, failed responses and the answered requests' latency histogram per model
 * group and minute) up to date: every interval one replica (PostgreSQL advisory lock) derives again every minute newer
 * than the settle time, and after a first start or a restart catches up from the last rolled minute, at most
 * {@code catch-up-per-run} of call time per run.
 */
@Singleton
public class SloRollup {

    /** The advisory lock of the rollup ("FlSloRol" in ASCII). */
    static final long LOCK_KEY = 0x466C_536C_6F52_6F6CL;
    /** The job's name in {@code scheduled_job_runs} and on {@code faultline_scheduled_job_runs_total}. */
    static final String JOB = "slo-rollup";
    /** Catching up on demand stops after this many runs (a 91-day backfill in 1-day steps takes 92). */
    static final int MAX_CATCH_UP_RUNS = 200;

    /** What one run did: the minutes {@code [from, to)} derived again, and whether it reached the current minute. */
    public record Run(Instant at, boolean ran, Instant from, Instant to, int minutes, boolean caughtUp) {
    }

    // Requests whose first attempt started in [from, to): their attempts are read from requestSpan before and after,
    // so that a request is neither split across runs nor missing its late fallback. The providers come from
    // provider_deployments so that the scan runs on the (provider, started_at) index, like WindowReader. An answered
    // request's latency is end to end (first attempt's start to last attempt's end, in microseconds), counted into the
    // minute's cumulative histogram at the fixed edges of LatencyBuckets.
    private static final String DERIVE = "insert into slo_minutes (model_group, minute, requests, failed_responses,"
            + " latency_le) select g, to_timestamp(floor(extract(epoch from first_at) / 60) * 60) m, count(*),"
            + " count(*) filter (where not ok), " + LatencyBuckets.aggregateSql("ok", "lat_us") + " from ("
            + " select (array_agg(coalesce(model_group, model, 'unknown') order by started_at, received_at))[1] g,"
            + " min(started_at) first_at, bool_or(success) ok,"
            + " (extract(epoch from max(ended_at) - min(started_at)) * 1000000)::bigint lat_us from llm_calls"
            + " where provider = any (array(select distinct provider from provider_deployments))"
            + " and started_at >= ? and started_at < ? group by call_id) r"
            + " where first_at >= ? and first_at < ? group by 1, 2";

    private final AgroalDataSource dataSource;
    private final SloConfig config;
    private final Clock clock;
    private final SloMetrics metrics;
    private final Counter failures;
    private final Timer runTime;

    private final ClusterJobs jobs;

    public SloRollup(AgroalDataSource dataSource, SloConfig config, Clock clock, SloMetrics metrics,
            MeterRegistry registry, ClusterJobs jobs) {
        this.jobs = jobs;
        this.dataSource = dataSource;
        this.config = config;
        this.clock = clock;
        this.metrics = metrics;
        this.failures = Counter.builder("faultline.slo.rollup.failures")
                .description("SLO rollup runs that failed").register(registry);
        this.runTime = Timer.builder("faultline.slo.rollup.duration")
                .description("Time of one SLO rollup run that derived minutes").register(registry);
    }

    @Scheduled(every = "{faultline.slo.interval}", delayed = "{faultline.slo.interval}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void tick() {
        if (!config.enabled() || !jobs.ready()) {
            return;
        }
        // Cluster-wide: one replica rolls up per interval (the stored last run, then the advisory lock).
        jobs.runOnce(JOB, interval(), () -> {
            try {
                run(true);
            } catch (RuntimeException e) {
                failures.increment();
                Log.errorf(e, "SLO rollup failed; it runs again at the next interval");
            }
        });
        // Every replica reads the gauges from the database, whichever of them rolled up.
        metrics.refresh();
    }

    /** Runs until the rollup reaches the current minute (bounded), then refreshes the gauges. */
    public Run catchUp() {
        Run last = null;
        for (int i = 0; i < MAX_CATCH_UP_RUNS && (last == null || !last.caughtUp()); i++) {
            last = run(false);
        }
        metrics.refresh();
        return last;
    }

    /**
     * One run at the clock's now. Scheduled, it skips when another replica holds the lock or ran less than half an
     * interval ago; on demand it waits for the lock.
     */
    public Run run(boolean scheduled) {
        Instant now = clock.instant();
        long started = System.nanoTime();
        Run run = QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                if (scheduled ? !tryLock(c) : !lock(c)) {
                    return new Run(now, false, null, null, 0, false);
                }
                Instant[] state = state(c);
                if (scheduled && state != null && state[1].isAfter(now.minus(interval().dividedBy(2)))
                        && !state[1].isAfter(now)) {
                    return new Run(now, false, null, null, 0, false);
                }
                return derive(c, now, state == null ? null : state[0]);
            } catch (SQLException e) {
                throw new IllegalStateException("SLO rollup failed", e);
            }
        });
        if (run.ran()) {
            runTime.record(Duration.ofNanos(System.nanoTime() - started));
        }
        return run;
    }

    private Run derive(Connection c, Instant now, Instant rolledThrough) throws SQLException {
        Instant current = now.truncatedTo(ChronoUnit.MINUTES);
        Instant end = current.plus(Duration.ofMinutes(1));
        Instant settled = current.minus(config.settle()).truncatedTo(ChronoUnit.MINUTES);
        Instant from = rolledThrough == null ? firstStart(c, current.minus(config.backfill()), settled)
                : rolledThrough.isBefore(settled) ? rolledThrough : settled;
        Instant to = from.plus(config.catchUpPerRun()).truncatedTo(ChronoUnit.MINUTES);
        if (!to.isBefore(end) || !to.isAfter(from)) {
            to = end;
        }
        try (PreparedStatement st = c.prepareStatement("delete from slo_minutes where minute >= ? and minute < ?")) {
            st.setTimestamp(1, Timestamp.from(from));
            st.setTimestamp(2, Timestamp.from(to));
            st.executeUpdate();
        }
        int minutes;
        try (PreparedStatement st = c.prepareStatement(DERIVE)) {
            st.setTimestamp(1, Timestamp.from(from.minus(config.requestSpan())));
            st.setTimestamp(2, Timestamp.from(to.plus(config.requestSpan())));
            st.setTimestamp(3, Timestamp.from(from));
            st.setTimestamp(4, Timestamp.from(to));
            minutes = st.executeUpdate();
        }
        try (PreparedStatement st = c.prepareStatement("delete from slo_minutes where minute < ?")) {
            st.setTimestamp(1, Timestamp.from(current.minus(config.retention())));
            st.executeUpdate();
        }
        // The current minute is never final: the next run starts from it (or from the settle time) again.
        Instant rolled = to.isAfter(current) ? current : to;
        try (PreparedStatement st = c.prepareStatement("insert into slo_rollup_state (state_key, rolled_through,"
                + " last_run) values (1, ?, ?) on conflict (state_key) do update set rolled_through ="
                + " excluded.rolled_through, last_run = excluded.last_run")) {
            st.setTimestamp(1, Timestamp.from(rolled));
            st.setTimestamp(2, Timestamp.from(now));
            st.executeUpdate();
        }
        return new Run(now, true, from, to, minutes, !to.isBefore(end));
    }

    /**
     * Where the very first run starts: the backfill horizon, or the minute of the oldest stored call after it (a new
     * installation does not step through a month of empty days), or the settle time when nothing is stored.
     */
    private static Instant firstStart(Connection c, Instant horizon, Instant settled) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select min(started_at) from llm_calls"
                + " where provider = any (array(select distinct provider from provider_deployments))"
                + " and started_at >= ?")) {
            st.setTimestamp(1, Timestamp.from(horizon));
            try (ResultSet rs = st.executeQuery()) {
                Timestamp oldest = rs.next() ? rs.getTimestamp(1) : null;
                if (oldest == null) {
                    return settled;
                }
                Instant first = oldest.toInstant().truncatedTo(ChronoUnit.MINUTES);
                return first.isBefore(settled) ? first : settled;
            }
        }
    }

    /** {rolled_through, last_run}, or null before the first run. */
    private static Instant[] state(Connection c) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select rolled_through, last_run from slo_rollup_state"
                + " where state_key = 1"); ResultSet rs = st.executeQuery()) {
            return rs.next() ? new Instant[] { rs.getTimestamp(1).toInstant(), rs.getTimestamp(2).toInstant() }
                    : null;
        }
    }

    private Duration interval() {
        String raw = config.interval().trim();
        return Duration.parse(raw.startsWith("P") || raw.startsWith("p") ? raw : "PT" + raw);
    }

    private static boolean tryLock(Connection c) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select pg_try_advisory_xact_lock(?)")) {
            st.setLong(1, LOCK_KEY);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    private static boolean lock(Connection c) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select pg_advisory_xact_lock(?)")) {
            st.setLong(1, LOCK_KEY);
            st.execute();
            return true;
        }
    }
}
