package io.faultline.baseline;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.BaselineRuns;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.TestClock;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;

@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BaselineApiTest {

    @Inject
    DeviationDetector detector;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    TestClock clock;

    @Inject
    BaselineStore store;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    private static RequestSpecification api() {
        return given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON);
    }

    @Test
    void a_run_can_be_cancelled_and_only_one_runs_per_provider() {
        String provider = "prov" + Long.toHexString(System.nanoTime());
        String runId = api().body(Map.of("provider", provider, "modelGroup", "m", "requests", 10_000,
                "ratePerSecond", 1)).post("/api/v1/baselines/runs").then().statusCode(202)
                .body("status", equalTo("running")).body("total", equalTo(10_000)).extract().path("runId");
        api().body(Map.of("provider", provider, "modelGroup", "m")).post("/api/v1/baselines/runs").then()
                .statusCode(409).contentType("application/problem+json");

        api().delete("/api/v1/baselines/runs/" + runId).then().statusCode(200);
        Awaitility.await("run cancelled").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
                .until(() -> "cancelled".equals(given().get("/api/v1/baselines/runs/" + runId).then()
                        .extract().path("status")));
        String second = api().body(Map.of("provider", provider, "modelGroup", "m", "requests", 10_000,
                "ratePerSecond", 1)).post("/api/v1/baselines/runs").then().statusCode(202).extract().path("runId");
        api().delete("/api/v1/baselines/runs/" + second).then().statusCode(200);
    }

    /**
     * Cancelling a run that already ended cancels nothing: a 409 that says so and names the status it ended with,
     * not a 200 carrying "completed" that reads as if the cancel took. An unknown run stays a 404.
     */
    @Test
    void cancelling_a_finished_run_is_a_conflict_naming_its_status() throws Exception {
        String provider = "pfin" + Long.toHexString(System.nanoTime());
        UUID runId = BaselineRuns.completed(dataSource, provider, "m", 8);
        api().delete("/api/v1/baselines/runs/" + runId).then().statusCode(409)
                .contentType("application/problem+json").body("title", equalTo("Run already ended"))
                .body("detail", org.hamcrest.Matchers.containsString("completed"))
                .body("detail", org.hamcrest.Matchers.containsString("nothing was cancelled"))
                .body("runStatus", equalTo("completed"));
        given().get("/api/v1/baselines/runs/" + runId).then().statusCode(200).body("status", equalTo("completed"));
        api().delete("/api/v1/baselines/runs/" + UUID.randomUUID()).then().statusCode(404)
                .contentType("application/problem+json");
    }

    @Test
    void a_bad_run_request_names_the_field() {
        api().body(Map.of("provider", "Not A Provider!", "modelGroup", "m")).post("/api/v1/baselines/runs").then()
                .statusCode(400).contentType("application/problem+json").body("errors[0].field", equalTo("provider"));
        api().body(Map.of("provider", "openai", "modelGroup", "m", "concurrency", 1000))
                .post("/api/v1/baselines/runs").then().statusCode(400).body("errors[0].field", equalTo("concurrency"));
        given().get("/api/v1/baselines/runs/" + UUID.randomUUID()).then().statusCode(404)
                .contentType("application/problem+json");
    }

    @Test
    void passive_baselines_are_learned_from_live_traffic_and_deviations_respect_the_sample_floor() throws Exception {
        String provider = "pass" + Long.toHexString(System.nanoTime());
        Instant now = Instant.now();
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            // 100, 110, ... 490 ms: nearest-rank p50 = 20th = 290 ms, p95 = 38th = 470 ms.
            calls.add(Payloads.success(provider, "m", "d1", now.minusSeconds(60 + i)).latency(0.1 + i * 0.01));
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        assertThat(detector.learnPassive(Duration.ofHours(1))).isGreaterThanOrEqualTo(1);
        var passive = given().get("/api/v1/baselines?provider=" + provider + "&metric=latency_ms").then()
                .statusCode(200).body("[0].source", equalTo("passive")).body("[0].sampleSize", equalTo(40))
                .extract().jsonPath();
        // Latencies come from epoch-second floats, hence the tolerance.
        assertThat(passive.getDouble("[0].p50")).isCloseTo(290.0, org.assertj.core.api.Assertions.within(0.01));
        assertThat(passive.getDouble("[0].p95")).isCloseTo(470.0, org.assertj.core.api.Assertions.within(0.01));

        // Ten slow calls in the window: far past 2x the baseline, but under the 20-call floor.
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "update llm_calls set started_at = ? where provider = ?")) {
            st.setTimestamp(1, Timestamp.from(now.minus(Duration.ofHours(2))));
            st.setString(2, provider);
            st.executeUpdate();
        }
        List<Payloads> slow = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            slow.add(Payloads.success(provider, "m", "d1", now.minusSeconds(5 + i)).latency(3.0));
        }
        Api.ingest(Payloads.array(slow.toArray(Payloads[]::new))).statusCode(200);
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("latency_p95")).singleElement().satisfies(d -> {
                    assertThat(d.ratio()).isGreaterThan(2.0);
                    assertThat(d.samples()).isEqualTo(10);
                    assertThat(d.raised()).isFalse();
                });
        given().get("/api/v1/failures?provider=" + provider).then().statusCode(200)
                .body("items.size()", equalTo(0));
    }

    @Test
    void an_error_rate_far_above_its_baseline_is_raised_as_an_outage_deviation() {
        String provider = "errs" + Long.toHexString(System.nanoTime());
        Instant now = Instant.now();
        List<Payloads> healthy = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            healthy.add(Payloads.success(provider, "m", "d1", now.minusSeconds(400 + i)));
        }
        Api.ingest(Payloads.array(healthy.toArray(Payloads[]::new))).statusCode(200);
        detector.learnPassive(Duration.ofHours(1));
        given().get("/api/v1/baselines?provider=" + provider + "&metric=error_rate").then().statusCode(200)
                .body("[0].p95", equalTo(0.0f)).body("[0].source", equalTo("passive"));

        // In the last five minutes: 15 successes and 10 503s, a 40% error rate against a 0% baseline.
        List<Payloads> window = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            window.add(i < 10 ? Payloads.failure(provider, "m", "d1", now.minusSeconds(10 + i), 503,
                    "ServiceUnavailableError", "unavailable") : Payloads.success(provider, "m", "d1",
                            now.minusSeconds(10 + i)));
        }
        Api.ingest(Payloads.array(window.toArray(Payloads[]::new))).statusCode(200);
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("error_rate")).singleElement().satisfies(d -> {
                    assertThat(d.current()).isEqualTo(0.4);
                    assertThat(d.baselineP95()).isEqualTo(DeviationDetector.ERROR_RATE_FLOOR);
                    assertThat(d.raised()).isTrue();
                });
        given().get("/api/v1/failures?provider=" + provider + "&type=outage").then().statusCode(200)
                .body("items.detectionMethod", org.hamcrest.Matchers.hasItem("baseline.error_rate_deviation"));
    }

    /** Forty healthy calls of model group m (p95 470 ms) twenty to forty minutes before t0, learnt as the baseline. */
    private void learnHealthyBaseline(String provider, Instant t0) {
        List<Payloads> healthy = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            healthy.add(Payloads.success(provider, "m", "d1", t0.minusSeconds(1200 + i * 30L)).latency(0.1 + i * 0.01));
        }
        Api.ingest(Payloads.array(healthy.toArray(Payloads[]::new))).statusCode(200);
        detector.learnPassive(Duration.ofHours(1));
    }

    /** {@code n} calls of 1.5 s each (three times that baseline's p95), one every {@code stepSeconds} from start. */
    private static void ingestSlow(String provider, Instant start, int n, long stepSeconds) {
        List<Payloads> slow = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            slow.add(Payloads.success(provider, "m", "d1", start.plusSeconds(i * stepSeconds)).latency(1.5));
        }
        Api.ingest(Payloads.array(slow.toArray(Payloads[]::new))).statusCode(200);
    }

    /**
     * A passive baseline is learnt from the last hour, and a p95 moves once 5% of that hour is slow: relearnt during
     * a latency regression it became the regression, and the deviation stopped within one learning interval while
     * the provider stayed three times slower. A scope that deviates keeps the baseline it deviates from.
     */
    @Test
    void a_passive_baseline_is_not_relearnt_from_the_regression_it_is_flagging() {
        String provider = "drift" + Long.toHexString(System.nanoTime());
        Instant t0 = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        clock.set(t0);
        learnHealthyBaseline(provider, t0);
        // From t0 on, every call takes 1.5 s, three times the baseline p95 of 470 ms; 5 calls a minute for 16 min.
        clock.set(t0.plus(Duration.ofMinutes(16)));
        ingestSlow(provider, t0, 80, 12);
        clock.set(t0.plus(Duration.ofMinutes(15)));
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("latency_p95")).singleElement().satisfies(d -> assertThat(d.raised()).isTrue());

        detector.learnPassive(Duration.ofHours(1)); // the quarter-hourly learning, in the middle of the regression
        clock.set(t0.plus(Duration.ofMinutes(16)));
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("latency_p95")).singleElement().satisfies(d -> {
                    assertThat(d.baselineP95()).isCloseTo(470.0, org.assertj.core.api.Assertions.within(0.01));
                    assertThat(d.raised()).isTrue();
                });
    }

    /**
     * Traffic fell with the regression: three calls a minute, each three times the baseline p95, for an hour. Each
     * five-minute window holds 15 calls, under the floor of 20, so no deviation is raised; but the hour holds 180,
     * and the learning took the regression as the baseline, so the same slowness at full traffic raised nothing. A
     * window that deviates from the baseline as a whole is not learnt, raised or not.
     */
    @Test
    void a_slow_hour_of_thin_traffic_is_not_learnt_as_the_baseline() {
        String provider = "thin" + Long.toHexString(System.nanoTime());
        Instant t0 = Instant.now().plus(Duration.ofDays(3)).truncatedTo(java.time.temporal.ChronoUnit.MINUTES);
        clock.set(t0);
        learnHealthyBaseline(provider, t0);

        Instant t1 = t0.plus(Duration.ofHours(1));
        Instant t2 = t1.plus(Duration.ofHours(1));
        clock.set(t2);
        ingestSlow(provider, t1, 180, 20);
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("latency_p95")).singleElement().satisfies(d -> {
                    assertThat(d.ratio()).isGreaterThan(3.0);
                    assertThat(d.raised()).as("under the sample floor").isFalse();
                });
        detector.learnPassive(Duration.ofHours(1));

        // Traffic is back, as slow as before: 30 calls in the last minute.
        clock.set(t2.plus(Duration.ofMinutes(2)));
        ingestSlow(provider, t2.plusSeconds(30), 30, 1);
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("latency_p95")).singleElement().satisfies(d -> {
                    assertThat(d.baselineP95()).isCloseTo(470.0, org.assertj.core.api.Assertions.within(0.01));
                    assertThat(d.raised()).isTrue();
                });
    }

    /**
     * A regression raised for most of an hour, then a lull: the five minutes before the learning hold no calls, so
     * nothing deviates "now", and the hour of the regression was learnt as the baseline.
     */
    @Test
    void an_hour_of_raised_regression_followed_by_a_lull_is_not_learnt_as_the_baseline() {
        String provider = "lull" + Long.toHexString(System.nanoTime());
        Instant t0 = Instant.now().plus(Duration.ofDays(4)).truncatedTo(java.time.temporal.ChronoUnit.MINUTES);
        clock.set(t0);
        learnHealthyBaseline(provider, t0);

        // 50 minutes at 6 calls a minute, 1.5 s each (raised), then 10 minutes without a call.
        Instant t1 = t0.plus(Duration.ofMinutes(5));
        clock.set(t1.plus(Duration.ofMinutes(50)));
        ingestSlow(provider, t1, 300, 10);
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("latency_p95")).singleElement().satisfies(d -> assertThat(d.raised()).isTrue());
        Instant lull = clock.advance(Duration.ofMinutes(10));
        assertThat(detector.detectDeviation()).noneMatch(d -> d.provider().equals(provider));
        detector.learnPassive(Duration.ofHours(1));

        var baseline = given().get("/api/v1/baselines?provider=" + provider + "&metric=latency_ms").then()
                .statusCode(200).body("size()", equalTo(1)).extract().jsonPath();
        assertThat(baseline.getDouble("[0].p95")).isCloseTo(470.0, org.assertj.core.api.Assertions.within(0.01));
        assertThat(Instant.parse(baseline.getString("[0].measuredAt"))).isBefore(lull);
    }

    /**
     * The deviation ratio speaks for the last window: once a model group's calls stop, it shows no ratio (NaN), not
     * the deviation of its last busy window for as long as the process lives.
     */
    @Test
    void the_deviation_ratio_of_a_group_without_calls_in_the_window_is_nan_not_its_last_value() {
        String provider = "idle" + Long.toHexString(System.nanoTime());
        Instant t0 = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        clock.set(t0);
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            calls.add(Payloads.success(provider, "m", "d1", t0.minusSeconds(1200 + i)).latency(0.1 + i * 0.01));
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        detector.learnPassive(Duration.ofHours(1));
        List<Payloads> slow = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            slow.add(Payloads.success(provider, "m", "d1", t0.minusSeconds(10 + i)).latency(3.0));
        }
        Api.ingest(Payloads.array(slow.toArray(Payloads[]::new))).statusCode(200);
        detector.detectDeviation();
        assertThat(io.faultline.testing.Metrics.value(io.faultline.testing.Metrics.scrape(),
                "llm_baseline_deviation_ratio", "provider", provider, "metric", "latency_p95")).isGreaterThan(2.0);

        clock.advance(Duration.ofMinutes(10));
        assertThat(detector.detectDeviation()).noneMatch(d -> d.provider().equals(provider));
        assertThat(io.faultline.testing.Metrics.value(io.faultline.testing.Metrics.scrape(),
                "llm_baseline_deviation_ratio", "provider", provider, "metric", "latency_p95")).isNaN();
    }

    /**
     * LiteLLM refusing a virtual key itself (a 401 of its ProxyException, stamped with the model group's provider,
     * before any provider call) is no error of the provider: not in its error rate, not learnt into its baseline,
     * as the SLO leaves it out of the failed responses ({@code SloRollup.SERVICE_FAILURE}). Counted, ten refused
     * keys among 25 calls raised an error-rate deviation of a healthy provider.
     */
    @Test
    void litellms_own_key_refusals_are_no_provider_errors_in_the_baselines() {
        String provider = "prxy" + Long.toHexString(System.nanoTime());
        Instant now = Instant.now();
        List<Payloads> healthy = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            healthy.add(Payloads.success(provider, "m", "d1", now.minusSeconds(400 + i)));
        }
        for (int i = 0; i < 20; i++) {
            healthy.add(refusedKey(provider, now.minusSeconds(500 + i)));
        }
        Api.ingest(Payloads.array(healthy.toArray(Payloads[]::new))).statusCode(200);
        detector.learnPassive(Duration.ofHours(1));
        assertThat(store.current(provider, "error_rate")).as("the error-rate baseline learnt")
                .singleElement().satisfies(b -> {
                    assertThat(b.p95()).isZero();
                    assertThat(b.sampleSize()).as("the provider's own calls").isEqualTo(40);
                });

        List<Payloads> window = new ArrayList<>();
        for (int i = 0; i < 15; i++) {
            window.add(Payloads.success(provider, "m", "d1", now.minusSeconds(10 + i)));
        }
        for (int i = 0; i < 10; i++) {
            window.add(refusedKey(provider, now.minusSeconds(30 + i)));
        }
        Api.ingest(Payloads.array(window.toArray(Payloads[]::new))).statusCode(200);
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("error_rate")).singleElement().satisfies(d -> {
                    assertThat(d.current()).isZero();
                    assertThat(d.samples()).as("the provider's own calls").isEqualTo(15);
                    assertThat(d.raised()).isFalse();
                });
    }

    private static Payloads refusedKey(String provider, Instant at) {
        return Payloads.failure(provider, "m", "d1", at, 401, "ProxyException",
                "Authentication Error, Invalid proxy server token passed.").latency(0);
    }

    /**
     * A caller sending bad requests is no provider outage: 400s for a bad parameter, context overflows and refused
     * content are the caller's (the error-rate alert leaves them out too), while 429s, 5xx and timeouts count.
     */
    @Test
    void client_errors_do_not_raise_an_error_rate_deviation_of_the_provider() {
        String provider = "clnt" + Long.toHexString(System.nanoTime());
        Instant now = Instant.now();
        List<Payloads> healthy = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            healthy.add(Payloads.success(provider, "m", "d1", now.minusSeconds(400 + i)));
        }
        Api.ingest(Payloads.array(healthy.toArray(Payloads[]::new))).statusCode(200);
        detector.learnPassive(Duration.ofHours(1));

        // In the last five minutes: 15 successes and 10 calls the caller got wrong.
        List<Payloads> window = new ArrayList<>();
        for (int i = 0; i < 15; i++) {
            window.add(Payloads.success(provider, "m", "d1", now.minusSeconds(10 + i)));
        }
        for (int i = 0; i < 4; i++) {
            window.add(Payloads.failure(provider, "m", "d1", now.minusSeconds(30 + i), 400, "BadRequestError",
                    "OpenAIException - Invalid value for 'temperature': must be <= 2"));
            window.add(Payloads.failure(provider, "m", "d1", now.minusSeconds(40 + i), 400,
                    "ContextWindowExceededError", "This model's maximum context length is 8192 tokens"));
        }
        window.add(Payloads.failure(provider, "m", "d1", now.minusSeconds(50), 404, "NotFoundError",
                "The model `gpt-5-typo` does not exist"));
        window.add(Payloads.failure(provider, "m", "d1", now.minusSeconds(51), 400, "ContentPolicyViolationError",
                "Your request was rejected as a result of our safety system."));
        Api.ingest(Payloads.array(window.toArray(Payloads[]::new))).statusCode(200);
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("error_rate")).singleElement().satisfies(d -> {
                    assertThat(d.current()).isZero();
                    assertThat(d.raised()).isFalse();
                });

        // Ten provider-side errors in the same window do raise it: 10 of 35 calls.
        List<Payloads> outage = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            outage.add(Payloads.failure(provider, "m", "d1", now.minusSeconds(60 + i), i % 2 == 0 ? 503 : 429,
                    i % 2 == 0 ? "ServiceUnavailableError" : "RateLimitError", "unavailable"));
        }
        Api.ingest(Payloads.array(outage.toArray(Payloads[]::new))).statusCode(200);
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("error_rate")).singleElement().satisfies(d -> {
                    assertThat(d.current()).isCloseTo(10.0 / 35, org.assertj.core.api.Assertions.within(1e-9));
                    assertThat(d.raised()).isTrue();
                });
    }

    /**
     * Baselines are learnt per provider and model group, and each group is judged against its own: a slow model at
     * its usual latency is no deviation because a fast sibling sets a lower bar, and a fast model gone three times
     * slower is one even while a slow sibling's latencies hide it in the provider's p95.
     */
    @Test
    void each_model_group_is_judged_against_its_own_baseline() {
        String provider = "grp" + Long.toHexString(System.nanoTime());
        Instant t0 = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        clock.set(t0);
        List<Payloads> learnt = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            // fast: 100 ... 490 ms (p95 470 ms); slow: 2000 ... 3950 ms (p95 3850 ms)
            learnt.add(Payloads.success(provider, "fast", "d-fast", t0.minusSeconds(1200 + i)).latency(0.1 + i * 0.01));
            learnt.add(Payloads.success(provider, "slow", "d-slow", t0.minusSeconds(1300 + i)).latency(2.0 + i * 0.05));
        }
        Api.ingest(Payloads.array(learnt.toArray(Payloads[]::new))).statusCode(200);
        assertThat(detector.learnPassive(Duration.ofHours(1))).isGreaterThanOrEqualTo(4);

        List<Payloads> usual = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            usual.add(Payloads.success(provider, "fast", "d-fast", t0.minusSeconds(30 + i)).latency(0.1 + i * 0.01));
            usual.add(Payloads.success(provider, "slow", "d-slow", t0.minusSeconds(60 + i)).latency(2.0 + i * 0.05));
        }
        Api.ingest(Payloads.array(usual.toArray(Payloads[]::new))).statusCode(200);
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("latency_p95")).isNotEmpty().noneMatch(DeviationDetector.Deviation::raised);

        Instant t1 = clock.advance(Duration.ofMinutes(10));
        List<Payloads> fastDegraded = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            fastDegraded.add(Payloads.success(provider, "fast", "d-fast", t1.minusSeconds(30 + i)).latency(1.5));
            fastDegraded.add(Payloads.success(provider, "slow", "d-slow", t1.minusSeconds(60 + i))
                    .latency(2.0 + i * 0.05));
        }
        Api.ingest(Payloads.array(fastDegraded.toArray(Payloads[]::new))).statusCode(200);
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("latency_p95") && d.raised()).singleElement()
                .satisfies(d -> assertThat(d.current()).isCloseTo(1500.0, org.assertj.core.api.Assertions.within(1.0)));
        given().get("/api/v1/failures?provider=" + provider + "&type=timeout").then().statusCode(200)
                .body("items.size()", equalTo(1)).body("items[0].impactScope.model_group", equalTo("fast"));
    }

    /**
     * Baselines are per provider and model group, and so is a deviation: two groups of one provider going slow at
     * once are two episodes, each naming its own group. Folded by provider alone they were one episode whose scope
     * named the first group, and the second group's slowness was nowhere to be seen.
     */
    @Test
    void two_model_groups_of_one_provider_deviating_at_once_are_two_episodes() {
        String provider = "twin" + Long.toHexString(System.nanoTime());
        Instant t0 = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        clock.set(t0);
        List<Payloads> learnt = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            learnt.add(Payloads.success(provider, "a", "d-a", t0.minusSeconds(1200 + i)).latency(0.1 + i * 0.01));
            learnt.add(Payloads.success(provider, "b", "d-b", t0.minusSeconds(1300 + i)).latency(0.1 + i * 0.01));
        }
        Api.ingest(Payloads.array(learnt.toArray(Payloads[]::new))).statusCode(200);
        detector.learnPassive(Duration.ofHours(1));

        List<Payloads> slow = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            slow.add(Payloads.success(provider, "a", "d-a", t0.minusSeconds(30 + i)).latency(1.5));
            slow.add(Payloads.success(provider, "b", "d-b", t0.minusSeconds(60 + i)).latency(2.0));
        }
        Api.ingest(Payloads.array(slow.toArray(Payloads[]::new))).statusCode(200);
        assertThat(detector.detectDeviation()).filteredOn(d -> d.provider().equals(provider)
                && d.metric().equals("latency_p95") && d.raised()).extracting(DeviationDetector.Deviation::modelGroup)
                .containsExactlyInAnyOrder("a", "b");
        given().get("/api/v1/failures?provider=" + provider + "&type=timeout").then().log().ifValidationFails()
                .statusCode(200).body("items.size()", equalTo(2))
                .body("items.impactScope.model_group", org.hamcrest.Matchers.containsInAnyOrder("a", "b"));
    }

    /**
     * A database outage: the checks of its minutes fail, and the plugin delivers the outage's calls once the database
     * is back. The first check after it judges the windows it missed, each dated at its own time as it would have
     * run, so the deviation starts when its calls did, not at the first check that could read them.
     */
    @Test
    void checks_missed_in_an_outage_are_judged_once_the_calls_arrive_dated_at_their_own_time() throws Exception {
        String provider = "missed" + Long.toHexString(System.nanoTime());
        Instant t0 = Instant.now().plus(Duration.ofDays(1)).truncatedTo(java.time.temporal.ChronoUnit.MINUTES);
        healthyBaseline(provider, t0);
        detector.tick(); // the last check before the outage: nothing deviates

        // The checks at t0+1m and t0+2m cannot run; the calls of those minutes arrive after them.
        clock.set(t0.plus(Duration.ofMinutes(3)));
        Api.ingest(Payloads.array(partialOutage(provider, t0))).statusCode(200);
        detector.tick();

        assertOneErrorRateDeviation(provider, t0.plus(Duration.ofMinutes(1)), t0.plus(Duration.ofMinutes(3)), 3);
    }

    /**
     * The proxy could not reach a running Faultline: the checks ran on the calls they had, and the plugin delivered
     * the others later. The next check judges again the minutes those calls belong to, and raises a minute once.
     */
    @Test
    void a_checked_minute_that_late_calls_change_is_judged_again_once() throws Exception {
        String provider = "late" + Long.toHexString(System.nanoTime());
        Instant t0 = Instant.now().plus(Duration.ofDays(2)).truncatedTo(java.time.temporal.ChronoUnit.MINUTES);
        healthyBaseline(provider, t0);
        clock.set(t0.plusSeconds(1));
        detector.tick();
        clock.set(t0.plus(Duration.ofMinutes(1)));
        detector.tick(); // checks t0+1m without the calls of t0+20s..t0+44s, which the plugin still holds

        clock.set(t0.plusSeconds(90));
        Api.ingest(Payloads.array(partialOutage(provider, t0))).statusCode(200);
        clock.set(t0.plus(Duration.ofMinutes(2)));
        detector.tick();
        // One more late failure: t0+1m and t0+2m are judged again, and neither is raised a second time.
        clock.set(t0.plusSeconds(150));
        Api.ingest(Payloads.array(Payloads.failure(provider, "m", "d1", t0.plusSeconds(50), 503,
                "ServiceUnavailableError", "unavailable"))).statusCode(200);
        clock.set(t0.plus(Duration.ofMinutes(3)));
        detector.tick();

        assertOneErrorRateDeviation(provider, t0.plus(Duration.ofMinutes(1)), t0.plus(Duration.ofMinutes(3)), 3);
    }

    /**
     * A profile's error rate is the reference of the live one, which counts provider-side failures only: a profile
     * whose near-context-limit prompt overflows a smaller window (400) or whose group name is unknown (404) measured
     * no provider errors, though each such status keeps its own error_rate:<status>.
     */
    @Test
    void a_profile_error_rate_counts_provider_side_failures_only() throws Exception {
        String provider = "perr" + Long.toHexString(System.nanoTime());
        UUID runId = BaselineRuns.completed(dataSource, provider, "m", 8);
        List<Sample> samples = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            samples.add(new Sample("d1", 200, 100 + i, null, 10, 0.001, null));
        }
        samples.add(new Sample("d1", 400, 50, null, 0, null, "HTTP 400 (context_length_exceeded)"));
        samples.add(new Sample("d1", 404, 50, null, 0, null, "HTTP 404 (not_found_error)"));
        samples.add(new Sample("d1", 503, 50, null, 0, null, "HTTP 503"));
        samples.add(new Sample(null, -1, 50, null, 0, null, "no answer (IOException)"));
        store.saveBaselines(runId, provider, "m", samples, Instant.now());

        given().get("/api/v1/baselines?provider=" + provider + "&metric=error_rate").then().statusCode(200)
                .body("findAll { it.deployment == null }[0].p95", equalTo(0.25f));
        given().get("/api/v1/baselines?provider=" + provider + "&metric=error_rate:400").then().statusCode(200)
                .body("findAll { it.deployment == null }[0].p95", equalTo(0.125f));
    }

    /**
     * A client polls a run until it is no longer running, then reads its baselines: the run read "completed" while
     * they were still being stored, so the read could find none. Here the insert waits for a lock the test holds.
     */
    @Test
    void a_run_reads_completed_only_once_its_baselines_are_stored() throws Exception {
        String provider = "held" + Long.toHexString(System.nanoTime());
        long key = 7_340_001;
        try (Connection c = dataSource.getConnection(); var st = c.createStatement()) {
            st.execute("create or replace function hold_baselines_" + provider + "() returns trigger as $$ begin"
                    + " if new.provider = '" + provider + "' then perform pg_advisory_lock(" + key + ");"
                    + " perform pg_advisory_unlock(" + key + "); end if; return new; end $$ language plpgsql");
            st.execute("create trigger hold_baselines_" + provider + " before insert on provider_baselines"
                    + " for each row execute function hold_baselines_" + provider + "()");
        }
        try (Connection holder = dataSource.getConnection(); var hold = holder.createStatement()) {
            hold.execute("select pg_advisory_lock(" + key + ")");
            try {
                String runId = api().body(Map.of("provider", provider, "modelGroup", "m-" + provider, "requests", 10,
                        "ratePerSecond", 100)).post("/api/v1/baselines/runs").then().statusCode(202).extract()
                        .path("runId");
                Awaitility.await("the baselines being stored").atMost(Duration.ofSeconds(30))
                        .pollInterval(Duration.ofMillis(50)).until(() -> waitingForLock(key));
                given().get("/api/v1/baselines/runs/" + runId).then().statusCode(200)
                        .body("status", equalTo("running"));

                hold.execute("select pg_advisory_unlock(" + key + ")");
                Awaitility.await("run finished").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                        .until(() -> !"running".equals(given().get("/api/v1/baselines/runs/" + runId).then().extract()
                                .path("status")));
                given().get("/api/v1/baselines?provider=" + provider + "&metric=error_rate:no_answer").then()
                        .statusCode(200).body("findAll { it.deployment == null }[0].sampleSize", equalTo(10));
                given().get("/api/v1/baselines/runs/" + runId).then().statusCode(200)
                        .body("status", equalTo("completed"));
            } finally {
                hold.execute("select pg_advisory_unlock_all()"); // the pooled connection lives on
            }
        } finally {
            try (Connection c = dataSource.getConnection(); var st = c.createStatement()) {
                st.execute("drop trigger hold_baselines_" + provider + " on provider_baselines");
                st.execute("drop function hold_baselines_" + provider + "()");
            }
        }
    }

    private boolean waitingForLock(long key) throws Exception {
        try (Connection c = dataSource.getConnection(); var st = c.createStatement(); var rs = st.executeQuery(
                "select count(*) from pg_locks where locktype = 'advisory' and not granted and objid = " + key)) {
            return rs.next() && rs.getLong(1) > 0;
        }
    }

    /**
     * A run reports its progress to the database every 10%; a failed write (a failover, a blip) failed the run: the
     * paid calls it had made were dropped, no baseline stored, and the calls in flight were cut off. The run goes on.
     */
    @Test
    void a_progress_write_that_fails_does_not_fail_the_run() throws Exception {
        String provider = "prog" + Long.toHexString(System.nanoTime());
        try (Connection c = dataSource.getConnection(); var st = c.createStatement()) {
            st.execute("create or replace function fail_progress_" + provider + "() returns trigger as $$ begin"
                    + " if new.provider = '" + provider + "' and new.status = 'running' and new.sent <> old.sent"
                    + " then raise exception 'database away'; end if; return new; end $$ language plpgsql");
            st.execute("create trigger fail_progress_" + provider + " before update on baseline_runs for each row"
                    + " execute function fail_progress_" + provider + "()");
        }
        try {
            String runId = api().body(Map.of("provider", provider, "modelGroup", "m-" + provider, "requests", 10,
                    "ratePerSecond", 100)).post("/api/v1/baselines/runs").then().statusCode(202).extract()
                    .path("runId");
            Awaitility.await("run finished").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                    .until(() -> !"running".equals(given().get("/api/v1/baselines/runs/" + runId).then().extract()
                            .path("status")));
            given().get("/api/v1/baselines/runs/" + runId).then().statusCode(200)
                    .body("status", equalTo("completed")).body("sent", equalTo(10));
            given().get("/api/v1/baselines?provider=" + provider + "&metric=error_rate:no_answer").then()
                    .statusCode(200).body("findAll { it.deployment == null }[0].sampleSize", equalTo(10));
        } finally {
            try (Connection c = dataSource.getConnection(); var st = c.createStatement()) {
                st.execute("drop trigger fail_progress_" + provider + " on baseline_runs");
                st.execute("drop function fail_progress_" + provider + "()");
            }
        }
    }

    /**
     * A profile is locked and stored under the normalised provider (text-completion-openai is openai), while the
     * plugin stores each call under the provider LiteLLM logged: the group's calls are judged against that profile.
     */
    @Test
    void calls_logged_under_a_variant_of_the_profiled_provider_are_judged_against_its_profile() throws Exception {
        String label = "text-completion-var" + Long.toHexString(System.nanoTime());
        String provider = BaselineProfiler.normaliseProvider(label);
        assertThat(provider).isNotEqualTo(label);
        List<Sample> samples = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            samples.add(new Sample("d1", 200, 100 + i * 10, null, 10, null, null)); // p95 = 38th = 470 ms
        }
        UUID runId = BaselineRuns.completed(dataSource, provider, "m", 8);
        store.saveBaselines(runId, provider, "m", samples, Instant.now());

        Instant now = Instant.now();
        List<Payloads> slow = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            slow.add(Payloads.success(label, "m", "d1", now.minusSeconds(10 + i)).latency(1.5));
        }
        Api.ingest(Payloads.array(slow.toArray(Payloads[]::new))).statusCode(200);
        assertThat(detector.detectDeviation()).filteredOn(d -> d.metric().equals("latency_p95")
                && (d.provider().equals(label) || d.provider().equals(provider))).singleElement().satisfies(d -> {
                    assertThat(d.provider()).isEqualTo(label);
                    assertThat(d.baselineSource()).isEqualTo("profile");
                    assertThat(d.baselineP95()).isEqualTo(470.0);
                    assertThat(d.raised()).isTrue();
                });
    }

    /**
     * A run started as {@code claude} is stored under {@code anthropic}, passive baselines under the provider the
     * calls were logged with: the list filter is normalised as a run's provider is, and matches both.
     */
    @Test
    void the_list_filter_finds_baselines_under_any_spelling_of_their_provider() throws Exception {
        String group = "list-" + Long.toHexString(System.nanoTime());
        List<Sample> samples = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            samples.add(new Sample("d1", 200, 100 + i, null, 10, null, null));
        }
        UUID runId = BaselineRuns.completed(dataSource, "anthropic", group, 8);
        store.saveBaselines(runId, "anthropic", group, samples, Instant.now());
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "insert into provider_baselines (baseline_id, provider, model, deployment, metric_name, p50, p95, p99,"
                        + " mean, sample_size, source, measured_at) values (gen_random_uuid(), 'claude', ?, null,"
                        + " 'latency_ms', 100, 103, 103, 101, 40, 'passive', now())")) {
            st.setString(1, group);
            st.executeUpdate();
        }
        for (String filter : List.of("claude", "anthropic", "Anthropic")) {
            given().get("/api/v1/baselines?metric=latency_ms&provider=" + filter).then().log().ifValidationFails()
                    .statusCode(200)
                    .body("findAll { it.model == '" + group + "' && it.deployment == null }.source.sort()",
                            equalTo(List.of("passive", "profile")))
                    .body("findAll { it.model == '" + group + "' && it.source == 'passive' }.provider",
                            everyItem(equalTo("claude")));
        }
        given().get("/api/v1/baselines?provider=_beta").then().log().ifValidationFails().statusCode(400)
                .contentType("application/problem+json").body("errors[0].field", equalTo("provider"));
    }

    @Test
    void a_provider_that_normalises_to_nothing_is_a_bad_request() {
        for (String provider : List.of("text-completion-", "_beta", "text_completion__beta")) {
            api().body(Map.of("provider", provider, "modelGroup", "m-" + provider, "requests", 1))
                    .post("/api/v1/baselines/runs").then().log().ifValidationFails().statusCode(400)
                    .contentType("application/problem+json").body("errors[0].field", equalTo("provider"));
        }
    }

    /**
     * A check that raised the minutes it had missed and then failed (the database went away again) records no
     * progress; the next check judged those minutes once more and raised each of them a second time.
     */
    @Test
    void missed_minutes_judged_by_a_check_that_then_failed_are_not_raised_again() throws Exception {
        String provider = "again" + Long.toHexString(System.nanoTime());
        Instant t0 = Instant.now().plus(Duration.ofDays(3)).truncatedTo(java.time.temporal.ChronoUnit.MINUTES);
        healthyBaseline(provider, t0);
        detector.tick();

        clock.set(t0.plus(Duration.ofMinutes(3)));
        Api.ingest(Payloads.array(partialOutage(provider, t0))).statusCode(200);
        String trigger = "fail_raise_" + provider;
        try (Connection c = dataSource.getConnection(); var st = c.createStatement()) {
            // The check of t0+3m fails as it raises, after it judged the missed t0+1m and t0+2m.
            st.execute("create or replace function " + trigger + "() returns trigger as $$ begin if new.provider = '"
                    + provider + "' and new.occurred_at = '" + t0.plus(Duration.ofMinutes(3)) + "'::timestamptz"
                    + " then raise exception 'database away'; end if; return new; end $$ language plpgsql");
            st.execute("create trigger " + trigger + " before insert on failure_inbox for each row execute function "
                    + trigger + "()");
        }
        try {
            detector.tick();
        } finally {
            try (Connection c = dataSource.getConnection(); var st = c.createStatement()) {
                st.execute("drop trigger " + trigger + " on failure_inbox");
                st.execute("drop function " + trigger + "()");
            }
        }
        clock.set(t0.plus(Duration.ofMinutes(4)));
        detector.tick();

        assertOneErrorRateDeviation(provider, t0.plus(Duration.ofMinutes(1)), t0.plus(Duration.ofMinutes(4)), 4);
    }

    /** A 0% error-rate baseline for {@code provider} learnt from 40 calls before {@code t0}, the clock at t0. */
    private void healthyBaseline(String provider, Instant t0) throws Exception {
        clock.set(t0);
        try (var c = dataSource.getConnection(); var st = c.createStatement()) {
            st.execute("delete from scheduled_job_runs where job = '" + DeviationDetector.DEVIATION_JOB + "'");
        }
        List<Payloads> healthy = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            healthy.add(Payloads.success(provider, "m", "d1", t0.minusSeconds(400 + i)));
        }
        Api.ingest(Payloads.array(healthy.toArray(Payloads[]::new))).statusCode(200);
        detector.learnPassive(Duration.ofHours(1));
    }

    /** 25 calls from t0 + 20 s, one a second, the first 10 of them 503s: a 40% error rate. */
    private static Payloads[] partialOutage(String provider, Instant t0) {
        Payloads[] calls = new Payloads[25];
        for (int i = 0; i < calls.length; i++) {
            Instant at = t0.plusSeconds(20 + i);
            calls[i] = i < 10 ? Payloads.failure(provider, "m", "d1", at, 503, "ServiceUnavailableError",
                    "unavailable") : Payloads.success(provider, "m", "d1", at);
        }
        return calls;
    }

    private static void assertOneErrorRateDeviation(String provider, Instant firstSeen, Instant lastSeen,
            int occurrences) {
        String deviation = "items.findAll { it.detectionMethod == 'baseline.error_rate_deviation' }";
        given().get("/api/v1/failures?provider=" + provider + "&type=outage").then().statusCode(200)
                .body(deviation + ".size()", equalTo(1))
                .body(deviation + "[0].firstSeen", equalTo(firstSeen.toString()))
                .body(deviation + "[0].lastSeen", equalTo(lastSeen.toString()))
                .body(deviation + "[0].occurrences", equalTo(occurrences));
    }
}
