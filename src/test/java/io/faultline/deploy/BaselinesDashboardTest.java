package io.faultline.deploy;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** The SQL panels of the baselines dashboard show the numbers of a small known set of baselines. */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BaselinesDashboardTest {

    @Inject
    AgroalDataSource dataSource;

    private static void baseline(Connection c, String provider, String model, double p95, String ago)
            throws Exception {
        try (PreparedStatement st = c.prepareStatement("insert into provider_baselines (baseline_id, provider, model,"
                + " deployment, metric_name, p50, p95, p99, mean, sample_size, source, measured_at) values (?, ?, ?,"
                + " null, 'latency_ms', ?, ?, ?, ?, 100, 'passive', now() - ?::interval)")) {
            st.setObject(1, UUID.randomUUID());
            st.setString(2, provider);
            st.setString(3, model);
            st.setDouble(4, p95 / 2);
            st.setDouble(5, p95);
            st.setDouble(6, p95 * 2);
            st.setDouble(7, p95 / 2);
            st.setString(8, ago);
            st.executeUpdate();
        }
    }

    @Test
    void the_baseline_p95_over_time_draws_one_series_per_model_group() throws Exception {
        String provider = "dash-" + UUID.randomUUID().toString().substring(0, 8);
        String sql = DashboardSqlTest.concrete(DashboardSqlTest.sqlPanels()
                .get("baselines.json 'Baseline latency p95 (ms) as measured'"));
        Map<String, TreeSet<Double>> series = new TreeMap<>();
        try (Connection c = dataSource.getConnection()) {
            // Two model groups of one provider, each learned twice: a fast one (about 400 ms) and a slow one (4 s).
            baseline(c, provider, "gpt-4o-mini", 400, "3 hours");
            baseline(c, provider, "gpt-4o", 4000, "2 hours");
            baseline(c, provider, "gpt-4o-mini", 410, "1 hour");
            baseline(c, provider, "gpt-4o", 4100, "30 minutes");
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
                while (rs.next()) {
                    if (rs.getString("metric").startsWith(provider)) {
                        series.computeIfAbsent(rs.getString("metric"), k -> new TreeSet<>()).add(rs.getDouble("p95"));
                    }
                }
            }
        }
        // A series mixing both groups would zigzag between 400 ms and 4 s, as if the baseline itself jumped.
        assertThat(series).hasSize(2);
        assertThat(series.values()).containsExactlyInAnyOrder(new TreeSet<>(java.util.List.of(400.0, 410.0)),
                new TreeSet<>(java.util.List.of(4000.0, 4100.0)));
        assertThat(series.keySet()).allSatisfy(name -> assertThat(name).containsAnyOf("gpt-4o-mini", "gpt-4o"));
    }
}
