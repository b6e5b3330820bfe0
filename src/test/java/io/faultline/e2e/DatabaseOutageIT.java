package io.faultline.e2e;

import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LocalStack;
import io.faultline.stack.ManagedProcess;
import io.faultline.stack.PostgresServer;
import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
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
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * PostgreSQL goes away under a running Faultline (issue 15, section 2), on a real server of its own that the test
 * stops and starts: at start-up, for {@code faultline.faults.outage-seconds} (15 s in {@code make test}, 60 s in
 * {@code make faults}) in the middle of steady traffic through the real LiteLLM, and a connection pool held full.
 * Faultline is never restarted: readiness goes down, ingest answers 503 with Retry-After (an answer, never a wait past
 * the plugin's timeout), the plugin spools, and every call the proxy served is stored exactly once. The figures go to
 * {@code target/faults/report.md} ({@code bench/RESULTS.md}, "Faults").
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DatabaseOutageIT {

    /** The plugin's own timeout (FAULTLINE_TIMEOUT_S default): an ingest answer must come before it. */
    private static final Duration PLUGIN_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration OUTAGE = Duration.ofSeconds(Long.getLong("faultline.faults.outage-seconds", 15));
    /** One call through the proxy every this often: a steady load, not a saturating one (the machine is shared). */
    private static final Duration PACE = Duration.ofMillis(100);
    /** A ceiling against a hang only: each wait below takes seconds here. */
    private static final Duration CEILING = Duration.ofMinutes(5);
    private static final String[] MODELS = { "gpt-4o-mini", "claude-sonnet", "gemini-flash" };

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final List<String> REPORT = new CopyOnWriteArrayList<>();

    private static PostgresServer postgres;
    private static LocalStack stack;

    @BeforeAll
    static void prepare() throws Exception {
        Path venv = Path.of(System.getProperty("faultline.venv", "litellm/.venv"));
        Path jar = Path.of("target/quarkus-app/quarkus-run.jar");
        if (!Files.isExecutable(venv.resolve("bin/litellm")) || !Files.exists(jar)) {
            throw new IllegalStateException("needs the LiteLLM venv and the packaged app: run `make faults`");
        }
        postgres = PostgresServer.create(ManagedProcess.freePort()); // created, not started
        Path work = Path.of("target", "stack-faults");
        if (Files.exists(work)) {
            try (Stream<Path> paths = Files.walk(work)) {
                paths.sorted(Collections.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        stack = LocalStack.prepare(new LocalStack.Settings(jar, venv, Path.of("litellm"), work, postgres.jdbcUrl(),
                "postgres", "postgres", Api.KEY, ManagedProcess.freePort(), ManagedProcess.freePort()), Map.of());
    }

    @AfterAll
    static void stop() throws IOException {
        if (stack != null) {
            stack.close();
        }
        if (postgres != null) {
            postgres.close();
        }
        Files.createDirectories(Path.of("target", "faults"));
        Files.write(Path.of("target", "faults", "report.md"), REPORT);
    }

    @Test
    @Order(1)
    void faultline_starts_without_its_database_reports_not_ready_and_becomes_ready_when_it_arrives() throws Exception {
        long t0 = System.nanoTime();
        stack.startFaultline("/q/health/live");
        long live = System.nanoTime();
        HttpResponse<String> ready = get("/q/health/ready");
        assertThat(ready.statusCode()).as("not ready without a database").isEqualTo(503);
        assertThat(ready.body()).contains("database-schema");

        Payloads call = Payloads.success("openai", "gpt-4o-mini", "startup-probe", Instant.now());
        Answer refused = post(Payloads.array(call));
        assertThat(refused.timedOut()).as("answered before the plugin's timeout").isFalse();
        assertThat(refused.status()).isEqualTo(503);
        assertThat(refused.retryAfter()).isNotBlank();
        assertThat(refused.contentType()).startsWith("application/problem+json");

        postgres.start();
        long dbUp = System.nanoTime();
        Awaitility.await("ready once the database is there").atMost(CEILING).pollInterval(Duration.ofMillis(200))
                .until(() -> get("/q/health/ready").statusCode() == 200);
        long readyAt = System.nanoTime();
        assertThat(Sql.count(stack, "select count(*) from flyway_schema_history where success")).isPositive();
        Answer stored = post(Payloads.array(call));
        assertThat(stored.status()).isEqualTo(200);
        assertThat(stored.body()).contains("\"accepted\":1");
        assertThat(stack.faultline().alive()).isTrue();

        REPORT.add("### Start-up with the database refusing connections");
        REPORT.add("");
        REPORT.add(String.format("- Faultline live after %.1f s with no database; readiness 503 (database-schema down),"
                + " ingest 503 with Retry-After %s", secs(t0, live), refused.retryAfter()));
        REPORT.add(String.format("- ready %.1f s after PostgreSQL started (background retry every 2 s), no restart",
                secs(dbUp, readyAt)));
        REPORT.add("");
    }

    @Test
    @Order(2)
    void after_an_outage_mid_traffic_every_call_the_proxy_served_is_stored_exactly_once() throws Exception {
        stack.startLiteLlm();
        LiteLlmClient client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        Set<String> sent = ConcurrentHashMap.newKeySet();
        List<Integer> proxyStatuses = new CopyOnWriteArrayList<>();
        AtomicInteger n = new AtomicInteger();
        List<String> timeline = new CopyOnWriteArrayList<>();
        List<Answer> outageAnswers = new CopyOnWriteArrayList<>();
        long start = System.nanoTime();
        String[] lastReady = { "" };
        boolean[] inOutage = { false };

        ScheduledExecutorService load = Executors.newScheduledThreadPool(3);
        try {
            // Traffic: one call per PACE through the proxy; the plugin ships them to Faultline on its own.
            load.scheduleAtFixedRate(() -> {
                int i = n.getAndIncrement();
                LiteLlmClient.Answer answer = client.chat(MODELS[i % 3], "steady " + i, i % 5 == 0);
                proxyStatuses.add(answer.status());
                if (answer.status() == 200 && answer.callId() != null) {
                    sent.add(answer.callId());
                }
            }, 0, PACE.toMillis(), TimeUnit.MILLISECONDS);
            // Observer: readiness transitions, and what ingest answers directly while the database is away.
            load.scheduleWithFixedDelay(() -> {
                try {
                    String state = get("/q/health/ready").statusCode() == 200 ? "ready" : "not ready";
                    if (!state.equals(lastReady[0])) {
                        lastReady[0] = state;
                        timeline.add(String.format("%.1f s: %s", secs(start, System.nanoTime()), state));
                    }
                    synchronized (inOutage) { // the database is not started again while a probe is in flight
                        if (inOutage[0]) {
                            outageAnswers.add(post(Payloads.array(Payloads.success("openai", "gpt-4o-mini", "probe",
                                    Instant.now()))));
                        }
                    }
                } catch (Exception e) {
                    timeline.add("observer failed: " + e);
                }
            }, 0, 500, TimeUnit.MILLISECONDS);

            awaitStored(sent, 30);
            postgres.stop();
            long down = System.nanoTime();
            inOutage[0] = true;
            timeline.add(String.format("%.1f s: PostgreSQL stopped", secs(start, down)));
            Awaitility.await("the outage lasted " + OUTAGE).atMost(OUTAGE.plus(CEILING))
                    .pollInterval(Duration.ofMillis(250))
                    .until(() -> System.nanoTime() - down >= OUTAGE.toNanos() && timeline.stream()
                            .anyMatch(t -> t.endsWith(": not ready")) && outageAnswers.size() >= 3);
            synchronized (inOutage) {
                inOutage[0] = false;
            }
            int sentDuringOutage = sent.size();
            // "starting" goes in before pg_ctl is called: Faultline's own retry may connect before pg_ctl's poll sees
            // the server up, so "ready" can come between the two lines.
            timeline.add(String.format("%.1f s: PostgreSQL starting", secs(start, System.nanoTime())));
            postgres.start();
            long up = System.nanoTime();
            timeline.add(String.format("%.1f s: PostgreSQL accepting connections (pg_ctl returned)", secs(start, up)));
            Awaitility.await("ready again").atMost(CEILING).pollInterval(Duration.ofMillis(200))
                    .until(() -> get("/q/health/ready").statusCode() == 200);
            long readyAgain = System.nanoTime();
            Awaitility.await("steady traffic after the outage").atMost(CEILING).pollInterval(Duration.ofMillis(200))
                    .until(() -> sent.size() >= sentDuringOutage + 50);
        } finally {
            load.shutdown();
            assertThat(load.awaitTermination(2, TimeUnit.MINUTES)).isTrue();
        }

        int expected = sent.size();
        String ids = quoted(sent);
        Awaitility.await("all " + expected + " calls stored").atMost(CEILING).pollInterval(Duration.ofMillis(500))
                .until(() -> Sql.count(stack, "select count(distinct call_id) from llm_calls where call_id in ("
                        + ids + ")") == expected);
        long rows = Sql.count(stack, "select count(*) from llm_calls where call_id in (" + ids + ")");
        long dead = countFiles(stack.settings().workDir().resolve("spool").resolve("dead-letter"));
        long unavailable = outageAnswers.stream().filter(a -> a.status() == 503).count();
        long pluginRetries;
        try (Stream<String> lines = Files.lines(stack.litellm().log())) {
            pluginRetries = lines.filter(l -> l.contains("Faultline answered 503")).count();
        }

        REPORT.add("### PostgreSQL stopped for " + OUTAGE.toSeconds() + " s under steady traffic through LiteLLM");
        REPORT.add("");
        REPORT.add("- calls served by the proxy (200, LiteLLM call ids): " + expected + " of " + proxyStatuses.size()
                + " sent");
        REPORT.add("- stored: " + expected + " distinct, " + rows + " rows; duplicated: "
                + (rows - expected) + "; dead-lettered files: " + dead);
        REPORT.add("- direct ingest probes during the outage: " + outageAnswers.size() + ", answered 503: "
                + unavailable + ", timed out: " + outageAnswers.stream().filter(Answer::timedOut).count()
                + ", slowest answer: " + outageAnswers.stream().mapToLong(Answer::millis).max().orElse(0) + " ms"
                + " (the plugin's timeout: " + PLUGIN_TIMEOUT.toMillis() + " ms)");
        REPORT.add("- the plugin's deliveries answered 503 (spooled, resent with backoff): " + pluginRetries);
        REPORT.add("- readiness timeline: " + String.join("; ", timeline));
        REPORT.add("");

        assertThat(proxyStatuses).as("the proxy keeps serving while Faultline's database is away").containsOnly(200);
        assertThat(outageAnswers).as("every ingest during the outage is answered, 503 with Retry-After, before the"
                + " plugin's timeout").isNotEmpty().allSatisfy(a -> {
                    assertThat(a.timedOut()).isFalse();
                    assertThat(a.status()).isEqualTo(503);
                    assertThat(a.retryAfter()).isNotBlank();
                    assertThat(a.contentType()).startsWith("application/problem+json");
                });
        assertThat(timeline).as("readiness went down during the outage and came back")
                .anyMatch(t -> t.endsWith(": not ready"));
        List<String> readiness = timeline.stream().filter(t -> t.endsWith(": ready") || t.endsWith(": not ready")
                || t.contains("PostgreSQL starting")).toList();
        assertThat(readiness.get(readiness.size() - 1)).as("readiness after the database came back: " + timeline)
                .endsWith(": ready");
        assertThat(readiness.indexOf(readiness.stream().filter(t -> t.contains("PostgreSQL starting")).findFirst()
                .orElseThrow())).as("ready again only after PostgreSQL was started: " + timeline)
                .isLessThan(readiness.size() - 1);
        assertThat(rows).as("no call stored twice").isEqualTo(expected);
        assertThat(dead).as("nothing dead-lettered").isZero();
        assertThat(pluginRetries).as("the plugin met the outage (503) and resent").isPositive();
        assertThat(stack.faultline().alive()).as("never restarted").isTrue();
    }

    @Test
    @Order(3)
    void a_full_connection_pool_answers_503_after_a_bounded_wait_without_piling_up_threads() throws Exception {
        // Two connections, a one-second wait for one; the calls table locked, so that the two in use stay in use.
        stack.faultline().close();
        stack.startFaultline("/q/health/ready", Map.of("QUARKUS_DATASOURCE_JDBC_MAX_SIZE", "2",
                "QUARKUS_DATASOURCE_JDBC_ACQUISITION_TIMEOUT", "1S"));
        int wave = 24;
        List<Payloads> all = new ArrayList<>();
        List<Double> threads = new ArrayList<>();
        List<Answer> answers = new CopyOnWriteArrayList<>();
        ExecutorService senders = Executors.newFixedThreadPool(wave);
        threads.add(liveThreads());
        try (Connection lock = DriverManager.getConnection(postgres.jdbcUrl(), "postgres", "postgres")) {
            lock.setAutoCommit(false);
            try (Statement st = lock.createStatement()) {
                st.execute("lock table llm_calls in access exclusive mode");
            }
            for (int w = 0; w < 3; w++) {
                List<Future<Answer>> futures = new ArrayList<>();
                for (int i = 0; i < wave; i++) {
                    Payloads call = Payloads.success("openai", "gpt-4o-mini", "pool", Instant.now());
                    all.add(call);
                    futures.add(senders.submit(() -> post(Payloads.array(call))));
                }
                for (Future<Answer> f : futures) {
                    answers.add(f.get(CEILING.toMillis(), TimeUnit.MILLISECONDS));
                }
                threads.add(liveThreads());
            }
            lock.rollback();
        } finally {
            senders.shutdown();
        }
        long unavailable = answers.stream().filter(a -> a.status() == 503).count();
        // The plugin resends what was not acknowledged: so does this test, now that the pool is free again.
        for (Payloads call : all) {
            assertThat(post(Payloads.array(call)).status()).isEqualTo(200);
        }
        List<String> ids = all.stream().map(p -> p.node().get("litellm_call_id").asText()).toList();
        long rows = Sql.count(stack, "select count(*) from llm_calls where call_id in (" + quoted(ids) + ")");

        REPORT.add("### Connection pool held full (2 connections, 1 s acquisition timeout, calls table locked)");
        REPORT.add("");
        REPORT.add("- 3 waves of " + wave + " concurrent batches while the pool was held: " + unavailable + " answered"
                + " 503 (slowest " + answers.stream().filter(a -> !a.timedOut()).mapToLong(Answer::millis).max()
                .orElse(0) + " ms), " + answers.stream().filter(Answer::timedOut).count() + " held a connection"
                + " and waited on the lock past the client's " + PLUGIN_TIMEOUT.toMillis() + " ms timeout;"
                + " live JVM threads before and after each wave: " + threads);
        REPORT.add("- after the pool was free again: " + all.size() + " calls resent, " + rows + " rows stored");
        REPORT.add("");

        // The requests that got one of the two connections wait on the lock (the database is slow, not away): the
        // client gives up on them at its timeout and resends. Every other request waited at most the acquisition
        // timeout and was answered 503.
        List<Answer> heldConnection = answers.stream().filter(Answer::timedOut).toList();
        assertThat(heldConnection.size()).as("client timeouts: only the requests holding a connection")
                .isLessThanOrEqualTo(2);
        assertThat(unavailable).as("requests that found no connection").isGreaterThan(0);
        assertThat(answers).filteredOn(a -> !a.timedOut()).allSatisfy(a -> {
            assertThat(a.status()).isEqualTo(503);
            assertThat(a.retryAfter()).isNotBlank();
            assertThat(a.contentType()).startsWith("application/problem+json");
        });
        // Each wave ends before the next begins: threads are reused, not piled up wave after wave.
        assertThat(threads.get(3)).as("live threads after the third wave vs the first").isLessThanOrEqualTo(
                threads.get(1) + 4);
        assertThat(rows).as("every call stored once").isEqualTo(all.size());
    }

    private static void awaitStored(Set<String> sent, int atLeast) {
        Awaitility.await(atLeast + " calls stored").atMost(CEILING).pollInterval(Duration.ofMillis(250))
                .until(() -> {
                    if (sent.size() < atLeast) {
                        return false;
                    }
                    Set<String> snapshot = new HashSet<>(sent);
                    return Sql.count(stack, "select count(*) from llm_calls where call_id in (" + quoted(snapshot)
                            + ")") >= atLeast;
                });
    }

    private static double liveThreads() {
        return Metrics.value(get("/q/metrics").body(), "jvm_threads_live_threads");
    }

    record Answer(int status, String retryAfter, String contentType, String body, long millis, boolean timedOut) {
    }

    private static Answer post(String body) {
        long t = System.nanoTime();
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(stack.faultlineUrl()
                    + "/api/v1/calls")).timeout(PLUGIN_TIMEOUT).header("Authorization", "Bearer " + Api.KEY)
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body))
                    .build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(r.statusCode(), r.headers().firstValue("Retry-After").orElse(""),
                    r.headers().firstValue("Content-Type").orElse(""), r.body(), (System.nanoTime() - t) / 1_000_000,
                    false);
        } catch (HttpTimeoutException e) {
            return new Answer(0, "", "", "", (System.nanoTime() - t) / 1_000_000, true);
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static HttpResponse<String> get(String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(stack.faultlineUrl() + path))
                    .timeout(PLUGIN_TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long countFiles(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(".json")).count();
        }
    }

    private static String quoted(java.util.Collection<String> ids) {
        return ids.stream().map(id -> "'" + id.replace("'", "''") + "'").reduce((a, b) -> a + "," + b).orElse("''");
    }

    private static double secs(long from, long to) {
        return (to - from) / 1e9;
    }
}
