package io.faultline.impact;

import io.agroal.api.AgroalDataSource;
import io.faultline.common.AdvisoryLocks;
import io.faultline.common.ClusterJobs;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.logging.Log;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Set;
import java.util.TreeSet;

/**
 * Keeps {@code slo_minutes} (requests, failed responses and the answered requests' latency histogram per model
 * group and minute) up to date. Every interval one replica (PostgreSQL advisory lock) derives again the minutes that
 * the calls received since its last run touch: the minute of each such call's request, before and after the call
 * (a late fallback changes its request; a late first attempt moves it), each request looked up by its call id. Its
 * cost follows the calls received, not the calls stored: re-deriving the whole settle window each minute read every
 * call of the last ~25 minutes and grouped them by call id, which at 1,900 calls/s grew from 2 to 18 s a run in the
 * soak. A first start, or a run whose last rolled minute is older than the settle time (a pause or a downtime that
 * long; the state is stored, so a quick restart stays incremental) derives every minute from the last rolled
 * one (at most {@code catch-up-per-run} of call time per run) and the settle window again, as one range.
 */
@Singleton
public class SloRollup {

    /** The advisory lock of the rollup ("FlSloRol" in ASCII). */
    static final long LOCK_KEY = 0x466C_536C_6F52_6F6CL;
    /** The job's name in {@code scheduled_job_runs} and on {@code faultline_scheduled_job_runs_total}. */
    static final String JOB = "slo-rollup";
    /** Catching up on demand stops after this many runs (a 91-day backfill in 1-day steps takes 92). */
    static final int MAX_CATCH_UP_RUNS = 200;

    /**
     * What one run did: the minutes {@code [from, to)} derived again (an incremental run: the first and the end of
     * the {@code touched} minutes, null when none was), the group-minute rows written, whether it reached the current
     * minute, and whether it derived only the minutes touched by the calls received since the last run.
     */
    public record Run(Instant at, boolean ran, Instant from, Instant to, int minutes, boolean caughtUp,
            boolean incremental, int touched) {

        static Run skipped(Instant at) {
            return new Run(at, false, null, null, 0, false, false, 0);
        }
    }

    /**
     * An attempt that failed on the service's side, over {@code llm_calls}' columns: the passive baselines'
     * provider-side failure ({@link io.faultline.baseline.DeviationDetector#PROVIDER_SIDE_FAILURE}: no answer,
     * 5xx, 408, 429, the provider refusing our credentials, and never what LiteLLM refused itself before calling any
     * provider, {@link io.faultline.baseline.DeviationDetector#PROXY_REFUSAL}): a caller's unknown virtual key is the
     * caller's mistake, for the budget as for the baselines. A request
     * spends the availability budget (a failed response) when no attempt answered and its last attempt is one; a
     * caller's own 4xx (a context overflow, a bad parameter, an unknown key) is a request, not a failure. The impact
     * assessor counts the failed responses it prices against the budget by the same rule.
     */
    public static final String SERVICE_FAILURE = "(" + io.faultline.baseline.DeviationDetector.PROVIDER_SIDE_FAILURE
            + ")";

    // Requests whose first attempt started in [from, to): their attempts are read from requestSpan before and after,
    // so that a request is neither split across runs nor missing its late fallback. The providers come from
    // provider_deployments so that the scan runs on the (provider, started_at) index, like WindowReader. An answered
    // request's latency is end to end (first attempt's start to last attempt's end, in microseconds), counted into the
    // minute's cumulative histogram at the fixed edges of LatencyBuckets.
    // Epoch arithmetic in float8 (date_part), not numeric (extract returns numeric since PostgreSQL 14): per call it
    // was a quarter of the grouping's time. Exact here: an epoch in seconds with microseconds needs 51 bits of the 53.
    // A failed response (`spent`): no attempt answered and the last one failed on the service's side.
    private static final String REQUEST = "(array_agg(" + groupOfCall("") + " order by started_at,"
            + " received_at))[1] g, min(started_at) first_at, bool_or(success) ok, not bool_or(success) and"
            + " (array_agg(" + SERVICE_FAILURE + " order by started_at desc, ended_at desc))[1] spent,"
            + " (date_part('epoch', max(ended_at) - min(started_at)) * 1000000)::bigint lat_us";
    private static final String OF_PROVIDERS = "provider = any (array(select distinct provider from"
            + " provider_deployments))";
    // Each request of r in the minute of its first attempt, per model group.
    private static final String INSERT_MINUTES = "insert into slo_minutes (model_group, minute, requests,"
            + " failed_responses, latency_le) select g, date_bin(interval '1 minute', first_at, timestamptz 'epoch'),"
            + " count(*), count(*) filter (where spent), " + LatencyBuckets.aggregateSql("ok", "lat_us") + " from ";
    private static final String DERIVE = INSERT_MINUTES + "(select " + REQUEST + " from llm_calls where "
            + OF_PROVIDERS + " and started_at >= ? and started_at < ? group by call_id) r"
            + " where first_at >= ? and first_at < ? group by 1, 2";

    // The start minutes of the calls received after the late-commit margin before the last run (the received_at
    // index; no lookup per call), less those received before the last run that its starting snapshot already showed:
    // that run derived their minutes (every later statement of a run sees at least its first snapshot). A row's
    // 32-bit xmin is widened to the xid8 the snapshot compares with: the newest epoch that puts it below the current
    // snapshot's xmax, exact for rows younger than 2^32 transactions.
    private static final String CURRENT_XMAX = "(select pg_snapshot_xmax(pg_current_snapshot())::text::bigint hi) x";
    private static final String NEW = "(received_at > ? and (received_at > ? or ?::text is null or not"
            + " pg_visible_in_snapshot((x.hi - (x.hi - xmin::text::bigint) % 4294967296)::text::xid8,"
            + " ?::text::pg_snapshot)))";
    // With their providers: the fold records a new provider in provider_deployments after its calls commit, so a run
    // between the two commits saw the calls but not the provider, and the next run no longer counts them as new.
    private static final String RECEIVED_MINUTES = "select distinct floor(date_part('epoch', started_at) / 60)::bigint,"
            + " provider from llm_calls, " + CURRENT_XMAX + " where " + NEW;
    private static final String OF_PROVIDERS_AND_NEW = "provider = any (array(select distinct provider from"
            + " provider_deployments) || ?::text[])";

    // Derives the requests whose first attempt started in [from, to): the calls started from `from` to request-span
    // after `to` grouped by call id (in steady state `to` is the next minute and nothing started after it), less the
    // requests with an attempt started up to request-span before their first one here, which one primary-key probe
    // per request finds (min() over the index: an attempt of its call id before it). It returns the start minutes
    // of the other attempts of every request with a new attempt (as RECEIVED_MINUTES tells it): a late fallback's
    // request may belong to an earlier minute, and a late first attempt moves its request out of a later one.
    private static final String DERIVE_RANGE = "with r as materialized (select q.*, (select min(p.started_at) from"
            + " llm_calls p where p.call_id = q.call_id and p.started_at >= q.first_at - make_interval(secs => ?)"
            + " and p.started_at < q.first_at) earlier from (select call_id, " + REQUEST + ", count(*) attempts,"
            + " bool_or(" + NEW + ") has_new, array_agg(floor(date_part('epoch', started_at) / 60)::bigint) ms"
            + " from llm_calls, " + CURRENT_XMAX + " where " + OF_PROVIDERS_AND_NEW
            + " and started_at >= ? and started_at < ? group by call_id) q where q.first_at < ?),"
            + " ins as (" + INSERT_MINUTES + "r where earlier is null group by 1, 2 returning 1)"
            + " select -1::bigint, count(*) from ins"
            + " union all select distinct m, 0 from r, unnest(r.ms) m where r.has_new and r.attempts > 1"
            + " union all select distinct floor(date_part('epoch', earlier) / 60)::bigint, 0 from r"
            + " where r.has_new and r.earlier is not null";

    /**
     * The model group a call's request is counted in when it is the first attempt: LiteLLM's model group, else the
     * model (a proxy that logs none); the impact assessor charges the request's failures to the same group.
     */
    static String groupOfCall(String alias) {
        return "coalesce(" + alias + "model_group, " + alias + "model, 'unknown')";
    }

    private final AgroalDataSource dataSource;
    private final SloConfig config;
    private final Clock clock;
    private final SloMetrics metrics;
    private final Counter failures;
    private final Timer runTime;
    private final Timer incrementalTime;

    private final ClusterJobs jobs;
    /** How far ahead of the current minute a stored call may start: the ingest's clock-skew tolerance. */
    private final long aheadMinutes;

    public SloRollup(AgroalDataSource dataSource, SloConfig config, Clock clock, SloMetrics metrics,
            MeterRegistry registry, ClusterJobs jobs, io.faultline.call.IngestConfig ingest) {
        this.jobs = jobs;
        this.aheadMinutes = ingest.maxClockSkew().toMinutes() + 1;
        this.dataSource = dataSource;
        this.config = config;
        this.clock = clock;
        this.metrics = metrics;
        this.failures = Counter.builder("faultline.slo.rollup.failures")
                .description("SLO rollup runs that failed").register(registry);
        this.runTime = Timer.builder("faultline.slo.rollup.duration").tag("mode", "range")
                .description("Time of one SLO rollup run that derived minutes: mode=incremental derived the minutes"
                        + " touched by the calls received since the last run, mode=range every minute from the last"
                        + " rolled one (a start, a catch-up, a pause)").register(registry);
        this.incrementalTime = Timer.builder("faultline.slo.rollup.duration").tag("mode", "incremental")
                .description("Time of one SLO rollup run that derived minutes: mode=incremental derived the minutes"
                        + " touched by the calls received since the last run, mode=range every minute from the last"
                        + " rolled one (a start, a catch-up, a pause)").register(registry);
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
                if (scheduled ? !AdvisoryLocks.tryXact(c, LOCK_KEY) : !AdvisoryLocks.xact(c, LOCK_KEY)) {
                    return Run.skipped(now);
                }
                State state = state(c);
                if (scheduled && state != null && state.lastRun().isAfter(now.minus(interval().dividedBy(2)))
                        && !state.lastRun().isAfter(now)) {
                    return Run.skipped(now);
                }
                try (Statement st = c.createStatement()) {
                    // The calls grouped by call id in memory: at the default 4 MB the sort spilled to disk.
                    st.execute("set local work_mem = '64MB'");
                }
                Instant settled = now.truncatedTo(ChronoUnit.MINUTES).minus(config.settle())
                        .truncatedTo(ChronoUnit.MINUTES);
                // Caught up and read by arrival within the settle time: only what arrived since.
                if (state == null) {
                    return derive(c, now, null, null);
                }
                Instant received = state.receivedThrough();
                if (received != null && !state.rolledThrough().isBefore(settled)
                        && received.isAfter(now.minus(config.settle())) && !received.isAfter(now)) {
                    return touched(c, now, received, state.snapshot());
                }
                return derive(c, now, state.rolledThrough(), received);
            } catch (SQLException e) {
                throw new IllegalStateException("SLO rollup failed", e);
            }
        });
        if (run.ran()) {
            (run.incremental() ? incrementalTime : runTime).record(Duration.ofNanos(System.nanoTime() - started));
        }
        return run;
    }

    /** Derives every minute from the last rolled one (or the settle time, if later) in one range. */
    private Run derive(Connection c, Instant now, Instant rolledThrough, Instant receivedThrough)
            throws SQLException {
        Instant current = now.truncatedTo(ChronoUnit.MINUTES);
        // Through the minutes ahead too (a proxy whose clock runs ahead): the runs after this one read by arrival from
        // now on, so a call stored before it that starts ahead would not be read again.
        Instant end = current.plus(Duration.ofMinutes(1 + aheadMinutes));
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
        prune(c, current);
        // The current minute is never final: the next run starts from it (or from the settle time) again. Once caught
        // up, the next runs read by arrival from now; while catching up, the arrival mark stays where it was.
        boolean caughtUp = !to.isBefore(end);
        // No snapshot: this derivation covered only minutes from `from`, so the next run reads the whole late-commit
        // margin again.
        saveState(c, to.isAfter(current) ? current : to, now, caughtUp ? now : receivedThrough, null);
        return new Run(now, true, from, to, minutes, caughtUp, false, 0);
    }

    /**
     * Derives again the minutes touched by the calls received after {@code receivedThrough} less the late-commit
     * margin (within retention and up to the current minute): first their start minutes, then the other minutes of
     * the requests that got a new attempt, which the first derivation reports. A request's minutes are all found the
     * first time one of its new attempts is derived, so the second round adds none.
     */
    private Run touched(Connection c, Instant now, Instant receivedThrough, String lastSnapshot)
            throws SQLException {
        Instant current = now.truncatedTo(ChronoUnit.MINUTES);
        long oldest = current.minus(config.retention()).getEpochSecond() / 60;
        // Minutes ahead of the current one too: a proxy whose clock runs ahead (within the ingest's tolerance) stores
        // calls that start there, and dropping those minutes lost the calls for good (nothing reads them again
        // unless another call touches the minute). Derived early, they are derived again when more calls arrive.
        long newest = current.getEpochSecond() / 60 + aheadMinutes;
        String snapshot;
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select pg_current_snapshot()::text")) {
            rs.next();
            snapshot = rs.getString(1);
        }
        New fresh = new New(Timestamp.from(receivedThrough.minus(config.lateCommit())),
                Timestamp.from(receivedThrough), lastSnapshot);
        TreeSet<Long> pending = new TreeSet<>();
        Set<String> providers = new TreeSet<>();
        try (PreparedStatement st = c.prepareStatement(RECEIVED_MINUTES)) {
            fresh.bind(st, 1);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    pending.add(rs.getLong(1));
                    providers.add(rs.getString(2));
                }
            }
        }
        Array newProviders = c.createArrayOf("text", providers.toArray());
        if (!pending.isEmpty()) {
            // A retry seconds after its first attempt often starts in the next minute: derive the minute before
            // with the rest rather than in a second round that reads the same calls again.
            pending.add(pending.first() - 1);
        }
        TreeSet<Long> derived = new TreeSet<>();
        int rows = 0;
        for (int round = 0; round < 2; round++) {
            pending.removeIf(m -> m <= oldest || m > newest || derived.contains(m));
            if (pending.isEmpty()) {
                break;
            }
            try (PreparedStatement st = c.prepareStatement("delete from slo_minutes where minute = any (?)")) {
                st.setArray(1, c.createArrayOf("timestamptz", pending.stream()
                        .map(m -> Timestamp.from(Instant.ofEpochSecond(m * 60))).toArray()));
                st.executeUpdate();
            }
            TreeSet<Long> found = new TreeSet<>();
            // One statement per run of consecutive minutes (usually one: the last two or three).
            try (PreparedStatement st = c.prepareStatement(DERIVE_RANGE)) {
                long start = pending.first();
                long previous = start;
                for (long minute : pending.tailSet(start, false)) {
                    if (minute != previous + 1) {
                        rows += deriveRange(st, fresh, newProviders, start, previous + 1, found);
                        start = minute;
                    }
                    previous = minute;
                }
                rows += deriveRange(st, fresh, newProviders, start, previous + 1, found);
            }
            derived.addAll(pending);
            pending = found;
        }
        prune(c, current);
        saveState(c, current, now, now, snapshot);
        return new Run(now, true, derived.isEmpty() ? null : Instant.ofEpochSecond(derived.first() * 60),
                derived.isEmpty() ? null : Instant.ofEpochSecond((derived.last() + 1) * 60), rows, true, true,
                derived.size());
    }

    /** Derives {@code [fromMinute, toMinute)}; adds the other minutes of requests with a new attempt to found. */
    private int deriveRange(PreparedStatement st, New fresh, Array newProviders, long fromMinute, long toMinute,
            Set<Long> found) throws SQLException {
        Instant from = Instant.ofEpochSecond(fromMinute * 60);
        Instant to = Instant.ofEpochSecond(toMinute * 60);
        st.setDouble(1, config.requestSpan().toMillis() / 1000.0);
        int i = fresh.bind(st, 2);
        st.setArray(i++, newProviders);
        st.setTimestamp(i++, Timestamp.from(from));
        st.setTimestamp(i++, Timestamp.from(to.plus(config.requestSpan())));
        st.setTimestamp(i, Timestamp.from(to));
        int rows = 0;
        try (ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                long minute = rs.getLong(1);
                if (minute == -1) {
                    rows = rs.getInt(2);
                } else if (minute < fromMinute || minute >= toMinute) {
                    found.add(minute);
                }
            }
        }
        return rows;
    }

    /** The statement of {@link #prune}: minutes older than the retention's cut-off. */
    public static final String PRUNE = "delete from slo_minutes where minute < ?";

    private void prune(Connection c, Instant current) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(PRUNE)) {
            st.setTimestamp(1, Timestamp.from(current.minus(config.retention())));
            st.executeUpdate();
        }
    }

    private static void saveState(Connection c, Instant rolled, Instant now, Instant receivedThrough,
            String snapshot) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("insert into slo_rollup_state (state_key, rolled_through,"
                + " last_run, received_through, snapshot) values (1, ?, ?, ?, ?) on conflict (state_key) do update set"
                + " rolled_through = excluded.rolled_through, last_run = excluded.last_run,"
                + " received_through = excluded.received_through, snapshot = excluded.snapshot")) {
            st.setTimestamp(1, Timestamp.from(rolled));
            st.setTimestamp(2, Timestamp.from(now));
            st.setTimestamp(3, receivedThrough == null ? null : Timestamp.from(receivedThrough));
            st.setString(4, snapshot);
            st.executeUpdate();
        }
    }

    /**
     * Where the very first run starts: the backfill horizon, or the minute of the oldest stored call after it (a new
     * installation does not step through a month of empty days), or the settle time when nothing is stored.
     */
    private static Instant firstStart(Connection c, Instant horizon, Instant settled) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select min(started_at) from llm_calls"
                + " where " + OF_PROVIDERS
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

    /**
     * What a run counts as new ({@link #NEW}): received after {@code after} (the late-commit margin before the last
     * run) and either after the last run or not shown by its starting snapshot (none: the whole margin is new).
     */
    private record New(Timestamp after, Timestamp lastRun, String snapshot) {

        int bind(PreparedStatement st, int i) throws SQLException {
            st.setTimestamp(i, after);
            st.setTimestamp(i + 1, lastRun);
            st.setString(i + 2, snapshot);
            st.setString(i + 3, snapshot);
            return i + 4;
        }
    }

    /** The stored state: the arrival mark and the snapshot are null until a run reads by arrival. */
    private record State(Instant rolledThrough, Instant lastRun, Instant receivedThrough, String snapshot) {
    }

    /** The stored state, or null before the first run. */
    private static State state(Connection c) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select rolled_through, last_run, received_through, snapshot"
                + " from slo_rollup_state where state_key = 1"); ResultSet rs = st.executeQuery()) {
            if (!rs.next()) {
                return null;
            }
            Timestamp received = rs.getTimestamp(3);
            return new State(rs.getTimestamp(1).toInstant(), rs.getTimestamp(2).toInstant(),
                    received == null ? null : received.toInstant(), rs.getString(4));
        }
    }

    private Duration interval() {
        return ClusterJobs.every(config.interval());
    }
}
