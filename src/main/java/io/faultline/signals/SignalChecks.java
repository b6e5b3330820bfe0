package io.faultline.signals;

import io.agroal.api.AgroalDataSource;
import io.faultline.common.ClusterJobs;
import io.faultline.episode.FailureSink;
import io.faultline.taxonomy.DataFailure;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.Severity;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What only the passing of time reveals: an index whose heartbeat stopped (or that aged past its max age without a
 * report) and a scheduled pipeline whose run did not report. State lives in the database, so a restart loses
 * nothing; each condition is raised once (per stale update, per silence, per missed slot), then remembered.
 */
@Singleton
public class SignalChecks {

    static final String INDEX_CHECK = "signals.index_check";
    static final String INGESTION_SCHEDULE = "signals.ingestion_schedule";
    // Two-key advisory locks live apart from the one-key locks of the other jobs.
    private static final int LOCK_CLASS = 7006;
    /** The job's name in {@code scheduled_job_runs} and on {@code faultline_scheduled_job_runs_total}. */
    static final String JOB = "signal-checks";

    private final AgroalDataSource dataSource;
    private final SignalStore store;
    private final FailureSink sink;
    private final SignalsConfig config;
    private final Clock clock;
    private final Counter tickFailures;

    private final ClusterJobs jobs;

    public SignalChecks(AgroalDataSource dataSource, SignalStore store, FailureSink sink, SignalsConfig config,
            Clock clock, MeterRegistry registry, ClusterJobs jobs) {
        this.jobs = jobs;
        this.dataSource = dataSource;
        this.store = store;
        this.sink = sink;
        this.config = config;
        this.clock = clock;
        this.tickFailures = Counter.builder("faultline.signals.check.failures")
                .description("Scheduled signal checks that failed").register(registry);
    }

    @Scheduled(every = "{faultline.signals.check-interval}", delayed = "{faultline.signals.check-interval}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void tick() {
        // Cluster-wide: replicas ticking apart would each take the advisory lock in turn and raise every overdue
        // signal twice; the stored last run keeps it to one check per interval.
        jobs.runOnce(JOB, config.checkInterval(), () -> {
            try {
                check();
            } catch (RuntimeException e) {
                tickFailures.increment();
                Log.errorf(e, "Signal check failed");
            }
        });
    }

    /** Runs the checks at the clock's now; returns the failures raised (0 when another replica holds the lock). */
    public int check() {
        Instant now = clock.instant();
        return QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                if (!tryLock(c)) {
                    return 0;
                }
                List<Failure> failures = new ArrayList<>();
                List<SignalStore.Freshness> indexes = store.overdueIndexes(c, now);
                for (SignalStore.Freshness f : indexes) {
                    if (staleAt(f, now)) {
                        failures.add(tooOld(f, now, Duration.between(f.updatedSeenAt(), now),
                                config.index().staleSeverity(), INDEX_CHECK));
                    }
                    if (silentAt(f, now)) {
                        failures.add(heartbeatMissing(f, now));
                    }
                }
                List<SignalStore.Pipeline> pipelines = store.overduePipelines(c, now, config.ingestion().grace());
                List<Integer> slots = new ArrayList<>();
                for (SignalStore.Pipeline p : pipelines) {
                    int missed = missedRuns(p, now);
                    slots.add(missed);
                    if (missed > p.missedSlots()) {
                        failures.add(missedRun(p, now, missed));
                    }
                }
                // Raised before the marks commit: a crash in between raises again (folded into the same episode)
                // rather than never.
                sink.raise(failures);
                for (SignalStore.Freshness f : indexes) {
                    if (staleAt(f, now)) {
                        store.markStale(c, f.index(), f.lastUpdatedAt());
                    }
                    if (silentAt(f, now)) {
                        store.markHeartbeat(c, f.index(), f.reportSeenAt());
                    }
                }
                for (int i = 0; i < pipelines.size(); i++) {
                    store.markMissed(c, pipelines.get(i).pipeline(), pipelines.get(i).lastRunAt(), slots.get(i));
                }
                store.deleteBefore(c, now.minus(config.retention()));
                return failures.size();
            } catch (SQLException e) {
                throw new IllegalStateException("signal check failed", e);
            }
        });
    }

    private static boolean tryLock(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select pg_try_advisory_xact_lock(" + LOCK_CLASS + ", 0)")) {
            return rs.next() && rs.getBoolean(1);
        }
    }

    private static boolean staleAt(SignalStore.Freshness f, Instant now) {
        // On the server's clock: the reporter's lastUpdatedAt is on its own, which may run behind.
        return Duration.between(f.updatedSeenAt(), now).compareTo(f.maxAge()) > 0
                && !f.lastUpdatedAt().equals(f.staleRaisedFor());
    }

    private static boolean silentAt(SignalStore.Freshness f, Instant now) {
        // From the report's receipt: its `at` is on the reporter's clock, which may run behind the server's.
        return Duration.between(f.reportSeenAt(), now).compareTo(f.heartbeatTimeout()) > 0
                && !f.reportSeenAt().equals(f.heartbeatRaisedFor());
    }

    /** Missed runs since the last one: the first once expectedEvery × grace has passed, then one per expectedEvery. */
    private int missedRuns(SignalStore.Pipeline p, Instant now) {
        Instant due = dueAt(p);
        long every = p.expectedEvery().toMillis();
        return (int) Math.min(Integer.MAX_VALUE, 1 + Duration.between(due, now).toMillis() / every);
    }

    private Instant dueAt(SignalStore.Pipeline p) {
        return p.lastRunAt().plusMillis((long) (p.expectedEvery().toMillis() * config.ingestion().grace()));
    }

    /** An index {@code age} old at {@code at}, both measured on one clock. */
    static Failure tooOld(SignalStore.Freshness f, Instant at, Duration age, Severity severity, String detection) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("index", f.index());
        evidence.put("reason", "too_old");
        evidence.put("last_updated_at", f.lastUpdatedAt().toString());
        evidence.put("age", age.toString());
        evidence.put("age_seconds", age.toSeconds());
        evidence.put("max_age", f.maxAge().toString());
        return DataFailures.of(DataFailure.Type.STALE_INDEX, at, severity, f.index(), detection, evidence, null);
    }

    private Failure heartbeatMissing(SignalStore.Freshness f, Instant now) {
        Duration silent = Duration.between(f.reportSeenAt(), now);
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("index", f.index());
        evidence.put("reason", "heartbeat_missing");
        evidence.put("last_report_at", f.lastReportAt().toString());
        evidence.put("last_report_received_at", f.reportSeenAt().toString());
        evidence.put("last_updated_at", f.lastUpdatedAt().toString());
        evidence.put("silent_for", silent.toString());
        evidence.put("heartbeat_timeout", f.heartbeatTimeout().toString());
        return DataFailures.of(DataFailure.Type.STALE_INDEX, now, config.index().heartbeatSeverity(), f.index(),
                INDEX_CHECK, evidence, null);
    }

    private Failure missedRun(SignalStore.Pipeline p, Instant now, int missed) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("pipeline", p.pipeline());
        evidence.put("reason", "missed_run");
        evidence.put("last_run_id", p.lastRunId());
        evidence.put("last_run_at", p.lastRunAt().toString());
        evidence.put("last_status", p.lastStatus());
        evidence.put("expected_every", p.expectedEvery().toString());
        evidence.put("grace", config.ingestion().grace());
        evidence.put("due_at", dueAt(p).toString());
        evidence.put("missed_runs", missed);
        return DataFailures.of(DataFailure.Type.INGESTION_FAILURE, now, config.ingestion().missedSeverity(),
                p.pipeline(), INGESTION_SCHEDULE, evidence, null);
    }
}
