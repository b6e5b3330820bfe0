package io.faultline.predict;

import io.agroal.api.AgroalDataSource;
import io.faultline.common.DatabaseStartup;
import io.faultline.common.MetricLabels;
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
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code failure_prediction_score{provider,failure_type}} (the highest confidence of the provider's active predictions
 * of the type whose horizon has not ended, 0 when none), {@code failure_prediction_precision{failure_type}} and
 * {@code failure_prediction_recall{failure_type}} over the accuracy window (NaN while undefined). Read from the
 * database after every tick and every few seconds, so every replica reports the same figures. A provider's zero score
 * waits for a call of it to take its label: a read of stored rows spends no slot of the label cap.
 */
@Singleton
public class PredictionMetrics {

    private final AgroalDataSource dataSource;
    private final PredictionAccuracy accuracy;
    private final PredictConfig config;
    private final Clock clock;
    private final MeterRegistry registry;
    private final MetricLabels labels;
    private final Map<String, AtomicLong> scores = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> precision = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> recall = new ConcurrentHashMap<>();

    private final DatabaseStartup startup;

    public PredictionMetrics(AgroalDataSource dataSource, PredictionAccuracy accuracy, PredictConfig config,
            Clock clock, MeterRegistry registry, MetricLabels labels, DatabaseStartup startup) {
        this.startup = startup;
        this.dataSource = dataSource;
        this.accuracy = accuracy;
        this.config = config;
        this.clock = clock;
        this.registry = registry;
        this.labels = labels;
        for (String type : config.types()) {
            precision.put(type, gauge("failure.prediction.precision",
                    "Share of resolved predictions that were right (hit or prevented) over the accuracy window",
                    "failure_type", type, null, null));
            recall.put(type, gauge("failure.prediction.recall",
                    "Share of observed failures announced at least the minimum lead time before their onset",
                    "failure_type", type, null, null));
        }
    }

    /** Per replica: gauges re-read from the database, so every replica reports the same values. */
    @Scheduled(every = "{faultline.predict.metrics-every}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void tick() {
        if (!startup.migrated()) {
            return; // the schema is not migrated yet (the database was away at start)
        }
        refresh();
    }

    /** Re-reads every gauge from the database; a failure leaves the last values and is logged. */
    public void refresh() {
        Instant now = clock.instant();
        Map<String, Double> current = new HashMap<>();
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement st = c.prepareStatement("select distinct provider from provider_deployments"
                    + " where last_seen >= ?")) {
                st.setTimestamp(1, Timestamp.from(now.minus(config.accuracyWindow())));
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        // A provider only in stored rows (one call yesterday) takes no label slot from the providers
                        // of live traffic: its zero is exported once a call of it labelled it. A live prediction
                        // below takes its slot as a call would.
                        String provider = labels.known("provider", rs.getString(1));
                        if (provider == null) {
                            continue;
                        }
                        for (String type : config.types()) {
                            current.putIfAbsent(scoreKey(provider, type), 0.0);
                        }
                    }
                }
            }
            // Live predictions only: one whose horizon ended is no forecast, though it stays active until a tick
            // resolves it (a stopped predictor would otherwise hold its last scores, and alerts on them, for good).
            try (PreparedStatement st = c.prepareStatement("select provider, predicted_type, max(confidence)"
                    + " from failure_predictions where status = 'active' and horizon_ends_at > ? group by 1, 2")) {
                st.setTimestamp(1, Timestamp.from(now));
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        String key = scoreKey(labels.value("provider", rs.getString(1)), rs.getString(2));
                        current.merge(key, rs.getDouble(3), Math::max);
                    }
                }
            }
        } catch (SQLException | RuntimeException e) {
            Log.warnf(e, "Could not read the prediction scores; they keep their last values");
            return;
        }
        for (Map.Entry<String, AtomicLong> e : scores.entrySet()) {
            current.putIfAbsent(e.getKey(), 0.0);
        }
        current.forEach((key, value) -> {
            int cut = key.indexOf('\u0000');
            scores.computeIfAbsent(key, k -> gauge("failure.prediction.score",
                    "Confidence (0-1) of the most confident active failure prediction, 0 when none", "provider",
                    key.substring(0, cut), "failure_type", key.substring(cut + 1)))
                    .set(Double.doubleToLongBits(value));
        });
        try {
            PredictionAccuracy.Accuracy a = accuracy.compute(now.minus(config.accuracyWindow()), now.plusMillis(1),
                    null);
            for (PredictionAccuracy.TypeAccuracy t : a.types()) {
                set(precision.get(t.failureType()), t.precision());
                set(recall.get(t.failureType()), t.recall());
            }
        } catch (RuntimeException e) {
            Log.warnf(e, "Could not compute the prediction accuracy; the gauges keep their last values");
        }
    }

    private static void set(AtomicLong gauge, Double value) {
        if (gauge != null) {
            gauge.set(Double.doubleToLongBits(value == null ? Double.NaN : value));
        }
    }

    private static String scoreKey(String provider, String type) {
        return provider + "\u0000" + type;
    }

    private AtomicLong gauge(String name, String description, String k1, String v1, String k2, String v2) {
        AtomicLong value = new AtomicLong(Double.doubleToLongBits(name.endsWith("score") ? 0 : Double.NaN));
        Gauge.Builder<AtomicLong> b = Gauge.builder(name, value, v -> Double.longBitsToDouble(v.get()))
                .description(description).tag(k1, v1).strongReference(true);
        if (k2 != null) {
            b.tag(k2, v2);
        }
        b.register(registry);
        return value;
    }
}
