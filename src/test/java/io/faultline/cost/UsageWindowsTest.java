package io.faultline.cost;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@code token_spike} and {@code cache_miss_storm} from streams of ingested calls, replayed on a frozen clock: each
 * stream crosses its threshold by one unit, and the same stream one unit under it raises nothing.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@SuppressWarnings("unchecked")
class UsageWindowsTest {

    private static final Instant DAY = Instant.parse("2026-11-20T00:00:00Z");

    @Inject
    TestClock clock;

    @Inject
    UsageWindows windows;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    private static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /**
     * Sends the calls in batches of 500 in the order they ended, as a proxy does: each batch moves a test clock left
     * behind to its last call ({@link Api#ingest}), so a window closes only once all of its calls have arrived.
     */
    private static void ingest(List<Payloads> calls) {
        List<Payloads> inOrder = new ArrayList<>(calls);
        inOrder.sort(java.util.Comparator.comparingDouble(p -> p.node().get("endTime").asDouble()));
        for (int from = 0; from < inOrder.size(); from += 500) {
            Api.ingest(Payloads.array(inOrder.subList(from, Math.min(inOrder.size(), from + 500))
                    .toArray(Payloads[]::new))).statusCode(200);
        }
    }

    private static Payloads call(String deployment, Instant at, long prompt, long completion, long reasoning) {
        return Payloads.success("openai", "o3-mini", deployment, at).tokens(prompt, completion, reasoning, 0);
    }

    private static List<Map<String, Object>> failures(String type, String deployment) {
        return Api.failures("type=" + type + "&deployment=" + deployment).extract().jsonPath().getList("items");
    }

    @Test
    void aCallAboveThreeTimesTheRollingP99Spikes_oneTokenLessDoesNot() {
        String dep = unique("spike");
        clock.set(DAY.plus(Duration.ofHours(1)));
        List<Payloads> history = new ArrayList<>();
        for (int i = 0; i < 250; i++) {
            history.add(call(dep, DAY.plusSeconds(i), 600, 400, 0));
        }
        ingest(history);

        Instant under = DAY.plusSeconds(300);
        ingest(List.of(call(dep, under, 1800, 1200, 0)));
        assertThat(failures("token_spike", dep)).as("3000 tokens is exactly 3 x p99 1000: not above").isEmpty();

        Instant at = DAY.plusSeconds(301);
        ingest(List.of(call(dep, at, 1801, 1200, 0)));
        List<Map<String, Object>> spikes = failures("token_spike", dep);
        assertThat(spikes).hasSize(1);
        Map<String, Object> spike = spikes.get(0);
        assertThat(spike).containsEntry("category", "COST").containsEntry("severity", "P3")
                .containsEntry("detectionMethod", "cost.tokens.rolling_p99");
        assertThat(Instant.parse((String) spike.get("firstSeen"))).isEqualTo(at.plusMillis(420));
        assertThat((Map<String, Object>) spike.get("evidence")).containsEntry("scope", "call")
                .containsEntry("tokens", 3001).containsEntry("p99_tokens", 1000).containsEntry("spiked", "tokens")
                .containsEntry("samples", 251);
    }

    @Test
    void aRestartReadsBackEachDeploymentsLastCallsNotOlderOnes() {
        String dep = unique("restart");
        Instant start = DAY.plus(Duration.ofHours(10));
        // 176 huge calls, then 1,024 ordinary ones: the ring of 1,024 holds only the ordinary ones.
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 1200; i++) {
            calls.add(i < 176 ? call(dep, start.plusSeconds(i), 30_000, 20_000, 0)
                    : call(dep, start.plusSeconds(i), 600, 400, 0));
        }
        clock.set(start.plus(Duration.ofMinutes(30)));
        ingest(calls);
        // A restart: the histories are forgotten and read back from llm_calls.
        windows.rebuild();

        ingest(List.of(call(dep, start.plusSeconds(1300), 1801, 1200, 0)));

        // Had the rebuild read the older calls, the p99 would be 50,000 and 3,001 tokens no spike.
        assertThat(failures("token_spike", dep)).singleElement().satisfies(f -> assertThat(
                (Map<String, Object>) f.get("evidence")).containsEntry("p99_tokens", 1000)
                .containsEntry("samples", 1024).containsEntry("tokens", 3001));
    }

    /**
     * A deployment called every 10 minutes has 36 calls in 6 hours. A restart read back only the last 6 hours of each
     * deployment's calls, under the 200 a p99 needs, so such a deployment had no per-call spike detection for the next
     * 28 hours. The rebuild reads back each deployment's last calls, up to its history, from as far back as
     * faultline.token-spike.history-horizon (7 days).
     */
    @Test
    void aRestartReadsBackTheMinimumSampleOfAQuietDeploymentBeyondSixHours() {
        String dep = unique("quiet");
        Instant start = DAY.plus(Duration.ofDays(3));
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 250; i++) {
            calls.add(call(dep, start.plus(Duration.ofMinutes(10L * i)), 600, 400, 0));
        }
        Instant last = start.plus(Duration.ofMinutes(10L * 249));
        clock.set(last.plus(Duration.ofMinutes(5)));
        ingest(calls);
        windows.rebuild();

        ingest(List.of(call(dep, last.plus(Duration.ofMinutes(10)), 1801, 1200, 0)));

        assertThat(failures("token_spike", dep)).filteredOn(f -> "call".equals(((Map<String, Object>) f
                .get("evidence")).get("scope"))).singleElement().satisfies(f -> assertThat(
                        (Map<String, Object>) f.get("evidence")).containsEntry("p99_tokens", 1000)
                        .containsEntry("samples", 250).containsEntry("tokens", 3001));
    }

    @Test
    void classifyDryRunsAndResendsDoNotMoveTheHistory() {
        String dep = unique("dry");
        clock.set(DAY.plus(Duration.ofHours(3)));
        // Dry runs of huge calls: if they joined the history, its p99 would be 100,000 and nothing would spike.
        for (int i = 0; i < 40; i++) {
            io.restassured.RestAssured.given().header("Authorization", "Bearer " + Api.KEY)
                    .contentType(io.restassured.http.ContentType.JSON)
                    .body(call(dep, DAY.plusSeconds(7000 + i), 60_000, 40_000, 0).node().toString())
                    .when().post("/api/v1/classify").then().statusCode(200);
        }
        List<Payloads> history = new ArrayList<>();
        for (int i = 0; i < 250; i++) {
            history.add(call(dep, DAY.plusSeconds(7200 + i), 600, 400, 0));
        }
        ingest(history);
        ingest(history.subList(0, 100)); // resends: stored once, counted once

        ingest(List.of(call(dep, DAY.plusSeconds(7500), 1801, 1200, 0)));

        assertThat(failures("token_spike", dep)).singleElement().satisfies(f -> assertThat(
                (Map<String, Object>) f.get("evidence")).containsEntry("p99_tokens", 1000)
                .containsEntry("samples", 250));
    }

    @Test
    void reasoningTokensAreJudgedApart() {
        String dep = unique("think");
        clock.set(DAY.plus(Duration.ofHours(2)));
        List<Payloads> history = new ArrayList<>();
        for (int i = 0; i < 250; i++) {
            // A thinking model: 2,000 tokens a call, 1,000 of them reasoning.
            history.add(call(dep, DAY.plusSeconds(3600 + i), 1000, 1000, 1000));
        }
        ingest(history);
        // Total tokens well within 3 x p99 (5,000 < 6,000), reasoning far above it (3,500 > 3,000).
        ingest(List.of(call(dep, DAY.plusSeconds(4000), 500, 4500, 3500)));

        assertThat(failures("token_spike", dep)).singleElement().satisfies(f -> assertThat(
                (Map<String, Object>) f.get("evidence")).containsEntry("spiked", "reasoning_tokens")
                .containsEntry("reasoning_tokens", 3500).containsEntry("p99_reasoning_tokens", 1000));
    }

    @Test
    void reasoningIsNotJudgedOnceTheThinkingCallsLeftTheRing() {
        String dep = unique("thought");
        Instant start = DAY.plus(Duration.ofHours(14));
        clock.set(start.plus(Duration.ofHours(1)));
        List<Payloads> history = new ArrayList<>();
        // 200 thinking calls, then 1,024 that do not think: the ring of 1,024 holds no thinking call any more.
        for (int i = 0; i < 1224; i++) {
            history.add(i < 200 ? call(dep, start.plusSeconds(i), 1000, 1000, 1000)
                    : call(dep, start.plusSeconds(i), 1000, 1000, 0));
        }
        ingest(history);

        // 3,000 tokens against a p99 of 2,000, and 1,500 of reasoning: no thinking p99 to be 3 x above.
        ingest(List.of(call(dep, start.plusSeconds(1300), 1000, 2000, 1500)));

        assertThat(failures("token_spike", dep)).as("a reasoning p99 of 0 is no baseline").isEmpty();
    }

    @Test
    void aCallFromAClockRunningAheadCountsInTheOpenWindowWithoutClosingItEarly() {
        Instant start = DAY.plus(Duration.ofHours(5));
        Instant nine = start.plus(Duration.ofMinutes(40));
        String dep = unique("wspike-skew");
        clock.set(start);
        List<Payloads> calls = new ArrayList<>();
        for (int w = 0; w < 8; w++) {
            for (int i = 0; i < 20; i++) {
                calls.add(call(dep, start.plus(Duration.ofMinutes(5L * w)).plusSeconds(i), 600, 400, 0));
            }
        }
        ingest(calls);
        // One minute into window 9, a proxy whose clock runs 4.5 minutes fast logs a small call "in window 10".
        clock.set(nine.plus(Duration.ofMinutes(1)));
        ingest(List.of(call(dep, nine.plus(Duration.ofMinutes(5)).plusSeconds(30), 60, 40, 0)));
        // Then window 9's own calls: three times its usual tokens.
        List<Payloads> ninth = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            ninth.add(call(dep, nine.plusSeconds(i), 600, 400, 0));
        }
        ingest(ninth);
        clock.set(nine.plus(Duration.ofMinutes(5)).plusSeconds(31));
        windows.tick();

        assertThat(failures("token_spike", dep)).singleElement().satisfies(f -> assertThat(
                (Map<String, Object>) f.get("evidence")).containsEntry("scope", "deployment")
                .containsEntry("tokens", 60_100));
    }

    @Test
    void aWindowAboveTwiceTheP99OfEarlierWindowsSpikes_aWindowAtItDoesNot() {
        Instant start = DAY.plus(Duration.ofHours(4));
        Instant nine = start.plus(Duration.ofMinutes(40));
        String under = unique("wspike-under");
        String over = unique("wspike-over");
        clock.set(start);
        // Eight windows of 20 calls x 1,000 tokens: a p99 of 20,000 tokens per window.
        List<Payloads> calls = new ArrayList<>();
        for (String dep : List.of(under, over)) {
            for (int w = 0; w < 8; w++) {
                for (int i = 0; i < 20; i++) {
                    calls.add(call(dep, start.plus(Duration.ofMinutes(5L * w)).plusSeconds(i), 600, 400, 0));
                }
            }
        }
        ingest(calls);
        // A restart: the windows come back from llm_calls.
        clock.set(nine);
        windows.rebuild();

        // Window 9: exactly twice the p99 (40 x 1,000) on one deployment, one token more on the other.
        List<Payloads> ninth = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            ninth.add(call(under, nine.plusSeconds(i), 600, 400, 0));
            ninth.add(call(over, nine.plusSeconds(i), i == 0 ? 601 : 600, 400, 0));
        }
        ingest(ninth);
        clock.set(nine.plus(Duration.ofMinutes(5)).plusSeconds(31));
        windows.tick();

        assertThat(failures("token_spike", under)).isEmpty();
        List<Map<String, Object>> spikes = failures("token_spike", over);
        assertThat(spikes).hasSize(1);
        assertThat(spikes.get(0)).containsEntry("detectionMethod", "cost.tokens.window_p99")
                .containsEntry("severity", "P3").containsEntry("provider", "openai");
        assertThat(Instant.parse((String) spikes.get(0).get("firstSeen"))).isEqualTo(nine.plus(Duration.ofMinutes(5)));
        assertThat((Map<String, Object>) spikes.get(0).get("evidence")).containsEntry("scope", "deployment")
                .containsEntry("tokens", 40001).containsEntry("p99_window_tokens", 20000)
                .containsEntry("earlier_windows", 8).containsEntry("window_start", nine.toString());
    }

    /** Eight windows of 20 calls x 1,000 tokens from {@code start}: a p99 of 20,000 tokens per window. */
    private static List<Payloads> ordinaryWindows(String dep, Instant start) {
        List<Payloads> calls = new ArrayList<>();
        for (int w = 0; w < 8; w++) {
            for (int i = 0; i < 20; i++) {
                calls.add(call(dep, start.plus(Duration.ofMinutes(5L * w)).plusSeconds(i), 600, 400, 0));
            }
        }
        return calls;
    }

    private static List<Payloads> calls(String dep, Instant from, int n, long prompt) {
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            calls.add(call(dep, from.plusSeconds(i), prompt, 400, 0));
        }
        return calls;
    }

    /**
     * A window that closed shortly before a restart, before the tick judged it, is judged when the windows are read
     * back and raises: only the windows closed before the last tick are judged again silently.
     */
    @Test
    void aWindowClosedJustBeforeARestartAndNotYetJudgedRaisesAfterIt() {
        Instant start = DAY.plus(Duration.ofDays(3));
        Instant nine = start.plus(Duration.ofMinutes(40));
        Instant ten = nine.plus(Duration.ofMinutes(5));
        String dep = unique("restart-spike");
        spikeInWindowNine(dep, start);
        // Window 9 ends; the service stops before the next tick closes it.
        clock.set(ten.plusSeconds(10));
        windows.rebuild();
        clock.set(ten.plusSeconds(61));
        windows.tick();
        assertThat(failures("token_spike", dep)).singleElement().satisfies(f -> {
            assertThat(Instant.parse((String) f.get("firstSeen"))).isEqualTo(ten);
            assertThat(f).containsEntry("occurrences", 1);
            assertThat((Map<String, Object>) f.get("evidence")).containsEntry("window_start", nine.toString())
                    .containsEntry("tokens", 40040);
        });
    }

    /**
     * Eight ordinary 5-minute windows from {@code start}, then a spike of 40 calls in the ninth ("window 9", from
     * minute 40) and a tick a minute into it: that window is still open, nothing is judged yet.
     */
    private void spikeInWindowNine(String dep, Instant start) {
        Instant nine = start.plus(Duration.ofMinutes(40));
        clock.set(start);
        ingest(ordinaryWindows(dep, start));
        ingest(calls(dep, nine, 40, 601));
        clock.set(nine.plusSeconds(60));
        windows.tick();
    }

    /**
     * A call of window 10 closes window 9 and judges it at once, before any tick; the service restarts before the
     * next tick. The rebuild judges window 9 aloud again (it ended after the last tick's cutoff), which counted the
     * spike a second time in its episode: a window whose failure is already stored (episode or inbox) is not raised
     * again.
     */
    @Test
    void aWindowAlreadyJudgedByALaterCallIsNotRaisedAgainByTheRebuildAfterARestart() {
        Instant start = DAY.plus(Duration.ofDays(4));
        Instant ten = start.plus(Duration.ofMinutes(45));
        String dep = unique("restart-judged");
        spikeInWindowNine(dep, start);
        clock.set(ten.plusSeconds(5));
        ingest(calls(dep, ten, 1, 600)); // closes window 9 and judges it: the spike is raised now
        assertThat(failures("token_spike", dep)).singleElement().satisfies(f -> assertThat(f)
                .containsEntry("occurrences", 1));
        clock.set(ten.plusSeconds(10));
        windows.rebuild();
        clock.set(ten.plusSeconds(61));
        windows.tick();
        assertThat(failures("token_spike", dep)).singleElement().satisfies(f -> {
            assertThat(Instant.parse((String) f.get("firstSeen"))).isEqualTo(ten);
            assertThat(f).as("raised once, not again by the rebuild").containsEntry("occurrences", 1);
        });
    }

    /**
     * An outage of the service or its database holds a window's calls back: the plugin spools them and delivers them
     * after calls of later windows were stored. The window never opened while it was current; its calls open it late
     * and it is judged once they have settled, dated at its own end, with the late calls counted in the evidence.
     */
    @Test
    void aWindowWhoseCallsAllArriveAfterLaterWindowsIsJudgedOnceTheySettle() {
        Instant start = DAY.plus(Duration.ofHours(14));
        Instant nine = start.plus(Duration.ofMinutes(40));
        Instant ten = nine.plus(Duration.ofMinutes(5));
        String dep = unique("late-spike");
        clock.set(start);
        ingest(ordinaryWindows(dep, start));
        // Window 9 passes with nothing stored; window 10's live calls arrive, then window 9's spooled ones.
        clock.set(ten.plusSeconds(30));
        ingest(calls(dep, ten, 20, 600));
        ingest(calls(dep, nine, 40, 601));
        windows.tick();
        assertThat(failures("token_spike", dep)).as("late calls still arriving: not judged yet").isEmpty();

        clock.set(ten.plusSeconds(61));
        windows.tick();
        List<Map<String, Object>> spikes = failures("token_spike", dep);
        assertThat(spikes).singleElement().satisfies(f -> {
            assertThat(Instant.parse((String) f.get("firstSeen"))).isEqualTo(ten);
            assertThat((Map<String, Object>) f.get("evidence")).containsEntry("window_start", nine.toString())
                    .containsEntry("tokens", 40040).containsEntry("p99_window_tokens", 20000)
                    .containsEntry("earlier_windows", 8).containsEntry("late_calls", 40);
        });
    }

    /**
     * A window judged on part of its calls (the tick closed it while the rest were held back) is judged again with
     * them, and raises once: more late calls after the spike, or a restart and one more late call, add no second one.
     */
    @Test
    void aWindowClosedOnPartOfItsCallsIsJudgedAgainWithTheLateOnes_andRaisesOnce() {
        Instant start = DAY.plus(Duration.ofHours(18));
        Instant nine = start.plus(Duration.ofMinutes(40));
        Instant ten = nine.plus(Duration.ofMinutes(5));
        String dep = unique("late-rejudge");
        clock.set(start);
        ingest(ordinaryWindows(dep, start));
        clock.set(nine.plusSeconds(20));
        ingest(calls(dep, nine, 20, 600));
        clock.set(ten.plusSeconds(31));
        windows.tick();
        assertThat(failures("token_spike", dep)).as("20,000 tokens: at the p99, no spike").isEmpty();

        // The rest of window 9 arrives after the tick closed it, with no call of a later window in between.
        ingest(calls(dep, nine.plusSeconds(100), 21, 601));
        clock.set(ten.plusSeconds(62));
        windows.tick();
        assertThat(failures("token_spike", dep)).singleElement().satisfies(f -> assertThat(
                (Map<String, Object>) f.get("evidence")).containsEntry("tokens", 41021)
                .containsEntry("late_calls", 21).containsEntry("window_start", nine.toString()));

        ingest(calls(dep, nine.plusSeconds(200), 5, 601));
        clock.set(ten.plusSeconds(93));
        windows.tick();
        windows.rebuild();
        ingest(calls(dep, nine.plusSeconds(250), 1, 601));
        clock.set(ten.plusSeconds(124));
        windows.tick();
        assertThat(failures("token_spike", dep)).singleElement()
                .satisfies(f -> assertThat(f).containsEntry("occurrences", 1));
    }

    @Test
    void aCollapsedCacheHitRatioWithVolumeHeldIsAStorm_aSmallerDropOrVolumeIsNot() {
        Instant start = DAY.plus(Duration.ofHours(8));
        Instant fifth = start.plus(Duration.ofMinutes(20));
        clock.set(start);
        String above = unique("cache-31pct");
        String thin = unique("cache-thin");
        String storm = unique("cache-storm");
        String stormKey = UUID.randomUUID().toString().replace("-", "");
        List<Payloads> calls = new ArrayList<>();
        for (String model : List.of(above, thin, storm)) {
            String key = model.equals(storm) ? stormKey : UUID.randomUUID().toString().replace("-", "");
            for (int w = 0; w < 4; w++) {
                calls.addAll(cacheWindow(model, key, start.plus(Duration.ofMinutes(5L * w)), 100, 60));
            }
            // Against a 60% level: 31% hits is above half of it; 12 of 40 is too few calls; 30% of 100 is a storm.
            calls.addAll(model.equals(above) ? cacheWindow(model, key, fifth, 100, 31)
                    : model.equals(thin) ? cacheWindow(model, key, fifth, 40, 12)
                            : cacheWindow(model, key, fifth, 100, 30));
        }
        ingest(calls);
        clock.set(fifth.plus(Duration.ofMinutes(5)).plusSeconds(31));
        windows.tick();

        assertThat(failures("cache_miss_storm", above)).isEmpty();
        assertThat(failures("cache_miss_storm", thin)).isEmpty();
        List<Map<String, Object>> byModel = failures("cache_miss_storm", storm);
        assertThat(byModel).hasSize(1);
        assertThat(byModel.get(0)).containsEntry("provider", "openai").containsEntry("severity", "P3")
                .containsEntry("detectionMethod", "cost.cache.rolling_level");
        assertThat(Instant.parse((String) byModel.get(0).get("firstSeen")))
                .isEqualTo(fifth.plus(Duration.ofMinutes(5)));
        Map<String, Object> evidence = (Map<String, Object>) byModel.get(0).get("evidence");
        assertThat(evidence).containsEntry("scope", "model").containsEntry("signal", "proxy_cache")
                .containsEntry("calls", 100).containsEntry("earlier_windows", 4);
        assertThat(((Number) evidence.get("hit_ratio")).doubleValue()).isCloseTo(0.3, within(1e-6));
        assertThat(((Number) evidence.get("rolling_level")).doubleValue()).isCloseTo(0.6, within(1e-6));
        assertThat(failures("cache_miss_storm", "key:" + stormKey.substring(0, 12))).singleElement()
                .satisfies(f -> assertThat(f).containsEntry("provider", "litellm"));
    }

    /**
     * Windows count answered calls, as a restart reads them back: the failures of a provider outage (which LiteLLM
     * logs with cache_hit false) are no cache misses, and 30 answered calls are too few to judge a storm on.
     */
    @Test
    void an_outage_is_not_a_cache_miss_storm() {
        Instant start = DAY.plus(Duration.ofHours(20));
        Instant fifth = start.plus(Duration.ofMinutes(20));
        clock.set(start);
        String model = unique("cache-outage");
        String key = UUID.randomUUID().toString().replace("-", "");
        List<Payloads> calls = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            calls.addAll(cacheWindow(model, key, start.plus(Duration.ofMinutes(5L * w)), 100, 60));
        }
        calls.addAll(cacheWindow(model, key, fifth, 30, 18));
        for (int i = 0; i < 80; i++) {
            calls.add(Payloads.failure("openai", model, model + "-dep", fifth.plusSeconds(100 + i), 503,
                    "ServiceUnavailableError", "upstream unavailable").set("cache_hit", false));
        }
        ingest(calls);
        clock.set(fifth.plus(Duration.ofMinutes(5)).plusSeconds(31));
        windows.tick();
        assertThat(failures("cache_miss_storm", model)).isEmpty();
    }

    /**
     * The model and key series come back from llm_calls as the deployment series do: after a restart between the
     * earlier windows and the storm, the storm is judged against the four windows read back, by model and by key.
     */
    @Test
    void aCacheMissStormAfterARestartIsJudgedAgainstTheWindowsReadBackForTheModelAndTheKey() {
        Instant start = DAY.plus(Duration.ofHours(12));
        Instant fifth = start.plus(Duration.ofMinutes(20));
        clock.set(start);
        String storm = unique("cache-restart");
        String key = UUID.randomUUID().toString().replace("-", "");
        List<Payloads> calls = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            calls.addAll(cacheWindow(storm, key, start.plus(Duration.ofMinutes(5L * w)), 100, 60));
        }
        ingest(calls);
        clock.set(fifth);
        windows.rebuild();

        ingest(cacheWindow(storm, key, fifth, 100, 30));
        clock.set(fifth.plus(Duration.ofMinutes(5)).plusSeconds(31));
        windows.tick();

        Map<String, Object> byModel = failures("cache_miss_storm", storm).get(0);
        assertThat((Map<String, Object>) byModel.get("evidence")).containsEntry("scope", "model")
                .containsEntry("calls", 100).containsEntry("earlier_windows", 4)
                .hasEntrySatisfying("rolling_level", v -> assertThat(((Number) v).doubleValue())
                        .isCloseTo(0.6, within(1e-6)));
        Map<String, Object> byKey = failures("cache_miss_storm", "key:" + key.substring(0, 12)).get(0);
        assertThat(byKey).containsEntry("provider", "litellm");
        assertThat((Map<String, Object>) byKey.get("evidence")).containsEntry("scope", "api_key")
                .containsEntry("earlier_windows", 4);
    }

    /**
     * A key that moves its traffic from a model whose prompts it cached to one that never caches (a migration, a
     * fallback) loses no cache: neither model's ratio fell, so neither the models nor the key have a storm.
     */
    @Test
    void aKeyMovingToAModelThatNeverCachedIsNoCacheMissStorm() {
        Instant start = DAY.plus(Duration.ofHours(22));
        Instant fifth = start.plus(Duration.ofMinutes(20));
        clock.set(start);
        String cached = unique("prompt-cached");
        String never = unique("prompt-never");
        String key = UUID.randomUUID().toString().replace("-", "");
        String other = UUID.randomUUID().toString().replace("-", "");
        List<Payloads> calls = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            Instant at = start.plus(Duration.ofMinutes(5L * w));
            calls.addAll(promptWindow(cached, key, at, 100, 600));
            calls.addAll(promptWindow(never, other, at, 100, 0));
        }
        // The key now sends the same volume to the model that never cached; the other key stays on it.
        calls.addAll(promptWindow(never, key, fifth, 100, 0));
        calls.addAll(promptWindow(never, other, fifth, 100, 0));
        ingest(calls);
        clock.set(fifth.plus(Duration.ofMinutes(5)).plusSeconds(31));
        windows.tick();

        assertThat(failures("cache_miss_storm", cached)).isEmpty();
        assertThat(failures("cache_miss_storm", never)).isEmpty();
        assertThat(failures("cache_miss_storm", "key:" + key.substring(0, 12)))
                .as("no prompt of the key missed a cache it used to hit").isEmpty();
    }

    /**
     * The same key losing its prompt cache on the model it stays on is a storm of that key, while the model's other
     * keys keep the model's own ratio above half its level.
     */
    @Test
    void aKeyLosingItsPromptCacheOnItsModelIsAStormOfTheKey() {
        Instant start = DAY.plus(Duration.ofHours(23));
        Instant fifth = start.plus(Duration.ofMinutes(20));
        clock.set(start);
        String model = unique("prompt-shared");
        String key = UUID.randomUUID().toString().replace("-", "");
        List<String> others = List.of(UUID.randomUUID().toString().replace("-", ""),
                UUID.randomUUID().toString().replace("-", ""));
        List<Payloads> calls = new ArrayList<>();
        for (int w = 0; w < 5; w++) {
            Instant at = start.plus(Duration.ofMinutes(5L * w));
            calls.addAll(promptWindow(model, key, at, 100, w < 4 ? 600 : 0));
            for (String o : others) {
                calls.addAll(promptWindow(model, o, at.plusSeconds(120), 100, 600));
            }
        }
        ingest(calls);
        clock.set(fifth.plus(Duration.ofMinutes(5)).plusSeconds(31));
        windows.tick();

        assertThat(failures("cache_miss_storm", model)).as("2/3 of the model's level is no storm").isEmpty();
        assertThat(failures("cache_miss_storm", "key:" + key.substring(0, 12))).singleElement()
                .satisfies(f -> assertThat((Map<String, Object>) f.get("evidence"))
                        .containsEntry("scope", "api_key").containsEntry("signal", "prompt_cache")
                        .containsEntry("earlier_windows", 4));
    }

    /** Answered calls of 1,000 prompt tokens of which {@code cachedTokens} were read from the provider's cache. */
    private static List<Payloads> promptWindow(String model, String keyHash, Instant start, int calls,
            long cachedTokens) {
        List<Payloads> out = new ArrayList<>();
        for (int i = 0; i < calls; i++) {
            Payloads p = Payloads.success("openai", model, model + "-dep", start.plusSeconds(i))
                    .tokens(1000, 100, 0, cachedTokens);
            ((com.fasterxml.jackson.databind.node.ObjectNode) p.node().get("metadata")).put("user_api_key_hash",
                    keyHash);
            out.add(p);
        }
        return out;
    }

    private static List<Payloads> cacheWindow(String model, String keyHash, Instant start, int calls, int hits) {
        List<Payloads> out = new ArrayList<>();
        for (int i = 0; i < calls; i++) {
            Payloads p = Payloads.success("openai", model, model + "-dep", start.plusSeconds(i))
                    .set("cache_hit", i < hits);
            ((com.fasterxml.jackson.databind.node.ObjectNode) p.node().get("metadata")).put("user_api_key_hash",
                    keyHash);
            out.add(p);
        }
        return out;
    }
}
