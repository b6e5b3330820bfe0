package io.faultline.common;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.PostgresResource;
import io.quarkus.scheduler.Scheduler;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The scheduler starts halted (quarkus.scheduler.start-mode=halted) so that no job queries the schema before it is
 * migrated; DatabaseStartup resumes it once the schema is there and the state rebuilt. Were the resume lost, no
 * scheduled job would ever run: this is the guard.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
class DatabaseStartupTest {

    @Inject
    Scheduler scheduler;

    @Inject
    DatabaseStartup startup;

    @Inject
    Flyway flyway;

    @Inject
    AgroalDataSource dataSource;

    @Test
    void the_scheduler_runs_once_the_schema_is_migrated() {
        assertThat(startup.migrated()).isTrue();
        assertThat(startup.waitingFor()).isEmpty();
        assertThat(scheduler.isRunning()).isTrue();
        assertThat(scheduler.getScheduledJobs()).isNotEmpty();
    }

    @Test
    void a_schema_a_newer_release_migrated_is_not_an_error() throws Exception {
        // A rolling upgrade: an old pod restarting meets the new schema, and a rollback runs the old release on it.
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.executeUpdate("insert into flyway_schema_history (installed_rank, version, description, type, script,"
                    + " checksum, installed_by, execution_time, success) select max(installed_rank) + 1, '9999',"
                    + " 'from a newer release', 'SQL', 'V9999__from_a_newer_release.sql', 0, current_user, 1, true"
                    + " from flyway_schema_history");
        }
        try {
            assertThat(flyway.validateWithResult().validationSuccessful).isTrue();
            assertThat(flyway.migrate().migrationsExecuted).isZero();
        } finally {
            try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
                st.executeUpdate("delete from flyway_schema_history where version = '9999'");
            }
        }
    }
}
