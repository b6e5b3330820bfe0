package io.faultline.predict;

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
 * V55 on a policy written before it, keyed on the deployment id alone: pins set ahead of any call (provider
 * "unknown") become the pin of the provider or providers the deployment's calls came from, or end with a recorded
 * expiry when none did; every action gets the provider that can be told, and one id may then have an entry per
 * provider.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TrafficPolicyMigrationTest {

    @Test
    void unknown_pins_take_the_providers_seen_or_end_recorded_and_actions_get_their_provider() throws SQLException {
        String url = EmbeddedPostgres.freshDatabase("traffic_policy_provider_migration");
        Flyway.configure().dataSource(url, "postgres", "postgres").target("54").load().migrate();
        UUID prediction = UUID.randomUUID();
        try (Connection c = DriverManager.getConnection(url, "postgres", "postgres");
                Statement st = c.createStatement()) {
            st.execute("insert into provider_deployments (provider, deployment, last_seen) values"
                    + " ('anthropic', 'solo', now()), ('openai', 'shared', now()), ('azure', 'shared', now()),"
                    + " ('gemini', 'seen-only', now())");
            st.execute("insert into traffic_policy (deployment, provider, keep_share, state, reason, since,"
                    + " updated_at) values"
                    + " ('solo', 'unknown', 0.5, 'pinned', 'canary', now(), now()),"
                    + " ('shared', 'unknown', 0.0, 'pinned', 'drain', now(), now()),"
                    + " ('ahead', 'unknown', 0.0, 'pinned', 'not live yet', now(), now()),"
                    + " ('pred', 'azure', 0.2, 'reduced', 'prediction', now(), now())");
            st.execute("insert into failure_predictions (prediction_id, predicted_type, provider, deployment,"
                    + " model_group, confidence, peak_confidence, time_to_failure_ms, recommended_action, indicators,"
                    + " created_at, updated_at, horizon_ms, horizon_ends_at, status) values ('" + prediction
                    + "', 'rate_limit', 'vertex_ai', 'gone', 'g', 0.9, 0.9, 300000, 'reduce', '{}', now(), now(),"
                    + " 900000, now() + interval '15 minutes', 'active')");
            st.execute("insert into traffic_policy_actions (action_id, at, deployment, action, keep_share_before,"
                    + " keep_share_after, prediction_id, reason, actor) values"
                    + " (gen_random_uuid(), now(), 'gone', 'reduce', 1, 0.2, '" + prediction + "', 'p', 'predictor'),"
                    + " (gen_random_uuid(), now(), 'pred', 'deepen', 0.4, 0.2, null, 'p', 'predictor'),"
                    + " (gen_random_uuid(), now(), 'solo', 'pin', 1, 0.5, null, 'canary', 'operator'),"
                    + " (gen_random_uuid(), now(), 'shared', 'pin', 1, 0, null, 'drain', 'operator'),"
                    + " (gen_random_uuid(), now(), 'seen-only', 'unpin', 0.5, 1, null, 'x', 'operator')");
        }

        Flyway.configure().dataSource(url, "postgres", "postgres").load().migrate();

        try (Connection c = DriverManager.getConnection(url, "postgres", "postgres");
                Statement st = c.createStatement()) {
            assertThat(rows(st, "select provider || '/' || deployment || ' ' || keep_share || ' ' || reason"
                    + " from traffic_policy")).containsExactlyInAnyOrder("anthropic/solo 0.5 canary",
                            "openai/shared 0 drain", "azure/shared 0 drain", "azure/pred 0.2 prediction");
            assertThat(rows(st, "select coalesce(provider, 'null') || '/' || deployment || ' ' || action"
                    + " from traffic_policy_actions")).containsExactlyInAnyOrder("vertex_ai/gone reduce",
                            "azure/pred deepen", "anthropic/solo pin", "null/shared pin", "gemini/seen-only unpin",
                            "unknown/ahead expire");
            assertThat(rows(st, "select reason || ' ' || actor || ' ' || keep_share_before || '->'"
                    + " || keep_share_after from traffic_policy_actions where action = 'expire'"))
                    .containsExactly("V55: pinned before any call of the deployment, so its provider was never"
                            + " known; pin it again with its provider operator 0->1");
            // One id under another provider is another deployment: its own row beside Azure's.
            st.execute("insert into traffic_policy (deployment, provider, keep_share, state, reason, since,"
                    + " updated_at) values ('pred', 'openai', 0.2, 'reduced', 'prediction', now(), now())");
            assertThat(rows(st, "select provider from traffic_policy where deployment = 'pred'"))
                    .containsExactlyInAnyOrder("azure", "openai");
        }
    }

    private static List<String> rows(Statement st, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }
}
