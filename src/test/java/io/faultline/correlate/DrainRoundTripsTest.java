package io.faultline.correlate;

import io.faultline.testing.Api;
import io.faultline.testing.Correlations;
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

import java.time.Duration;
import java.time.Instant;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The PostgreSQL round trips of one drain of a lone episode (issue 11: its p99 is made of round trips, each a wait
 * for a core on a loaded machine). Counted by {@link RoundTrips}, after a warm-up drain of the same kind of episode.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(RoundTripsProfile.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class DrainRoundTripsTest {

    @Inject
    TestClock clock;

    @Inject
    FailureCorrelationEngine engine;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    /**
     * A new outage with no other provider failing near it: the lock with the due rows; the temporal candidates with
     * the forward trace walk; the queue row's deletion; the commit.
     */
    @Test
    void a_lone_outage_episode_is_correlated_in_four_round_trips() {
        Instant t0 = Instant.parse("2032-05-01T08:00:00Z");
        lone(outage(t0));
        lone(outage(t0.plus(Duration.ofHours(3))));
        RoundTrips.Tally first = lone(outage(t0.plus(Duration.ofHours(6))));
        RoundTrips.Tally second = lone(outage(t0.plus(Duration.ofHours(9))));
        assertThat(second.roundTrips()).as("the same work, counted twice").hasSize(first.count());
        assertThat(second.count()).as(second.toString()).isEqualTo(4);
    }

    /** A new 429 episode, lone: the lock with the due rows; the forward trace walk; the retry-storm chain's reads. */
    @Test
    void a_lone_rate_limit_episode_is_correlated_in_five_round_trips() {
        Instant t0 = Instant.parse("2032-05-03T08:00:00Z");
        lone(rateLimit(t0));
        lone(rateLimit(t0.plus(Duration.ofHours(3))));
        RoundTrips.Tally tally = lone(rateLimit(t0.plus(Duration.ofHours(6))));
        assertThat(tally.count()).as(tally.toString()).isEqualTo(5);
    }

    private static Payloads rateLimit(Instant at) {
        return Payloads.failure("openai", "gpt-4o-mini", "lone-" + UUID.randomUUID().toString().substring(0, 8), at,
                429, "RateLimitError", "Rate limit reached for requests");
    }

    private static Payloads outage(Instant at) {
        return Payloads.failure("openai", "gpt-4o-mini", "lone-" + UUID.randomUUID().toString().substring(0, 8), at,
                503, "ServiceUnavailableError", "upstream connect error or disconnect/reset before headers");
    }

    /**
     * Ingests the call, then drains its one episode alone; the drain's round trips. What other tests left queued
     * (before this test's times) is drained first, so that the measured drain takes this episode.
     */
    private RoundTrips.Tally lone(Payloads call) {
        clock.set(Instant.ofEpochMilli(Math.round(call.node().path("endTime").asDouble() * 1000)).plusSeconds(60));
        Correlations.drain();
        Api.ingest(Payloads.array(call)).statusCode(200);
        int[] drained = new int[1];
        RoundTrips.Tally tally = RoundTrips.record(() -> drained[0] = engine.drainBatch(true, 1).correlated());
        assertThat(drained[0]).as("the drain took the one queued episode").isEqualTo(1);
        return tally;
    }
}
