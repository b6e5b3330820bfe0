package io.faultline.baseline;

import io.agroal.api.AgroalDataSource;
import io.faultline.baseline.BaselineProfiler.RunRequest;
import io.faultline.baseline.BaselineProfiler.RunView;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.ToDoubleFunction;

/** Runs and baselines in PostgreSQL. */
@ApplicationScoped
public class BaselineStore {

    /** One stored baseline row, as the API shows it. */
    public record Baseline(UUID baselineId, String provider, String model, String deployment, String metricName,
            double p50, double p95, double p99, double mean, int sampleSize, String source, UUID runId,
            Instant measuredAt) {
    }

    /**
     * A running run whose replica has not beaten for this long is abandoned: its replica died or lost the database.
     * Twelve heartbeats ({@link BaselineProfiler#HEARTBEAT}), so that a database blip does not release a live run.
     */
    static final java.time.Duration STALE = java.time.Duration.ofMinutes(2);

    private static final String RELEASE_STALE = "update baseline_runs set status = 'failed', finished_at = ?,"
            + " detail = coalesce(detail || '; ', '') || 'abandoned: its replica stopped'"
            + " where status = 'running' and coalesce(heartbeat_at, started_at) < ?";

    private final AgroalDataSource dataSource;

    public BaselineStore(AgroalDataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Why a run was not admitted, with what the caller needs to fix or wait for; null fields when admitted. */
    record Admission(boolean admitted, int status, String title, String detail) {
        static final Admission OK = new Admission(true, 0, null, null);
    }

    /**
     * Records a new running run if it is admitted: no run of the same (normalised) provider or the same model group
     * is running, fewer than {@code maxConcurrent} runs are running in all, and the requests of the last 24 hours
     * (the total of running runs, what was sent of finished ones, and each run's {@code warmups}: paid, though not
     * recorded) leave room for this one. One transaction under an advisory lock, so that replicas starting runs at
     * the same moment see each other's.
     */
    Admission admit(UUID id, RunRequest request, String workload, Instant startedAt, int maxConcurrent,
            long maxRequestsPerDay, int warmups) {
        try (Connection c = dataSource.getConnection()) {
            boolean autoCommit = c.getAutoCommit();
            c.setAutoCommit(false);
            try {
                Admission admission = admitLocked(c, id, request, workload, startedAt, maxConcurrent,
                        maxRequestsPerDay, warmups);
                c.commit();
                return admission;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(autoCommit);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not record the baseline run", e);
        }
    }

    private static Admission admitLocked(Connection c, UUID id, RunRequest request, String workload,
            Instant startedAt, int maxConcurrent, long maxRequestsPerDay, int warmups) throws SQLException {
        try (PreparedStatement lock = c.prepareStatement("select pg_advisory_xact_lock(hashtext(?))")) {
            lock.setString(1, "faultline.baseline.admit");
            lock.execute();
        }
        // A run its replica no longer sends holds no lock and uses no cap (its replica may never start again).
        releaseStale(c, startedAt);
        int running = 0;
        long used = 0;
        // The rolling day ends now: a finished run dated after it (a replica whose clock ran ahead) held the cap
        // until a day after its date.
        try (PreparedStatement st = c.prepareStatement(
                "select provider, model_group, status, total, sent from baseline_runs"
                        + " where status = 'running' or started_at > ? and started_at <= ?")) {
            st.setTimestamp(1, Timestamp.from(startedAt.minus(java.time.Duration.ofDays(1))));
            st.setTimestamp(2, Timestamp.from(startedAt));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    boolean isRunning = "running".equals(rs.getString(3));
                    if (isRunning && (rs.getString(1).equals(request.provider())
                            || rs.getString(2).equals(request.modelGroup()))) {
                        return new Admission(false, 409, "Profile already running", "A baseline profile of "
                                + rs.getString(1) + " (model group " + rs.getString(2) + ") is running; one run per"
                                + " provider and per model group: cancel it or wait for it to finish.");
                    }
                    running += isRunning ? 1 : 0;
                    // A run's warm-ups (as configured now) are taken as sent: a run cancelled during them
                    // is counted a few requests high, never low.
                    used += (isRunning ? rs.getInt(4) : rs.getInt(5)) + warmups;
                }
            }
        }
        if (running >= maxConcurrent) {
            return new Admission(false, 429, "Too many baseline runs", running + " baseline profiles are running,"
                    + " the most allowed at once (faultline.baseline.max-concurrent-runs = " + maxConcurrent
                    + "); wait for one to finish or cancel one.");
        }
        if (used + request.requests() + warmups > maxRequestsPerDay) {
            return new Admission(false, 429, "Daily baseline requests used up", "This run's " + request.requests()
                    + " requests and " + warmups + " warm-up requests would exceed the daily cap: " + used + " of "
                    + maxRequestsPerDay + " requests were started in the last 24 hours"
                    + " (faultline.baseline.max-requests-per-day); ask for fewer or wait.");
        }
        try (PreparedStatement st = c.prepareStatement(
                "insert into baseline_runs (run_id, provider, model_group, total, status, workload, started_at,"
                        + " heartbeat_at) values (?, ?, ?, ?, 'running', ?, ?, ?)")) {
            st.setObject(1, id);
            st.setString(2, request.provider());
            st.setString(3, request.modelGroup());
            st.setInt(4, request.requests());
            st.setString(5, workload);
            st.setTimestamp(6, Timestamp.from(startedAt));
            st.setTimestamp(7, Timestamp.from(startedAt));
            st.executeUpdate();
        }
        return Admission.OK;
    }

    private static int releaseStale(Connection c, Instant now) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(RELEASE_STALE)) {
            st.setTimestamp(1, Timestamp.from(now));
            st.setTimestamp(2, Timestamp.from(now.minus(STALE)));
            return st.executeUpdate();
        }
    }

    /** The run's replica is still sending it; true when a replica that does not send it was asked to cancel it. */
    boolean heartbeat(UUID id, Instant at) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "update baseline_runs set heartbeat_at = ? where run_id = ? and status = 'running'"
                        + " returning cancel_requested")) {
            st.setTimestamp(1, Timestamp.from(at));
            st.setObject(2, id);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not record the baseline run's heartbeat", e);
        }
    }

    /** Asks the replica sending a running run to cancel it (read at its next heartbeat). */
    void requestCancel(UUID id) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "update baseline_runs set cancel_requested = true where run_id = ? and status = 'running'")) {
            st.setObject(1, id);
            st.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("could not record the baseline run's cancel", e);
        }
    }

    void progress(UUID id, int sent, int errors, String detail) {
        update("update baseline_runs set sent = ?, errors = ?, detail = ? where run_id = ?", sent, errors, detail, id);
    }

    void closeRun(UUID id, String status, int sent, int errors, String detail, Instant finishedAt) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "update baseline_runs set status = ?, sent = ?, errors = ?, detail = ?, finished_at = ?"
                        + " where run_id = ?")) {
            st.setString(1, status);
            st.setInt(2, sent);
            st.setInt(3, errors);
            st.setString(4, detail);
            st.setTimestamp(5, Timestamp.from(finishedAt == null ? Instant.now() : finishedAt));
            st.setObject(6, id);
            st.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("could not close the baseline run", e);
        }
    }

    /**
     * Runs left "running" by a replica that died are not running: release them at start. Only those whose replica
     * stopped beating ({@link #STALE}): another replica's runs go on while this one starts.
     */
    void abandonRunning(Instant now) {
        try (Connection c = dataSource.getConnection()) {
            releaseStale(c, now);
        } catch (SQLException e) {
            throw new IllegalStateException("could not release abandoned runs", e);
        }
    }

    Optional<RunView> run(UUID id) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select provider, model_group, status, total, sent, errors, workload, started_at, finished_at,"
                        + " detail from baseline_runs where run_id = ?")) {
            st.setObject(1, id);
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                Timestamp finished = rs.getTimestamp(9);
                return Optional.of(new RunView(id, rs.getString(1), rs.getString(2), rs.getString(3), rs.getInt(4),
                        rs.getInt(5), rs.getInt(6), null, rs.getString(7), rs.getTimestamp(8).toInstant(),
                        finished == null ? null : finished.toInstant(), rs.getString(10)));
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the baseline run", e);
        }
    }

    /**
     * Stores the run's baselines for the provider and model group, and for each deployment the proxy routed to:
     * latency, time to first token (streamed calls), throughput in tokens per second, cost per request, the error
     * rate per status, and the error rate of provider-side failures (what the deviation check compares with).
     */
    void saveBaselines(UUID runId, String provider, String modelGroup, List<Sample> samples, Instant at) {
        Map<String, List<Sample>> scopes = new LinkedHashMap<>();
        scopes.put("", samples);
        for (Sample s : samples) {
            if (s.deployment() != null) {
                scopes.computeIfAbsent(s.deployment(), k -> new ArrayList<>()).add(s);
            }
        }
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "insert into provider_baselines (baseline_id, provider, model, deployment, metric_name, p50, p95, p99,"
                        + " mean, sample_size, source, run_id, measured_at)"
                        + " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'profile', ?, ?)")) {
            for (Map.Entry<String, List<Sample>> scope : scopes.entrySet()) {
                String deployment = scope.getKey().isEmpty() ? null : scope.getKey();
                List<Sample> ok = scope.getValue().stream().filter(Sample::ok).toList();
                add(st, runId, provider, modelGroup, deployment, "latency_ms", ok, Sample::latencyMs, at);
                add(st, runId, provider, modelGroup, deployment, "ttft_ms",
                        ok.stream().filter(s -> s.ttftMs() != null).toList(), Sample::ttftMs, at);
                add(st, runId, provider, modelGroup, deployment, "tokens_per_second",
                        ok.stream().filter(s -> s.completionTokens() > 0).toList(),
                        s -> s.completionTokens() / (s.latencyMs() / 1000.0), at);
                add(st, runId, provider, modelGroup, deployment, "cost_per_request_usd",
                        ok.stream().filter(s -> s.costUsd() != null).toList(), Sample::costUsd, at);
                Map<Integer, Long> byStatus = new LinkedHashMap<>();
                for (Sample s : scope.getValue()) {
                    if (!s.ok()) {
                        byStatus.merge(s.status(), 1L, Long::sum);
                    }
                }
                int n = scope.getValue().size();
                byStatus.forEach((status, count) -> {
                    double rate = (double) count / n;
                    bind(st, runId, provider, modelGroup, deployment, "error_rate:" + (status < 0 ? "no_answer"
                            : status), new Percentiles(rate, rate, rate, rate, n), at);
                });
                // The reference of the live error rate, which counts provider-side failures only: a profile's 400s
                // (its near-limit prompt overflowing a smaller window) are no errors the provider's calls compare to.
                double errorRate = (double) scope.getValue().stream().filter(Sample::providerSideFailure).count() / n;
                bind(st, runId, provider, modelGroup, deployment, "error_rate",
                        new Percentiles(errorRate, errorRate, errorRate, errorRate, n), at);
            }
            st.executeBatch();
        } catch (SQLException e) {
            throw new IllegalStateException("could not store the baselines", e);
        }
    }

    private static void add(PreparedStatement st, UUID runId, String provider, String model, String deployment,
            String metric, List<Sample> samples, ToDoubleFunction<Sample> value, Instant at) {
        if (samples.isEmpty()) {
            return;
        }
        bind(st, runId, provider, model, deployment, metric,
                Percentiles.of(samples.stream().mapToDouble(value).toArray()), at);
    }

    private static void bind(PreparedStatement st, UUID runId, String provider, String model, String deployment,
            String metric, Percentiles p, Instant at) {
        try {
            st.setObject(1, UUID.randomUUID());
            st.setString(2, provider);
            st.setString(3, model);
            st.setString(4, deployment);
            st.setString(5, metric);
            st.setDouble(6, p.p50());
            st.setDouble(7, p.p95());
            st.setDouble(8, p.p99());
            st.setDouble(9, p.mean());
            st.setInt(10, p.size());
            st.setObject(11, runId);
            st.setTimestamp(12, Timestamp.from(at));
            st.addBatch();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The newest baseline per (provider, model, deployment, metric, source), optionally filtered. */
    /** The metrics the profiler and the passive baselines write (error rates also per HTTP status). */
    static final List<String> METRICS = List.of("latency_ms", "ttft_ms", "tokens_per_second", "cost_per_request_usd",
            "error_rate");

    /** Whether a baseline of this name can exist: one of {@link #METRICS}, or {@code error_rate:<status>}. */
    static boolean knownMetric(String metric) {
        if (METRICS.contains(metric)) {
            return true;
        }
        String status = metric.startsWith("error_rate:") ? metric.substring("error_rate:".length()) : null;
        return status != null && (status.equals("no_answer") || status.length() == 3 && status.chars().allMatch(
                c -> c >= '0' && c <= '9'));
    }

    public List<Baseline> current(String provider, String metric) {
        String sql = "select distinct on (provider, model, deployment, metric_name, source) baseline_id, provider,"
                + " model, deployment, metric_name, p50, p95, p99, mean, sample_size, source, run_id, measured_at"
                + " from provider_baselines where (?::text is null or provider = ?) and (?::text is null or"
                + " metric_name = ?) order by provider, model, deployment, metric_name, source, measured_at desc";
        List<Baseline> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            st.setString(1, provider);
            st.setString(2, provider);
            st.setString(3, metric);
            st.setString(4, metric);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    rows.add(new Baseline(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3),
                            rs.getString(4), rs.getString(5), rs.getDouble(6), rs.getDouble(7), rs.getDouble(8),
                            rs.getDouble(9), rs.getInt(10), rs.getString(11), rs.getObject(12, UUID.class),
                            rs.getTimestamp(13).toInstant()));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read baselines", e);
        }
        return rows;
    }

    private void update(String sql, int a, int b, String text, UUID id) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            st.setInt(1, a);
            st.setInt(2, b);
            st.setString(3, text);
            st.setObject(4, id);
            st.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
