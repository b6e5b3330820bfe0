package io.faultline.predict;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.function.IntFunction;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The indicator formulas on hand-built windows: what must predict and what must not. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class IndicatorsTest {

    static final Instant NOW = Instant.parse("2031-01-01T12:15:00Z");
    static final Indicators.Settings S = new Indicators.Settings(900, 0.5, 5, 0.6, 3, 2.0, 60_000, 2.0, 4, 0.2);

    @Test
    void least_squares_recovers_a_line_and_its_fit() {
        double[] x = { 0, 1, 2, 3 };
        double[] y = { 10, 8, 6, 4 };
        Trend t = Trend.fit(x, y, 4);
        assertThat(t.slope()).isCloseTo(-2, within(1e-9));
        assertThat(t.at(5)).isCloseTo(0, within(1e-9));
        assertThat(t.r2()).isCloseTo(1, within(1e-9));
        assertThat(Trend.fit(x, new double[] { 5, 5, 5, 5 }, 4).r2()).as("flat says nothing").isZero();
    }

    @Test
    void confidence_rises_with_the_fit_and_with_the_nearness_of_the_failure() {
        assertThat(Trend.confidence(0.9, 100, 900)).isGreaterThan(Trend.confidence(0.9, 800, 900));
        assertThat(Trend.confidence(0.95, 300, 900)).isGreaterThan(Trend.confidence(0.65, 300, 900));
        assertThat(Trend.confidence(0.5, 900, 900)).isLessThan(0.5);
        assertThat(Trend.confidence(1, 0, 900)).isLessThanOrEqualTo(1.0).isGreaterThan(0.95);
        assertThat(Trend.twoSided(2)).isCloseTo(0.9545, within(1e-3));
    }

    @Test
    void headroom_draining_to_zero_before_its_reset_is_a_rate_limit_prediction() {
        // 100k tokens, 6k a minute from 90k: zero in ~6 min, reset in 3 h.
        DeploymentWindow w = window(i -> headroomBucket(90_000 - 6_000 * i, i, "3h0m0s"));
        List<Indicators.Candidate> c = Indicators.evaluate(w, null, S);
        assertThat(c).hasSize(1);
        assertThat(c.get(0).type()).isEqualTo("rate_limit");
        assertThat(c.get(0).timeToFailureSeconds()).isBetween(0.0, 900.0);
        assertThat(c.get(0).figures()).containsEntry("limit_type", "tokens");
    }

    @Test
    void headroom_that_resets_before_it_runs_out_is_no_risk() {
        DeploymentWindow w = window(i -> headroomBucket(90_000 - 6_000 * i, i, "30s"));
        assertThat(Indicators.evaluate(w, null, S)).isEmpty();
    }

    @Test
    void a_reset_in_the_window_restarts_the_fit_and_too_few_readings_after_it_predict_nothing() {
        // Drains in the first 12 buckets, then a reset refills it: only 3 readings in the current cycle.
        DeploymentWindow w = window(i -> headroomBucket(i < 12 ? 80_000 - 6_000 * i : 99_000 - 6_000 * (i - 12), i,
                "3h0m0s"));
        assertThat(Indicators.evaluate(w, null, S)).isEmpty();
    }

    @Test
    void latency_must_rise_in_p50_and_p95_and_is_projected_to_twice_the_baseline() {
        DeploymentWindow both = window(i -> latencyBucket(800 + 40 * i, 1200 + 80 * i));
        Indicators.Candidate c = Indicators.latency(both, 1200.0, S);
        assertThat(c).isNotNull();
        assertThat(c.type()).isEqualTo("timeout");
        assertThat(c.figures()).containsEntry("target", "baseline_factor").containsEntry("target_ms", 2400L);
        DeploymentWindow tailOnly = window(i -> latencyBucket(800 + (i % 2), 1200 + 80 * i));
        assertThat(Indicators.latency(tailOnly, 1200.0, S)).as("only the tail rises").isNull();
        DeploymentWindow belowBaseline = window(i -> latencyBucket(400 + 5 * i, 600 + 10 * i));
        assertThat(Indicators.latency(belowBaseline, 1200.0, S)).as("rising inside the normal range").isNull();
    }

    @Test
    void one_error_is_not_a_trend_and_an_accelerating_share_is_an_outage() {
        DeploymentWindow single = window(i -> errorBucket(30, i == 13 ? 1 : 0));
        assertThat(Indicators.failureShareRise(single, "outage", S)).isNull();
        // 0, 0.3%, 1.3%, ... doubling every 2 minutes.
        DeploymentWindow accelerating = window(i -> errorBucket(30, (int) Math.floor(0.05 * Math.pow(2, i / 2.0))));
        Indicators.Candidate c = Indicators.failureShareRise(accelerating, "outage", S);
        assertThat(c).isNotNull();
        assertThat(c.figures()).containsEntry("indicator", "failure_share_acceleration");
        // A linear rise is enough for a 529 share, not for an outage.
        DeploymentWindow linear = window(i -> errorBucket(100, i)); // 2%, 7%, 12%: equal steps
        assertThat(Indicators.failureShareRise(linear, "outage", S)).isNull();
        assertThat(Indicators.failureShareRise(withType(linear, 1), "overloaded", S)).isNotNull();
    }

    @Test
    void one_counter_read_by_two_deployments_is_shared_headroom_two_counters_are_not() {
        DeploymentWindow a = window(i -> headroomBucket(90_000 - 6_000 * i, i, "3h0m0s"));
        DeploymentWindow b = window(i -> headroomBucket(90_000 - 6_000 * i - 500, i, "3h0m0s"));
        assertThat(Indicators.sharedHeadroom(List.of(a, b), "tokens")).containsEntry("deployments_reading", 2);
        // Same limit, but each deployment drains a counter of its own: 30k apart.
        DeploymentWindow own = window(i -> headroomBucket(60_000 - 3_000 * i, i, "3h0m0s"));
        assertThat(Indicators.sharedHeadroom(List.of(a, own), "tokens")).isNull();
        assertThat(Indicators.sharedHeadroom(List.of(a), "tokens")).as("one deployment is not shared").isNull();
        assertThat(Indicators.sharedHeadroom(List.of(a, b), "requests")).as("nobody reads it").isNull();
    }

    @Test
    void failures_of_one_deployment_among_several_are_not_the_providers() {
        DeploymentWindow rising = withType(window(i -> errorBucket(100, i)), 1);
        DeploymentWindow quiet = withType(window(i -> errorBucket(100, i == 14 ? 1 : 0)), 1);
        assertThat(Indicators.failureSpread(List.of(rising, quiet, quiet), "overloaded", S)).isNull();
        assertThat(Indicators.failureSpread(List.of(rising, rising, quiet), "overloaded", S))
                .containsEntry("deployments_failing", 3);
        // Two deployments with a failure each, but no rise on them: noise, even with the failing one left out.
        assertThat(Indicators.failureSpread(List.of(quiet, quiet), "overloaded", S)).isNull();
        // Through evaluateProvider: the same provider window is kept or dropped by the spread of its members.
        DeploymentWindow provider = withType(window(i -> errorBucket(300, 3 * i)), 1);
        assertThat(Indicators.evaluateProvider(provider, List.of(rising, quiet, quiet), null, S, Indicators::latestReading))
                .isEmpty();
        List<Indicators.Candidate> spread = Indicators.evaluateProvider(provider, List.of(rising, rising, quiet), null,
                S, Indicators::latestReading);
        assertThat(spread).extracting(Indicators.Candidate::type).containsExactly("overloaded");
        assertThat(spread.get(0).figures()).containsEntry("scope", "provider").containsEntry("deployments", 3);
        assertThat(spread.get(0).action()).startsWith("Provider-wide");
    }

    @Test
    void latency_is_provider_wide_only_when_it_rises_on_most_deployments() {
        DeploymentWindow ramp = window(i -> latencyBucket(800 + 200 * i, 1200 + 400 * i));
        DeploymentWindow flat = window(i -> latencyBucket(800, 1200));
        assertThat(Indicators.latencySpread(List.of(ramp, flat, flat))).isNull();
        assertThat(Indicators.latencySpread(List.of(ramp, ramp, flat))).containsEntry("deployments_rising", 2);
    }

    private static DeploymentWindow window(IntFunction<DeploymentWindow.Bucket> bucket) {
        DeploymentWindow.Bucket[] buckets = new DeploymentWindow.Bucket[15];
        for (int i = 0; i < 15; i++) {
            buckets[i] = bucket.apply(i);
        }
        return new DeploymentWindow("openai", "dep", "group", NOW.minusSeconds(900), NOW, 60_000, buckets);
    }

    private static DeploymentWindow.Bucket headroomBucket(double remaining, int i, String reset) {
        DeploymentWindow.Reading[] r = new DeploymentWindow.Reading[4];
        double at = NOW.getEpochSecond() - 900 + i * 60 + 30;
        r[1] = new DeploymentWindow.Reading(remaining, at, 10, 100_000, reset, Instant.ofEpochSecond((long) at));
        return new DeploymentWindow.Bucket(10, 10, 800.0, 1200.0, new int[4], new Instant[4], new Instant[4], r);
    }

    private static DeploymentWindow.Bucket latencyBucket(double p50, double p95) {
        return new DeploymentWindow.Bucket(12, 12, p50, p95, new int[4], new Instant[4], new Instant[4],
                new DeploymentWindow.Reading[4]);
    }

    private static DeploymentWindow.Bucket errorBucket(int calls, int outages) {
        return new DeploymentWindow.Bucket(calls, calls - outages, 800.0, 1200.0, new int[] { 0, 0, outages, 0 },
                new Instant[4], new Instant[4], new DeploymentWindow.Reading[4]);
    }

    /** The same counts as another failure type (index in {@link DeploymentWindow#FAILURE_TYPES}). */
    private static DeploymentWindow withType(DeploymentWindow w, int type) {
        DeploymentWindow.Bucket[] buckets = new DeploymentWindow.Bucket[w.buckets().length];
        for (int i = 0; i < buckets.length; i++) {
            DeploymentWindow.Bucket b = w.buckets()[i];
            int[] failed = new int[4];
            failed[type] = b.failed()[2];
            buckets[i] = new DeploymentWindow.Bucket(b.calls(), b.ok(), b.p50(), b.p95(), failed, b.firstFailedAt(),
                    b.lastFailedAt(), b.headroom());
        }
        return new DeploymentWindow(w.provider(), w.deployment(), w.modelGroup(), w.from(), w.to(), w.bucketMillis(),
                buckets);
    }
}
