package io.faultline.signals;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

import static io.faultline.signals.SignalsApi.failuresOf;
import static io.faultline.signals.SignalsApi.map;
import static io.faultline.signals.SignalsApi.post;
import static io.faultline.signals.SignalsApi.refuseFailuresOf;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.hasSize;

/** An index that a nightly job refreshes reports its freshness every 10 minutes. Defaults: 24 h max age, 30 min heartbeat. */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class StaleIndexTest {

    private static final Instant T0 = Instant.parse("2026-11-21T02:00:00Z");

    /** How far the reporter's clock is set back, three hours in, in the set-back tests. */
    private static final Duration SET_BACK = Duration.ofHours(3);

    @Inject
    AgroalDataSource dataSource;

    @Inject
    TestClock clock;

    @Inject
    SignalChecks checks;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    private void report(String index, Instant lastUpdatedAt) {
        post("index", map("signalId", UUID.randomUUID().toString(), "index", index, "lastUpdatedAt",
                lastUpdatedAt.toString())).statusCode(200).body("accepted", equalTo(1));
    }

    @Test
    void a_report_of_an_index_older_than_its_max_age_raises_stale_index_once() {
        String index = "docs-" + UUID.randomUUID();
        Instant refreshed = T0.minus(Duration.ofHours(20));
        clock.set(T0);
        for (int i = 0; i < 24; i++) { // four hours of reports; the refresh is 24 h old after 4 h
            report(index, refreshed);
            clock.advance(Duration.ofMinutes(10));
        }
        failuresOf(index).body("items", hasSize(0));

        clock.set(T0.plus(Duration.ofHours(4)).plusSeconds(1));
        report(index, refreshed);
        clock.advance(Duration.ofMinutes(10));
        report(index, refreshed); // still stale: the same condition, not raised again
        checks.check();

        failuresOf(index).body("items", hasSize(1))
                .body("items[0].type", equalTo("stale_index"))
                .body("items[0].severity", equalTo("P3"))
                .body("items[0].provider", equalTo("pipeline"))
                .body("items[0].occurrences", equalTo(1))
                .body("items[0].detectionMethod", equalTo("signals.index_report"))
                .body("items[0].firstSeen", equalTo(T0.plus(Duration.ofHours(4)).plusSeconds(1).toString()))
                .body("items[0].evidence.reason", equalTo("too_old"))
                .body("items[0].evidence.index", equalTo(index))
                .body("items[0].evidence.last_updated_at", equalTo(refreshed.toString()))
                .body("items[0].evidence.age", equalTo("PT24H1S"))
                .body("items[0].evidence.max_age", equalTo("PT24H"));
    }

    /**
     * A report and the staleness it shows are stored together: when the failure cannot be stored, the report is not
     * either, and its resend raises it at the report's time. Stored one after the other, the resend was a duplicate
     * that raised nothing, and only the next scheduled check found the index stale.
     */
    @Test
    void a_stale_report_whose_failure_could_not_be_stored_raises_it_when_resent() throws Exception {
        String index = "refused-" + UUID.randomUUID();
        clock.set(T0);
        Map<String, Object> stale = map("signalId", UUID.randomUUID().toString(), "index", index, "lastUpdatedAt",
                T0.minus(Duration.ofHours(25)).toString());
        try (AutoCloseable refused = refuseFailuresOf(dataSource, index)) {
            post("index", stale).statusCode(greaterThanOrEqualTo(500));
        }
        post("index", stale).statusCode(200).body("accepted", equalTo(1)).body("failures", equalTo(1));
        failuresOf(index).body("items", hasSize(1)).body("items[0].detectionMethod", equalTo("signals.index_report"))
                .body("items[0].firstSeen", equalTo(T0.toString()));
    }

    @Test
    void a_report_may_set_its_own_max_age() {
        String index = "docs-" + UUID.randomUUID();
        clock.set(T0);
        post("index", map("signalId", UUID.randomUUID().toString(), "index", index, "lastUpdatedAt",
                T0.minus(Duration.ofHours(1)).toString(), "maxAge", "PT1H")).statusCode(200).body("failures",
                        equalTo(0));
        post("index", map("signalId", UUID.randomUUID().toString(), "index", index, "lastUpdatedAt",
                T0.minus(Duration.ofHours(1)).minusSeconds(1).toString(), "maxAge", "PT1H")).statusCode(200)
                .body("failures", equalTo(0)); // an older update than the one known: the newest wins
        clock.advance(Duration.ofSeconds(1));
        post("index", map("signalId", UUID.randomUUID().toString(), "index", index, "lastUpdatedAt",
                T0.minus(Duration.ofHours(1)).toString(), "maxAge", "PT1H")).statusCode(200).body("failures",
                        equalTo(1));
        failuresOf(index).body("items[0].evidence.max_age", equalTo("PT1H"));
    }

    @Test
    void a_heartbeat_that_stops_raises_heartbeat_missing_once_per_silence() {
        String index = "docs-" + UUID.randomUUID();
        clock.set(T0);
        for (int i = 0; i < 6; i++) {
            report(index, T0.minus(Duration.ofHours(1)));
            clock.advance(Duration.ofMinutes(10));
        }
        Instant last = T0.plus(Duration.ofMinutes(50));
        clock.set(last.plus(Duration.ofMinutes(30)));
        checks.check();
        failuresOf(index).body("items", hasSize(0));

        clock.advance(Duration.ofSeconds(1));
        checks.check();
        clock.advance(Duration.ofMinutes(10));
        checks.check(); // the same silence: not raised again

        failuresOf(index).body("items", hasSize(1))
                .body("items[0].type", equalTo("stale_index"))
                .body("items[0].severity", equalTo("P2"))
                .body("items[0].occurrences", equalTo(1))
                .body("items[0].detectionMethod", equalTo("signals.index_check"))
                .body("items[0].firstSeen", equalTo(last.plus(Duration.ofMinutes(30)).plusSeconds(1).toString()))
                .body("items[0].evidence.reason", equalTo("heartbeat_missing"))
                .body("items[0].evidence.last_report_at", equalTo(last.toString()))
                .body("items[0].evidence.silent_for", equalTo("PT30M1S"))
                .body("items[0].evidence.heartbeat_timeout", equalTo("PT30M"));

        // The heartbeat comes back and stops again: a new silence, a new episode.
        Instant back = clock.advance(Duration.ofMinutes(1));
        report(index, T0);
        clock.set(back.plus(Duration.ofMinutes(31)));
        checks.check();
        failuresOf(index).body("items", hasSize(2));
    }

    @Test
    void the_same_stream_with_every_heartbeat_in_time_and_fresh_updates_raises_nothing() {
        String index = "docs-" + UUID.randomUUID();
        clock.set(T0);
        for (int i = 0; i < 18; i++) { // three hours: a report every 10 min, an update every hour
            report(index, T0.plus(Duration.ofHours(i / 6)).minus(Duration.ofHours(22)));
            clock.advance(Duration.ofMinutes(10));
            checks.check();
        }
        clock.advance(Duration.ofMinutes(20)); // the last report is exactly 30 min old: not yet missing
        checks.check();
        failuresOf(index).body("items", hasSize(0));
    }

    /**
     * The reporter's clock is 10 minutes behind the server's. Its index is refreshed every 55 minutes against a max age
     * of 60 and reported every 10: never stale. The check measured the age on the server's clock from the reporter's
     * lastUpdatedAt, 10 minutes too old, and raised stale_index before every refresh. Age is now measured from the
     * update moved onto the server's clock by the report's own skew (its receipt less its {@code at}).
     */
    @Test
    void a_reporter_clock_ten_minutes_behind_raises_no_stale_index() {
        String index = "skewed-" + UUID.randomUUID();
        Duration behind = Duration.ofMinutes(10);
        Instant lastUpdate = refreshedEvery55Minutes(index, T0.plus(Duration.ofDays(3)), behind, Duration.ZERO);
        // The refreshes stop: stale once the last one is an hour old on the server's clock, not 10 minutes sooner.
        staleAnHourAfter(index, lastUpdate.plus(behind), lastUpdate);
    }

    /**
     * The reporter's clock is 10 minutes behind the server's; its index is refreshed every 55 minutes against a max
     * age of 60 and reported every 10: never stale. One report, an hour in, comes from a clock jumped 14 minutes
     * forward (4 minutes ahead of the server's, within the allowed skew), and the reports after it are on time again.
     * Its receipt less its {@code at}, 14 minutes below the others, was the least of the window and so the skew for a
     * day: every later update looked 14 minutes older on the server's clock, and stale_index was raised before each
     * refresh. The skew is the second least of the window, which one such report does not move.
     */
    @Test
    void one_report_from_a_reporter_clock_jumped_forward_raises_no_stale_index_for_the_reports_after_it() {
        String index = "jumped-" + UUID.randomUUID();
        Duration behind = Duration.ofMinutes(10);
        Instant lastUpdate = refreshedEvery55Minutes(index, T0.plus(Duration.ofDays(9)), behind,
                Duration.ofMinutes(14));
        // The refreshes stop: stale once the last one is an hour old on the server's clock, not 14 minutes sooner.
        staleAnHourAfter(index, lastUpdate.plus(behind), lastUpdate);
    }

    /**
     * Four hours of reports every 10 minutes from a clock {@code behind} the server's, the one at minute 60 from that
     * clock jumped {@code jump} forward; the index is refreshed every 55 minutes against a max age of 60, so it is
     * never stale, and no check says it is. Returns the last refresh, on the reporter's clock.
     */
    private Instant refreshedEvery55Minutes(String index, Instant start, Duration behind, Duration jump) {
        Instant lastUpdate = start.minus(behind);
        for (int minute = 0; minute <= 240; minute += 5) {
            Instant server = start.plus(Duration.ofMinutes(minute));
            Instant reporter = server.minus(behind).plus(minute == 60 ? jump : Duration.ZERO);
            clock.set(server);
            if (minute % 10 == 0) {
                while (!lastUpdate.plus(Duration.ofMinutes(55)).isAfter(server.minus(behind))) {
                    lastUpdate = lastUpdate.plus(Duration.ofMinutes(55));
                }
                post("index", map("signalId", UUID.randomUUID().toString(), "index", index, "at",
                        reporter.toString(), "lastUpdatedAt", lastUpdate.toString(), "maxAge", "PT1H",
                        "heartbeatTimeout", "PT2H")).statusCode(200).body("failures", equalTo(0));
            }
            checks.check();
            failuresOf(index).body("items", hasSize(0));
        }
        return lastUpdate;
    }

    /** Not stale an hour after the last refresh (on the server's clock), stale_index a minute later, as too_old. */
    private void staleAnHourAfter(String index, Instant refreshedOnServer, Instant lastUpdate) {
        Instant dueOnServer = refreshedOnServer.plus(Duration.ofHours(1));
        clock.set(dueOnServer);
        checks.check();
        failuresOf(index).body("items", hasSize(0));
        clock.set(dueOnServer.plusSeconds(60));
        checks.check();
        failuresOf(index).body("items", hasSize(1)).body("items[0].evidence.reason", equalTo("too_old"))
                .body("items[0].evidence.age", equalTo("PT1H1M"))
                .body("items[0].evidence.last_updated_at", equalTo(lastUpdate.toString()));
    }

    /**
     * The reporter's clock is 10 minutes behind the server's; it reports every 25 minutes against a heartbeat timeout
     * of 30. The check measured the silence on the server's clock from the reporter's {@code at}, 10 minutes too long,
     * and raised heartbeat_missing before every report. The silence is now measured from the last report's receipt.
     */
    @Test
    void a_reporter_clock_ten_minutes_behind_raises_no_heartbeat_missing() {
        String index = "skewed-beat-" + UUID.randomUUID();
        Duration behind = Duration.ofMinutes(10);
        Instant start = T0.plus(Duration.ofDays(4));
        Instant lastReceived = start;
        Instant lastAt = start;
        for (int minute = 0; minute <= 100; minute++) {
            Instant server = start.plus(Duration.ofMinutes(minute));
            clock.set(server);
            if (minute % 25 == 0) {
                lastReceived = server;
                lastAt = server.minus(behind);
                post("index", map("signalId", UUID.randomUUID().toString(), "index", index, "at", lastAt.toString(),
                        "lastUpdatedAt", lastAt.minus(Duration.ofHours(1)).toString(), "heartbeatTimeout", "PT30M"))
                        .statusCode(200).body("failures", equalTo(0));
            }
            checks.check();
        }
        failuresOf(index).body("items", hasSize(0));

        // The reports stop: missing once the last one was received 30 minutes ago, not 10 minutes sooner.
        clock.set(lastReceived.plus(Duration.ofMinutes(30)));
        checks.check();
        failuresOf(index).body("items", hasSize(0));
        clock.advance(Duration.ofSeconds(1));
        checks.check();
        failuresOf(index).body("items", hasSize(1)).body("items[0].evidence.reason", equalTo("heartbeat_missing"))
                .body("items[0].evidence.silent_for", equalTo("PT30M1S"))
                .body("items[0].evidence.last_report_at", equalTo(lastAt.toString()))
                .body("items[0].evidence.last_report_received_at", equalTo(lastReceived.toString()));
    }

    /**
     * The reporter's clock is 10 minutes behind the server's and it reports every 10 minutes. It refreshes the index,
     * and the report of that refresh is spooled for an hour before it is received. Its receipt less its {@code at} is
     * the skew plus the hour: taken as the skew, it made the update an hour younger on the server's clock, and
     * stale_index came an hour late. The skew is the least receipt-less-at of the recent reports (a delay only adds).
     */
    @Test
    void a_report_received_an_hour_late_does_not_make_its_update_an_hour_younger() {
        String index = "spooled-" + UUID.randomUUID();
        Duration behind = Duration.ofMinutes(10);
        Instant start = T0.plus(Duration.ofDays(5));
        for (int minute = 0; minute <= 60; minute += 10) {
            Instant server = start.plus(Duration.ofMinutes(minute));
            clock.set(server);
            post("index", map("signalId", UUID.randomUUID().toString(), "index", index, "at",
                    server.minus(behind).toString(), "lastUpdatedAt", start.minus(behind).toString(), "maxAge",
                    "PT1H30M", "heartbeatTimeout", "PT3H")).statusCode(200).body("failures", equalTo(0));
        }
        Instant refreshedOnServer = start.plus(Duration.ofMinutes(65));
        Instant refreshed = refreshedOnServer.minus(behind);
        clock.set(refreshedOnServer.plus(Duration.ofHours(1))); // the report of the refresh, an hour in the spool
        post("index", map("signalId", UUID.randomUUID().toString(), "index", index, "at", refreshed.toString(),
                "lastUpdatedAt", refreshed.toString(), "maxAge", "PT1H30M", "heartbeatTimeout", "PT3H"))
                .statusCode(200).body("failures", equalTo(0));
        checks.check();
        failuresOf(index).body("items", hasSize(0));

        clock.set(refreshedOnServer.plus(Duration.ofMinutes(90)));
        checks.check();
        failuresOf(index).body("items", hasSize(0));
        clock.advance(Duration.ofSeconds(60));
        checks.check();
        failuresOf(index).body("items", hasSize(1)).body("items[0].evidence.reason", equalTo("too_old"))
                .body("items[0].evidence.age", equalTo("PT1H31M"))
                .body("items[0].evidence.last_updated_at", equalTo(refreshed.toString()));
    }

    /**
     * The reporter's clock is right for three hours, then set back three hours; the index is refreshed every 30
     * minutes (on the reporter's clock) against a max age of two hours and reported every 10: never stale. The skew,
     * the least receipt less {@code at} of a day of reports, stayed at the right clock's for a day, so the updates
     * of the clock set back looked three hours old on the server's clock and stale_index was raised falsely all day.
     * Every report of the last hour, received over at least half of it, shows the skew now: a clock set back is
     * followed within an hour, while one late report alone (a spool) still moves nothing.
     */
    @Test
    void a_reporter_clock_set_back_three_hours_raises_no_stale_index() {
        String index = "set-back-" + UUID.randomUUID();
        Instant lastUpdate = reportThroughASetBack(index, T0.plus(Duration.ofDays(6)), 480, "PT3H", true);

        // The refreshes stop: stale once the last one is two hours old on the server's clock.
        staleTwoHoursAfterOnTheServersClock(index, lastUpdate);
    }

    /**
     * The reporter's clock is right for three hours, then set back three hours; refreshes every 30 minutes go on for
     * 70 minutes after that, then stop. The newest update was chosen on the reporter's clock, so the last refresh
     * before the change (on the right clock) outranked the later ones of the clock set back, and, moved by the new
     * skew, it looked three hours younger than the last real refresh: stale_index came two hours late. The newest
     * update is now the one newest on the server's clock.
     */
    @Test
    void refreshes_that_stop_after_a_reporter_clock_was_set_back_raise_stale_index_on_time() {
        String index = "set-back-stop-" + UUID.randomUUID();
        Instant lastUpdate = reportThroughASetBack(index, T0.plus(Duration.ofDays(7)), 250, "PT6H", false);
        failuresOf(index).body("items", hasSize(0));

        // The last refresh was at 240 minutes on the server's clock: stale two hours after that.
        staleTwoHoursAfterOnTheServersClock(index, lastUpdate);
    }

    /**
     * The index's refreshes stopped three hours before the reporter's clock was set back three hours (an update of
     * less than that ago would lie in the future of the clock set back, a report refused); it goes on reporting that
     * last update every 10 minutes against a max age of four hours, reached an hour after the set-back. The update
     * was made on the right clock: when the skew follows the clock set back (70 minutes after it), the update must
     * not look three hours younger on the server's clock, as it did, which kept stale_index back three hours. The
     * reports that carried it before the set-back show the skew it was made with.
     */
    @Test
    void an_update_made_before_a_reporter_clock_was_set_back_does_not_look_younger_once_the_skew_follows_it() {
        String index = "set-back-idle-" + UUID.randomUUID();
        Instant start = T0.plus(Duration.ofDays(8));
        for (int minute = 0; minute <= 250; minute += 10) {
            Instant server = start.plus(Duration.ofMinutes(minute));
            Instant reporter = minute <= 180 ? server : server.minus(SET_BACK);
            clock.set(server);
            post("index", map("signalId", UUID.randomUUID().toString(), "index", index, "at", reporter.toString(),
                    "lastUpdatedAt", start.toString(), "maxAge", "PT4H", "heartbeatTimeout", "PT6H"))
                    .statusCode(200).body("failures", equalTo(0));
            checks.check();
            if (minute <= 240) {
                failuresOf(index).body("items", hasSize(0)); // four hours old at minute 240, not past it
            }
        }
        // Past its four hours on the server's clock at the next check, minute 250 (the report before it follows).
        failuresOf(index).body("items", hasSize(1)).body("items[0].evidence.reason", equalTo("too_old"))
                .body("items[0].evidence.last_updated_at", equalTo(start.toString()))
                .body("items[0].evidence.age", equalTo("PT4H10M"));
    }

    /**
     * Reports the index every 10 minutes from {@code start} to {@code minutes} later on the server's clock, the
     * reporter's clock right for three hours and then {@link #SET_BACK}, refreshed every 30 minutes on the reporter's
     * clock against a max age of two hours, each report followed by the scheduled check; when {@code neverStale}, no
     * check may raise anything. Returns the last update reported (on the reporter's clock).
     */
    private Instant reportThroughASetBack(String index, Instant start, int minutes, String heartbeatTimeout,
            boolean neverStale) {
        Duration refreshEvery = Duration.ofMinutes(30);
        Instant lastUpdate = start;
        for (int minute = 0; minute <= minutes; minute += 10) {
            Instant server = start.plus(Duration.ofMinutes(minute));
            Instant reporter = minute <= 180 ? server : server.minus(SET_BACK);
            clock.set(server);
            Instant refreshed = start.minus(SET_BACK);
            while (!refreshed.plus(refreshEvery).isAfter(reporter)) {
                refreshed = refreshed.plus(refreshEvery);
            }
            lastUpdate = refreshed;
            post("index", map("signalId", UUID.randomUUID().toString(), "index", index, "at", reporter.toString(),
                    "lastUpdatedAt", lastUpdate.toString(), "maxAge", "PT2H", "heartbeatTimeout", heartbeatTimeout))
                    .statusCode(200).body("failures", equalTo(0));
            checks.check();
            if (neverStale) {
                failuresOf(index).body("items", hasSize(0));
            }
        }
        return lastUpdate;
    }

    /**
     * No stale_index exactly two hours after the last update (made on the clock set back) on the server's clock, and
     * one, too_old, a minute later.
     */
    private void staleTwoHoursAfterOnTheServersClock(String index, Instant lastUpdate) {
        Instant dueOnServer = lastUpdate.plus(SET_BACK).plus(Duration.ofHours(2));
        clock.set(dueOnServer);
        checks.check();
        failuresOf(index).body("items", hasSize(0));
        clock.set(dueOnServer.plusSeconds(60));
        checks.check();
        failuresOf(index).body("items", hasSize(1)).body("items[0].evidence.reason", equalTo("too_old"))
                .body("items[0].evidence.age", equalTo("PT2H1M"))
                .body("items[0].evidence.last_updated_at", equalTo(lastUpdate.toString()));
    }
}
