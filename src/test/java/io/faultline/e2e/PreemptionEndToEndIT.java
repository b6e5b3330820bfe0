package io.faultline.e2e;

import io.faultline.simulator.DeploymentStats;
import io.faultline.simulator.RateLimit;
import io.faultline.simulator.Script;
import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LocalStack;
import io.faultline.testing.Api;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Preemption through the real parts: the packaged Faultline predicts that deployment A's request headroom runs out,
 * publishes a traffic policy, the plugin inside the real LiteLLM proxy polls it and thins A out of the router's
 * candidates, and the provider simulator's per-deployment hit counts show A's share falling. The same scenario runs
 * at the same time on a control group whose A an operator pinned at {@code keepShare 1.0}: it runs dry and fails
 * user requests with the provider's 429, which is what preemption is for. The second scenario, on model groups of
 * its own on the same stack, ramps A's latency until LiteLLM's 2 s timeout fails its calls: predicted by the latency
 * trend, with the same control.
 *
 * <p><b>Time-scaled by 12:</b> every prediction and traffic-policy duration is a twelfth of its production value
 * (tick 60 s → 5 s, bucket 1 m → 5 s, window and horizon 15 m → 75 s, min lead 2 m → 10 s, quiet period 10 m → 50 s,
 * healthy-for 2 m → 10 s, recovery step every 1 m → 5 s) and the plugin polls every second, so the whole scenario
 * takes about two minutes of wall time after the stack is up. Nothing asserts a wall-clock bound: the lead time is
 * compared with the configured (scaled) min lead, shares and failed requests with each other.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PreemptionEndToEndIT {

    static final String PREEMPTED = "pair-preempted";
    static final String CONTROL = "pair-control";
    static final String A = "pair-a";
    static final String B = "pair-b";
    static final String CONTROL_A = "control-a";
    static final String CONTROL_B = "control-b";
    static final Duration TICK = Duration.ofSeconds(5);
    static final Duration MIN_LEAD = Duration.ofSeconds(10);
    /** Requests per second sent to each group (so about half of it drains each A at full share). */
    static final int RATE_PER_GROUP = 4;
    static final int MAX_IN_FLIGHT_PER_GROUP = 8;
    /**
     * A's request budget: 120 of 400 left (about a minute of its half of the group's traffic, 12 min unscaled),
     * refilling so slowly (0.02/s) that its reset lies far after it runs dry. The control's A runs dry when LiteLLM's
     * random split has sent it its 120th call, so its first 429 moves with that split; with 80 left (40 s) one CI run
     * saw it come 7 s after the prediction, against 18-24 s in the others.
     */
    static final Script DRAINING = Script.success().withRateLimit(RateLimit.of(400, 10_000_000)
            .withRemaining(120, 10_000_000).withDrainPerCall(1, 0).withRefillPerSecond(0.02, 0));
    static final Script HEALED = Script.success().withRateLimit(RateLimit.of(400, 10_000_000)
            .withRemaining(400, 10_000_000).withDrainPerCall(1, 0).withRefillPerSecond(0.02, 0));

    private static LocalStack stack;

    /**
     * Sends {@link #RATE_PER_GROUP} user requests a second to each group until the executors stop, at most
     * {@code maxInFlight} of a group in flight: a tick that finds the cap reached is skipped and counted (the proxy is
     * behind, the same for every group). Each request is stamped when sent, so a failure's stamp is never later than
     * the simulator's answer.
     */
    private static AtomicInteger sendSteadily(LiteLlmClient client, List<String> groups, int maxInFlight,
            ScheduledExecutorService timer, ExecutorService senders, Queue<Sent> sent) {
        AtomicInteger skipped = new AtomicInteger();
        for (String group : groups) {
            AtomicInteger inFlight = new AtomicInteger();
            timer.scheduleAtFixedRate(() -> {
                if (inFlight.incrementAndGet() > maxInFlight) {
                    inFlight.decrementAndGet();
                    skipped.incrementAndGet();
                    return;
                }
                senders.execute(() -> {
                    try {
                        Instant at = Instant.now();
                        long t0 = System.nanoTime();
                        int status = client.chat(group, "steady traffic", false).status();
                        sent.add(new Sent(at, group, status, Duration.ofNanos(System.nanoTime() - t0)));
                    } finally {
                        inFlight.decrementAndGet();
                    }
                });
            }, 0, 1000 / RATE_PER_GROUP, TimeUnit.MILLISECONDS);
        }
        return skipped;
    }

    /** One user request as the client saw it: when it was sent, its status and how long its answer took. */
    record Sent(Instant at, String group, int status, Duration took) {
    }

    /** The simulator's hit counts and A's published keep share at one moment. */
    record Sample(Instant at, Map<String, DeploymentStats> hits, Double keepShareA, Double keepShareControlA) {

        long requests(String deployment) {
            DeploymentStats s = hits.get(deployment);
            return s == null ? 0 : s.requests();
        }
    }

    @AfterAll
    static void stopStack() {
        if (stack != null) {
            stack.close();
        }
    }

    static Map<String, String> timeScaledFaultline() {
        return Map.ofEntries(
                Map.entry("FAULTLINE_PREDICT_INTERVAL", "5s"),
                Map.entry("FAULTLINE_PREDICT_METRICS_EVERY", "5s"),
                Map.entry("FAULTLINE_PREDICT_BUCKET", "5s"),
                Map.entry("FAULTLINE_PREDICT_WINDOW", PREDICT_WINDOW.toSeconds() + "s"),
                Map.entry("FAULTLINE_PREDICT_HORIZON", "75s"),
                Map.entry("FAULTLINE_PREDICT_MIN_LEAD", "10s"),
                Map.entry("FAULTLINE_PREDICT_QUIET_PERIOD", "50s"),
                Map.entry("FAULTLINE_PREDICT_MIN_POINTS", "5"),
                // The latency groups' LiteLLM timeout (config.yaml), the line the latency trend is projected to; the
                // simulator answers in milliseconds, so 2x its learned baseline would be no line at all.
                Map.entry("FAULTLINE_PREDICT_TIMEOUT", "2s"),
                Map.entry("FAULTLINE_PREDICT_LATENCY_FACTOR", "1000"),
                Map.entry("FAULTLINE_TRAFFIC_HEALTHY_FOR", "10s"),
                Map.entry("FAULTLINE_TRAFFIC_STEP_EVERY", "5s"),
                Map.entry("FAULTLINE_TRAFFIC_REFRESH", "1s"),
                Map.entry("FAULTLINE_TRAFFIC_STALE_AFTER", "15s"));
    }

    /** One stack for both scenarios (each on model groups of its own): starting it is most of an IT's time. */
    static synchronized LocalStack stack() throws Exception {
        if (stack == null) {
            stack = StackFixture.start("preemption", timeScaledFaultline());
        }
        return stack;
    }

    @Test
    void a_predicted_rate_limit_thins_the_deployment_out_and_fewer_user_requests_fail_than_without() throws Exception {
        stack();
        LiteLlmClient client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        // The control: an operator switches preemption off for its A, as the "preemption off" run.
        RestAssured.given().baseUri(stack.faultlineUrl()).header("Authorization", "Bearer " + Api.KEY)
                .contentType("application/json")
                .body(Map.of("keepShare", 1.0, "provider", "openai", "reason", "control"))
                .put("/api/v1/traffic-policy/" + CONTROL_A).then().log().ifValidationFails().statusCode(200);
        stack.simulator().script(A, DRAINING);
        stack.simulator().script(CONTROL_A, DRAINING);

        ConcurrentLinkedQueue<Sent> sent = new ConcurrentLinkedQueue<>();
        List<Sample> samples = new CopyOnWriteArrayList<>();
        ExecutorService senders = Executors.newFixedThreadPool(2 * MAX_IN_FLIGHT_PER_GROUP);
        ScheduledExecutorService timer = Executors.newScheduledThreadPool(2);
        Instant start = Instant.now();
        try {
            AtomicInteger skipped = sendSteadily(client, List.of(PREEMPTED, CONTROL), MAX_IN_FLIGHT_PER_GROUP, timer,
                    senders, sent);
            timer.scheduleAtFixedRate(() -> samples.add(sample(A, CONTROL_A)), 0, 500, TimeUnit.MILLISECONDS);

            // 1. Prediction, policy, and the control running dry (hang guards only; the scenario sets the pace).
            Sample policyAppeared = firstReduction(samples, A, () -> "");
            Instant firstControl429 = firstFailure(sent, CONTROL, "answers 429", status -> status == 429);
            Instant reducedFrom = policyAppeared.at().plus(TICK.multipliedBy(2));
            Instant reducedTo = reducedFrom.plus(TICK.multipliedBy(3));
            awaitReducedPhase(policyAppeared, firstControl429);

            // 2. The provider's limit is reset (the indicators are healthy again): A's share comes back in steps.
            Instant healed = Instant.now();
            stack.simulator().script(A, HEALED);
            stack.simulator().script(CONTROL_A, HEALED);
            Sample restored = Awaitility.await(A + " gets all its traffic back").atMost(Duration.ofMinutes(3))
                    .pollInterval(Duration.ofMillis(250))
                    .until(() -> samples.stream().filter(s -> s.at().isAfter(healed)
                            && (s.keepShareA() == null || s.keepShareA() >= 1.0)).findFirst().orElse(null),
                            Objects::nonNull);
            Awaitility.await("traffic after the recovery").atMost(Duration.ofMinutes(1))
                    .pollInterval(Duration.ofMillis(250))
                    .until(() -> !Instant.now().isBefore(restored.at().plus(TICK.multipliedBy(2))));
            timer.shutdownNow();
            senders.shutdown();
            senders.awaitTermination(60, TimeUnit.SECONDS);

            // ---- the prediction came at least the (scaled) min lead before the first 429 A would answer
            List<Map<String, Object>> predictedA = predictions(A);
            List<Map<String, Object>> predictedControlA = predictions(CONTROL_A);
            assertThat(predictedA).as("rate-limit predictions of " + A).isNotEmpty();
            assertThat(predictedControlA).as("rate-limit predictions of " + CONTROL_A).isNotEmpty();
            Instant predictedAt = firstCreated(predictedA);
            // The control runs the same script under the same traffic: its real first 429 is A's counterfactual one.
            assertThat(predictedAt).as("%s predicted at %s, the control's first 429 at %s", A, predictedAt,
                    firstControl429).isBeforeOrEqualTo(firstControl429.minus(MIN_LEAD));
            assertThat(firstCreated(predictedControlA)).isBeforeOrEqualTo(firstControl429.minus(MIN_LEAD));
            assertThat(policyAppeared.keepShareA()).isLessThan(1.0);
            // The pin may be listed at 1.0 or left out (not listed keeps everything): either way nothing is taken.
            assertThat(Objects.requireNonNullElse(policyAppeared.keepShareControlA(), 1.0)).as("the control's pin")
                    .isEqualTo(1.0);

            // ---- A's share of its group's hits fell within two ticks of the policy
            double before = shareOfA(samples, start, policyAppeared.at(), A, B);
            double reduced = shareOfA(samples, reducedFrom, reducedTo, A, B);
            double controlDuring = shareOfA(samples, reducedFrom, reducedTo, CONTROL_A, CONTROL_B);
            assertThat(reduced).as("A's share before the policy %.3f, two ticks after it %.3f", before, reduced)
                    .isLessThan(before * 0.6);
            assertThat(reduced).as("the control's A kept its share (%.3f)", controlDuring).isLessThan(controlDuring);

            // ---- fewer failed user requests with preemption than without, over the same span
            long failedPreempted = failed(sent, PREEMPTED, start, healed);
            long failedControl = failed(sent, CONTROL, start, healed);
            long total = sent.stream().filter(s -> s.at().isBefore(healed)).count();
            assertThat(failedControl).as("the control ran dry").isPositive();
            assertThat(failedPreempted).isLessThan(failedControl);

            // ---- the recovery went in steps: A's share climbed through intermediate values before it was whole.
            // The last climb from the reduced share: under load the predictor may let A climb before the reset and
            // cut it back when the draining shows again, which starts the climb over.
            List<Double> recovering = new ArrayList<>();
            for (Sample s : samples) {
                if (!s.at().isAfter(policyAppeared.at()) || !s.at().isBefore(restored.at()) || s.keepShareA() == null) {
                    continue;
                }
                if (s.keepShareA() <= policyAppeared.keepShareA() + 1e-6) {
                    recovering.clear(); // at the reduced share: the climb, if any, starts after this sample
                    recovering.add(s.keepShareA());
                } else if (recovering.isEmpty() || !recovering.get(recovering.size() - 1).equals(s.keepShareA())) {
                    recovering.add(s.keepShareA());
                }
            }
            assertThat(recovering).as("A's published shares in its last climb").isSorted();
            assertThat(recovering.stream().filter(share -> share > policyAppeared.keepShareA()).count())
                    .as("intermediate steps in %s", recovering).isGreaterThanOrEqualTo(2);
            double after = shareOfA(samples, restored.at(), restored.at().plus(TICK.multipliedBy(2)), A, B);
            Duration lead = Duration.between(predictedAt, firstControl429);
            System.out.printf("PreemptionEndToEndIT (time-scaled by 12): failed user requests until the limit reset:"
                    + " with preemption %d, without %d (of %d sent, %d skipped by the client's in-flight cap);"
                    + " prediction %s, policy seen %s, first control 429 %s: lead %.1f s (%.1f min unscaled);"
                    + " A's share of its group before %.3f, two ticks after the policy %.3f (control's A %.3f),"
                    + " published shares in the last climb %s, A's share once restored %.3f%n", failedPreempted,
                    failedControl, total, skipped.get(), predictedAt, policyAppeared.at(), firstControl429,
                    lead.toMillis() / 1000.0, lead.toMillis() * 12 / 60_000.0, before, reduced, controlDuring,
                    recovering, after);
            assertThat(after).as("A's share once restored %.3f, while reduced %.3f", after, reduced)
                    .isGreaterThan(reduced);
        } finally {
            timer.shutdownNow();
            senders.shutdownNow();
        }
    }

    static final String LATENCY_PREEMPTED = "latency-preempted";
    static final String LATENCY_CONTROL = "latency-control";
    static final String LAT_A = "lat-a";
    static final String LAT_B = "lat-b";
    static final String LATCTL_A = "latctl-a";
    static final String LATCTL_B = "latctl-b";
    /** A's latency before the ramp and the ramp (ms per second of wall time); LiteLLM's timeout is 2 s. */
    static final long BASE_LATENCY_MS = 200;
    static final long LATENCY_JITTER_MS = 100;
    static final double RAMP_MS_PER_SECOND = 25;
    /** The ramp stops a little past the timeout: every call of A then times out. */
    static final long RAMP_CAP_MS = 2_600;
    static final Duration RAMP_AFTER = Duration.ofSeconds(10);
    /** The predictor's window in these tests (time-scaled from 15 min). */
    static final Duration PREDICT_WINDOW = Duration.ofSeconds(75);
    /** LiteLLM's timeout of the latency groups (config.yaml): an answer slower than it is a timeout to Faultline. */
    static final Duration LATENCY_GROUP_TIMEOUT = Duration.ofSeconds(2);
    /**
     * A 200 that took longer than the timeout while the simulator's script answered in under this many ms was held
     * by the stack (one CI run: the client sent nothing for 12 s, then every answer came back 200).
     */
    static final long STALL_SCRIPTED_BELOW_MS = 1_000;

    /**
     * The second proof: the simulator ramps A's latency (25 ms more every second, about 5 min of unscaled
     * time from 200 ms to the 2 s timeout) until A's calls time out. The latency trend predicts the timeout, the
     * policy thins A out, and the control group (its A pinned at 1.0) fails the user requests A cannot answer in time.
     */
    @Test
    void a_predicted_latency_ramp_thins_the_deployment_out_before_its_calls_time_out() throws Exception {
        stack();
        LiteLlmClient client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        RestAssured.given().baseUri(stack.faultlineUrl()).header("Authorization", "Bearer " + Api.KEY)
                .contentType("application/json")
                .body(Map.of("keepShare", 1.0, "provider", "openai", "reason", "control"))
                .put("/api/v1/traffic-policy/" + LATCTL_A).then().log().ifValidationFails().statusCode(200);
        Script steady = Script.success().withLatency(BASE_LATENCY_MS, LATENCY_JITTER_MS, 7);
        stack.simulator().script(LAT_A, steady);
        stack.simulator().script(LATCTL_A, steady);

        ConcurrentLinkedQueue<Sent> sent = new ConcurrentLinkedQueue<>();
        List<Sample> samples = new CopyOnWriteArrayList<>();
        // A's calls take up to the 2 s timeout: room for them in flight, so that the client keeps its pace.
        int maxInFlight = 3 * MAX_IN_FLIGHT_PER_GROUP;
        ExecutorService senders = Executors.newFixedThreadPool(2 * maxInFlight);
        ScheduledExecutorService timer = Executors.newScheduledThreadPool(3);
        Instant start = Instant.now();
        java.util.concurrent.atomic.AtomicReference<Instant> rampFrom = new java.util.concurrent.atomic.AtomicReference<>();
        try {
            AtomicInteger skipped = sendSteadily(client, List.of(LATENCY_PREEMPTED, LATENCY_CONTROL), maxInFlight,
                    timer, senders, sent);
            timer.scheduleAtFixedRate(() -> samples.add(sample(LAT_A, LATCTL_A)), 0, 500, TimeUnit.MILLISECONDS);
            // The ramp: both A deployments get the same latency at the same moment.
            timer.scheduleAtFixedRate(() -> {
                Instant from = rampFrom.get();
                Instant now = Instant.now();
                long since = from == null ? 0 : Duration.between(from, now).toMillis();
                long latency = from == null ? BASE_LATENCY_MS : scriptedLatencyMs(from, now);
                Script s = Script.success().withLatency(latency, LATENCY_JITTER_MS, since);
                stack.simulator().script(LAT_A, s);
                stack.simulator().script(LATCTL_A, s);
            }, 0, 500, TimeUnit.MILLISECONDS);

            // Healthy traffic first, until Faultline's passive baseline learner has had its first run (2 min after
            // its start, then every 15 min): the baseline the latency trend is compared with must be learned from
            // healthy calls, not from the ramp. (If it ran before this group had calls, there is none: the trend is
            // then projected to the timeout alone.)
            Awaitility.await("Faultline's passive baselines learned before the ramp").atMost(Duration.ofMinutes(4))
                    .pollInterval(Duration.ofSeconds(1)).until(() -> {
                        try {
                            String metrics = RestAssured.given().baseUri(stack.faultlineUrl()).get("/q/metrics")
                                    .asString();
                            return io.faultline.testing.Metrics.value(metrics, "process_uptime_seconds") >= 135
                                    && !Instant.now().isBefore(start.plus(RAMP_AFTER));
                        } catch (RuntimeException | AssertionError e) {
                            return false;
                        }
                    });
            // The ramp, once more if the stack stalled before the policy appeared (see rampOrStall).
            Sample policyAppeared = null;
            for (int ramp = 1; policyAppeared == null; ramp++) {
                rampFrom.set(Instant.now());
                Sent stalled = rampOrStall(samples, sent, rampFrom.get(), ramp < 2, () -> diagnosis(sent, start));
                if (stalled == null) {
                    policyAppeared = reduced(samples, rampFrom.get());
                } else {
                    System.out.printf("PreemptionEndToEndIT latency ramp %d: the stack stalled (a %s request sent at"
                            + " %s answered 200 after %s, its scripted latency under %d ms): the ramp starts over%n",
                            ramp, stalled.group(), stalled.at(), stalled.took(), STALL_SCRIPTED_BELOW_MS);
                    rampFrom.set(null);
                    awaitHealthyAgain(samples, stalled.at().plus(stalled.took()));
                }
            }
            Instant rampStarted = rampFrom.get();
            Instant firstControlTimeout = firstFailure(sent, LATENCY_CONTROL, rampStarted, "times out",
                    status -> status != 200);
            Instant reducedFrom = policyAppeared.at().plus(TICK.multipliedBy(2));
            Instant reducedTo = reducedFrom.plus(TICK.multipliedBy(3));
            awaitReducedPhase(policyAppeared, firstControlTimeout);
            Instant stopped = Instant.now();
            timer.shutdownNow();
            senders.shutdown();
            senders.awaitTermination(60, TimeUnit.SECONDS);
            stack.simulator().script(LAT_A, steady);
            stack.simulator().script(LATCTL_A, steady);

            // ---- the latency trend predicted the timeout at least the (scaled) min lead before the first one
            // The predictions of this ramp (a ramp that the stack's stall cut short may have made some).
            List<Map<String, Object>> predictedA = createdSince(predictions(LAT_A, "timeout"), rampStarted);
            List<Map<String, Object>> predictedControlA = createdSince(predictions(LATCTL_A, "timeout"), rampStarted);
            assertThat(predictedA).as("timeout predictions of " + LAT_A).isNotEmpty();
            assertThat(predictedControlA).as("timeout predictions of " + LATCTL_A).isNotEmpty();
            Map<String, Object> first = predictedA.stream()
                    .min(java.util.Comparator.comparing(p -> Instant.parse((String) p.get("createdAt"))))
                    .orElseThrow();
            @SuppressWarnings("unchecked")
            Map<String, Object> indicators = (Map<String, Object>) first.get("indicators");
            assertThat(indicators.get("indicator")).as("what drove %s", first).isEqualTo("latency_trend");
            Instant predictedAt = firstCreated(predictedA);
            assertThat(predictedAt).as("%s predicted at %s, the control's first timeout at %s", LAT_A, predictedAt,
                    firstControlTimeout).isBeforeOrEqualTo(firstControlTimeout.minus(MIN_LEAD));
            assertThat(firstCreated(predictedControlA)).isBeforeOrEqualTo(firstControlTimeout.minus(MIN_LEAD));
            assertThat(Objects.requireNonNullElse(policyAppeared.keepShareControlA(), 1.0)).as("the control's pin")
                    .isEqualTo(1.0);

            // ---- A's share of its group's hits fell within two ticks of the policy
            double before = shareOfA(samples, rampFrom.get(), policyAppeared.at(), LAT_A, LAT_B);
            double reduced = shareOfA(samples, reducedFrom, reducedTo, LAT_A, LAT_B);
            double controlDuring = shareOfA(samples, reducedFrom, reducedTo, LATCTL_A, LATCTL_B);
            assertThat(reduced).as("A's share before the policy %.3f, two ticks after it %.3f", before, reduced)
                    .isLessThan(before * 0.6);
            assertThat(reduced).as("the control's A kept its share (%.3f)", controlDuring).isLessThan(controlDuring);

            // ---- fewer failed user requests with preemption than without
            long failedPreempted = failed(sent, LATENCY_PREEMPTED, rampStarted, stopped);
            long failedControl = failed(sent, LATENCY_CONTROL, rampStarted, stopped);
            long total = sent.stream().filter(s -> !s.at().isBefore(rampStarted) && s.at().isBefore(stopped)).count();
            Duration lead = Duration.between(predictedAt, firstControlTimeout);
            System.out.printf("PreemptionEndToEndIT latency ramp (time-scaled by 12): failed user requests: with"
                    + " preemption %d, without %d (of %d sent, %d skipped by the client's in-flight cap);"
                    + " prediction %s (%s), policy seen %s, first control timeout %s: lead %.1f s (%.1f min"
                    + " unscaled); A's share of its group before %.3f, two ticks after the policy %.3f (control's A"
                    + " %.3f)%n", failedPreempted, failedControl, total, skipped.get(), predictedAt, indicators,
                    policyAppeared.at(), firstControlTimeout, lead.toMillis() / 1000.0,
                    lead.toMillis() * 12 / 60_000.0, before, reduced, controlDuring);
            assertThat(failedControl).as("the control timed out").isPositive();
            assertThat(failedPreempted).isLessThan(failedControl);
        } finally {
            timer.shutdownNow();
            senders.shutdownNow();
        }
    }

    /** What Faultline predicted for the latency groups and what the client saw, per 5 s, for a failure message. */
    private static String diagnosis(ConcurrentLinkedQueue<Sent> sent, Instant start) {
        StringBuilder out = new StringBuilder();
        for (String d : List.of(LAT_A, LATCTL_A, "*")) {
            try {
                out.append("\npredictions of ").append(d).append(": ").append(RestAssured.given()
                        .baseUri(stack.faultlineUrl()).header("Authorization", "Bearer " + Api.KEY)
                        .get("/api/v1/predictions?status=all&limit=20&deployment=" + d).asString());
            } catch (RuntimeException e) {
                out.append("\n").append(d).append(": ").append(e);
            }
        }
        try {
            out.append("\nlatency baselines: ").append(RestAssured.given().baseUri(stack.faultlineUrl())
                    .header("Authorization", "Bearer " + Api.KEY).get("/api/v1/baselines?metric=latency_ms")
                    .asString());
        } catch (RuntimeException e) {
            out.append("\nbaselines: ").append(e);
        }
        java.util.TreeMap<Long, long[]> perSlot = new java.util.TreeMap<>();
        for (Sent s : sent) {
            long[] n = perSlot.computeIfAbsent(Duration.between(start, s.at()).toSeconds() / 5, k -> new long[5]);
            int g = s.group().equals(LATENCY_PREEMPTED) ? 0 : 2;
            n[g]++;
            n[g + 1] += s.status() == 200 ? 0 : 1;
            n[4] = Math.max(n[4], s.took().toMillis());
        }
        out.append("\nper 5 s since the start: [sent, failed] preempted / control, the slowest answer: ");
        perSlot.forEach((k, n) -> out.append(k * 5).append("s ").append(n[0]).append('/').append(n[1]).append(' ')
                .append(n[2]).append('/').append(n[3]).append(' ').append(n[4]).append(" ms; "));
        return out.toString();
    }

    private static Sample sample(String a, String controlA) {
        Map<String, DeploymentStats> hits = stack.simulator().stats();
        Double shareA = null;
        Double shareControlA = null;
        try {
            JsonPath policy = RestAssured.given().baseUri(stack.faultlineUrl())
                    .header("Authorization", "Bearer " + Api.KEY).get("/api/v1/traffic-policy").then()
                    .statusCode(200).extract().jsonPath();
            shareA = keepShare(policy, a);
            shareControlA = keepShare(policy, controlA);
        } catch (RuntimeException | AssertionError e) {
            // A poll that fails is a missing sample, not a failed scenario: the plugin copes with the same.
        }
        return new Sample(Instant.now(), hits, shareA, shareControlA);
    }

    private static Double keepShare(JsonPath policy, String deployment) {
        List<Map<String, Object>> entries = policy.getList("deployments");
        for (Map<String, Object> e : entries) {
            if (deployment.equals(e.get("deployment"))) {
                return ((Number) e.get("keepShare")).doubleValue();
            }
        }
        return null;
    }

    private static List<Map<String, Object>> predictions(String deployment) {
        return predictions(deployment, "rate_limit");
    }

    private static List<Map<String, Object>> predictions(String deployment, String type) {
        return RestAssured.given().baseUri(stack.faultlineUrl()).header("Authorization", "Bearer " + Api.KEY)
                .get("/api/v1/predictions?status=all&type=" + type + "&limit=500&deployment=" + deployment).then()
                .log().ifValidationFails().statusCode(200).extract().jsonPath().getList("items");
    }

    private static Instant firstCreated(List<Map<String, Object>> predictions) {
        return predictions.stream().map(p -> Instant.parse((String) p.get("createdAt"))).min(Instant::compareTo)
                .orElseThrow();
    }

    /** A's share of the requests the simulator saw for the pair between two instants (from the nearest samples). */
    private static double shareOfA(List<Sample> samples, Instant from, Instant to, String a, String b) {
        Sample first = nearest(samples, from);
        Sample last = nearest(samples, to);
        long hitsA = last.requests(a) - first.requests(a);
        long hitsB = last.requests(b) - first.requests(b);
        assertThat(hitsA + hitsB).as("requests between %s and %s", from, to).isPositive();
        return (double) hitsA / (hitsA + hitsB);
    }

    private static Sample nearest(List<Sample> samples, Instant at) {
        Sample best = samples.get(0);
        for (Sample s : samples) {
            if (Math.abs(Duration.between(s.at(), at).toMillis()) < Math.abs(Duration.between(best.at(), at)
                    .toMillis())) {
                best = s;
            }
        }
        return best;
    }

    private static long failed(ConcurrentLinkedQueue<Sent> sent, String group, Instant from, Instant to) {
        return sent.stream().filter(s -> s.group().equals(group) && !s.at().isBefore(from) && s.at().isBefore(to)
                && s.status() != 200).count();
    }

    /** The first sample in which Faultline's policy keeps less than all of the deployment's traffic. */
    private static Sample firstReduction(List<Sample> samples, String deployment,
            java.util.function.Supplier<String> diagnosis) {
        try {
            return Awaitility.await("Faultline's policy reduces " + deployment).atMost(Duration.ofMinutes(3))
                    .pollInterval(Duration.ofMillis(250))
                    .until(() -> samples.stream().filter(s -> s.keepShareA() != null && s.keepShareA() < 1)
                            .findFirst().orElse(null), Objects::nonNull);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("no policy on " + deployment + diagnosis.get(), e);
        }
    }

    /**
     * Waits for the policy on lat-a in this ramp, or (when {@code mayStartOver}) for a stall of the stack: a request
     * sent within the predictor's window before the ramp or early in it that answered 200 only after LiteLLM's
     * timeout. Such calls are timeouts to Faultline (latency at or past the timeout): an observed failure, inside whose
     * quiet period nothing is predicted, and a latency bucket far off the ramp's line. The ramp's premise (a healthy
     * deployment until the ramp reaches the timeout) then no longer holds, which says nothing about preemption.
     * Answers the stalled request, or null once the policy appeared.
     */
    private static Sent rampOrStall(List<Sample> samples, ConcurrentLinkedQueue<Sent> sent, Instant from,
            boolean mayStartOver, java.util.function.Supplier<String> diagnosis) {
        java.util.function.Supplier<Sent> stall = () -> sent.stream()
                .filter(s -> s.status() == 200 && s.took().compareTo(LATENCY_GROUP_TIMEOUT) >= 0
                        && !s.at().isBefore(from.minus(PREDICT_WINDOW))
                        && scriptedLatencyMs(from, s.at()) + LATENCY_JITTER_MS < STALL_SCRIPTED_BELOW_MS)
                .findFirst().orElse(null);
        // A stall can be told only once its requests have answered: the policy is taken once every request of the
        // ramp's early part has had its timeout to answer (the policy's moment is its first sample, not this one).
        long earlyRampMs = Math.round((STALL_SCRIPTED_BELOW_MS - LATENCY_JITTER_MS - BASE_LATENCY_MS) * 1000.0
                / RAMP_MS_PER_SECOND);
        Instant stallsKnown = from.plusMillis(earlyRampMs).plus(LATENCY_GROUP_TIMEOUT).plusSeconds(1);
        try {
            Object[] outcome = Awaitility.await("Faultline's policy reduces " + LAT_A).atMost(Duration.ofMinutes(3))
                    .pollInterval(Duration.ofMillis(250)).until(() -> {
                        Sent stalled = stall.get();
                        if (mayStartOver && stalled != null) {
                            return new Object[] { stalled };
                        }
                        return reduced(samples, from) != null && !Instant.now().isBefore(stallsKnown)
                                ? new Object[] { null } : null;
                    }, Objects::nonNull);
            return (Sent) outcome[0];
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            Sent stalled = stall.get();
            throw new AssertionError("no policy on " + LAT_A + " (ramp from " + from + ")"
                    + (stalled == null ? "" : "; the stack stalled: " + stalled) + "; " + diagnosis.get(), e);
        }
    }

    /** What the simulator was scripted to answer at {@code at} for a ramp from {@code from}. */
    private static long scriptedLatencyMs(Instant from, Instant at) {
        long since = Duration.between(from, at).toMillis();
        return since <= 0 ? BASE_LATENCY_MS
                : Math.min(RAMP_CAP_MS, BASE_LATENCY_MS + Math.round(RAMP_MS_PER_SECOND * since / 1000.0));
    }

    /**
     * After a stall, with A back at its base latency: waits until the stall and the cut ramp have left the
     * predictor's window (which also ends the observed failure's quiet period) and A has its full share again.
     */
    private static void awaitHealthyAgain(List<Sample> samples, Instant stallEnded) {
        Instant clean = later(stallEnded, Instant.now()).plus(PREDICT_WINDOW).plus(TICK);
        Awaitility.await(LAT_A + " healthy again after the stall").atMost(Duration.ofMinutes(4))
                .pollInterval(Duration.ofMillis(250)).until(() -> {
                    if (Instant.now().isBefore(clean) || samples.isEmpty()) {
                        return false;
                    }
                    Double share = samples.get(samples.size() - 1).keepShareA();
                    return share == null || share >= 1.0;
                });
    }

    private static Sample reduced(List<Sample> samples, Instant from) {
        return samples.stream().filter(s -> !s.at().isBefore(from) && s.keepShareA() != null && s.keepShareA() < 1)
                .findFirst().orElse(null);
    }

    private static List<Map<String, Object>> createdSince(List<Map<String, Object>> predictions, Instant from) {
        return predictions.stream().filter(p -> !Instant.parse((String) p.get("createdAt")).isBefore(from)).toList();
    }

    /** When the group's first request failed (the status test says what failing means for the scenario). */
    private static Instant firstFailure(ConcurrentLinkedQueue<Sent> sent, String group, String what,
            java.util.function.IntPredicate failed) {
        return firstFailure(sent, group, Instant.MIN, what, failed);
    }

    /** The same, of the requests sent from {@code from} on. */
    private static Instant firstFailure(ConcurrentLinkedQueue<Sent> sent, String group, Instant from, String what,
            java.util.function.IntPredicate failed) {
        return Awaitility.await("the control's A " + what).atMost(Duration.ofMinutes(3))
                .pollInterval(Duration.ofMillis(250))
                .until(() -> sent.stream().filter(s -> s.group().equals(group) && !s.at().isBefore(from)
                        && failed.test(s.status()))
                        .map(Sent::at).min(Instant::compareTo).orElse(null), Objects::nonNull);
    }

    /**
     * Waits out the reduced phase: the share is measured from two ticks after the policy appeared, for three more
     * ticks, and the control is let fail for as long (whichever ends later).
     */
    private static void awaitReducedPhase(Sample policyAppeared, Instant controlFirstFailed) {
        Instant until = later(policyAppeared.at().plus(TICK.multipliedBy(5)), controlFirstFailed.plus(
                TICK.multipliedBy(3)));
        Awaitility.await("the reduced phase is measured").atMost(Duration.ofMinutes(3))
                .pollInterval(Duration.ofMillis(250)).until(() -> !Instant.now().isBefore(until));
    }

    private static Instant later(Instant a, Instant b) {
        return a.isAfter(b) ? a : b;
    }
}
