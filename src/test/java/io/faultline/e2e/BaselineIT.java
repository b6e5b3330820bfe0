package io.faultline.e2e;

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

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A small profile per provider through the real LiteLLM into a simulator told how slow to be; the stored
 * percentiles must match what it was told. Then one provider degrades: its deviation is flagged and raised as a
 * failure, while the same traffic without degradation flags nothing.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BaselineIT {

    private static final Map<String, String> MODELS = Map.of("openai", "gpt-4o-mini", "anthropic", "claude-sonnet");
    private static LocalStack stack;

    @BeforeAll
    static void start() throws Exception {
        stack = StackFixture.start("baseline");
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void profiles_match_the_scripted_latency_and_a_degraded_provider_alone_is_flagged() {
        // The simulator answers after 200 ms plus a uniform 0-100 ms: p50 ~ 250 ms, p95 ~ 295 ms, before LiteLLM.
        for (String provider : MODELS.keySet()) {
            stack.simulator().script(provider, Script.success().withLatency(200, 100, 7));
        }
        for (String provider : MODELS.keySet()) {
            String runId = api().body(Map.of("provider", provider, "modelGroup", MODELS.get(provider), "requests", 50,
                    "concurrency", 4, "ratePerSecond", 50)).post("/api/v1/baselines/runs").then().statusCode(202)
                    .extract().path("runId");
            api().body(Map.of("provider", provider, "modelGroup", MODELS.get(provider)))
                    .post("/api/v1/baselines/runs").then().statusCode(409).contentType("application/problem+json");
            Awaitility.await(provider + " profile finished").atMost(Duration.ofSeconds(90))
                    .pollInterval(Duration.ofMillis(500)).until(() -> "completed".equals(RestAssured.given()
                            .baseUri(stack.faultlineUrl()).get("/api/v1/baselines/runs/" + runId).then()
                            .statusCode(200).extract().path("status")));
            JsonPath run = RestAssured.given().baseUri(stack.faultlineUrl()).get("/api/v1/baselines/runs/" + runId)
                    .then().extract().jsonPath();
            assertThat(run.getInt("sent")).isEqualTo(50);
            assertThat(run.getInt("errors")).isZero();

            JsonPath latency = baselines(provider, "latency_ms");
            assertThat(latency.getList("findAll { it.deployment == null }.sampleSize", Integer.class))
                    .containsExactly(50);
            double p50 = latency.getDouble("find { it.deployment == null }.p50");
            double p95 = latency.getDouble("find { it.deployment == null }.p95");
            assertThat(p50).as("p50 of 200 + U(0,100) ms plus the proxy's overhead").isBetween(230.0, 340.0);
            assertThat(p95).as(() -> "p95 of 200 + U(0,100) ms plus the proxy's overhead; slowest calls:" + Sql.rows(stack,
                    "select round(latency_ms), stream, prompt_tokens, completion_tokens, started_at from llm_calls"
                            + " order by latency_ms desc limit 6")).isBetween(280.0, 420.0);
            assertThat(latency.getString("find { it.deployment == null }.source")).isEqualTo("profile");
            assertThat(latency.getList("deployment", String.class)).contains(provider + "-primary");
            assertThat(baselines(provider, "ttft_ms").getList("p50", Double.class)).isNotEmpty();
            assertThat(baselines(provider, "tokens_per_second").getList("p50", Double.class)).isNotEmpty();
            assertThat(baselines(provider, "error_rate").getDouble("find { it.deployment == null }.p95")).isZero();
        }

        // OpenAI slows to 900 ms; Anthropic carries the same traffic at its usual speed.
        stack.simulator().script("openai", Script.success().withLatency(900, 50, 7));
        LiteLlmClient client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        for (int i = 0; i < 30; i++) {
            assertThat(client.chat("gpt-4o-mini", "live " + i, false).status()).isEqualTo(200);
            assertThat(client.chat("claude-sonnet", "live " + i, false).status()).isEqualTo(200);
        }
        Awaitility.await("live calls stored").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300))
                .until(() -> Sql.count(stack, "select count(*) from llm_calls where success") >= 160);

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
