package io.faultline.predict;

import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.health.api.Wellness;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * {@code /q/health/well} "prediction-tick": down when no replica evaluated the predictions for three intervals (the
 * leader's ticks keep failing, or every replica's scheduler stopped), so that a stale policy and stale scores are
 * seen. A wellness check, not readiness: a stopped predictor must not take the ingest out of service.
 */
@Wellness
@Singleton
public class PredictionTickHealth implements HealthCheck {

    static final int MISSED_INTERVALS = 3;

    private final AgroalDataSource dataSource;
    private final PredictConfig config;
    private final Clock clock;
    private volatile Instant startedAt;
    /** A last tick stamped ahead of this replica's clock, and when this replica first read it. */
    private volatile Instant futureStamp;
    private volatile Instant futureStampSeenAt;

    public PredictionTickHealth(AgroalDataSource dataSource, PredictConfig config, Clock clock) {
        this.dataSource = dataSource;
        this.config = config;
        this.clock = clock;
    }

    void started(@Observes StartupEvent event) {
        startedAt = clock.instant();
    }

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder b = HealthCheckResponse.named("prediction-tick");
        if (!config.enabled()) {
            return b.up().withData("enabled", false).build();
        }
        Instant now = clock.instant();
        Duration allowed = FailurePredictor.intervalOf(config).multipliedBy(MISSED_INTERVALS);
        Instant last;
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select last_tick from failure_prediction_ticks where tick_key = 1"); ResultSet rs = st.executeQuery()) {
            last = rs.next() ? rs.getTimestamp(1).toInstant() : null;
        } catch (SQLException e) {
            // The SQLState, not the driver's message: this answer is open, the message names the database's host.
            return b.down().withData("error", "cannot read the last tick (SQLState " + e.getSQLState() + ")").build();
        }
        Instant since = last != null ? last : startedAt == null ? now : startedAt;
        if (last != null && last.isAfter(now) && !last.equals(futureStamp)) {
            // Stamped by a replica whose clock runs ahead: not the time of a tick. Every tick rewrites the stamp, so
            // the same stamp read again says that none ran since this replica first read it.
            futureStampSeenAt = now;
            futureStamp = last;
        }
        if (last != null && last.equals(futureStamp) && futureStampSeenAt.isBefore(since)) {
            since = futureStampSeenAt;
        }
        Duration age = Duration.between(since, now);
        b.withData("lastTick", last == null ? "none yet" : last.toString())
                .withData("allowedAgeSeconds", allowed.toSeconds());
        return (age.compareTo(allowed) <= 0 ? b.up() : b.down()).build();
    }
}
