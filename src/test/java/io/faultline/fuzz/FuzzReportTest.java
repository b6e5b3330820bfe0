package io.faultline.fuzz;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How the campaign judges answer times: against the 2 s promise and the run's own reference for the request's size,
 * so a uniformly slower machine passes and a request far off its size's reference fails.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FuzzReportTest {

    private static final long MS = 1_000_000;

    private static FuzzReport.Outcome answer(int index, int bytes, long nanos) {
        FuzzRequest request = new FuzzRequest(index, "POST", "/api/v1/calls", "application/json", new byte[bytes],
                "calls", "valid", true);
        return new FuzzReport.Outcome(request, 200, nanos, "application/json", "{}", null);
    }

    private static FuzzReport campaign(double slowdown, long hostileNanos) {
        FuzzReport report = new FuzzReport(1, 402, Duration.ofSeconds(2), "http://127.0.0.1:1");
        for (int i = 0; i < 200; i++) {
            report.record(answer(i, 2_000, (long) (10 * MS * slowdown)));
            report.record(answer(200 + i, 100_000, (long) (30 * MS * slowdown)));
        }
        report.record(answer(400, 2_600_000, (long) (700 * MS * slowdown)));
        report.record(answer(401, 5_000, hostileNanos));
        return report;
    }

    @Test
    void a_machine_ten_times_slower_breaks_the_2_s_promise_on_large_bodies_but_not_the_campaign() {
        FuzzReport report = campaign(10, 100 * MS);

        assertThat(report.failureGroups()).isEmpty();
    }

    @Test
    void a_small_request_far_slower_than_the_runs_reference_fails_whatever_the_machine() {
        assertThat(campaign(1, 5_000 * MS).failureGroups()).singleElement().asString()
                .contains("calls | slower than 2000 ms and than 100x the run's reference");
        assertThat(campaign(10, 200_000 * MS).failureGroups()).hasSize(1);
    }

    @Test
    void the_ceiling_is_the_promise_or_the_reference_for_the_size_times_100_whichever_is_larger() {
        FuzzReport report = new FuzzReport(1, 1, Duration.ofSeconds(2), "http://127.0.0.1:1");

        assertThat(report.ceilingNanos(10 * MS, 300, 1_000)).isEqualTo(2_000 * MS);
        assertThat(report.ceilingNanos(30 * MS, 300, 1_000)).isEqualTo(3_000 * MS);
        assertThat(report.ceilingNanos(10 * MS, 300, 2_600_000)).isEqualTo(78_000 * MS);
    }
}
