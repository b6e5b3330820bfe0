package io.faultline.common;

import io.agroal.api.AgroalDataSource;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.configuration.DurationConverter;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;

/**
 * Runs a scheduled job once per interval across every replica on the database (README: "Two replicas"). An advisory
 * lock alone only keeps two runs apart in time: replicas whose schedules tick a few seconds apart each get it in turn
 * and both run the tick. Here a replica first claims the job's row of {@code scheduled_job_runs} with one conditional
 * upsert, which succeeds only when the interval (less a small slack for the scheduler's jitter) has passed since the
 * stored start by the service's {@link Clock}; the row lock the upsert takes serializes two replicas claiming at the
 * same moment, so exactly one of them sees the interval passed. Until the schema is migrated (the database was away
 * at start) no job is claimed: the jobs wait for {@link DatabaseReady} instead of failing on missing tables.
 */
@Singleton
public class ClusterJobs {

    /** The largest slack: the scheduler checks its triggers once a second, so a tick may come a second early. */
    static final Duration MAX_SLACK = Duration.ofSeconds(2);

    private static final String CLAIM = "insert into scheduled_job_runs as r (job, last_started_at, owner, runs)"
            + " values (?, ?, ?, 1) on conflict (job) do update set last_started_at = excluded.last_started_at,"
            + " owner = excluded.owner, runs = r.runs + 1"
            // due, or the stored start lies more than an interval ahead: a clock that went back must not stop the job
            + " where r.last_started_at <= ? or r.last_started_at > ? returning runs";

    private final AgroalDataSource dataSource;
    private final Clock clock;
    private final BooleanSupplier ready;
    private final MeterRegistry registry;
    private final String owner;
    private final Map<String, Counter> runs = new ConcurrentHashMap<>();
    private final Map<String, Counter> skips = new ConcurrentHashMap<>();
    private volatile boolean stopping;

    @Inject
    public ClusterJobs(AgroalDataSource dataSource, Clock clock, DatabaseStartup startup, MeterRegistry registry,
            @ConfigProperty(name = "faultline.replica-id") Optional<String> replicaId) {
        this(dataSource, clock, startup::migrated, registry, replicaId.orElseGet(ClusterJobs::defaultOwner));
    }

    /** One guard of a replica called {@code owner}; tests build two of them to play two replicas on one database. */
    public ClusterJobs(AgroalDataSource dataSource, Clock clock, BooleanSupplier ready, MeterRegistry registry,
            String owner) {
        this.dataSource = dataSource;
        this.clock = clock;
        this.ready = ready;
        this.registry = registry;
        this.owner = owner;
    }

    /** The pod's name in Kubernetes (HOSTNAME), with the process id so that two processes on one host differ. */
    static String defaultOwner() {
        String host = System.getenv("HOSTNAME");
        return (host == null || host.isBlank() ? "localhost" : host) + ":" + ProcessHandle.current().pid();
    }

    /** How a claim of a job's interval came out. */
    public enum Claim {
        /** This replica runs the job's current interval. */
        CLAIMED,
        /** Not due: the job started within its interval, on this replica or another. */
        TAKEN,
        /** The schema is not migrated yet, or a graceful stop began. */
        NOT_READY,
        /** The database failed the claim (logged). */
        FAILED
    }

    /**
     * Runs {@code work} if this replica claims the job's current interval; returns whether it ran. {@code work} keeps
     * its own error handling (a tick never throws); a failed claim (the database away) is logged and skipped.
     */
    public boolean runOnce(String job, Duration interval, Runnable work) {
        return attempt(job, interval, work) == Claim.CLAIMED;
    }

    /** As {@link #runOnce}, returning how the claim came out: for a caller that answers why nothing ran. */
    public Claim attempt(String job, Duration interval, Runnable work) {
        Claim claim = tryClaim(job, interval);
        if (claim != Claim.CLAIMED) {
            return claim;
        }
        try {
            work.run();
        } finally {
            finished(job);
        }
        return claim;
    }

    /** The class of the two-key session advisory locks of {@link #runOnceAwaited} (the job's hash is the other key). */
    static final int AWAITED_LOCK_CLASS = 7007;

    /**
     * As {@link #runOnce}, for a job whose outcome the replicas that do not run it read right after: the claim and
     * the run hold a session advisory lock of the job, so that a replica whose claim comes while another runs it
     * returns (false) only once that run ended, everything it wrote committed. Only replicas asking for the same job
     * wait, and for at most {@code interval}: past that (a run stuck on the database), false at once.
     */
    public boolean runOnceAwaited(String job, Duration interval, Runnable work) {
        if (!ready()) {
            skip(job, stopping ? "stopping" : "not_ready");
            return false;
        }
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("set lock_timeout = '" + interval.toMillis() + "ms'");
            try (PreparedStatement lock = c.prepareStatement("select pg_advisory_lock(?, hashtext(?))")) {
                lock.setInt(1, AWAITED_LOCK_CLASS);
                lock.setString(2, job);
                lock.execute();
            } catch (SQLException e) {
                st.execute("reset lock_timeout");
                skip(job, "database_error");
                Log.warnf("Could not wait for the scheduled job %s on another replica (%s); going on without", job,
                        e.getMessage());
                return false;
            }
            try {
                st.execute("reset lock_timeout");
                return runOnce(job, interval, work);
            } finally {
                try (PreparedStatement unlock = c.prepareStatement("select pg_advisory_unlock(?, hashtext(?))")) {
                    unlock.setInt(1, AWAITED_LOCK_CLASS);
                    unlock.setString(2, job);
                    unlock.execute();
                }
            }
        } catch (SQLException e) {
            skip(job, "database_error");
            Log.warnf("The lock of the scheduled job %s failed: %s", job, e.getMessage());
            return false;
        }
    }

    /** Claims the job's current interval for this replica: true when it is due and no other replica took it. */
    public boolean claim(String job, Duration interval) {
        return tryClaim(job, interval) == Claim.CLAIMED;
    }

    /** Claims the job's current interval for this replica, saying why not when it did not. */
    public Claim tryClaim(String job, Duration interval) {
        if (!ready()) {
            skip(job, stopping ? "stopping" : "not_ready");
            return Claim.NOT_READY;
        }
        Instant now = clock.instant();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(CLAIM)) {
            st.setString(1, job);
            st.setTimestamp(2, Timestamp.from(now));
            st.setString(3, owner);
            st.setTimestamp(4, Timestamp.from(now.minus(interval).plus(slack(interval))));
            st.setTimestamp(5, Timestamp.from(now.plus(interval)));
            try (ResultSet rs = st.executeQuery()) {
                if (rs.next()) {
                    runs.computeIfAbsent(job, j -> Counter.builder("faultline.scheduled.job.runs")
                            .description("Runs of a cluster-wide scheduled job by this replica (sum over replicas:"
                                    + " the job's runs)")
                            .tag("job", j).register(registry)).increment();
                    return Claim.CLAIMED;
                }
            }
            skip(job, "other_replica");
            return Claim.TAKEN;
        } catch (SQLException e) {
            skip(job, "database_error");
            Log.warnf("Could not claim the scheduled job %s (%s); it is tried again at its next tick", job,
                    e.getMessage());
            return Claim.FAILED;
        }
    }

    /** When the job's latest run (on any replica) started; empty before its first. */
    public Optional<Instant> lastStarted(String job) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select last_started_at from scheduled_job_runs where job = ?")) {
            st.setString(1, job);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? Optional.of(rs.getTimestamp(1).toInstant()) : Optional.empty();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the last run of the scheduled job " + job, e);
        }
    }

    /** Records the end of this replica's run (shown by the job's row; a replica killed mid-run leaves it older). */
    public void finished(String job) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "update scheduled_job_runs set last_finished_at = ? where job = ? and owner = ?")) {
            st.setTimestamp(1, Timestamp.from(clock.instant()));
            st.setString(2, job);
            st.setString(3, owner);
            st.executeUpdate();
        } catch (SQLException e) {
            Log.warnf("Could not record the end of the scheduled job %s: %s", job, e.getMessage());
        }
    }

    /**
     * Whether the schema is migrated and the process is not stopping: jobs that also do per-replica work check it
     * before touching the tables, and long ones between steps, so that a graceful stop does not cut them mid-step
     * while the container takes the connection pool and the transaction manager down.
     */
    public boolean ready() {
        return !stopping && ready.getAsBoolean();
    }

    /** Whether the schema is migrated, stopping or not: for the work a graceful stop itself does. */
    public boolean migrated() {
        return ready.getAsBoolean();
    }

    /** Whether a graceful stop began: a job that fails now logs it quietly, as the stop is its cause. */
    public boolean stopping() {
        return stopping;
    }

    void onStop(@Observes @Priority(1) ShutdownEvent stop) {
        stopping = true;
    }

    public String owner() {
        return owner;
    }

    /**
     * A scheduler interval as the annotations and the config write it, read as Quarkus reads every duration: "60s",
     * "1h", "1d", "500ms", ISO-8601 ("PT1M"), or a bare number of seconds ("5", which the scheduler takes too; read
     * as "PT5" it failed every tick while the scheduler kept firing). Not positive: an error naming the value.
     */
    public static Duration every(String text) {
        Duration every;
        try {
            every = DurationConverter.parseDuration(text.trim());
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("'" + text + "' is not a duration (write 60s, 5m, 1h or PT1M)", e);
        }
        if (every == null || every.isZero() || every.isNegative()) {
            throw new IllegalArgumentException("'" + text + "' is not a positive duration");
        }
        return every;
    }

    /** A quarter of the interval, at most {@link #MAX_SLACK}: the least gap between two runs is interval - slack. */
    static Duration slack(Duration interval) {
        Duration quarter = interval.dividedBy(4);
        return quarter.compareTo(MAX_SLACK) < 0 ? quarter : MAX_SLACK;
    }

    private void skip(String job, String reason) {
        skips.computeIfAbsent(job + '\u0000' + reason, k -> Counter.builder("faultline.scheduled.job.skips")
                .description("Ticks of a cluster-wide scheduled job this replica skipped: another replica ran it"
                        + " within the interval, the schema is not migrated yet, or the database failed")
                .tag("job", job).tag("reason", reason).register(registry)).increment();
    }
}
