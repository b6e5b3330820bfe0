package io.faultline.e2e;

import io.faultline.simulator.Fault;
import io.faultline.simulator.FaultKind;
import io.faultline.simulator.Script;
import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LocalStack;
import io.faultline.testing.Api;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import io.faultline.baseline.Percentiles;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A small profile per provider through the real LiteLLM into a simulator told how slow to be; the stored
 * percentiles must match what LiteLLM itself logged for the same calls, within the proxy overhead measured in the
 * same run. Then one provider degrades: its deviation is flagged and raised as a
 * failure, while the same traffic without degradation flags nothing.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BaselineIT {

    private static final Map<String, String> MODELS = Map.of("openai", "gpt-4o-mini", "anthropic", "claude-sonnet");
    private static final int PROFILER_WARMUP = 3;
    private static final int PROFILE_REQUESTS = 50;
    private static LocalStack stack;

    @BeforeAll
    static void start() throws Exception {
        stack = StackFixture.start("baseline",
                Map.of("FAULTLINE_BASELINE_WARMUP_REQUESTS", String.valueOf(PROFILER_WARMUP)));
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void profiles_match_the_scripted_latency_and_a_degraded_provider_alone_is_flagged() {
        // The simulator answers after 200 ms plus a uniform 0-100 ms. What the profiler measures on top of that is
        // the proxy's overhead, which depends on the machine: it is measured here, in the same run, not guessed.
        for (String provider : MODELS.keySet()) {
            stack.simulator().script(provider, Script.success().withLatency(200, 100, 7));
        }
        LiteLlmClient client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        List<String> ownCalls = new ArrayList<>();
        double overheadMs = proxyOverheadMs(client, ownCalls);

        for (String provider : MODELS.keySet()) {
            String runId = api().body(Map.of("provider", provider, "modelGroup", MODELS.get(provider), "requests",
                    PROFILE_REQUESTS, "concurrency", 4, "ratePerSecond", 50)).post("/api/v1/baselines/runs").then()
                    .statusCode(202).extract().path("runId");
            api().body(Map.of("provider", provider, "modelGroup", MODELS.get(provider)))
                    .post("/api/v1/baselines/runs").then().statusCode(409).contentType("application/problem+json");
            Awaitility.await(provider + " profile finished").atMost(Duration.ofSeconds(90))
                    .pollInterval(Duration.ofMillis(500)).until(() -> "completed".equals(RestAssured.given()
                            .baseUri(stack.faultlineUrl()).get("/api/v1/baselines/runs/" + runId).then()
                            .statusCode(200).extract().path("status")));
            JsonPath run = RestAssured.given().baseUri(stack.faultlineUrl()).get("/api/v1/baselines/runs/" + runId)
                    .then().extract().jsonPath();
            assertThat(run.getInt("sent")).isEqualTo(PROFILE_REQUESTS);
            assertThat(run.getInt("errors")).as("errors of the %s profile: %s", provider, run.getString("detail"))
                    .isZero();
            assertThat(run.getString("detail")).isNull();

            JsonPath latency = baselines(provider, "latency_ms");
            assertThat(latency.getList("findAll { it.deployment == null }.sampleSize", Integer.class))
                    .containsExactly(PROFILE_REQUESTS);
            double p50 = latency.getDouble("find { it.deployment == null }.p50");
            double p95 = latency.getDouble("find { it.deployment == null }.p95");

            // The reference: what LiteLLM itself logged for the same calls (the profiler's warm-up calls come first
            // and are not measured). The profiler times each call from outside the proxy, so every sample is at
            // least LiteLLM's own figure for that call, and so is every percentile of them; LiteLLM's figure holds
            // the simulator's scripted delay.
            String profileCalls = "select latency_ms from llm_calls where provider = '" + provider + "'"
                    + " and call_id not in (" + quoted(ownCalls) + ") order by started_at";
            Awaitility.await(provider + " profile calls stored").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(300)).until(() -> Sql.doubles(stack, profileCalls).size()
                            >= PROFILER_WARMUP + PROFILE_REQUESTS);
            List<Double> logged = Sql.doubles(stack, profileCalls);
            Percentiles reference = Percentiles.of(logged.subList(PROFILER_WARMUP, logged.size()).stream()
                    .mapToDouble(Double::doubleValue).toArray());
            assertThat(reference.size()).isEqualTo(PROFILE_REQUESTS);
            assertThat(reference.p50()).as("LiteLLM's p50 holds the scripted 200-300 ms").isGreaterThanOrEqualTo(200);
            assertThat(p50).as("profiled p50 against LiteLLM's %s", reference).isGreaterThanOrEqualTo(
                    reference.p50() - 1);
            assertThat(p95).as("profiled p95 against LiteLLM's %s", reference).isGreaterThanOrEqualTo(
                    reference.p95() - 1);
            // A ceiling for gross errors only (a unit mix-up, a sample taken twice): 100 times the overhead the
            // proxy showed on this machine, in this run.
            assertThat(p50 - reference.p50()).as("overhead over LiteLLM's own p50; measured overhead %.1f ms",
                    overheadMs).isLessThanOrEqualTo(100 * overheadMs);
            assertThat(p95 - reference.p95()).as("overhead over LiteLLM's own p95; measured overhead %.1f ms",
                    overheadMs).isLessThanOrEqualTo(100 * overheadMs);
            assertThat(latency.getString("find { it.deployment == null }.source")).isEqualTo("profile");
            assertThat(latency.getList("deployment", String.class)).contains(provider + "-primary");
            assertThat(baselines(provider, "ttft_ms").getList("p50", Double.class)).isNotEmpty();
            assertThat(baselines(provider, "tokens_per_second").getList("p50", Double.class)).isNotEmpty();
            assertThat(baselines(provider, "error_rate").getDouble("find { it.deployment == null }.p95")).isZero();
        }
        long storedBeforeLive = Sql.count(stack, "select count(*) from llm_calls where success");

        // OpenAI's provider slows to three times the p95 profiled on this machine (proxy overhead included), so that
        // the current p95 is past twice the baseline whatever the overhead; Anthropic carries the same traffic at its
        // usual speed.
        int degradedMs = (int) Math.ceil(3 * baselines("openai", "latency_ms")
                .getDouble("find { it.deployment == null }.p95"));
        stack.simulator().script("openai", Script.success().withLatency(degradedMs, 50, 7));
        for (int i = 0; i < 30; i++) {
            assertThat(client.chat("gpt-4o-mini", "live " + i, false).status()).isEqualTo(200);
            assertThat(client.chat("claude-sonnet", "live " + i, false).status()).isEqualTo(200);
        }
        Awaitility.await("live calls stored").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300))
                .until(() -> Sql.count(stack, "select count(*) from llm_calls where success") >= storedBeforeLive + 60);

        List<Map<String, Object>> deviations = api().post("/api/v1/baselines/deviations").then().statusCode(200)
                .extract().jsonPath().getList("");
        assertThat(deviations).extracting(d -> d.get("provider") + "/" + d.get("metric") + "/" + d.get("raised"))
                .containsExactlyInAnyOrder("openai/latency_p95/true", "anthropic/latency_p95/false",
                        "openai/error_rate/false", "anthropic/error_rate/false");
        assertThat(deviations).filteredOn(d -> d.get("provider").equals("openai") && d.get("metric").equals("latency_p95"))
                .extracting(d -> ((Number) d.get("ratio")).doubleValue()).allMatch(r -> r > 2.0);
        RestAssured.given().baseUri(stack.faultlineUrl())
                .get("/api/v1/failures?provider=openai&type=timeout").then().statusCode(200)
                .body("items.detectionMethod", org.hamcrest.Matchers.contains("baseline.latency_deviation"))
                .body("items[0].evidence.metric", org.hamcrest.Matchers.equalTo("latency_p95_ms"));
        RestAssured.given().baseUri(stack.faultlineUrl()).get("/api/v1/failures?provider=anthropic").then()
                .statusCode(200).body("items", org.hamcrest.Matchers.empty());
        String scrape = RestAssured.given().baseUri(stack.faultlineUrl()).get("/q/metrics").then().extract().asString();
        assertThat(io.faultline.testing.Metrics.value(scrape, "llm_baseline_deviation_ratio", "metric",
                "latency_p95", "provider", "openai")).isGreaterThan(2.0);

        // A profile of a failing provider says what its errors were, as the proxy answered them.
        stack.simulator().script("anthropic", Script.faults(Fault.untilReset(FaultKind.SERVER_ERROR)));
        String failingRun = api().body(Map.of("provider", "anthropic", "modelGroup", "claude-sonnet", "requests", 4,
                "ratePerSecond", 50)).post("/api/v1/baselines/runs").then().statusCode(202).extract().path("runId");
        Awaitility.await("failing profile finished").atMost(Duration.ofSeconds(90))
                .pollInterval(Duration.ofMillis(500)).until(() -> "completed".equals(RestAssured.given()
                        .baseUri(stack.faultlineUrl()).get("/api/v1/baselines/runs/" + failingRun).then()
                        .statusCode(200).extract().path("status")));
        JsonPath failed = RestAssured.given().baseUri(stack.faultlineUrl()).get("/api/v1/baselines/runs/"
                + failingRun).then().extract().jsonPath();
        assertThat(failed.getInt("errors")).isEqualTo(4);
        assertThat(failed.getString("detail")).matches("4 errors: HTTP 5\\d\\d( \\([A-Za-z_.-]+\\))? x4");
    }

    /**
     * The median time a call spends outside LiteLLM's own timing (HTTP handling, the client's side): sequential calls
     * timed here against the latency LiteLLM logged for each. At least 1 ms, so that a ceiling built on it is never 0.
     */
    private static double proxyOverheadMs(LiteLlmClient client, List<String> callIds) {
        Map<String, Double> clientMs = new HashMap<>();
        for (int i = 0; i < 10; i++) {
            long start = System.nanoTime();
            LiteLlmClient.Answer answer = client.chat("gpt-4o-mini", "overhead " + i, false);
            double took = (System.nanoTime() - start) / 1e6;
            assertThat(answer.status()).isEqualTo(200);
            assertThat(answer.callId()).as("LiteLLM's x-litellm-call-id header").isNotBlank();
            clientMs.put(answer.callId(), took);
            callIds.add(answer.callId());
        }
        String sql = "select call_id, latency_ms from llm_calls where call_id in (" + quoted(callIds) + ")";
        Awaitility.await("overhead calls stored").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300))
                .until(() -> Sql.count(stack, "select count(*) from (" + sql + ") c") == callIds.size());
        double[] overhead = Sql.pairs(stack, sql).entrySet().stream()
                .mapToDouble(e -> clientMs.get(e.getKey()) - e.getValue()).sorted().toArray();
        return Math.max(1.0, overhead[overhead.length / 2]);
    }

    private static String quoted(List<String> ids) {
        return ids.stream().map(id -> "'" + id.replace("'", "''") + "'").collect(Collectors.joining(","));
    }

    private static io.restassured.specification.RequestSpecification api() {
        return RestAssured.given().baseUri(stack.faultlineUrl()).header("Authorization", "Bearer " + Api.KEY)
                .contentType(ContentType.JSON);
    }

    private static JsonPath baselines(String provider, String metric) {
        return RestAssured.given().baseUri(stack.faultlineUrl()).get("/api/v1/baselines?provider=" + provider
                + "&metric=" + metric).then().statusCode(200).extract().jsonPath();
    }
}
