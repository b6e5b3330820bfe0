package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Passive baselines are learned every 15 minutes per provider, model group and metric, and the deviation check reads
 * the newest of each scope every minute over all of them: kept for ever they grow by thousands of rows a day. Those
 * past the call retention go, except the newest of a scope (still its reference) and profiled ones.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RetentionOfBaselinesTest {

    private static final Instant NOW = Instant.parse("2013-06-20T12:00:00Z");

    @Inject
    TestClock clock;

    @Inject
    PartitionMaintenance maintenance;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    private static void baseline(Connection c, String provider, String model, String source, int daysAgo, double p95)
            throws Exception {
        try (PreparedStatement st = c.prepareStatement("insert into provider_baselines (baseline_id, provider, model,"
                + " deployment, metric_name, p50, p95, p99, mean, sample_size, source, measured_at) values (?, ?, ?,"
                + " null, 'latency_ms', 1, ?, 1, 1, 100, ?, ?)")) {
            st.setObject(1, UUID.randomUUID());
            st.setString(2, provider);
            st.setString(3, model);
            st.setDouble(4, p95);
            st.setString(5, source);
            st.setTimestamp(6, Timestamp.from(NOW.minus(Duration.ofDays(daysAgo))));
            st.executeUpdate();
        }
    }

    private static List<String> kept(Connection c, String provider) throws Exception {
        List<String> rows = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement("select model || ' ' || source || ' ' || p95 from"
                + " provider_baselines where provider = ? order by model, source, measured_at")) {
            st.setString(1, provider);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    rows.add(rs.getString(1));
                }
            }
        }
        return rows;
    }

    @Test
    void passive_baselines_past_the_call_retention_go_except_the_newest_of_each_scope() throws Exception {
        String provider = "baseline-retention-" + UUID.randomUUID().toString().substring(0, 8);
        clock.set(NOW);
        try (Connection c = dataSource.getConnection()) {
            baseline(c, provider, "fast", "passive", 60, 400);
            baseline(c, provider, "fast", "passive", 50, 410);
            baseline(c, provider, "fast", "passive", 1, 420);
            // The only passive baseline of its group: still its reference, however old.
            baseline(c, provider, "quiet", "passive", 60, 900);
            // A profile run is an operator's measurement, kept until profiled again.
            baseline(c, provider, "fast", "profile", 60, 380);

            maintenance.maintain();

            assertThat(kept(c, provider)).containsExactly("fast passive 420", "fast profile 380",
                    "quiet passive 900");
        }
    }
}
