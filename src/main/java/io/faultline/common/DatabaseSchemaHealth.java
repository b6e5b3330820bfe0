package io.faultline.common;

import jakarta.inject.Singleton;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Readiness "database-schema": down until {@link DatabaseStartup} has migrated the schema and the state held in
 * memory is rebuilt from it; then up for good (an outage after that is Quarkus's datasource check's to report).
 */
@Readiness
@Singleton
public class DatabaseSchemaHealth implements HealthCheck {

    private final DatabaseStartup database;

    public DatabaseSchemaHealth(DatabaseStartup database) {
        this.database = database;
    }

    @Override
    public HealthCheckResponse call() {
        if (database.migrated()) {
            return HealthCheckResponse.named("database-schema").up().build();
        }
        return HealthCheckResponse.named("database-schema").down().withData("waitingFor", database.waitingFor())
                .build();
    }
}
