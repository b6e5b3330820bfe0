package io.faultline.call;

import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.RoundTrips;
import io.faultline.testing.RoundTripsProfile;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The PostgreSQL round trips of one ingest of 100 calls with 10 failures (issue 15 section 5: the raw JDBC batch
 * insert it is measured against makes 2). Counted by {@link RoundTrips} on the thread that stores the batch, after
 * warm-up batches of the same shape.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(RoundTripsProfile.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class IngestRoundTripsTest {

    @Inject
    TestClock clock;

    @Inject
    IngestService ingest;

    @Inject
    CallMapper mapper;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    /**
     * A request of the ingest's steady state (its deployment seen within the minute, the stored budgets' version read
     * within its interval): the resend look-up; the inbox insert with the transaction's BEGIN; the COPY's command and
     * its data; the commit; the fold's claim with its look-up, its writes, its commit; and
     * the provider-wide check when it runs, with no empty Sync before it.
     */
    @Test
    void a_batch_of_a_hundred_calls_with_failures_is_stored_and_folded_in_eight_round_trips_and_no_empty_one() {
        Instant t0 = Instant.parse("2031-06-01T08:00:00Z");
        String deployment = dep();
        for (int i = 0; i < 3; i++) {
            store(deployment, t0.plusSeconds(i)); // warm-up: the statements prepared, the deployment seen
        }
        RoundTrips.Tally first = store(deployment, t0.plusSeconds(3));
        RoundTrips.Tally second = store(deployment, t0.plusSeconds(4));
        assertThat(perRequest(second)).as("the same work, counted twice: " + first).isEqualTo(perRequest(first));
        assertThat(perRequest(second)).as(second.toString()).isEqualTo(8);
        assertThat(second.roundTrips()).as("a round trip with nothing in it: " + second).doesNotContain("[Sync]");
    }

    /** A deployment not seen for a minute is recorded in the fold's claim round trip, not in one of its own. */
    @Test
    void a_batch_on_a_deployment_not_seen_within_the_minute_makes_no_more_round_trips() {
        Instant t0 = Instant.parse("2031-06-02T08:00:00Z");
        String deployment = dep();
        for (int i = 0; i < 3; i++) {
            store(deployment, t0.plusSeconds(i));
        }
        RoundTrips.Tally seen = store(deployment, t0.plusSeconds(3));
        RoundTrips.Tally fresh = store(dep(), t0.plusSeconds(4));
        assertThat(perRequest(fresh)).as(fresh.toString()).isEqualTo(perRequest(seen));
        assertThat(String.join("\n", fresh.roundTrips())).contains("insert into provider_deployments");
    }

    /**
     * The round trips every request makes: without the provider-wide check and its severity update, which run when
     * an episode opens or its count crosses a multiple of the check's minimum (what other tests folded before moves
     * that), nor the empty Sync PgJDBC sent before the check while it bound untyped instants.
     */
    private static long perRequest(RoundTrips.Tally tally) {
        return tally.roundTrips().stream().filter(r -> !r.contains("count(distinct e.deployment)")
                && !r.contains("update failure_events set severity") && !r.equals("[Sync]")).count();
    }

    private static String dep() {
        return "rt-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Stores a batch of the deployment starting at {@code at}, a second later by the clock; its round trips. */
    private RoundTrips.Tally store(String deployment, Instant at) {
        clock.set(at.plusSeconds(1));
        List<LlmCall> batch = batch(deployment, at);
        IngestService.Stored[] stored = new IngestService.Stored[1];
        RoundTrips.Tally tally = RoundTrips.record(() -> stored[0] = ingest.store(batch));
        assertThat(stored[0].inserted()).hasSize(100);
        assertThat(stored[0].failures()).hasSize(10);
        return tally;
    }

    /** 90 answered calls and 10 timeouts (one episode, continued by every batch after the first). */
    private List<LlmCall> batch(String deployment, Instant at) {
        List<LlmCall> calls = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            Payloads p = i % 10 == 0
                    ? Payloads.failure("openai", "gpt-4o-mini", deployment, at.plusMillis(i * 5L), 408, "Timeout",
                            "Request timed out")
                    : Payloads.success("openai", "gpt-4o-mini", deployment, at.plusMillis(i * 5L));
            calls.add(mapper.map(p.node()));
        }
        return calls;
    }
}
