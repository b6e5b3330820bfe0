package io.faultline.predict;

import io.agroal.api.AgroalDataSource;
import io.faultline.common.DatabaseStartup;
import io.faultline.common.MetricLabels;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
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
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The prediction gauges re-read providers from the database, where a provider seen once yesterday still has its row:
 * such a read must not spend the capped provider label slots ahead of the providers of live traffic. The real gauge
 * job on the real database, with a registry and a cap of two of its own so that other test classes' providers do not
 * count.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PredictionMetricsLabelsTest {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    PredictionAccuracy accuracy;

    @Inject
    PredictConfig config;

    @Inject
    TestClock clock;

    @Inject
    DatabaseStartup startup;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void providers_only_in_stored_rows_take_no_label_slot_ahead_of_the_providers_of_live_traffic() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        // Past every other test's predictions and calls, whose live predictions would take slots as calls do.
        Instant now = Instant.parse("2091-03-07T12:00:00Z");
        clock.set(now);
        // Seen once yesterday, still inside the accuracy window the gauge job reads providers from.
        seen("yesterday-a-" + run, now.minus(Duration.ofHours(20)));
        seen("yesterday-b-" + run, now.minus(Duration.ofHours(23)));
        String live = "live-a-" + run;
        String next = "live-b-" + run;
        MetricLabels labels = new MetricLabels(2);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        PredictionMetrics metrics = new PredictionMetrics(dataSource, accuracy, config, clock, registry, labels,
                startup);

        metrics.refresh(); // a replica just started: no call has arrived yet
        // What ProviderDetection does with each ingested call: the provider's label from the shared cap.
        assertThat(labels.value("provider", live)).isEqualTo(live);
        seen(live, now);
        metrics.refresh();
        assertThat(labels.value("provider", next)).as("the second provider of live traffic").isEqualTo(next);

        assertThat(registry.find("failure.prediction.score").tag("provider", live).gauges())
                .as("the zero score of a provider of live traffic").hasSize(config.types().size());
        assertThat(registry.find("failure.prediction.score").tag("provider", "yesterday-a-" + run).gauges())
                .isEmpty();
        assertThat(registry.find("failure.prediction.score").tag("provider", MetricLabels.OTHER).gauges())
                .isEmpty();
    }

    private void seen(String provider, Instant at) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "insert into provider_deployments (provider, deployment, last_seen) values (?, ?, ?)")) {
            st.setString(1, provider);
            st.setString(2, provider + "-dep");
            st.setTimestamp(3, Timestamp.from(at));
            st.executeUpdate();
        }
    }
}
