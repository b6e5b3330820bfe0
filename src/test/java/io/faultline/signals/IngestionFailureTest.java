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
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.not;

/** An hourly ingestion pipeline whose runs take 12 minutes. Default grace: 1.5 × the schedule. */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class IngestionFailureTest {

    private static final Instant T0 = Instant.parse("2026-11-22T00:00:00Z");
    private static final Duration RUN = Duration.ofMinutes(12);

    @Inject
    TestClock clock;

    @Inject
    SignalChecks checks;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    private static Map<String, Object> run(String pipeline, String runId, String status, Instant started,
            String error) {
        Map<String, Object> run = map("signalId", pipeline + "/" + runId, "pipeline", pipeline, "runId", runId,
                "status", status, "startedAt", started.toString(), "finishedAt", started.plus(RUN).toString(),
                "expectedEvery", "PT1H");
        if (error != null) {
            run.put("error", error);
        }
        return run;
    }

    /** Hourly successful runs 0..count-1, each reported when it finishes. */
    private void hourly(String pipeline, int count) {
        for (int i = 0; i < count; i++) {
            Instant started = T0.plus(Duration.ofHours(i));
            clock.set(started.plus(RUN));
            post("ingestion", run(pipeline, "run-" + i, "succeeded", started, null)).statusCode(200)
                    .body("accepted", equalTo(1)).body("failures", equalTo(0));
            checks.check();
        }
    }

    /**
     * A failed run and its failure are stored together: when the failure cannot be stored, the run is not either, so
     * that the client's resend raises it. Stored one after the other, the resend of a run whose raise had failed was
     * a duplicate, and the failure was never raised.
     */
    @Test
    void a_failed_run_whose_failure_could_not_be_stored_raises_it_when_resent() throws Exception {
        String pipeline = "refused-" + UUID.randomUUID();
        clock.set(T0.plus(RUN));
        Map<String, Object> failed = run(pipeline, "run-0", "failed", T0, "S3 AccessDenied");
        try (AutoCloseable refused = refuseFailuresOf(dataSource, pipeline)) {
            post("ingestion", failed).statusCode(greaterThanOrEqualTo(500));
        }
        post("ingestion", failed).statusCode(200).body("accepted", equalTo(1)).body("failures", equalTo(1));
        failuresOf(pipeline).body("items", hasSize(1)).body("items[0].evidence.reason", equalTo("run_failed"))
                .body("items[0].firstSeen", equalTo(T0.plus(RUN).toString()));
    }

    /**
     * A reporter that retries its report under a new signal id (one id per HTTP attempt), or an orchestrator that
     * retries the run under its run id and reports its failure again, reports one failed run: it counts once.
     */
    @Test
    void a_failed_run_reported_again_under_another_signal_id_counts_once() {
        String pipeline = "retried-" + UUID.randomUUID();
        clock.set(T0.plus(RUN));
        Map<String, Object> failed = run(pipeline, "run-0", "failed", T0, "S3 AccessDenied");
        post("ingestion", failed).statusCode(200).body("accepted", equalTo(1)).body("failures", equalTo(1));
        clock.set(T0.plus(RUN).plusSeconds(30));
        failed.put("signalId", "attempt-2-" + UUID.randomUUID());
        post("ingestion", failed).statusCode(200).body("accepted", equalTo(1)).body("failures", equalTo(0));

        failuresOf(pipeline).body("items", hasSize(1)).body("items[0].occurrences", equalTo(1));
        // The next run that fails is a new failure.
        clock.set(T0.plus(Duration.ofHours(1)).plus(RUN));
        post("ingestion", run(pipeline, "run-1", "failed", T0.plus(Duration.ofHours(1)), "S3 AccessDenied"))
                .statusCode(200).body("failures", equalTo(1));
    }

    /**
     * Idempotency holds for the retention after a signal is received, whatever its own time: a failed run reported a
     * week late was deleted by the next check (its startedAt lay beyond the retention), and its resend raised again.
     */
    @Test
    void a_late_report_of_a_run_older_than_the_retention_is_still_a_duplicate_when_resent() {
        String pipeline = "late-" + UUID.randomUUID();
        Instant now = T0.plus(Duration.ofDays(8));
        clock.set(now);
        Map<String, Object> failed = run(pipeline, "run-0", "failed", T0, "S3 AccessDenied");
        post("ingestion", failed).statusCode(200).body("accepted", equalTo(1)).body("failures", equalTo(1));
        clock.set(now.plusSeconds(60));
        checks.check();

        post("ingestion", failed).statusCode(200).body("accepted", equalTo(0)).body("duplicates", equalTo(1))
                .body("failures", equalTo(0));
    }

    @Test
    void a_failed_run_raises_ingestion_failure_with_the_masked_error() {
        String pipeline = "crawl-" + UUID.randomUUID();
        hourly(pipeline, 3);
        Instant started = T0.plus(Duration.ofHours(3));
        clock.set(started.plus(RUN));
        post("ingestion", run(pipeline, "run-3", "failed", started,
                "S3 AccessDenied for ops@example.com using key sk-proj-abcdefghijklmnop")).statusCode(200)
                .body("failures", equalTo(1));

        failuresOf(pipeline).body("items", hasSize(1))
                .body("items[0].type", equalTo("ingestion_failure"))
                .body("items[0].severity", equalTo("P2"))
                .body("items[0].provider", equalTo("pipeline"))
                .body("items[0].detectionMethod", equalTo("signals.ingestion_run"))
                .body("items[0].firstSeen", equalTo(started.plus(RUN).toString()))
                .body("items[0].evidence.reason", equalTo("run_failed"))
                .body("items[0].evidence.run_id", equalTo("run-3"))
                .body("items[0].evidence.started_at", equalTo(started.toString()))
                .body("items[0].evidence.finished_at", equalTo(started.plus(RUN).toString()))
                .body("items[0].evidence.error", containsString("[email]"))
                .body("items[0].evidence.error", containsString("[secret]"))
                .body("items[0].evidence.error", not(containsString("ops@example.com")));
    }

    @Test
    void a_failed_run_whose_error_holds_nul_is_stored_with_replacement_characters() {
        // Once a 503: PostgreSQL refused the NUL in the stored error and in the failure's evidence.
        String pipeline = "nul-" + UUID.randomUUID();
        Instant started = T0;
        clock.set(started.plus(RUN));
        post("ingestion", run(pipeline, "run-0", "failed", started, "disk\u0000full \ud800")).statusCode(200)
                .body("accepted", equalTo(1)).body("failures", equalTo(1));

        failuresOf(pipeline).body("items", hasSize(1))
                .body("items[0].evidence.error", equalTo("disk\uFFFDfull \uFFFD"));
    }

    @Test
    void a_resent_failed_run_is_a_duplicate_and_raises_nothing_more() {
        String pipeline = "crawl-" + UUID.randomUUID();
        clock.set(T0.plus(RUN));
        Map<String, Object> failed = run(pipeline, "run-0", "failed", T0, "timeout");
        post("ingestion", failed).statusCode(200).body("accepted", equalTo(1)).body("failures", equalTo(1));
        post("ingestion", failed).statusCode(200).body("accepted", equalTo(0)).body("duplicates", equalTo(1))
                .body("failures", equalTo(0));
        post("ingestion", java.util.List.of(failed, failed)).statusCode(200).body("received", equalTo(2))
                .body("accepted", equalTo(0)).body("duplicates", equalTo(2));
        failuresOf(pipeline).body("items", hasSize(1)).body("items[0].occurrences", equalTo(1));
    }

    @Test
    void a_scheduled_run_that_does_not_report_raises_a_missed_run_once_per_slot() {
        String pipeline = "crawl-" + UUID.randomUUID();
        hourly(pipeline, 3);
        Instant lastReport = T0.plus(Duration.ofHours(2)).plus(RUN);
        Instant due = lastReport.plus(Duration.ofMinutes(90));
        clock.set(due);
        checks.check();
        failuresOf(pipeline).body("items", hasSize(0));

        clock.set(due.plusSeconds(1));
        checks.check();
        clock.advance(Duration.ofMinutes(10));
        checks.check(); // the same missed slot: not raised again
        failuresOf(pipeline).body("items", hasSize(1))
                .body("items[0].type", equalTo("ingestion_failure"))
                .body("items[0].severity", equalTo("P2"))
                .body("items[0].occurrences", equalTo(1))
                .body("items[0].detectionMethod", equalTo("signals.ingestion_schedule"))
                .body("items[0].firstSeen", equalTo(due.plusSeconds(1).toString()))
                .body("items[0].evidence.reason", equalTo("missed_run"))
                .body("items[0].evidence.last_run_id", equalTo("run-2"))
                .body("items[0].evidence.last_run_at", equalTo(lastReport.toString()))
                .body("items[0].evidence.due_at", equalTo(due.toString()))
                .body("items[0].evidence.expected_every", equalTo("PT1H"))
                .body("items[0].evidence.missed_runs", equalTo(1));

        clock.set(due.plus(Duration.ofHours(1)).plusSeconds(1)); // the next slot passes too
        checks.check();
        failuresOf(pipeline).body("items", hasSize(2)).body("items.evidence.missed_runs", contains(2, 1));
    }

    @Test
    void the_same_schedule_with_every_run_in_time_raises_nothing() {
        String pipeline = "crawl-" + UUID.randomUUID();
        hourly(pipeline, 6);
        clock.set(T0.plus(Duration.ofHours(5)).plus(RUN).plus(Duration.ofMinutes(90))); // due, not past due
        checks.check();
        failuresOf(pipeline).body("items", hasSize(0));
    }
}
