package io.faultline.correlate;

import io.faultline.testing.EmbeddedPostgres;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * V29 on a graph written by the engine before it: the fallback edges of one cause and target, one to the deployment
 * (written before the target's episode appeared) and one to the episode, become the newer one under the target's key;
 * another target's edge and the other kinds keep their rows.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FallbackEdgeMigrationTest {

    @Test
    void the_older_fallback_edges_of_a_target_go_and_the_newest_takes_the_targets_key() throws SQLException {
        String url = EmbeddedPostgres.freshDatabase("fallback_edge_migration");
        Flyway.configure().dataSource(url, "postgres", "postgres").target("28").load().migrate();
        UUID cause = UUID.randomUUID();
        UUID quality = UUID.randomUUID();
        UUID other = UUID.randomUUID();
        try (Connection c = DriverManager.getConnection(url, "postgres", "postgres");
                Statement st = c.createStatement()) {
            for (UUID id : List.of(cause, quality, other)) {
                st.execute("insert into failure_events (failure_id, fingerprint, category, type, severity, provider,"
                        + " deployment, detection_method, evidence, impact_scope, first_seen, last_seen, occurrences,"
                        + " affected_requests, affected_users) values ('" + id + "', 'fp', 'PROVIDER', 'timeout',"
                        + " 'P2', 'openai', 'd', 'rule', '{}', '{}', now(), now(), 1, 1, 0)");
            }
            String target = "{\"target_provider\": \"gemini\", \"target_deployment\": \"gemini-fallback\","
                    + " \"shared_traces\": %d}";
            st.execute("insert into correlation_edges (edge_key, from_failure_id, to_failure_id, kind, confidence,"
                    + " evidence, created_at, updated_at) values"
                    + " ('" + cause + "|fallback|deployment:gemini/gemini-fallback', '" + cause + "', null,"
                    + " 'fallback', 0.5, '" + target.formatted(1) + "', now() - interval '2 minutes',"
                    + " now() - interval '2 minutes'),"
                    + " ('" + cause + "|fallback|" + quality + "', '" + cause + "', '" + quality + "', 'fallback',"
                    + " 0.98, '" + target.formatted(6) + "', now() - interval '1 minute', now()),"
                    + " ('" + cause + "|fallback|deployment:anthropic/claude', '" + cause + "', null, 'fallback',"
                    + " 0.75, '{\"target_provider\": \"anthropic\", \"target_deployment\": \"claude\","
                    + " \"shared_traces\": 2}', now(), now()),"
                    + " ('" + cause + "|caused|" + quality + "', '" + cause + "', '" + quality + "', 'caused', 0.9,"
                    + " '{}', now(), now()),"
                    + " ('" + cause + "|temporal|" + other + "', '" + cause + "', '" + other + "', 'temporal', 0.6,"
                    + " '{}', now(), now())");
        }

        Flyway.configure().dataSource(url, "postgres", "postgres").load().migrate();

        List<String> rows = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url, "postgres", "postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select edge_key, to_failure_id, evidence ->> 'shared_traces'"
                        + " from correlation_edges order by edge_key")) {
            while (rs.next()) {
                rows.add(rs.getString(1) + " -> " + rs.getString(2) + " (" + rs.getString(3) + ")");
            }
        }
        assertThat(rows).containsExactlyInAnyOrder(
                cause + "|caused|" + quality + " -> " + quality + " (null)",
                cause + "|fallback|anthropic/claude -> null (2)",
                cause + "|fallback|gemini/gemini-fallback -> " + quality + " (6)",
                cause + "|temporal|" + other + " -> " + other + " (null)");
    }
}
