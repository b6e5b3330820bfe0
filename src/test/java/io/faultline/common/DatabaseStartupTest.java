package io.faultline.common;

import io.faultline.testing.PostgresResource;
import io.quarkus.scheduler.Scheduler;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

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

    @Test
    void the_scheduler_runs_once_the_schema_is_migrated() {
        assertThat(startup.migrated()).isTrue();
        assertThat(startup.waitingFor()).isEmpty();
        assertThat(scheduler.isRunning()).isTrue();
        assertThat(scheduler.getScheduledJobs()).isNotEmpty();
    }
}
