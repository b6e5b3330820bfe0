package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.common.ClusterJobs;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import io.faultline.common.DatabaseReady;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

/**
 * Keeps {@code llm_calls} partitioned by day: creates the partitions of the coming days and drops those past the
 * retention. Dropping a partition is instant, unlike deleting millions of rows. Then {@link Retention} deletes what
 * was derived from the dropped calls.
 */
@Singleton
public class PartitionMaintenance {

    /** The job's name in {@code scheduled_job_runs} and on {@code faultline_scheduled_job_runs_total}. */
    static final String JOB = "partition-maintenance";
    private static final Duration EVERY = Duration.ofHours(1);
    private static final DateTimeFormatter SUFFIX = DateTimeFormatter.ofPattern("yyyyMMdd");

    /** Retention of stored calls. */
    @ConfigMapping(prefix = "faultline.calls")
    public interface RetentionConfig {
        /**
         * Days of calls kept; older daily partitions are dropped. At most a century: the cut-off of a "for ever"
         * such as 99999999 days lies before PostgreSQL's earliest timestamp and failed every run.
         */
        @WithDefault("30")
        @Min(1)
        @Max(36500)
        int retentionDays();

        /** Days of partitions created ahead of today. */
        @WithDefault("7")
        @Min(0)
        @Max(366)
        int daysAhead();

        /**
         * How long creating or dropping a partition waits for its lock on {@code llm_calls} before it gives up until
         * the next run: every insert queues behind a waiting one, so waiting out a long reader stalls the ingest.
         */
        @WithDefault("5s")
        @DurationMin(millis = 1)
        Duration lockTimeout();
    }

    private final AgroalDataSource dataSource;
    private final Clock clock;
    private final RetentionConfig config;
    private final Counter failures;
    private final Retention retention;

    private final ClusterJobs jobs;

    public PartitionMaintenance(AgroalDataSource dataSource, Clock clock, RetentionConfig config,
            MeterRegistry registry, Retention retention, ClusterJobs jobs) {
        this.jobs = jobs;
        this.retention = retention;
        this.dataSource = dataSource;
        this.clock = clock;
        this.config = config;
        this.failures = Counter.builder("faultline.partition.maintenance.failures")
                .description("Partition maintenance runs that failed").register(registry);
    }

    /** Every replica at its start (idempotent, one at a time under the lock): its first insert needs today's table. */
    void onStart(@Observes DatabaseReady start) {
        maintainLogged();
    }

    /** Cluster-wide: one replica per hour. */
    @Scheduled(every = "1h", delayed = "1h", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void tick() {
        jobs.runOnce(JOB, EVERY, this::maintainLogged);
    }

    private void maintainLogged() {
        try {
            maintain();
        } catch (SQLException | RuntimeException e) {
            failures.increment();
            Log.errorf(e, "Partition maintenance failed");
        }
    }

    /** The start of the oldest day whose calls the retention keeps: older partitions are dropped by the next run. */
    public static Instant oldestKept(Clock clock, RetentionConfig config) {
        return LocalDate.now(clock.withZone(ZoneOffset.UTC)).minusDays(config.retentionDays())
                .atStartOfDay(ZoneOffset.UTC).toInstant();
    }

    /** Creates missing daily partitions from yesterday to {@code daysAhead}, drops those past retention. */
    public List<String> maintain() throws SQLException {
        LocalDate today = LocalDate.now(clock.withZone(ZoneOffset.UTC));
        List<String> created = new ArrayList<>();
        // A partition left undropped keeps calls past their retention: the run counts as failed, not only logged.
        boolean incomplete = false;
        try (Connection connection = dataSource.getConnection(); Statement st = connection.createStatement()) {
            // Replicas run this too: one at a time, or two would race to create the same partition.
            st.execute("select pg_advisory_lock(7001)");
            try {
                // Only the partitions' DDL gives up on a lock (after the advisory lock, which it must wait for).
                st.execute("set lock_timeout = '" + config.lockTimeout().toMillis() + "ms'");
                for (int d = -1; d <= config.daysAhead(); d++) {
                    LocalDate day = today.plusDays(d);
                    String name = "llm_calls_" + SUFFIX.format(day);
                    if (!exists(st, name)) {
                        try {
                            create(connection, name, day);
                            created.add(name);
                        } catch (SQLException e) {
                            incomplete = true;
                            Log.warnf("Partition %s not created: %s", name, e.getMessage());
                        }
                    }
                }
                LocalDate oldest = today.minusDays(config.retentionDays());
                try (ResultSet rs = connection.createStatement().executeQuery("select c.relname from pg_inherits i"
                        + " join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent"
                        + " where p.relname = 'llm_calls' and c.relname ~ '^llm_calls_[0-9]{8}$'")) {
                    List<String> expired = new ArrayList<>();
                    while (rs.next()) {
                        String name = rs.getString(1);
                        if (LocalDate.parse(name.substring("llm_calls_".length()), SUFFIX).isBefore(oldest)) {
                            expired.add(name);
                        }
                    }
                    for (String name : expired) {
                        try {
                            st.execute("drop table " + name);
                            Log.infof("Dropped expired call partition %s", name);
                        } catch (SQLException e) {
                            // A reader holds it (a backup, a long report): the next run drops it.
                            incomplete = true;
                            Log.warnf("Expired call partition %s not dropped: %s", name, e.getMessage());
                        }
                    }
                }
                st.execute("reset lock_timeout");
                // What was derived from the dropped calls goes with them (user ids, key hashes, team ids).
                retention.prune(connection, oldest.atStartOfDay(ZoneOffset.UTC).toInstant());
            } finally {
                st.execute("reset lock_timeout");
                st.execute("select pg_advisory_unlock(7001)");
            }
        }
        if (incomplete) {
            failures.increment();
        }
        return created;
    }

    /**
     * Creates the partition of one UTC day, moving into it the calls of that day already stored in the default
     * partition (a proxy whose clock runs ahead, a backfill): while the default partition holds them it refuses the
     * new bounds, and the whole day, every later call of it too, would stay there.
     */
    private static void create(Connection connection, String name, LocalDate day) throws SQLException {
        // Bounds with their offset: a bare date is midnight in the session's zone, which pgjdbc sets to the JVM's,
        // and would shift every day off the UTC day it is named for.
        String from = "'" + day + " 00:00:00+00'";
        String to = "'" + day.plusDays(1) + " 00:00:00+00'";
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        try (Statement st = connection.createStatement()) {
            st.execute("create temporary table llm_calls_moving on commit drop as with moved as (delete from"
                    + " llm_calls_default where started_at >= " + from + " and started_at < " + to
                    + " returning *) select * from moved");
            st.execute("create table " + name + " partition of llm_calls for values from (" + from + ") to (" + to
                    + ")");
            int moved = st.executeUpdate("insert into llm_calls select * from llm_calls_moving");
            connection.commit();
            if (moved > 0) {
                Log.infof("Partition %s created with %d calls moved from the default partition", name, moved);
            }
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(autoCommit);
        }
    }

    private static boolean exists(Statement st, String name) throws SQLException {
        try (ResultSet rs = st.getConnection().createStatement()
                .executeQuery("select to_regclass('" + name + "') is not null")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }
}
