package io.faultline.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.simulator.Fault;
import io.faultline.simulator.FaultKind;
import io.faultline.simulator.RateLimit;
import io.faultline.simulator.Script;
import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LocalStack;
import io.faultline.stack.PromQl;
import io.faultline.stack.PrometheusServer;
import io.faultline.testing.Metrics;
import io.restassured.RestAssured;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Failure injection through the real LiteLLM into the simulator, for each provider, and the detectors' reaction as
 * Faultline's /q/metrics shows it and as a real Prometheus scraped it. Every PromQL expression of the dashboards and
 * alert rules must parse (promtool) and return data from that Prometheus: the project's standing dashboard check.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ProviderMetricsIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private static LocalStack stack;
    private static PrometheusServer prometheus;
    private static LiteLlmClient client;

    @BeforeAll
    static void start() throws Exception {
        // The SLO rollup runs every 5 s (60 s by default), so that the burn rates of the failures injected below
        // reach Prometheus within the expression check's wait and while they are inside the 5-minute window. A
        // default latency SLO gives every model group the latency gauges the dashboards and alert rules read.
        stack = StackFixture.start("metrics", Map.of("FAULTLINE_SLO_INTERVAL", "5s",
                "FAULTLINE_SLO_DEFAULT_LATENCY_TARGET_MS", "2000", "FAULTLINE_SLO_DEFAULT_LATENCY_QUANTILE", "0.99"));
        prometheus = PrometheusServer.scrape(stack.faultlineUrl().replace("http://", ""),
                Path.of("prometheus/alerts.yml"), stack.settings().workDir());
        client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        injectFailures();
    }

    @AfterAll
    static void stop() {
        if (prometheus != null) {
            prometheus.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    /** Two waves, so that Prometheus sees every counter before it grows and rate() has something to show. */
    private static void injectFailures() throws Exception {
        stack.simulator().script("openai", Script.success()
                .withRateLimit(RateLimit.of(100, 1_000_000).withRemaining(30, 900_000).withDrainPerCall(1, 1000)));
        stack.simulator().script("anthropic", Script.success().withThinkingTokens(300)
                .withRateLimit(RateLimit.of(50, 40_000).withRemaining(40, 36_000).withDrainPerCall(1, 500)));
        stack.simulator().script("gemini", Script.success().withThinkingTokens(200));
        wave(1);
        Awaitility.await("Prometheus has every provider's error series").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(500)).until(() -> query(
                        "count(llm_provider_errors_total) >= 5 and count(llm_provider_rate_limit_remaining_ratio) >= 3")
                        .size() == 1);
        wave(2);
        // A small profile and a deviation check, so that the baselines dashboard's deviation ratio has data.
        String runId = RestAssured.given().baseUri(stack.faultlineUrl()).header("Authorization", "Bearer "
                + io.faultline.testing.Api.KEY).contentType("application/json").body(Map.of("provider", "anthropic",
                        "modelGroup", "claude-sonnet", "requests", 10, "ratePerSecond", 50))
                .post("/api/v1/baselines/runs").then().statusCode(202).extract().path("runId");
        Awaitility.await("profile done").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                .until(() -> "completed".equals(RestAssured.given().baseUri(stack.faultlineUrl())
                        .get("/api/v1/baselines/runs/" + runId).then().extract().path("status")));
        RestAssured.given().baseUri(stack.faultlineUrl()).header("Authorization", "Bearer " + io.faultline.testing.Api.KEY)
                .post("/api/v1/baselines/deviations").then().statusCode(200);
    }

    private static void wave(int n) {
        Map<String, Object> thinking = Map.of("thinking", Map.of("type", "enabled", "budget_tokens", 1024));
        if (n == 2) {
            // Wave 1's 429 storm left openai with nothing: the simulator answers 429 until its headroom is back.
            stack.simulator().script("openai", Script.success()
                    .withRateLimit(RateLimit.of(100, 1_000_000).withRemaining(20, 900_000).withDrainPerCall(1, 1000)));
        }
        // Headroom drains by one request per call: openai from 30 of 100, then from 20 down past 10%.
        for (int i = 0; i < (n == 1 ? 5 : 15); i++) {
            ok(client.chat("gpt-4o-mini", "drain " + i, false));
            ok(client.chat("claude-sonnet", "think " + i, false, LocalStack.MASTER_KEY, null, thinking));
            ok(client.chat("gemini-flash", "think " + i, false));
        }
        inject("openai", FaultKind.RATE_LIMIT, n == 1 ? 1 : 25, "gpt-4o-mini");
        inject("anthropic", FaultKind.OVERLOADED, n == 1 ? 1 : 12, "claude-sonnet");
        inject("gemini", FaultKind.SAFETY_BLOCK, n == 1 ? 1 : 2, "gemini-flash");
        inject("gemini", FaultKind.CONTEXT_OVERFLOW, 1, "gemini-flash");
        inject("gemini", FaultKind.HANG, 1, "gemini-flash");
    }

    private static void inject(String deployment, FaultKind kind, int count, String model) {
        // Re-scripting restarts the headroom: openai's 429s answer with nothing left, anthropic stays part-drained.
        // openai's request budget refills at one request in 100 s, so its headers say it resets in 10,000 s: the
        // headroom gauge counts a reading until its reset, and the alert below needs a minute of it.
        Script base = switch (deployment) {
            case "openai" -> Script.success().withRateLimit(RateLimit.of(100, 1_000_000).withRemaining(0, 0)
                    .withDrainPerCall(0, 0).withRefillPerSecond(0.01, 0));
            case "anthropic" -> Script.success()
                    .withRateLimit(RateLimit.of(50, 40_000).withRemaining(20, 30_000).withDrainPerCall(0, 0));
            default -> Script.success();
        };
        stack.simulator().script(deployment, base.thenFaults(Fault.of(kind, count)));
        for (int i = 0; i < count; i++) {
            assertThat(client.chat(model, "fault " + kind + " " + i, false).status()).isNotEqualTo(-1);
        }
    }

    private static void ok(LiteLlmClient.Answer answer) {
        assertThat(answer.status()).as(answer.body()).isEqualTo(200);
    }

    @Test
    @Order(1)
    void every_detector_reacts_as_the_scrape_shows() {
        Awaitility.await("all calls stored").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                .untilAsserted(() -> assertThat(Sql.count(stack, "select count(*) from llm_calls")).isEqualTo(
                        3 * 20 + 26 + 13 + 3 + 2 + 2 + 13));
        // The ingest commits a batch's calls before it counts them in the provider metrics (IngestService.observe):
        // a scrape the moment the last row shows can miss that batch's counts.
        Awaitility.await("the stored calls counted in the metrics").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
                    String scrape = RestAssured.given().baseUri(stack.faultlineUrl()).get("/q/metrics").then()
                            .statusCode(200).extract().asString();
                    assertThat(Metrics.value(scrape, "llm_provider_errors_total", "error_type", "rate_limit",
                            "provider", "openai")).isEqualTo(26);
                    assertThat(Metrics.value(scrape, "llm_provider_errors_total", "error_type", "overloaded",
                            "provider", "anthropic")).isEqualTo(13);
                    assertThat(Metrics.value(scrape, "llm_provider_errors_total", "error_type", "content_filtered",
                            "provider", "gemini")).isEqualTo(3);
                    assertThat(Metrics.value(scrape, "llm_provider_errors_total", "error_type", "context_overflow",
                            "provider", "gemini")).isEqualTo(2);
                    assertThat(Metrics.value(scrape, "llm_provider_errors_total", "error_type", "timeout",
                            "provider", "gemini")).isEqualTo(2);
                    // The 429 storm answered with zero remaining; before it, the headroom drained through 10%.
                    assertThat(Metrics.value(scrape, "llm_provider_rate_limit_remaining", "limit_type", "requests",
                            "provider", "openai")).isZero();
                    assertThat(Metrics.value(scrape, "llm_provider_rate_limit_approaching_total", "limit_type",
                            "requests", "provider", "openai")).isGreaterThanOrEqualTo(1);
                    assertThat(Metrics.value(scrape, "llm_provider_rate_limit_remaining_ratio", "limit_type",
                            "requests", "provider", "anthropic")).isBetween(0.0, 0.8);
                    for (String provider : new String[] { "anthropic", "gemini" }) {
                        assertThat(Metrics.valueOrZero(scrape, "llm_thinking_tokens_total", "provider", provider))
                                .as(provider + " thinking tokens").isGreaterThan(0);
                        assertThat(Metrics.valueOrZero(scrape, "llm_thinking_cost_usd_total", "provider", provider))
                                .as(provider + " thinking cost").isGreaterThan(0);
                    }
                    assertThat(Metrics.value(scrape, "llm_provider_latency_seconds_count", "provider", "openai"))
                            .isEqualTo(46);
                });
    }

    @Test
    @Order(2)
    void the_scrape_passes_promtool_check_metrics() throws Exception {
        // promtool lints the Prometheus text format (0.0.4); without this Accept the registry answers OpenMetrics.
        String scrape = RestAssured.given().baseUri(stack.faultlineUrl()).accept("text/plain; version=0.0.4")
                .get("/q/metrics").then().statusCode(200).extract().asString();
        Path file = stack.settings().workDir().resolve("scrape.txt");
        Files.writeString(file, scrape);
        Result result = run(List.of(PrometheusServer.binary("promtool"), "check", "metrics"), file);
        assertThat(result.exit()).as(result.output()).isZero();
    }

    @Test
    @Order(3)
    void every_dashboard_and_alert_expression_parses_and_returns_data_from_a_real_prometheus() throws Exception {
        Map<String, String> exprs = PromQl.all(Path.of("dashboards"), Path.of("prometheus"));
        assertThat(exprs).hasSizeGreaterThanOrEqualTo(17);
        Path rules = PromQl.asRuleFile(exprs, stack.settings().workDir());
        Result check = run(List.of(PrometheusServer.binary("promtool"), "check", "rules", rules.toString()), null);
        assertThat(check.exit()).as(check.output()).isZero();

        Awaitility.await("Prometheus scraped the final counters").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(500)).until(() -> !query(
                        "llm_provider_errors_total{provider=\"anthropic\",error_type=\"overloaded\"} == 13").isEmpty());
        List<String> empty = new ArrayList<>();
        Awaitility.await("every expression returns data").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
                    empty.clear();
                    for (Map.Entry<String, String> e : exprs.entrySet()) {
                        if (query(PromQl.concrete(PromQl.forDataCheck(e.getKey(), e.getValue()))).isEmpty()) {
                            empty.add(e.getKey());
                        }
                    }
                    assertThat(empty).as("expressions without data").isEmpty();
                });
    }

    @Test
    @Order(4)
    void the_headroom_and_529_storm_alerts_fire_on_the_real_data() {
        Awaitility.await("alerts firing").atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofSeconds(1))
                .untilAsserted(() -> assertThat(query("ALERTS{alertstate=\"firing\"}"))
                        .extracting(n -> n.path("metric").path("alertname").asText() + "/"
                                + n.path("metric").path("provider").asText())
                        .contains("Llm529Storm/anthropic", "LlmRateLimitHeadroomLow/openai"));
    }

    private static List<JsonNode> query(String promql) throws IOException, InterruptedException {
        HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(prometheus.url()
                + "/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8))).build(),
                HttpResponse.BodyHandlers.ofString());
        JsonNode body = JSON.readTree(response.body());
        if (!"success".equals(body.path("status").asText())) {
            throw new AssertionError("query failed: " + promql + " -> " + response.body());
        }
        List<JsonNode> result = new ArrayList<>();
        body.path("data").path("result").forEach(result::add);
        return result;
    }

    private record Result(int exit, String output) {
    }

    private static Result run(List<String> command, Path stdin) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        if (stdin != null) {
            builder.redirectInput(stdin.toFile());
        }
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Result(process.exitValue(), output);
    }
}
