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
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** The SQL panels of the failure catalog count a small known set of episodes right. */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FailureCatalogDashboardTest {

    @Inject
    AgroalDataSource dataSource;

    /** An episode last seen {@code lastSeen} after the start of the 5-minute bin of two hours ago. */
    private static void episode(Connection c, String category, String type, String severity, String lastSeen,
            long occurrences) throws Exception {
        try (PreparedStatement st = c.prepareStatement("insert into failure_events (failure_id, fingerprint, category,"
                + " type, severity, provider, deployment, detection_method, evidence, impact_scope, first_seen,"
                + " last_seen, occurrences, affected_requests, affected_users) select ?, ?, ?, ?, ?, 'dash-provider',"
                + " 'dash-deployment', 'test', '{}'::jsonb, '{}'::jsonb, t - interval '1 minute', t, ?, ?, 0"
                + " from (select date_bin('5 minutes', now() - interval '2 hours', timestamptz '2000-01-01')"
                + " + ?::interval as t) x")) {
            st.setObject(1, UUID.randomUUID());
            st.setString(2, UUID.randomUUID().toString());
            st.setString(3, category);
            st.setString(4, type);
            st.setString(5, severity);
            st.setLong(6, occurrences);
            st.setLong(7, occurrences);
            st.setString(8, lastSeen);
            st.executeUpdate();
        }
    }

    private static Map<String, Long> rows(Connection c, String panel, String... key) throws Exception {
        Map<String, Long> out = new LinkedHashMap<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                DashboardSqlTest.concrete(DashboardSqlTest.sqlPanels().get("failure-catalog.json '" + panel + "'")))) {
            while (rs.next()) {
                StringBuilder k = new StringBuilder();
                for (String column : key) {
                    k.append(rs.getString(column)).append('|');
                }
                out.merge(k.toString(), rs.getLong(rs.getMetaData().getColumnCount()), Long::sum);
            }
        }
        return out;
    }

    @Test
    void episodes_by_category_and_severity_and_content_failures_over_time_count_the_known_episodes()
            throws Exception {
        String type = "dash_type_" + UUID.randomUUID().toString().substring(0, 8);
        try (Connection c = dataSource.getConnection()) {
            Map<String, Long> before = rows(c, "Episodes by category and severity", "category", "severity");
            episode(c, "QUALITY", type, "P4", "1 minute", 3);
            episode(c, "QUALITY", type, "P4", "4 minutes", 5);
            episode(c, "QUALITY", type, "P4", "6 minutes", 7);
            episode(c, "SECURITY", type, "P4", "2 minutes", 11);
            // Outside the 24-hour range: counted nowhere.
            episode(c, "QUALITY", type, "P4", "-3 days", 1000);
            Map<String, Long> after = rows(c, "Episodes by category and severity", "category", "severity");
            assertThat(after.get("QUALITY|P4|") - before.getOrDefault("QUALITY|P4|", 0L)).as("occurrences")
                    .isEqualTo(15);
            assertThat(after.get("SECURITY|P4|") - before.getOrDefault("SECURITY|P4|", 0L)).isEqualTo(11);

            // One series for the type, by 5-minute bin of last sighting: 3 + 5 + 11 in the first bin, 7 in the next.
            Map<String, Long> content = rows(c, "Content failures (QUALITY and SECURITY) over time", "metric", "time");
            assertThat(content.entrySet().stream().filter(e -> e.getKey().startsWith(type + "|"))
                    .map(Map.Entry::getValue).toList()).containsExactly(19L, 7L);
        }
    }
}
