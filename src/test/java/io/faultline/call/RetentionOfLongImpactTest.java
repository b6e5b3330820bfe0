package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.impact.Assessment;
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
 * An episode still open when the retention cut-off passes its first calls: its impact counts the requests whose calls
 * are kept, as a fold anew and the full recomputation do, and the fold forgets the users of the calls dropped.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(RetentionOfLongImpactTest.LongEpisodes.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RetentionOfLongImpactTest {

    /** One day of calls kept, and an episode that spans days: its first calls go while it is still open. */
    public static class LongEpisodes implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.calls.retention-days", "1", "faultline.episodes.dedup-window", "4d");
        }
    }

    private static final Instant OLD = Instant.parse("2017-03-06T10:00:00Z");

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
    void an_open_episode_whose_first_calls_were_dropped_counts_only_the_kept_ones() throws Exception {
        String early = "impact-early-" + UUID.randomUUID();
        String late = "impact-late-" + UUID.randomUUID();
        String deployment = "dep-long-impact-" + UUID.randomUUID();
        clock.set(OLD);
        maintenance.maintain();
        Api.ingest(Payloads.array(failures(deployment, OLD, 3, early))).statusCode(200).body("accepted", equalTo(3));
        Instant later = OLD.plus(Duration.ofDays(1));
        clock.set(later);
        maintenance.maintain();
        Api.ingest(Payloads.array(failures(deployment, later, 2, late))).statusCode(200).body("accepted", equalTo(2));
        UUID episode = Rows.episodeOf(dataSource, deployment);
        Assessment before = assessor.assessEpisode(episode).orElseThrow();
        assertThat(before.userImpact().affectedRequests()).isEqualTo(5);
        assertThat(before.userImpact().affectedUsers()).isEqualTo(2);

        clock.set(later.plus(Duration.ofHours(15)));
        maintenance.maintain(); // the day of the first three calls is past the one day kept
        assertThat(Rows.naming(dataSource, "llm_calls", "user_ref", early)).as("the first calls are dropped").isZero();

        Assessment after = assessor.assessEpisode(episode).orElseThrow();
        Assessment full = assessor.recomputeEpisode(episode).orElseThrow();
        assertThat(full.userImpact().affectedRequests()).as("recomputed from the kept calls").isEqualTo(2);
        assertThat(after.userImpact()).as("the stored assessment").isEqualTo(full.userImpact());
        assertThat(Rows.naming(dataSource, "impact_requests", "user_ref", early))
                .as("impact_requests naming the early user")
                .isZero();
        assertThat(Rows.naming(dataSource, "impact_distinct", "value", early))
                .as("impact_distinct naming the early user")
                .isZero();
    }

    private static Payloads[] failures(String deployment, Instant at, int n, String user) {
        Payloads[] calls = new Payloads[n];
        for (int i = 0; i < n; i++) {
            calls[i] = Payloads.failure("openai", "gpt-4o-mini", deployment, at.plusSeconds(i), 429, "RateLimitError",
                    "Rate limit reached").user(user);
        }
        return calls;
    }
}
