package io.faultline.e2e;

import io.faultline.simulator.Fault;
import io.faultline.simulator.FaultKind;
import io.faultline.simulator.Script;
import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LiteLlmClient.Answer;
import io.faultline.stack.LocalStack;
import io.faultline.stack.ManagedProcess;
import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
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
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two packaged Faultline processes on one PostgreSQL (README: "Two replicas"): the real LiteLLM's plugin sends to
 * replica A, a client ingests directly into both (alternating, and concurrently into one fingerprint). The catalog is
 * the one a single replica would keep (one episode per fingerprint, occurrences counting every call, budget and batch
 * alerts fired once), every cluster-wide job runs once per interval across both, and the replicas' counters add up to
 * the stored figures. Then replica A is SIGKILLed mid-traffic: B carries on (ingest and the jobs), nothing
 * acknowledged is lost, and A rejoins with the same figures.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TwoReplicasIT {

    /** Every cluster-wide job's interval here (the defaults are 1-60 minutes): enough ticks in a short test. */
    private static final Duration EVERY = Duration.ofSeconds(10);
    private static final List<String> CLUSTER_JOBS = List.of("deviation-check", "inbox-recovery", "signal-checks",
            "slo-rollup", "impact-reassessment", "prediction", "correlation-close", "embedding-drift");
    private static final String PROMPT = "How long is the return window?";

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private static LocalStack stack;
    private static ManagedProcess replicaB;
    private static String urlB;
    private static LiteLlmClient client;
    /** When both replicas were running, and each cluster-wide job's stored runs then. */
    private static Instant jobsSince;
    private static Map<String, Long> runsSince;

    @BeforeAll
    static void startTwoReplicas() throws Exception {
        String every = EVERY.toSeconds() + "s";
        Map<String, String> env = new HashMap<>();
        env.put("FAULTLINE_REPLICA_ID", "replica-a");
        env.put("FAULTLINE_BASELINE_DEVIATION_EVERY", every);
        env.put("FAULTLINE_INBOX_RECOVERY_EVERY", every);
        env.put("FAULTLINE_SIGNALS_CHECK_INTERVAL", every);
        env.put("FAULTLINE_SLO_INTERVAL", every);
        env.put("FAULTLINE_IMPACT_INTERVAL", every);
        env.put("FAULTLINE_PREDICT_INTERVAL", every);
        env.put("FAULTLINE_CORRELATE_CLOSE_EVERY", every);
        env.put("FAULTLINE_EMBEDDING_DRIFT_INTERVAL", every);
        // Per replica: each rebuilds its spend from the stored calls this often; the alert tables fire a crossing once.
        env.put("FAULTLINE_COST_RECONCILE_INTERVAL", "3s");
        stack = StackFixture.start("replicas", env);
        int portB = ManagedProcess.freePort();
        urlB = "http://127.0.0.1:" + portB;
        replicaB = stack.startFaultlineReplica("faultline-b", portB, Map.of("FAULTLINE_REPLICA_ID", "replica-b"));
        // A ran alone while LiteLLM started: the runs are counted from here, with both replicas ticking.
        jobsSince = Instant.now();
        runsSince = jobRuns();
        client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
    }

    @AfterAll
    static void stopStack() {
        if (replicaB != null) {
            replicaB.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    @Order(1)
    void two_replicas_keep_the_catalog_one_replica_would_keep() throws Exception {
        // Successes through the proxy (plugin -> A), and a provider fault on both paths in one fingerprint.
        for (int i = 0; i < 12; i++) {
            assertThat(client.chat(List.of("gpt-4o-mini", "claude-sonnet", "gemini-flash").get(i % 3), PROMPT, false)
                    .status()).isEqualTo(200);
        }
        stack.simulator().script("anthropic", Script.faults(Fault.of(FaultKind.OVERLOADED, 4)));
        for (int i = 0; i < 4; i++) {
            assertThat(client.chat("claude-sonnet", "overloaded " + i, false).status()).isNotEqualTo(-1);
        }
        stack.simulator().reset();
        List<Payloads> overloaded = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            overloaded.add(Payloads.failure("anthropic", "claude-sonnet", "anthropic-primary", Instant.now(), 529,
                    "InternalServerError", "AnthropicException - {\"type\":\"error\",\"error\":{\"type\":"
                            + "\"overloaded_error\",\"message\":\"Overloaded\"}}"));
        }
        for (Payloads p : overloaded) {
            assertThat(ingest(urlB, p)).isEqualTo(200);
        }

        // One fingerprint written by both replicas at once: 24 rate limits, 12 into each, concurrently.
        ExecutorService two = Executors.newFixedThreadPool(2);
        try {
            List<CompletableFuture<Integer>> sent = new ArrayList<>();
            for (String url : List.of(stack.faultlineUrl(), urlB)) {
                sent.add(CompletableFuture.supplyAsync(() -> {
                    int ok = 0;
                    for (int i = 0; i < 12; i++) {
                        ok += ingest(url, Payloads.failure("openai", "gpt-4o-mini", "replica-split", Instant.now(),
                                429, "RateLimitError", "Rate limit reached for requests")) == 200 ? 1 : 0;
                    }
                    return ok;
                }, two));
            }
            assertThat(sent.stream().mapToInt(CompletableFuture::join).sum()).isEqualTo(24);
        } finally {
            two.shutdownNow();
        }
        // A content failure (Gemini's safety block, a "successful" call), alternating between the replicas.
        for (int i = 0; i < 10; i++) {
            Payloads blocked = Payloads.success("gemini", "gemini-safety", "replica-content", Instant.now())
                    .answer("", "content_filter");
            assertThat(ingest(i % 2 == 0 ? stack.faultlineUrl() : urlB, blocked)).isEqualTo(200);
        }

        // DATA signals: a pipeline's failed runs, one reported to each replica.
        for (int run = 1; run <= 2; run++) {
            Instant started = Instant.now().minusSeconds(60);
            RestAssured.given().baseUri(run == 1 ? urlB : stack.faultlineUrl())
                    .header("Authorization", "Bearer " + Api.KEY).contentType("application/json")
                    .body(Map.of("signalId", "replica-crawl/run-" + run, "pipeline", "replica-crawl", "runId",
                            "run-" + run, "status", "failed", "startedAt", started.toString(), "finishedAt",
                            started.plusSeconds(30).toString(), "error", "S3 AccessDenied"))
                    .when().post("/api/v1/signals/ingestion").then().statusCode(200);
        }

        // A budget crossing (PUT on B, calls logged through A) and a batch overrun (PUT on A, calls through A).
        assertThat(client.chat("gemini-flash", PROMPT, false).status()).isEqualTo(200);
        long geminiSoFar = 5; // 4 of the 12 successes, and this one
        Awaitility.await("the gemini calls stored").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(300))
                .until(() -> Sql.count(stack, "select count(*) from llm_calls where deployment = 'gemini-primary'")
                        == geminiSoFar);
        double perCall = Sql.decimal(stack, "select max(cost_usd) from llm_calls where deployment = 'gemini-primary'");
        assertThat(perCall).as("LiteLLM prices the simulated Gemini call").isPositive();
        // Spent: 5 calls of 6.5 (77%). The two batch calls cross 80% and 100%; they spend 2 of the batch's 1.2.
        RestAssured.given().baseUri(urlB).header("Authorization", "Bearer " + Api.KEY).contentType("application/json")
                .body(Map.of("period", "day", "amountUsd", (geminiSoFar + 1.5) * perCall))
                .when().put("/api/v1/budgets/model/gemini-flash").then().statusCode(200);
        RestAssured.given().baseUri(stack.faultlineUrl()).header("Authorization", "Bearer " + Api.KEY)
                .contentType("application/json").body(Map.of("expectedCostUsd", 1.2 * perCall))
                .when().put("/api/v1/batches/replica-batch").then().statusCode(200);
        Map<String, Object> batch = Map.of("metadata", Map.of("batch_id", "replica-batch"));
        for (int i = 0; i < 2; i++) {
            assertThat(client.chat("gemini-flash", PROMPT, false, LocalStack.MASTER_KEY, null, batch).status())
                    .isEqualTo(200);
        }

        Awaitility.await("budget and batch alerts").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                .untilAsserted(() -> {
                    assertThat(Sql.count(stack, "select count(*) from budget_alerts where scope_id = 'gemini-flash'"
                            + " and threshold >= 1")).isEqualTo(1);
                    assertThat(Sql.count(stack, "select count(*) from batch_alerts where batch_id = 'replica-batch'"))
                            .isEqualTo(1);
                });
        awaitQuiet();

        assertThat(Sql.rows(stack, "select fingerprint, count(*) from failure_events group by 1 having count(*) > 1"))
                .as("no fingerprint has two episodes").isEmpty();
        assertThat(episode("PROVIDER", "rate_limit", "replica-split")).as("concurrent folds on both replicas")
                .isEqualTo(24);
        assertThat(episode("PROVIDER", "content_filtered", "replica-content")).isEqualTo(10);
        long stored529 = Sql.count(stack, "select count(*) from llm_calls where deployment = 'anthropic-primary'"
                + " and http_status = 529");
        assertThat(stored529).as("4 faults through the proxy (retried or not) and 10 direct").isGreaterThanOrEqualTo(11);
        assertThat(episode("PROVIDER", "overloaded", "anthropic-primary")).isEqualTo(stored529);
        assertThat(episode("DATA", "ingestion_failure", "replica-crawl")).as("two failed runs, one per replica")
                .isEqualTo(2);
        // Each threshold fired once however many replicas saw it: one raise per alert row.
        assertThat(episode("COST", "budget_exceeded", "model:gemini-flash")).isEqualTo(
                Sql.count(stack, "select count(*) from budget_alerts where scope_id = 'gemini-flash'"));
        assertThat(episode("COST", "batch_cost_overrun", "replica-batch")).isEqualTo(
                Sql.count(stack, "select count(*) from batch_alerts where batch_id = 'replica-batch'"));

        // The dashboards' sum by over both scrapes gives the stored totals.
        String scrapeA = scrape(stack.faultlineUrl());
        String scrapeB = scrape(urlB);
        long stored = Sql.count(stack, "select count(*) from llm_calls");
        assertThat(Metrics.valueOrZero(scrapeA, "faultline_ingest_calls_total", "outcome", "accepted")
                + Metrics.valueOrZero(scrapeB, "faultline_ingest_calls_total", "outcome", "accepted"))
                .as("sum of accepted calls over both replicas").isEqualTo((double) stored);
        assertThat(Metrics.valueOrZero(scrapeB, "faultline_ingest_calls_total", "outcome", "accepted"))
                .as("B ingested the direct calls").isGreaterThanOrEqualTo(10 + 12 + 5);
        // A tick may land between a scrape and the read of the stored runs: compare only a snapshot whose stored runs
        // were the same before and after both scrapes, and take another when one moved.
        AtomicReference<Map<String, Long>> seen = new AtomicReference<>();
        Awaitility.await("job runs read between two ticks").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
                    Map<String, Long> before = jobRuns();
                    String a = scrape(stack.faultlineUrl());
                    String b = scrape(urlB);
                    Map<String, Long> after = jobRuns();
                    assertThat(after).as("no job claimed while scraping").isEqualTo(before);
                    for (String job : CLUSTER_JOBS) {
                        assertThat(Metrics.valueOrZero(a, "faultline_scheduled_job_runs_total", "job", job)
                                + Metrics.valueOrZero(b, "faultline_scheduled_job_runs_total", "job", job))
                                .as("%s: the replicas' runs add up to the stored runs", job)
                                .isEqualTo((double) after.getOrDefault(job, 0L));
                    }
                    seen.set(after);
                });
        Map<String, Long> runs = seen.get();
        System.out.printf("two replicas: %d calls stored (%d accepted by A, %d by B), %d episodes, job runs %s"
                + " (A %s, B %s); since both run: %s over %d s%n", stored,
                (long) Metrics.valueOrZero(scrapeA, "faultline_ingest_calls_total", "outcome", "accepted"),
                (long) Metrics.valueOrZero(scrapeB, "faultline_ingest_calls_total", "outcome", "accepted"),
                Sql.count(stack, "select count(*) from failure_events"), runs, perReplica(scrapeA), perReplica(scrapeB),
                delta(runs), Duration.between(jobsSince, Instant.now()).toSeconds());
        assertRunsOncePerInterval(runs, Duration.between(jobsSince, Instant.now()));
    }

    @Test
    @Order(2)
    void a_replica_killed_mid_traffic_loses_nothing_and_rejoins_with_the_same_figures() throws Exception {
        List<String> proxied = Collections.synchronizedList(new ArrayList<>());
        List<String> acknowledged = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService senders = Executors.newFixedThreadPool(2);
        try {
            CompletableFuture<Void> throughProxy = CompletableFuture.runAsync(() -> {
                for (int i = 0; !stop.get() && i < 5_000; i++) {
                    Answer answer = client.chat(List.of("gpt-4o-mini", "claude-sonnet").get(i % 2), "kill " + i,
                            false);
                    if (answer.status() == 200) {
                        proxied.add(answer.callId());
                    }
                }
            }, senders);
            CompletableFuture<Void> direct = CompletableFuture.runAsync(() -> {
                for (int i = 0; !stop.get() && i < 5_000; i++) {
                    Payloads call = Payloads.success("openai", "gpt-4o-mini", "replica-direct", Instant.now());
                    // Alternating, and on to the other replica when one does not answer (as a Service would).
                    String first = i % 2 == 0 ? stack.faultlineUrl() : urlB;
                    String second = first.equals(urlB) ? stack.faultlineUrl() : urlB;
                    if (ingest(first, call) == 200 || ingest(second, call) == 200) {
                        acknowledged.add(call.id());
                    }
                }
            }, senders);

            Awaitility.await("traffic under way").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(() -> proxied.size() >= 10 && acknowledged.size() >= 20);
            stack.faultline().kill(); // SIGKILL: no shutdown hook, in-flight requests die with it
            Instant killedAt = Instant.now();
            int ackedAtKill = acknowledged.size();

            // The survivor carries on: it ingests, and it takes over the cluster-wide jobs.
            Awaitility.await("B runs the cluster-wide jobs alone").atMost(EVERY.multipliedBy(4))
                    .pollInterval(Duration.ofMillis(500)).until(() -> Sql.count(stack, "select count(*) from"
                            + " scheduled_job_runs where job = 'deviation-check' and owner = 'replica-b'"
                            + " and last_started_at > '" + killedAt + "'") == 1
                            && acknowledged.size() >= ackedAtKill + 20);
            assertThat(throughProxy).isNotDone();
            stack.startFaultline();
            int proxiedAtRestart = proxied.size();
            Awaitility.await("traffic after the restart").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(100)).until(() -> proxied.size() >= proxiedAtRestart + 10);
            stop.set(true);
            CompletableFuture.allOf(throughProxy, direct).get(60, TimeUnit.SECONDS);
        } finally {
            stop.set(true);
            senders.shutdownNow();
        }

        List<String> ids = new ArrayList<>(proxied);
        ids.addAll(acknowledged);
        Awaitility.await("every acknowledged call stored (the plugin's spool drained)").atMost(Duration.ofSeconds(90))
                .pollInterval(Duration.ofMillis(500)).untilAsserted(() -> assertThat(Sql.count(stack,
                        "select count(distinct call_id) from llm_calls where call_id in (" + quoted(ids) + ")"))
                        .isEqualTo(ids.size()));
        assertThat(Sql.count(stack, "select count(*) from llm_calls where call_id in (" + quoted(ids) + ")"))
                .as("each stored once").isEqualTo(ids.size());
        awaitQuiet();

        // A rejoined: both replicas serve the same figures, which are the stored ones.
        long stored = Sql.count(stack, "select count(*) from llm_calls");
        for (String url : List.of(stack.faultlineUrl(), urlB)) {
            assertThat(RestAssured.given().baseUri(url).get("/api/v1/calls/stats").then().statusCode(200).extract()
                    .jsonPath().getLong("total")).as(url).isEqualTo(stored);
        }
        assertThat(failures(stack.faultlineUrl())).isEqualTo(failures(urlB));
        assertThat(Sql.rows(stack, "select fingerprint, count(*) from failure_events group by 1 having count(*) > 1"))
                .as("no fingerprint has two episodes").isEmpty();
        Map<String, Long> runs = jobRuns();
        System.out.printf("after the kill: %d calls through the proxy and %d direct, all stored once; %d calls,"
                + " %d episodes; job runs since both started %s over %d s%n", proxied.size(), acknowledged.size(),
                stored, Sql.count(stack, "select count(*) from failure_events"), delta(runs),
                Duration.between(jobsSince, Instant.now()).toSeconds());
        assertRunsOncePerInterval(runs, Duration.between(jobsSince, Instant.now()));
    }

    /**
     * Once per interval across both replicas: at most one run per (interval - slack) since the first replica started,
     * where both replicas each running every tick would give about twice the ticks; and at least once (how often a
     * slower machine gets to tick is not this test's question). The first test can get here within one interval of
     * both replicas starting, before a job's first tick is due: the runs are read again, up to three intervals, until
     * every job has run once; the bound is then taken over the time up to that read.
     */
    private static void assertRunsOncePerInterval(Map<String, Long> runs, Duration elapsed) {
        AtomicReference<Map<String, Long>> latest = new AtomicReference<>(runs);
        AtomicReference<Duration> upTo = new AtomicReference<>(elapsed);
        Awaitility.await("every cluster-wide job ran once since both replicas started")
                .atMost(EVERY.multipliedBy(3).plusSeconds(30)).pollInterval(Duration.ofMillis(500))
                .untilAsserted(() -> {
                    if (delta(latest.get()).values().stream().anyMatch(ran -> ran < 1)) {
                        latest.set(jobRuns());
                        upTo.set(Duration.between(jobsSince, Instant.now()));
                    }
                    delta(latest.get()).forEach((job, ran) -> assertThat(ran).as("%s over %d s of %d s ticks: ran"
                            + " at least once", job, upTo.get().toSeconds(), EVERY.toSeconds())
                            .isGreaterThanOrEqualTo(1L));
                });
        long slack = 2;
        long most = upTo.get().toSeconds() / (EVERY.toSeconds() - slack) + 1;
        delta(latest.get()).forEach((job, ran) -> assertThat(ran).as("%s over %d s of %d s ticks, both replicas"
                + " ticking", job, upTo.get().toSeconds(), EVERY.toSeconds()).isBetween(1L, most));
    }

    /** Each cluster-wide job's runs since both replicas were running. */
    private static Map<String, Long> delta(Map<String, Long> runs) {
        Map<String, Long> since = new java.util.TreeMap<>();
        runs.forEach((job, ran) -> since.put(job, ran - runsSince.getOrDefault(job, 0L)));
        return since;
    }

    /** Waits until the stored calls and episodes stop changing for two polls in a row (plugin flushes, folds). */
    private static void awaitQuiet() {
        String[] last = { "" };
        Awaitility.await("ingest settled").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1))
                .until(() -> {
                    String now = Sql.count(stack, "select count(*) from llm_calls") + "/"
                            + Sql.count(stack, "select coalesce(sum(occurrences), 0) from failure_events");
                    boolean same = now.equals(last[0]);
                    last[0] = now;
                    return same;
                });
    }

    private static long episode(String category, String type, String deployment) {
        return Sql.count(stack, "select coalesce(sum(occurrences), 0) from failure_events where category = '"
                + category + "' and type = '" + type + "' and deployment = '" + deployment + "'");
    }

    private static Map<String, Long> jobRuns() {
        Map<String, Long> runs = new HashMap<>();
        for (String job : CLUSTER_JOBS) {
            runs.put(job, Sql.count(stack, "select coalesce(max(runs), 0) from scheduled_job_runs where job = '"
                    + job + "'"));
        }
        return runs;
    }

    private static String perReplica(String scrape) {
        return CLUSTER_JOBS.stream().map(job -> job + "=" + (long) Metrics.valueOrZero(scrape,
                "faultline_scheduled_job_runs_total", "job", job)).collect(Collectors.joining(", "));
    }

    private static String scrape(String url) {
        return RestAssured.given().baseUri(url).get("/q/metrics").then().statusCode(200).extract().asString();
    }

    private static List<String> failures(String url) {
        return RestAssured.given().baseUri(url).get("/api/v1/failures?limit=500").then().statusCode(200).extract()
                .jsonPath().getList("items", Map.class).stream()
                .map(f -> f.get("failureId") + ":" + f.get("occurrences")).sorted().toList();
    }

    /** POSTs one call to a replica's ingest; the status, or -1 when the replica does not answer. */
    private static int ingest(String url, Payloads call) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(url + "/api/v1/calls")).timeout(Duration.ofSeconds(10))
                    .header("Authorization", "Bearer " + LocalStack.INGEST_KEY)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(Payloads.array(call))).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private static String quoted(List<String> ids) {
        return ids.stream().map(id -> "'" + id.replace("'", "''") + "'").collect(Collectors.joining(","));
    }
}
