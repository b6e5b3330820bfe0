package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.impact.FailureImpactAssessor;
import io.faultline.testing.Rows;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
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
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * The impact fold keeps each assessed request's user, key and team ({@code impact_requests}, {@code impact_distinct})
 * for {@code faultline.impact.fold-kept-for}; the retention job forgets them with the calls however long that is.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(RetentionOfImpactStateTest.LongFold.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RetentionOfImpactStateTest {

    /** Fold state kept longer than the 30 days of call retention. */
    public static class LongFold implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.impact.fold-kept-for", "90d");
        }
    }

    private static final Instant OLD = Instant.parse("2016-05-03T10:00:00Z");

    @Inject
    TestClock clock;

    @Inject
    PartitionMaintenance maintenance;

    @Inject
    FailureImpactAssessor assessor;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void the_users_of_an_assessed_episode_are_forgotten_with_its_calls() throws Exception {
        String user = "impact-user-" + UUID.randomUUID();
        String deployment = "dep-impact-retention-" + UUID.randomUUID();
        clock.set(OLD);
        maintenance.maintain();
        Payloads[] calls = new Payloads[3];
        for (int i = 0; i < calls.length; i++) {
            calls[i] = Payloads.failure("openai", "gpt-4o-mini", deployment, OLD.plusSeconds(i), 429,
                    "RateLimitError", "Rate limit reached").user(user);
        }
        Api.ingest(Payloads.array(calls)).statusCode(200).body("accepted", equalTo(3));
        assertThat(assessor.assessEpisode(Rows.episodeOf(dataSource, deployment))).isPresent();
        assertThat(Rows.naming(dataSource, "impact_requests", "user_ref", user)).isPositive();
        assertThat(Rows.naming(dataSource, "impact_distinct", "value", user)).isPositive();

        clock.set(OLD.plus(Duration.ofDays(40)));
        maintenance.maintain();

        assertThat(Rows.naming(dataSource, "failure_event_users", "user_ref", user)).isZero();
        assertThat(Rows.naming(dataSource, "impact_requests", "user_ref", user))
                .as("impact_requests naming the user").isZero();
        assertThat(Rows.naming(dataSource, "impact_distinct", "value", user))
                .as("impact_distinct naming the user").isZero();
    }
}
