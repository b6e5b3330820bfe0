package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Daily partitions are UTC days whatever the time zone of the service's database sessions (pgjdbc sends the JVM's
 * zone): the partition names, the retention cut-off and every day in the README are UTC.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(PartitionBoundsTest.TokyoSessions.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PartitionBoundsTest {

    /** A service whose JVM runs in Tokyo: its database sessions are in Tokyo time. */
    public static class TokyoSessions implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkus.datasource.jdbc.new-connection-sql", "set time zone 'Asia/Tokyo'");
        }
    }

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

    private String bounds(String partition) throws Exception {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("set time zone 'UTC'");
            try (ResultSet rs = st.executeQuery("select pg_get_expr(relpartbound, oid) from pg_class where relname = '"
                    + partition + "'")) {
                assertThat(rs.next()).as("partition %s exists", partition).isTrue();
                return rs.getString(1);
            }
        }
    }

    @Test
    void a_daily_partition_spans_its_utc_day_when_the_sessions_run_in_another_time_zone() throws Exception {
        clock.set(Instant.parse("2018-07-15T12:00:00Z"));
        maintenance.maintain();

        assertThat(bounds("llm_calls_20180715"))
                .isEqualTo("FOR VALUES FROM ('2018-07-15 00:00:00+00') TO ('2018-07-16 00:00:00+00')");
        assertThat(bounds("llm_calls_20180722"))
                .isEqualTo("FOR VALUES FROM ('2018-07-22 00:00:00+00') TO ('2018-07-23 00:00:00+00')");
    }
}
