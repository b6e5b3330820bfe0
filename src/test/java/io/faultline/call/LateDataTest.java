package io.faultline.call;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;

/**
 * Data that arrives late, out of order or with a skewed clock, as LiteLLM's spool, a backfill or a proxy with a fast
 * clock delivers it: the catalog must come out as if the calls had arrived in time, and what it cannot keep is
 * rejected by index with the reason.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class LateDataTest {

    private static String deployment() {
        return "late-" + UUID.randomUUID();
    }

    private static Payloads outage(String provider, String dep, Instant at, String message) {
        return Payloads.failure(provider, "m", dep, at, 503, "ServiceUnavailableError", message);
    }

    @Test
    void a_spool_flush_holding_an_old_burst_and_a_current_failure_continues_the_open_episode() {
        String dep = deployment();
        Instant now = Instant.now();
        Api.ingest(Payloads.array(outage("openai", dep, now.minusSeconds(60), "open"))).statusCode(200)
                .body("episodesOpened", equalTo(1));
        // Two hours back (an episode of its own) and five seconds back (the open episode's).
        Api.ingest(Payloads.array(outage("openai", dep, now.minusSeconds(7200), "old"),
                outage("openai", dep, now.minusSeconds(5), "current"))).statusCode(200)
                .body("episodesOpened", equalTo(1));
        Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(2))
                .body("items.occurrences", contains(2, 1));
    }

    @Test
    void two_bursts_of_one_batch_inside_one_long_stored_episode_both_count_in_it() {
        String dep = deployment();
        Instant start = Instant.now().minus(Duration.ofMinutes(50));
        List<Payloads> steady = new ArrayList<>();
        for (int i = 0; i <= 10; i++) {
            steady.add(outage("openai", dep, start.plus(Duration.ofMinutes(4L * i)), "steady " + i));
        }
        Api.ingest(Payloads.array(steady.toArray(Payloads[]::new))).statusCode(200).body("episodesOpened", equalTo(1));
        // 36 minutes apart: two bursts, both inside the stored episode's 40 minutes.
        Api.ingest(Payloads.array(outage("openai", dep, start.plus(Duration.ofMinutes(2)), "early"),
                outage("openai", dep, start.plus(Duration.ofMinutes(38)), "late"))).statusCode(200)
                .body("episodesOpened", equalTo(0));
        Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(1))
                .body("items[0].occurrences", equalTo(13))
                .body("items[0].impactScope.affected_requests", equalTo(13));
    }

    @Test
    void an_older_late_failure_counts_in_its_episode_but_leaves_the_latest_evidence() {
        String dep = deployment();
        Instant now = Instant.now();
        Api.ingest(Payloads.array(outage("anthropic", dep, now.minusSeconds(120), "newest call"))).statusCode(200);
        Api.ingest(Payloads.array(outage("anthropic", dep, now.minusSeconds(240), "older late call")))
                .statusCode(200).body("episodesOpened", equalTo(0));
        Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(1))
                .body("items[0].occurrences", equalTo(2))
                .body("items[0].evidence.error_message", containsString("newest call"));
    }

    @Test
    void a_backfill_of_yesterday_judges_yesterdays_spread_and_leaves_todays_episodes_alone() {
        String provider = "prov" + Long.toHexString(System.nanoTime());
        String today = deployment();
        String backfilled = deployment();
        Instant now = Instant.now();
        Api.ingest(Payloads.array(outage(provider, today, now.minusSeconds(30), "today"))).statusCode(200);
        Instant yesterday = now.minus(Duration.ofDays(1));
        List<Payloads> backfill = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            backfill.add(outage(provider, backfilled, yesterday.plusSeconds(i), "yesterday " + i));
        }
        Api.ingest(Payloads.array(backfill.toArray(Payloads[]::new))).statusCode(200);
        Api.failures("deployment=" + today).statusCode(200).body("items", hasSize(1))
                .body("items[0].severity", equalTo("P3"));
    }

    @Test
    void a_call_from_a_clock_running_ahead_is_kept_within_the_skew_and_rejected_beyond_it() {
        String dep = deployment();
        Instant now = Instant.now();
        Payloads slightlyAhead = Payloads.success("openai", "gpt-4o", dep, now.plusSeconds(60));
        Payloads farAhead = Payloads.success("openai", "gpt-4o", dep, now.plus(Duration.ofMinutes(10)));
        Payloads year2099 = Payloads.success("openai", "gpt-4o", dep, Instant.parse("2099-01-01T00:00:00Z"));
        Api.ingest(Payloads.array(slightlyAhead, farAhead, year2099)).statusCode(200).body("accepted", equalTo(1))
                .body("rejected.index", contains(1, 2))
                .body("rejected[0].callId", equalTo(farAhead.id()))
                .body("rejected[0].reason", containsString("endTime"))
                .body("rejected[0].reason", containsString("faultline.ingest.max-clock-skew"));
    }

    @Test
    void a_call_ending_in_the_future_is_rejected_with_a_code_a_sender_can_retry_on_and_other_rejections_not() {
        // The reason was prose only: a sender could not tell "send again once the clocks agree" from "never valid",
        // so the plugin dead-letter'd calls that a minute later would have been stored.
        String dep = deployment();
        Instant now = Instant.now();
        Payloads ahead = Payloads.success("openai", "gpt-4o", dep, now.plus(Duration.ofMinutes(10)));
        Payloads noModel = Payloads.success("openai", "gpt-4o", dep, now).set("status", "maybe");
        Payloads fine = Payloads.success("openai", "gpt-4o", dep, now.plusMillis(1));
        Api.ingest(Payloads.array(ahead, noModel, fine)).statusCode(200).body("accepted", equalTo(1))
                .body("rejected.index", contains(0, 1))
                .body("rejected.code", contains(CallResource.Rejected.ENDS_IN_FUTURE, CallResource.Rejected.INVALID));
        Api.ingest(Payloads.array(Payloads.success("openai", "gpt-4o", dep, now.plus(Duration.ofHours(1)))))
                .statusCode(422).body("errors[0].index", equalTo(0))
                .body("errors[0].code", equalTo(CallResource.Rejected.ENDS_IN_FUTURE));
    }
}
