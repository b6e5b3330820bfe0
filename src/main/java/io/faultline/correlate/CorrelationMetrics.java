package io.faultline.correlate;

import io.agroal.api.AgroalDataSource;
import io.faultline.common.DatabaseStartup;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code failure_correlation_clusters_active{cluster_type}} and {@code failure_correlation_strength{cluster_type}}
 * (the strongest active cluster's strength, 0 when there is none), and the drain's backlog
 * ({@code faultline_correlation_backlog}, {@code _backlog_failed}, {@code _backlog_oldest_seconds}), read from the
 * database after every correlation step and every few seconds, so that every replica reports the same shared state.
 */
@Singleton
public class CorrelationMetrics {

    static final List<String> TYPES = List.of("upstream", "cascade", "mixed");

    private final AgroalDataSource dataSource;
    private final Clock clock;
    private final CorrelateConfig config;
    private final Map<String, AtomicLong> active = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> strength = new ConcurrentHashMap<>();
    private final AtomicLong backlog = new AtomicLong();
    private final AtomicLong backlogFailed = new AtomicLong();
    private final AtomicLong oldestMillis = new AtomicLong();

    private final DatabaseStartup startup;

    public CorrelationMetrics(AgroalDataSource dataSource, MeterRegistry registry, Clock clock,
            CorrelateConfig config, DatabaseStartup startup) {
        this.startup = startup;
        this.dataSource = dataSource;
        this.clock = clock;
        this.config = config;
        Gauge.builder("faultline.correlation.backlog", backlog, AtomicLong::get)
                .description("Episodes changed by folds and not correlated yet (the drain's queue, all replicas)")
                .strongReference(true).register(registry);
        Gauge.builder("faultline.correlation.backlog.failed", backlogFailed, AtomicLong::get)
                .description("Queued episodes whose correlation failed max-attempts times; retried on their next"
                        + " change").strongReference(true).register(registry);
        Gauge.builder("faultline.correlation.backlog.oldest", oldestMillis, v -> v.get() / 1000.0)
                .description("Age of the oldest change not correlated yet and still retried (episodes past"
                        + " max-attempts are in backlog.failed); 0 when there is none")
                .baseUnit("seconds").strongReference(true).register(registry);
        for (String type : TYPES) {
            AtomicLong count = new AtomicLong(Double.doubleToLongBits(0));
            AtomicLong strongest = new AtomicLong(Double.doubleToLongBits(0));
            active.put(type, count);
            strength.put(type, strongest);
            Gauge.builder("failure.correlation.clusters.active", count, v -> Double.longBitsToDouble(v.get())).tag("cluster_type", type)
                    .description("Active correlation clusters (incidents) by type").strongReference(true)
                    .register(registry);
            Gauge.builder("failure.correlation.strength", strongest, v -> Double.longBitsToDouble(v.get())).tag("cluster_type", type)
                    .description("Strength (noisy-or of edge confidences) of the strongest active cluster by type")
                    .strongReference(true).register(registry);
        }
    }

    /** Re-reads the gauges from the database; a failure leaves the last values and is logged. */
    public void refresh() {
        Map<String, double[]> read = new java.util.HashMap<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select type,"
                + " count(*), max(strength) from correlation_clusters where status = 'active' group by type")) {
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    read.put(rs.getString(1), new double[] {rs.getLong(2), rs.getDouble(3)});
                }
            }
        } catch (SQLException | RuntimeException e) {
            Log.warnf(e, "Could not read the correlation gauges; they keep their last values");
            return;
        }
        // The lag is the oldest change the drain still retries: one past max-attempts waits for its next change
        // (backlog_failed, FaultlineCorrelationEpisodesFailing) and, counted here too, kept FaultlineCorrelationLagging
        // firing for as long, hiding whether the drain itself kept up.
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select count(*),"
                + " count(*) filter (where attempts >= ?), min(pending_since) filter (where attempts < ?)"
                + " from correlation_queue")) {
            st.setInt(1, config.maxAttempts());
            st.setInt(2, config.maxAttempts());
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                backlog.set(rs.getLong(1));
                backlogFailed.set(rs.getLong(2));
                Timestamp oldest = rs.getTimestamp(3);
                oldestMillis.set(oldest == null ? 0
                        : Math.max(0, Duration.between(oldest.toInstant(), clock.instant()).toMillis()));
            }
        } catch (SQLException | RuntimeException e) {
            Log.warnf(e, "Could not read the correlation backlog; its gauges keep their last values");
        }
        for (String type : TYPES) {
            double[] values = read.getOrDefault(type, new double[] {0, 0});
            active.get(type).set(Double.doubleToLongBits(values[0]));
            strength.get(type).set(Double.doubleToLongBits(values[1]));
        }
    }

    /** Per replica: gauges re-read from the database, so every replica reports the same values. */
    @Scheduled(every = "{faultline.correlate.metrics-every}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void tick() {
        if (!startup.migrated()) {
            return; // the schema is not migrated yet (the database was away at start)
        }
        refresh();
    }
}
