package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Metrics;
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
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Dropping a partition needs an exclusive lock on {@code llm_calls}; while a long reader holds the partition (a
 * backup, a long report) the drop must give up and retry at the next run, not wait: every insert of the ingest would
 * queue behind the waiting drop, and the ingest would stall for as long as the reader runs.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PartitionLockTest {

    private static final String FAILURES = "faultline_partition_maintenance_failures_total";

    private static final Instant T0 = Instant.parse("2014-01-10T12:00:00Z");

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

    private boolean exists(String partition) throws Exception {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select to_regclass('" + partition + "') is not null")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    @Test
    void a_partition_a_reader_holds_is_dropped_at_a_later_run_instead_of_waiting_for_the_reader() throws Exception {
        clock.set(T0);
        maintenance.maintain();
        assertThat(exists("llm_calls_20140109")).isTrue();
        assertThat(exists("llm_calls_20140110")).isTrue();

        // 31 days later both are past the 30 days of retention.
        clock.set(T0.plus(Duration.ofDays(31)));
        double failuresBefore = Metrics.valueOrZero(Metrics.scrape(), FAILURES);
        try (Connection reader = dataSource.getConnection(); Statement st = reader.createStatement()) {
            reader.setAutoCommit(false);
            st.execute("lock table llm_calls_20140109 in access share mode");
            CompletableFuture<Void> run = CompletableFuture.runAsync(() -> {
                try {
                    maintenance.maintain();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            try {
                // A guard against hanging the build (120 times the 5 s lock timeout); not a speed bound.
                run.get(10, TimeUnit.MINUTES);
            } finally {
                reader.rollback();
                run.join();
            }
        }
        assertThat(exists("llm_calls_20140109")).as("held by the reader: left for the next run").isTrue();
        assertThat(exists("llm_calls_20140110")).as("free: dropped").isFalse();
        // Calls kept past their retention is a failure the operator must see, not only a line in the log.
        assertThat(Metrics.value(Metrics.scrape(), FAILURES) - failuresBefore).as(FAILURES).isEqualTo(1.0);

        maintenance.maintain();
        assertThat(exists("llm_calls_20140109")).as("dropped once the reader is gone").isFalse();
    }
}
