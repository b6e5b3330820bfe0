package io.faultline.testing;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.util.Map;

/** Points Quarkus tests at a fresh database on the embedded PostgreSQL server. */
public class PostgresResource implements QuarkusTestResourceLifecycleManager {

    @Override
    public Map<String, String> start() {
        String url = EmbeddedPostgres.freshDatabase("faultline_test");
        // The key matters for @QuarkusIntegrationTest, which runs the packaged app in the prod profile.
        return Map.of("quarkus.datasource.jdbc.url", url, "quarkus.datasource.username", "postgres",
                "quarkus.datasource.password", "postgres", "faultline.api-key", "test-key");
    }

    @Override
    public void stop() {
        // The server is shared by the JVM and closed by its shutdown hook.
    }
}
