package io.faultline.baseline;

import io.faultline.common.DatabaseReady;
import io.faultline.common.Redactor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.web.ApiProblem;
import io.quarkus.logging.Log;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code run_baseline_profile()}: sends the workload through the real LiteLLM proxy at a bounded rate and
 * concurrency, records every response, and stores exact percentiles in {@code provider_baselines}. Runs are jobs
 * with progress; one per normalised provider and per model group at a time, at most
 * {@code max-concurrent-runs} in all and {@code max-requests-per-day} requests per rolling day (admitted under a
 * database lock, so across replicas). A finished run's live state is dropped after {@code finished-run-retention}.
 */
@Singleton
public class BaselineProfiler implements io.faultline.common.BoundedState {

    /** Parameters of one run. */
    public record RunRequest(String provider, String modelGroup, int requests, int concurrency, double ratePerSecond) {
    }

    /**
     * A run's live state, as {@code GET /api/v1/baselines/runs/{id}} shows it. {@code detail} says what the errors
     * were ("2 errors: HTTP 500 (internal_server_error) x1; no answer (IOException: ...) x1"), null without errors.
     */
    public record RunView(UUID runId, String provider, String modelGroup, String status, int total, int sent,
            int errors, Long etaSeconds, String workload, Instant startedAt, Instant finishedAt, String detail) {
    }

    /** Distinct error causes a run tallies; past it, the rest are counted as "other". */
    static final int MAX_ERROR_CAUSES = 8;
    /** How often a running run tells the database its replica still sends it ({@link BaselineStore#STALE}). */
    static final Duration HEARTBEAT = Duration.ofSeconds(10);
    /** Transport failures logged per run with their message (the rest are counted only). */
    private static final int LOGGED_FAILURES = 3;

    private final class Run {
        final UUID id;
        final RunRequest request;
        final Instant startedAt;
        final AtomicInteger sent = new AtomicInteger();
        final AtomicInteger errors = new AtomicInteger();
        final AtomicBoolean cancelled = new AtomicBoolean();
        final ConcurrentLinkedQueue<Sample> samples = new ConcurrentLinkedQueue<>();
        final Map<String, AtomicInteger> errorCauses = new ConcurrentHashMap<>();
        volatile String status = "running";
        volatile Instant finishedAt;

        Run(UUID id, RunRequest request, Instant startedAt) {
            this.id = id;
            this.request = request;
            this.startedAt = startedAt;
        }

        RunView view() {
            int done = sent.get();
            Long eta = null;
            if ("running".equals(status) && done > 0) {
                long elapsed = Duration.between(startedAt, clock.instant()).toSeconds();
                eta = elapsed * (request.requests() - done) / done;
            }
            return new RunView(id, request.provider(), request.modelGroup(), status, request.requests(), done,
                    errors.get(), eta, workload.version(), startedAt, finishedAt, errorDetail());
        }

        void failed(Sample sample) {
            int n = errors.incrementAndGet();
            String cause = sample.failure() == null ? "HTTP " + sample.status() : sample.failure();
            if (!errorCauses.containsKey(cause) && errorCauses.size() >= MAX_ERROR_CAUSES) {
                cause = "other";
            }
            errorCauses.computeIfAbsent(cause, k -> new AtomicInteger()).incrementAndGet();
            if (sample.status() < 0 && n <= LOGGED_FAILURES) {
                Log.warnf("Baseline run %s: call to %s got no answer after %.0f ms: %s", id, request.modelGroup(),
                        sample.latencyMs(), sample.failure());
            }
        }

        String errorDetail() {
            if (errorCauses.isEmpty()) {
                return null;
            }
            int n = errors.get();
            StringBuilder detail = new StringBuilder().append(n).append(n == 1 ? " error: " : " errors: ");
            errorCauses.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> detail
                    .append(e.getKey()).append(" x").append(e.getValue().get()).append("; "));
            return detail.substring(0, detail.length() - 2);
        }
    }

    private final BaselineConfig config;
    private final BaselineStore store;
    private final Clock clock;
    private final ObjectMapper json;
    private final Workload workload;
    private final Map<UUID, Run> runs = new ConcurrentHashMap<>();
    private final ExecutorService runners = Executors.newCachedThreadPool(named("baseline-run"));

    /** Runs in progress on this replica, capped by faultline.baseline.max-concurrent-runs (in the database). */
    @Override
    public List<Held> boundedMaps() {
        return List.of(new Held("baseline.runs", 0, runs::size));
    }

    public BaselineProfiler(BaselineConfig config, BaselineStore store, Clock clock, ObjectMapper json) {
        this.config = config;
        this.store = store;
        this.clock = clock;
        this.json = json;
        this.workload = Workload.load(json, config.contextTokens());
    }

    /** Starts a run in the background and returns at once; 409 if the provider already has one running. */
    public RunView start(RunRequest request) {
        if (config.litellmKey().isEmpty()) {
            throw new ApiProblem(409, "No LiteLLM key", "Set FAULTLINE_BASELINE_LITELLM_KEY so that profiles can be"
                    + " sent through the proxy.");
        }
        evictFinished();
        request = new RunRequest(normaliseProvider(request.provider()), request.modelGroup().strip(),
                request.requests(), request.concurrency(), request.ratePerSecond());
        if (request.provider().isEmpty()) {
            // "text-completion-" or "_beta" alone: a run locked on no provider, its baselines stored under none.
            throw ApiProblem.badRequest("provider", "provider must name a provider, not only a variant's prefix or"
                    + " suffix (text-completion-, _beta)");
        }
        // The warm-up requests are paid too: they count against the cap like the measured ones.
        if (request.requests() + config.warmupRequests() > config.maxRequestsPerDay()) {
            throw ApiProblem.badRequest("requests", "requests must be at most "
                    + (config.maxRequestsPerDay() - config.warmupRequests()) + ": the daily cap of "
                    + config.maxRequestsPerDay() + " (faultline.baseline.max-requests-per-day) less the run's "
                    + config.warmupRequests() + " warm-up requests");
        }
        Run run = new Run(UUID.randomUUID(), request, clock.instant());
        BaselineStore.Admission admission = store.admit(run.id, request, workload.version(), run.startedAt,
                config.maxConcurrentRuns(), config.maxRequestsPerDay(), config.warmupRequests());
        if (!admission.admitted()) {
            throw new ApiProblem(admission.status(), admission.title(), admission.detail());
        }
        runs.put(run.id, run);
        Log.infof("Baseline run %s started: %d requests to %s (%s) at %.1f/s, %d in flight", run.id,
                request.requests(), request.modelGroup(), request.provider(), request.ratePerSecond(),
                request.concurrency());
        runners.submit(() -> execute(run));
        return run.view();
    }

    public Optional<RunView> status(UUID id) {
        evictFinished();
        Run run = runs.get(id);
        return run != null ? Optional.of(run.view()) : store.run(id);
    }

    public Optional<RunView> cancel(UUID id) {
        Run run = runs.get(id);
        if (run == null) {
            // Another replica sends it (or it finished long ago): that replica reads the cancel at its heartbeat.
            store.requestCancel(id);
            return store.run(id);
        }
        if ("running".equals(run.status)) {
            run.cancelled.set(true);
        }
        return Optional.of(run.view());
    }

    /**
     * The provider a run is locked on: LiteLLM's provider names in lower case with {@code -} as {@code _}, and its
     * variants of one upstream (e.g. {@code text-completion-openai}, {@code vertex_ai_beta}) folded into it, so that
     * a second run against the same provider under another spelling is a 409. The model group is locked as well,
     * so no label at all gets a second run onto the same deployments.
     */
    public static String normaliseProvider(String label) {
        String p = label.strip().toLowerCase(java.util.Locale.ROOT).replace('-', '_');
        if (p.startsWith("text_completion_")) {
            p = p.substring("text_completion_".length());
        }
        if (p.endsWith("_beta")) {
            p = p.substring(0, p.length() - "_beta".length());
        }
        return switch (p) {
            case "google", "google_ai", "google_ai_studio" -> "gemini";
            case "vertex", "vertexai", "google_vertex" -> "vertex_ai";
            case "claude" -> "anthropic";
            case "azure_openai" -> "azure";
            default -> p;
        };
    }

    /** Drops the live state of runs that finished more than {@code finished-run-retention} ago. */
    void evictFinished() {
        Instant horizon = clock.instant().minus(config.finishedRunRetention());
        runs.values().removeIf(r -> r.finishedAt != null && r.finishedAt.isBefore(horizon));
    }

    /** The runs whose live state is held (tests: eviction). */
    java.util.Set<UUID> held() {
        return java.util.Set.copyOf(runs.keySet());
    }

    private void execute(Run run) {
        RunRequest request = run.request;
        Semaphore permits = new Semaphore(0);
        ScheduledExecutorService pacer = Executors.newSingleThreadScheduledExecutor(named("baseline-pacer"));
        ExecutorService workers = Executors.newFixedThreadPool(request.concurrency(), named("baseline-call"));
        long periodNanos = (long) (1e9 / request.ratePerSecond());
        pacer.scheduleAtFixedRate(permits::release, 0, Math.max(1, periodNanos), TimeUnit.NANOSECONDS);
        pacer.scheduleAtFixedRate(() -> beat(run), HEARTBEAT.toMillis(), HEARTBEAT.toMillis(), TimeUnit.MILLISECONDS);
        AtomicInteger next = new AtomicInteger();
        int progressStep = Math.max(1, request.requests() / 10);
        // A client per run: its connections end with it. A client kept across runs would hold connections that idled
        // since the previous run, which the proxy (uvicorn closes idle ones after 5 s) may close as a worker reuses
        // them: a failed call that measures the client, not the provider.
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        String status = run.status;
        Instant finishedAt = null;
        try {
            for (int w = 0; w < config.warmupRequests() && !run.cancelled.get(); w++) {
                call(http, request.modelGroup(), workload.item(w));
            }
            List<java.util.concurrent.Future<?>> futures = new java.util.ArrayList<>();
            for (int w = 0; w < request.concurrency(); w++) {
                futures.add(workers.submit(() -> {
                    int n;
                    while (!run.cancelled.get() && (n = next.getAndIncrement()) < request.requests()) {
                        permits.acquire(); // the pacer releases one permit per 1/rate seconds
                        Sample sample = call(http, request.modelGroup(), workload.item(n));
                        run.samples.add(sample);
                        if (!sample.ok()) {
                            run.failed(sample);
                        }
                        int done = run.sent.incrementAndGet();
                        if (done % progressStep == 0) {
                            Log.infof("Baseline run %s: %d/%d sent, %d errors, ETA %ss", run.id, done,
                                    request.requests(), run.errors.get(), run.view().etaSeconds());
                            progress(run, done);
                        }
                    }
                    return null;
                }));
            }
            for (var f : futures) {
                f.get();
            }
            boolean cancelled = run.cancelled.get();
            finishedAt = clock.instant();
            if (!cancelled) {
                store.saveBaselines(run.id, request.provider(), request.modelGroup(), List.copyOf(run.samples),
                        finishedAt);
            }
            status = cancelled ? "cancelled" : "completed";
            run.samples.clear(); // stored; the run's view needs only its counters
        } catch (InterruptedException e) {
            // Shutdown: the run stops where it is; restarting does not resume it.
            Thread.currentThread().interrupt();
            status = "cancelled";
            finishedAt = clock.instant();
        } catch (Exception e) {
            status = "failed";
            finishedAt = clock.instant();
            Log.errorf(e, "Baseline run %s failed", run.id);
        } finally {
            pacer.shutdownNow();
            workers.shutdownNow();
            try {
                store.closeRun(run.id, status, run.sent.get(), run.errors.get(), run.errorDetail(), finishedAt);
            } catch (RuntimeException e) {
                Log.warnf("Baseline run %s could not be closed in the database (%s); it is released at the next"
                        + " start", run.id, e.getMessage());
            }
            // Finished in memory last: a client that reads it finished finds its baselines stored and its row
            // closed (read from the database once the run leaves memory). It read "completed" while both were
            // still being written.
            run.finishedAt = finishedAt;
            run.status = status;
            Log.infof("Baseline run %s %s: %d/%d sent, %s", run.id, run.status, run.sent.get(),
                    request.requests(), run.errors.get() == 0 ? "0 errors" : run.errorDetail());
        }
    }

    /**
     * Writes the run's progress; a write that fails is logged, not thrown: thrown, it failed the run and dropped the
     * paid calls it had made (the run's end writes its counters again).
     */
    private void progress(Run run, int done) {
        try {
            store.progress(run.id, done, run.errors.get(), run.errorDetail());
        } catch (RuntimeException e) {
            Log.warnf("Baseline run %s: progress %d/%d not recorded (%s)", run.id, done, run.request.requests(),
                    e.getMessage());
        }
    }

    /**
     * Tells the database this replica still sends the run, and stops it when a DELETE reached another replica. A
     * heartbeat that fails is logged, not thrown: thrown, it would end the heartbeats of the run.
     */
    private void beat(Run run) {
        try {
            if (store.heartbeat(run.id, clock.instant()) && !run.cancelled.getAndSet(true)) {
                Log.infof("Baseline run %s: cancelled through another replica", run.id);
            }
        } catch (RuntimeException e) {
            Log.warnf("Baseline run %s: heartbeat not recorded (%s)", run.id, e.getMessage());
        }
    }

    /** One request through the proxy; failures are samples too (status and latency), never exceptions. */
    Sample call(HttpClient http, String modelGroup, Workload.Item item) {
        ObjectNode body = item.body().deepCopy().put("model", modelGroup);
        HttpRequest request = HttpRequest.newBuilder(URI.create(config.litellmUrl() + "/v1/chat/completions"))
                .timeout(config.requestTimeout()).header("Authorization", "Bearer " + config.litellmKey().orElse(""))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build();
        long start = System.nanoTime();
        try {
            Sent sent = send(http, request);
            start = sent.startNanos();
            HttpResponse<InputStream> response = sent.response();
            String deployment = response.headers().firstValue("x-litellm-model-id").orElse(null);
            Double cost = response.headers().firstValue("x-litellm-response-cost").map(BaselineProfiler::cost)
                    .orElse(null);
            Double ttft = null;
            long completionTokens = 0;
            try (InputStream in = response.body()) {
                if (item.stream() && response.statusCode() == 200) {
                    BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
                    for (String line; (line = lines.readLine()) != null; ) {
                        if (!line.startsWith("data:") || line.contains("[DONE]")) {
                            continue;
                        }
                        if (ttft == null) {
                            ttft = (System.nanoTime() - start) / 1e6;
                        }
                        JsonNode chunk = json.readTree(line.substring(5).trim());
                        JsonNode error = chunk.get("error");
                        if (error != null && error.isObject()) {
                            // The proxy reports a failure after the stream began as an event on the 200 it had sent
                            // ({"error": {..., "code": "529"}}, LiteLLM's async_data_generator): the call failed.
                            int status = streamedStatus(error.path("code").asText(""));
                            return new Sample(deployment, status, (System.nanoTime() - start) / 1e6, null, 0, cost,
                                    "HTTP " + status + " mid-stream" + typeOf(error));
                        }
                        completionTokens = Math.max(completionTokens,
                                chunk.path("usage").path("completion_tokens").asLong(0));
                    }
                } else if (response.statusCode() == 200) {
                    JsonNode answer = json.readTree(in.readAllBytes());
                    completionTokens = answer.path("usage").path("completion_tokens").asLong(0);
                } else {
                    double latencyMs = (System.nanoTime() - start) / 1e6;
                    return new Sample(deployment, response.statusCode(), latencyMs, null, 0, cost,
                            "HTTP " + response.statusCode() + errorType(in));
                }
            }
            return new Sample(deployment, response.statusCode(), (System.nanoTime() - start) / 1e6, ttft,
                    completionTokens, cost, null);
        } catch (IOException e) {
            return new Sample(null, -1, (System.nanoTime() - start) / 1e6, null, 0, null,
                    "no answer (" + e.getClass().getSimpleName() + (e.getMessage() == null ? ""
                            : ": " + shortText(e.getMessage())) + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Sample(null, -1, (System.nanoTime() - start) / 1e6, null, 0, null, "interrupted");
        }
    }

    /** An answer, and when the attempt that got it started. */
    record Sent(HttpResponse<InputStream> response, long startNanos) {
    }

    /**
     * Sends once, and once more when the first attempt failed without an answer other than by timing out. A pooled
     * connection that idled as long as the proxy keeps idle ones (uvicorn: 5 s) can be closed by the proxy just as
     * it is reused; the JDK client then fails the call ("header parser received no bytes") although the proxy never
     * read the request (reproduced under CPU load: 7 of 240 calls at 4.96-5.05 s idle). Such a failure measures the
     * client, not the provider; the second attempt opens a fresh connection and is the one timed. A timeout is not
     * retried: it is a measurement.
     */
    static Sent send(HttpClient http, HttpRequest request) throws IOException, InterruptedException {
        long start = System.nanoTime();
        try {
            return new Sent(http.send(request, HttpResponse.BodyHandlers.ofInputStream()), start);
        } catch (HttpTimeoutException e) {
            throw e;
        } catch (IOException e) {
            long again = System.nanoTime();
            return new Sent(http.send(request, HttpResponse.BodyHandlers.ofInputStream()), again);
        }
    }

    /** " (type)" from an OpenAI-style error body ({"error": {"type": ...}}), or "" when it has none. */
    private String errorType(InputStream in) {
        try {
            return typeOf(json.readTree(in.readNBytes(64 * 1024)).path("error"));
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /** " (type)" of an OpenAI-style error object, or "" when it has none. */
    private static String typeOf(JsonNode error) {
        JsonNode type = error.path("type");
        String text = type.isTextual() ? shortText(type.asText()) : "";
        return text.isEmpty() || "None".equals(text) ? "" : " (" + text + ")";
    }

    /** The status an error event in a stream carries as its code (LiteLLM writes it as text), else 500. */
    static int streamedStatus(String code) {
        if (code.length() == 3 && code.chars().allMatch(c -> c >= '0' && c <= '9')) {
            int status = Integer.parseInt(code);
            if (status >= 400 && status <= 599) {
                return status;
            }
        }
        return 500;
    }

    /**
     * At most 100 printable ASCII characters of a message that may come from the network, with key shapes, e-mail
     * addresses and organisation ids masked: it is stored in {@code baseline_runs.detail}.
     */
    static String shortText(String text) {
        if (text == null) {
            return "";
        }
        int window = 100 + Redactor.MARGIN;
        StringBuilder out = new StringBuilder(Math.min(text.length(), window));
        for (int i = 0; i < text.length() && out.length() < window; i++) {
            char c = text.charAt(i);
            out.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return Redactor.mask(out.toString(), 100);
    }

    /** A cost in USD from LiteLLM's header, or null when it is none (garbage, "None", NaN, infinite, negative). */
    static Double cost(String value) {
        try {
            double cost = Double.parseDouble(value);
            return Double.isFinite(cost) && cost >= 0 ? cost : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    void releaseAbandoned(@Observes DatabaseReady start) {
        store.abandonRunning(clock.instant());
    }

    void stop(@Observes ShutdownEvent shutdown) {
        runs.values().forEach(r -> r.cancelled.set(true));
        runners.shutdownNow();
    }

    private static java.util.concurrent.ThreadFactory named(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
