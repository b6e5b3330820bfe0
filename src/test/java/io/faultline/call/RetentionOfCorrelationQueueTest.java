package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Rows;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
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
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * An episode whose correlation failed every attempt waits in {@code correlation_queue} for its next change; once the
 * retention job deleted the episode that change never comes, and its queue row would hold
 * {@code faultline_correlation_backlog_failed} (alert FaultlineCorrelationEpisodesFailing) above 0 for ever.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RetentionOfCorrelationQueueTest {

    private static final Instant OLD = Instant.parse("2015-09-14T08:00:00Z");

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

    private long queued(Connection c, UUID failureId) throws Exception {
        try (PreparedStatement st = c.prepareStatement("select count(*) from correlation_queue where failure_id = ?")) {
            st.setObject(1, failureId);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    @Test
    void the_queue_row_of_an_episode_deleted_by_retention_goes_with_it() throws Exception {
        String deployment = "dep-queue-retention-" + UUID.randomUUID();
        clock.set(OLD);
        maintenance.maintain();
        Api.ingest(Payloads.array(Payloads.failure("openai", "gpt-4o-mini", deployment, OLD, 503,
                "ServiceUnavailableError", "upstream unavailable"))).statusCode(200).body("accepted", equalTo(1));
        try (Connection c = dataSource.getConnection()) {
            UUID episode = Rows.episodeOf(c, deployment);
            // Its correlation failed every attempt (default max-attempts 5): it waits for a change of the episode.
            try (PreparedStatement st = c.prepareStatement("insert into correlation_queue (failure_id, seq,"
                    + " pending_since, not_before, attempts, last_error) values (?, nextval('correlation_queue_seq'),"
                    + " ?, ?, 5, 'step failed') on conflict (failure_id) do update set attempts = 5,"
                    + " last_error = 'step failed'")) {
                st.setObject(1, episode);
                st.setTimestamp(2, Timestamp.from(OLD));
                st.setTimestamp(3, Timestamp.from(OLD));
                st.executeUpdate();
            }
            assertThat(queued(c, episode)).isEqualTo(1);

            clock.set(OLD.plus(Duration.ofDays(40)));
            maintenance.maintain();

            try (PreparedStatement st = c.prepareStatement(
                    "select count(*) from failure_events where failure_id = ?")) {
                st.setObject(1, episode);
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    assertThat(rs.getLong(1)).as("the episode, past retention").isZero();
                }
            }
            assertThat(queued(c, episode)).as("queue rows of the deleted episode").isZero();
        }
    }
}
