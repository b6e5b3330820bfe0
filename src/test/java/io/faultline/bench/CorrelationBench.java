package io.faultline.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import io.agroal.api.AgroalDataSource;
import io.faultline.call.CallMapper;
import io.faultline.call.CallStore;
import io.faultline.call.LlmCall;
import io.faultline.correlate.CorrelateConfig;
import io.faultline.correlate.FailureCorrelationEngine;
import io.faultline.episode.EpisodeStore.EpisodeChange;
import io.faultline.taxonomy.Severity;
import io.faultline.testing.Api;
import io.faultline.testing.EmbeddedPostgres;
import io.faultline.testing.Payloads;
import io.faultline.testing.TestClock;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.scheduler.Scheduler;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code make bench}: {@code correlateFailures()} per episode on a database holding 30 days of history (about
 * 100,000 episodes and 1,000,000 calls, see {@link CorrelationSeed}), the plans of the engine's queries at that
 * scale, and ingest throughput with correlation on against off ({@link CorrelationBenchOff}) on the same database in
 * the same JVM. Not part of {@code make test}: it measures, it does not judge speed.
 */
@QuarkusTest
@TestProfile(CorrelationBench.DrainRunning.class)
class CorrelationBench {

    /** The drain job runs as in production (it is off in the test profile), so that ingest competes with it. */
    public static class DrainRunning implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.correlate.drain-every", "1s");
        }

        @Override
        public List<TestResourceEntry> testResources() {
            return Database.ENTRY;
        }

        @Override
        public boolean disableGlobalTestResources() {
            return true; // PostgresResource's database is not the seeded one
        }
    }

    /**
     * One database for both variants: seeding it twice would double the bench's run time. Its URL is kept in a system
     * property because each Quarkus restart loads the test classes (and their statics) afresh; the server started
     * first keeps running until the JVM exits. Named by the bench's profiles only: as a {@code @QuarkusTestResource}
     * on the class it applied to every test class, and every test application of a run shared this one database.
     */
    public static class Database implements QuarkusTestResourceLifecycleManager {
        private static final String KEY = "faultline.bench.correlation.jdbc-url";
        static final List<QuarkusTestProfile.TestResourceEntry> ENTRY =
                List.of(new QuarkusTestProfile.TestResourceEntry(Database.class));

        @Override
        public Map<String, String> start() {
            String url;
            synchronized (System.class) {
                url = System.getProperty(KEY);
                if (url == null) {
                    url = EmbeddedPostgres.freshDatabase("faultline_correlation_bench");
                    System.setProperty(KEY, url);
                }
            }
            return Map.of("quarkus.datasource.jdbc.url", url, "quarkus.datasource.username", "postgres",
                    "quarkus.datasource.password", "postgres", "faultline.api-key", "test-key");
        }

        @Override
        public void stop() {
            // kept for the other variant; the server goes with the JVM
        }
    }

    String variant() {
        return "on";
    }

    private static final java.lang.management.CompilationMXBean JIT =
            java.lang.management.ManagementFactory.getCompilationMXBean();
    private static final int WARMUP_CYCLES = Integer.getInteger("bench.correlate.warmupCycles", 15);
    private static final int CYCLES = Integer.getInteger("bench.correlate.cycles", 100);
    /**
     * Cycles of the same stream run first, unmeasured, 26 days before it on the test clock (outside its base-rate
     * lookback and its walks' reach), so that the measured stream meets a process whose JIT has settled, as a server's
     * does after its first minutes; 0 measures a young process, whose compiler still takes about a fifth of the
     * time.
     */
    private static final int JIT_WARMUP_CYCLES = Integer.getInteger("bench.correlate.jitWarmupCycles", 1000);
    private static final int BATCH = 100;
    private static final int INGEST_WARMUP = Integer.getInteger("bench.ingest.warmup", 50);
    private static final int INGEST_BATCHES = Integer.getInteger("bench.ingest.batches", 300);
    private static final int CLIENTS = 4;

    @TestHTTPResource("/api/v1/calls")
    URI ingestUri;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    FailureCorrelationEngine engine;

    @Inject
    CorrelateConfig config;

    @Inject
    TestClock clock;

    @Inject
    CallMapper mapper;

    @Inject
    CallStore store;

    @Inject
    Scheduler scheduler;

    @Test
    void correlation_at_scale() throws Exception {
        String seeded;
        try (Connection c = dataSource.getConnection()) {
            if (CorrelationSeed.present(c)) {
                seeded = "Seed already present (written by the other variant): "
                        + CorrelationSeed.counts(c);
            } else {
                Instant end = Instant.now().truncatedTo(ChronoUnit.MINUTES).minus(Duration.ofHours(2));
                seeded = CorrelationSeed.describe(CorrelationSeed.seed(c, end));
            }
        }
        System.out.println(seeded);
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target", "bench-correlation-seed-" + variant() + ".txt"), seeded);
        assertThat(config.enabled()).isEqualTo("on".equals(variant()));

        // -Dbench.correlation.stream-only=true: the per-episode stream alone (a quick re-measure of the step on a
        // quiet machine); the ingest comparison needs both variants and several minutes.
        if (!Boolean.getBoolean("bench.correlation.stream-only")) {
            IngestResult ingest = ingest();
            Files.writeString(Path.of("target", "bench-correlation-ingest-" + variant() + ".txt"), ingest.line());
            if (config.enabled()) {
                Files.writeString(Path.of("target", "bench-correlation-catchup.txt"), catchUp());
            }
            ingestComparison();
        }
        if (config.enabled()) {
            Instant streamStart;
            try (Connection c = dataSource.getConnection()) {
                streamStart = CorrelationSeed.end(c);
            }
            // The stream drains each episode itself, timed; the job must not take it first.
            scheduler.pause(FailureCorrelationEngine.DRAIN_JOB);
            try {
                String warm = warmUpJit(streamStart);
                Stream stream = stream(streamStart, WARMUP_CYCLES, CYCLES);
                stream.jitWarmup = warm;
                String explain = explain(stream);
                String report = stream.report();
                if (!BATCHED && !Boolean.getBoolean("bench.correlation.stream-only")) {
                    // make bench: the same stream drained as the job drains an incident's second, after it
                    batched = true;
                    try {
                        report += "\n"
                                + stream(stream.until.plus(Duration.ofHours(1)), WARMUP_CYCLES, CYCLES).report();
                    } finally {
                        batched = false;
                    }
                }
                Files.writeString(Path.of("target", "bench-correlation.md"), seeded.replace("\n", "\n\n") + "\n\n"
                        + report + "\n" + explain);
                System.out.println(report);
            } finally {
                scheduler.resume(FailureCorrelationEngine.DRAIN_JOB);
                clock.release();
            }
        }
    }

    /**
     * After the ingest run with correlation on: the backlog the drain job had left when the last batch was
     * answered, and how long it took to empty it (polled every 200 ms; the bench fails after 15 minutes).
     */
    private String catchUp() throws Exception {
        long t0 = System.nanoTime();
        long first = -1;
        long backlog;
        do {
            try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("select count(*) from correlation_queue")) {
                rs.next();
                backlog = rs.getLong(1);
            }
            if (first < 0) {
                first = backlog;
            }
            if (backlog > 0) {
                assertThat(System.nanoTime() - t0).as("the drain empties the backlog").isLessThan(
                        Duration.ofMinutes(15).toNanos());
                java.util.concurrent.locks.LockSupport.parkNanos(Duration.ofMillis(200).toNanos());
            }
        } while (backlog > 0);
        return String.format(Locale.ROOT, "Drain (every 1 s, batches of %d) after the ingest run with correlation on:"
                + " %d episodes still queued when the reference insert ended, queue empty %.1f s later%n",
                config.drainBatch(), first, (System.nanoTime() - t0) / 1e9);
    }

    // ---- ingest, correlation on against off ------------------------------------------------------------------

    record IngestResult(double pipelineCallsPerSecond, double p50Ms, double p99Ms, double storeCallsPerSecond,
            double load) {
        String line() {
            return pipelineCallsPerSecond + " " + p50Ms + " " + p99Ms + " " + storeCallsPerSecond + " " + load;
        }

        static IngestResult parse(String line) {
            String[] f = line.trim().split(" ");
            return new IngestResult(Double.parseDouble(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2]),
                    Double.parseDouble(f[3]), Double.parseDouble(f[4]));
        }
    }

    /**
     * The ingest pipeline with this variant's correlation setting: 1 call in 10 a provider failure (429 or timeout)
     * retried by the next call in the same trace on another provider, on deployments of this variant only. The
     * reference is the call store's insert of as many calls, measured right after, which moves with the load of the
     * shared machine the same way.
     */
    private IngestResult ingest() throws Exception {
        List<byte[]> warm = new ArrayList<>();
        List<byte[]> measured = new ArrayList<>();
        Instant base = Instant.now();
        int n = 0;
        for (int b = 0; b < INGEST_WARMUP + INGEST_BATCHES; b++) {
            Payloads[] batch = new Payloads[BATCH];
            String retryTrace = null;
            for (int i = 0; i < BATCH; i++, n++) {
                int p = n % 3;
                String dep = CorrelationSeed.PROVIDERS[p] + "-ingest-" + variant() + "-" + (n / 3) % 2;
                Instant at = base.plusMillis(n * 2L);
                Payloads call;
                if (n % 10 == 0) {
                    boolean rateLimited = n % 20 == 0;
                    call = Payloads.failure(CorrelationSeed.PROVIDERS[p], CorrelationSeed.MODELS[p], dep, at,
                            rateLimited ? 429 : 408, rateLimited ? "RateLimitError" : "Timeout", "bench failure");
                    retryTrace = UUID.randomUUID().toString();
                    call.set("trace_id", retryTrace);
                } else {
                    call = Payloads.success(CorrelationSeed.PROVIDERS[p], CorrelationSeed.MODELS[p], dep, at);
                    if (retryTrace != null) {
                        call.set("trace_id", retryTrace);
                        retryTrace = null;
                    }
                }
                call.set("litellm_call_id", "ingest-" + variant() + "-" + n).user("user-" + (n % 500));
                batch[i] = call;
            }
            byte[] request = RawHttpClient.post(ingestUri, "Bearer " + Api.KEY, Payloads.array(batch));
            (b < INGEST_WARMUP ? warm : measured).add(request);
        }
        ThreadLocal<RawHttpClient> clients = ThreadLocal.withInitial(() -> {
            try {
                return new RawHttpClient(ingestUri);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        double load = loadAverage();
        run(warm, r -> send(clients.get(), r));
        Histogram pipeline = new Histogram(3_600_000_000L, 3);
        double pipelineRate = run(measured, r -> send(clients.get(), r), pipeline);

        List<List<LlmCall>> rows = new ArrayList<>();
        for (int b = 0; b < INGEST_BATCHES; b++) {
            List<Payloads> batch = new ArrayList<>();
            for (int i = 0; i < BATCH; i++) {
                int p = i % 3;
                batch.add(Payloads.success(CorrelationSeed.PROVIDERS[p], CorrelationSeed.MODELS[p],
                        "reference-" + variant(), base.plusMillis(b * BATCH + i))
                        .set("litellm_call_id", "reference-" + variant() + "-" + b + "-" + i));
            }
            List<LlmCall> calls = new ArrayList<>();
            ((ArrayNode) Payloads.JSON.readTree(Payloads.array(batch.toArray(Payloads[]::new))))
                    .forEach(node -> calls.add(mapper.map(node)));
            rows.add(calls);
        }
        AtomicInteger next = new AtomicInteger();
        List<byte[]> slots = new ArrayList<>(java.util.Collections.nCopies(INGEST_BATCHES, new byte[0]));
        double storeRate = run(slots, ignored -> QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                return store.insert(c, rows.get(next.getAndIncrement()), Instant.now());
            }
        }), new Histogram(3_600_000_000L, 3));
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select count(*) from llm_calls where call_id like 'ingest-"
                        + variant() + "-%'")) {
            rs.next();
            assertThat(rs.getLong(1)).isEqualTo((long) (INGEST_WARMUP + INGEST_BATCHES) * BATCH);
        }
        return new IngestResult(pipelineRate, pipeline.getValueAtPercentile(50) / 1000.0,
                pipeline.getValueAtPercentile(99) / 1000.0, storeRate, load);
    }

    private static void send(RawHttpClient client, byte[] request) throws Exception {
        int status = client.send(request);
        if (status != 200) {
            throw new IllegalStateException("ingest answered " + status);
        }
    }

    private interface Sender {
        void send(byte[] request) throws Exception;
    }

    private static double run(List<byte[]> requests, Sender sender) throws Exception {
        return run(requests, sender, new Histogram(3_600_000_000L, 3));
    }

    /** Sends every request from {@link #CLIENTS} threads; returns calls per second. */
    private static double run(List<byte[]> requests, Sender sender, Histogram latencyMicros) throws Exception {
        return requests.size() * (double) BATCH / ClosedLoop.run(requests, CLIENTS, sender::send, latencyMicros);
    }

    private static final long STARTED_AT = java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime();

    /** Written by whichever variant runs second: both figures, raw and normalised by each one's reference. */
    private void ingestComparison() throws Exception {
        Path on = Path.of("target", "bench-correlation-ingest-on.txt");
        Path off = Path.of("target", "bench-correlation-ingest-off.txt");
        for (Path p : List.of(on, off)) {
            if (!Files.exists(p) || Files.getLastModifiedTime(p).toMillis() < STARTED_AT) {
                return;
            }
        }
        IngestResult a = IngestResult.parse(Files.readString(on));
        IngestResult b = IngestResult.parse(Files.readString(off));
        String text = String.format(Locale.ROOT, """
                Ingest with correlation on vs off (faultline.correlate.enabled), same JVM, same seeded database,
                %d batches x %d calls after %d warm-up batches, 1 call in 10 a provider failure retried in its trace,
                %d clients, %d cores
                | correlation | pipeline calls/s | batch p50 ms | batch p99 ms | reference (CallStore insert) calls/s | pipeline / reference | load (1 min) |
                |---|---|---|---|---|---|---|
                | on | %.0f | %.1f | %.1f | %.0f | %.3f | %.2f |
                | off | %.0f | %.1f | %.1f | %.0f | %.3f | %.2f |
                Throughput with correlation relative to without: %.2f raw, %.2f normalised by each run's reference
                """, INGEST_BATCHES, BATCH, INGEST_WARMUP, CLIENTS, Runtime.getRuntime().availableProcessors(),
                a.pipelineCallsPerSecond(), a.p50Ms(), a.p99Ms(), a.storeCallsPerSecond(),
                a.pipelineCallsPerSecond() / a.storeCallsPerSecond(), a.load(), b.pipelineCallsPerSecond(), b.p50Ms(),
                b.p99Ms(), b.storeCallsPerSecond(), b.pipelineCallsPerSecond() / b.storeCallsPerSecond(), b.load(),
                a.pipelineCallsPerSecond() / b.pipelineCallsPerSecond(),
                (a.pipelineCallsPerSecond() / a.storeCallsPerSecond())
                        / (b.pipelineCallsPerSecond() / b.storeCallsPerSecond()));
        Path catchUp = Path.of("target", "bench-correlation-catchup.txt");
        if (Files.exists(catchUp) && Files.getLastModifiedTime(catchUp).toMillis() >= STARTED_AT) {
            text += Files.readString(catchUp);
        }
        System.out.println(text);
        Files.writeString(Path.of("target", "bench-correlation-ingest.md"), text);
    }

    static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        } catch (Exception e) {
            return java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        }
    }

    // ---- correlateFailures() per episode ---------------------------------------------------------------------

    enum Kind {
        NEW_ISOLATED("new provider episode, no incident"),
        NEW_QUALITY("new quality episode, no incident"),
        NEW_UPSTREAM("new onset of a 3-provider outage (36 s spread)"),
        CASCADE_CAUSE("new timeout episode whose 4 requests fell back in their traces"),
        CASCADE_EFFECT("new quality episode on that fallback traffic"),
        UPDATE_CLUSTERED("update of an episode in an active cluster"),
        UPDATE_UNCLUSTERED("update of a recent episode in no cluster");

        final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    /** The episodes used for the plans, and the figures. */
    final class Stream {
        final Map<Kind, Histogram> byKind = new LinkedHashMap<>();
        final Histogram all = new Histogram(3_600_000_000L, 3);
        final Map<Kind, UUID> sample = new LinkedHashMap<>();
        UUID sampleCluster;
        double loadBefore;
        double loadAfter;
        Instant from;
        Instant until;
        int warmup;
        int cycles;
        /** Drains that also took episodes a scheduled job folded meanwhile: not measured. */
        int drainsWithJobEpisodes;
        /** What {@link #warmUpJit} did before this stream, or empty. */
        String jitWarmup = "";
        Map<String, Long> clusters = new LinkedHashMap<>();
        /** Per measured drain: kind, wall micros, phase nanos, GC during it, other jobs paused, wall-clock start. */
        final List<Drain> drains = new ArrayList<>();
        final Histogram jobsRunning = new Histogram(3_600_000_000L, 3);
        final Histogram jobsPaused = new Histogram(3_600_000_000L, 3);
        /** A/B (-Dbench.correlate.ab=true): the drain of one episode without the read-ahead, by kind. */
        final Map<Kind, Histogram> oldByKind = new LinkedHashMap<>();
        final Histogram oldAll = new Histogram(3_600_000_000L, 3);
        /** A/B, batches of a cycle's 20 episodes: per-episode cost (batch time / episodes) of each batch, by path. */
        final Histogram batchOld = new Histogram(3_600_000_000L, 3);
        final Histogram batchNew = new Histogram(3_600_000_000L, 3);
        /** A/B, batches: each episode's time from its queueing to its batch's commit, by path. */
        final Histogram batchOldLatency = new Histogram(3_600_000_000L, 3);
        final Histogram batchNewLatency = new Histogram(3_600_000_000L, 3);
        /** Batched (-Dbench.correlate.batched=true): per batch, its per-episode cost and phases (batch / episodes). */
        final List<Drain> batchDrains = new ArrayList<>();
        boolean ab;
        String databaseActivity = "";
        /** JIT compilation (ms, summed over the compiler threads) and wall time (ns) of the measured cycles. */
        long jitMs;
        long streamNanos;

        Stream() {
            for (Kind k : Kind.values()) {
                byKind.put(k, new Histogram(3_600_000_000L, 3));
                oldByKind.put(k, new Histogram(3_600_000_000L, 3));
            }
        }

        String report() {
            StringBuilder b = new StringBuilder(jitWarmup);
            if (!batchDrains.isEmpty() && !ab) {
                b.append(String.format(Locale.ROOT, "Correlation per episode in batches, on the seeded database: each"
                        + " of %d cycles' 20 episodes drained in one batch with the read-ahead (as the drain job takes"
                        + " an incident's second) after %d warm-up cycles (%s .. %s on the test clock), %d cores, load"
                        + " (1 min) %.2f before and %.2f after; per episode = the batch's time / its episodes.%n"
                        + "| per-episode cost of a batch | n | p50 µs | p95 µs | p99 µs | max µs |%n"
                        + "|---|---|---|---|---|---|%n", cycles, warmup, from, until,
                        Runtime.getRuntime().availableProcessors(), loadBefore, loadAfter));
                row(b, "batches of 20", batchNew);
                b.append(phases(batchDrains, batchNew.getValueAtPercentile(99), "batches"));
                b.append(String.format(Locale.ROOT, "Clusters opened during the stream (status/type): %s%n",
                        clusters));
                return b.toString();
            }
            b.append(String.format(Locale.ROOT, """
                    Correlation per episode as the drain runs it (drainBatch with one queued episode: the lock, the
                    queue row read with its episode, the step, the queue delete, the commit), on the seeded database:
                    %d cycles of 20 episodes after %d warm-up cycles (%s .. %s on the test clock), %d cores, load
                    (1 min) %.2f before and %.2f after. Microseconds.
                    | episode | n | p50 µs | p95 µs | p99 µs | max µs |
                    |---|---|---|---|---|---|
                    """, cycles, warmup, from, until, Runtime.getRuntime().availableProcessors(), loadBefore,
                    loadAfter));
            if (ab) {
                b.append("\nA/B in this run (blocks of 5 cycles rotate: one episode per drain without and with the"
                        + " read-ahead, then each cycle's 20 episodes in one batch without and with it):\n"
                        + "| episode, one per drain | n | old p50 µs | old p99 µs | new p50 µs | new p99 µs |"
                        + " new / old p99 |\n|---|---|---|---|---|---|---|\n");
                abRow(b, "**all**", oldAll, all);
                for (Kind k : Kind.values()) {
                    abRow(b, k.label, oldByKind.get(k), byKind.get(k));
                }
                b.append("| batches of 20 (per episode: batch / episodes) | n | old p50 µs | old p99 µs |"
                        + " new p50 µs | new p99 µs | new / old p99 |\n|---|---|---|---|---|---|---|\n");
                abRow(b, "per-episode cost of a batch", batchOld, batchNew);
                abRow(b, "an episode's queueing to its batch's commit (includes the bench writing the later"
                        + " episodes of its cycle)", batchOldLatency, batchNewLatency);
            } else {
                row(b, "**all**", all);
                byKind.forEach((k, h) -> row(b, k.label, h));
                row(b, "all, the process's other scheduled jobs running", jobsRunning);
                row(b, "all, every scheduled job paused (blocks of 10 cycles alternate)", jobsPaused);
            }
            b.append(String.format(Locale.ROOT, "Clusters at the end of the stream (status/type): %s%n", clusters));
            b.append(String.format(Locale.ROOT, "Drains left out because they also took episodes a scheduled job"
                    + " folded meanwhile: %d%n", drainsWithJobEpisodes));
            b.append(attribution());
            return b.toString();
        }

        /**
         * Where the time of the slowest drains went: per phase the mean, the p50 and the p99 over all drains, and
         * the mean over the drains at or above the p99 of the total; how many of those met a GC, and when they ran.
         */
        String attribution() {
            if (drains.isEmpty()) {
                return "";
            }
            long p99 = all.getValueAtPercentile(99);
            List<Drain> slow = drains.stream().filter(d -> d.micros() >= p99).toList();
            StringBuilder b = new StringBuilder(phases(drains, p99, "drains"));
            b.append(String.format(Locale.ROOT, "Tail drains that met a GC: %d of %d; with the other jobs paused: %d;"
                    + " GC during all measured drains: %d of %d%n", slow.stream().filter(Drain::gc).count(),
                    slow.size(), slow.stream().filter(Drain::jobsPaused).count(),
                    drains.stream().filter(Drain::gc).count(), drains.size()));
            b.append(String.format(Locale.ROOT, "JIT compilation during the measured cycles: %d ms in %.1f s (%.1f%%);"
                    + " tail drains during which a compilation ended: %d of %d, all drains: %d of %d%n", jitMs,
                    streamNanos / 1e9, 100.0 * jitMs / (streamNanos / 1e6), slow.stream().filter(Drain::jit).count(),
                    slow.size(), drains.stream().filter(Drain::jit).count(), drains.size()));
            b.append("Tail drains (UTC start, µs, kind): ");
            b.append(String.join(", ", slow.stream().map(d -> d.at() + " " + d.micros() + " " + d.kind().name())
                    .toList()));
            b.append("\n").append(databaseActivity).append("\n");
            return b.toString();
        }

        /**
         * Per phase the mean, the p50 and the p99 over these drains, and the mean over those at or above the given
         * p99 of the total (for batches, every figure is per episode: the batch's phase time / its episodes).
         */
        private static String phases(List<Drain> drains, long p99, String what) {
            List<Drain> slow = drains.stream().filter(d -> d.micros() >= p99).toList();
            StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%nPer phase (µs; the step's nanoTime laps;"
                    + " COMMIT is the commit and the transaction's end; the tail = the %d %s at or above the"
                    + " p99 of %d µs)%n| phase | mean | p50 | p99 | mean in the tail |%n|---|---|---|---|---|%n",
                    slow.size(), what, p99));
            for (FailureCorrelationEngine.Phase phase : FailureCorrelationEngine.Phase.values()) {
                Histogram h = new Histogram(3_600_000_000L, 3);
                drains.forEach(d -> h.recordValue(d.nanos()[phase.ordinal()] / 1000));
                double tail = slow.stream().mapToLong(d -> d.nanos()[phase.ordinal()]).average().orElse(0) / 1000;
                b.append(String.format(Locale.ROOT, "| %s | %.0f | %d | %d | %.0f |%n", phase, h.getMean(),
                        h.getValueAtPercentile(50), h.getValueAtPercentile(99), tail));
            }
            long unaccounted = Math.round(slow.stream().mapToLong(d -> d.micros() * 1000
                    - java.util.Arrays.stream(d.nanos()).sum()).average().orElse(0) / 1000);
            b.append(String.format(Locale.ROOT, "| outside the phases (the bench's call) | | | | %d |%n", unaccounted));
            return b.toString();
        }

        private void abRow(StringBuilder b, String label, Histogram old, Histogram now) {
            if (old.getTotalCount() == 0 || now.getTotalCount() == 0) {
                b.append("| ").append(label).append(" | 0 | | | | | |\n");
                return;
            }
            b.append(String.format(Locale.ROOT, "| %s | %d / %d | %d | %d | %d | %d | %.2f |%n", label,
                    old.getTotalCount(), now.getTotalCount(), old.getValueAtPercentile(50),
                    old.getValueAtPercentile(99), now.getValueAtPercentile(50), now.getValueAtPercentile(99),
                    now.getValueAtPercentile(99) / (double) old.getValueAtPercentile(99)));
        }

        private void row(StringBuilder b, String label, Histogram h) {
            if (h.getTotalCount() == 0) {
                b.append("| ").append(label).append(" | 0 | | | | |\n");
                return;
            }
            b.append(String.format(Locale.ROOT, "| %s | %d | %d | %d | %d | %d |%n", label, h.getTotalCount(),
                    h.getValueAtPercentile(50), h.getValueAtPercentile(95), h.getValueAtPercentile(99),
                    h.getMaxValue()));
        }
    }

    record Drain(Kind kind, long micros, long[] nanos, boolean gc, boolean jobsPaused, String at, boolean jit) {
    }

    private static long gcCount() {
        long n = 0;
        for (java.lang.management.GarbageCollectorMXBean gc
                : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
            n += Math.max(0, gc.getCollectionCount());
        }
        return n;
    }

    /** Checkpoints and autovacuum runs so far (PostgreSQL 17's pg_stat_checkpointer, pg_stat_user_tables). */
    private String databaseActivity() throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select (select num_timed || ' timed, ' || num_requested"
                        + " || ' requested, write ' || write_time || ' ms, sync ' || sync_time || ' ms'"
                        + " from pg_stat_checkpointer), (select string_agg(relname || ' ' || autovacuum_count || '/'"
                        + " || autoanalyze_count, ', ' order by relname) from pg_stat_user_tables"
                        + " where autovacuum_count + autoanalyze_count > 0)")) {
            rs.next();
            return "checkpoints " + rs.getString(1) + "; autovacuum/autoanalyze runs: " + rs.getString(2);
        }
    }

    private record Recent(UUID id, String fingerprint, String provider, String deployment, String type,
            Instant lastSeen) {
    }

    /**
     * {@link #JIT_WARMUP_CYCLES} cycles of the stream 26 days before {@code streamStart}, unmeasured; then the clock at
     * {@code streamStart} and their clusters closed as the close job would. Returns what it did, for the report.
     */
    private String warmUpJit(Instant streamStart) throws Exception {
        if (JIT_WARMUP_CYCLES <= 0) {
            return "";
        }
        long t0 = System.nanoTime();
        long jit0 = JIT.getTotalCompilationTime();
        Map<String, Long> before;
        try (Connection c = dataSource.getConnection()) {
            before = CorrelationSeed.counts(c);
        }
        Stream warm = stream(streamStart.minus(Duration.ofDays(26)), JIT_WARMUP_CYCLES, 0);
        clock.set(streamStart);
        int closed = engine.closeQuiet().size();
        Map<String, Long> after;
        try (Connection c = dataSource.getConnection()) {
            after = CorrelationSeed.counts(c);
        }
        return String.format(Locale.ROOT, "The process was warmed first by %d cycles of the same stream (%s .. %s on"
                + " the test clock, unmeasured; %d episodes and %d calls added, %d clusters closed after it) in %.1f s,"
                + " %.1f s of it JIT compilation.%n", JIT_WARMUP_CYCLES, warm.from, warm.until,
                after.get("failure_events") - before.get("failure_events"),
                after.get("llm_calls") - before.get("llm_calls"), closed, (System.nanoTime() - t0) / 1e9,
                (JIT.getTotalCompilationTime() - jit0) / 1000.0);
    }

    /**
     * Cycles of 20 episodes, 18 s apart on the test clock (the seed's density): 9 isolated provider episodes, 2
     * isolated quality episodes, a 3-provider outage, a timeout that falls back and the quality episode it causes,
     * and 4 updates of clustered episodes. Each is written as the fold would write it, then correlated on its own;
     * only the correlation is timed. {@code warmup} unmeasured cycles, then {@code cycles} measured ones; quiet
     * clusters are closed at each cycle's start.
     */
    private Stream stream(Instant start, int warmup, int cycles) throws Exception {
        Stream s = new Stream();
        s.from = start;
        s.warmup = warmup;
        s.cycles = cycles;
        Random random = new Random(11);
        Deque<Recent> clustered = new ArrayDeque<>();
        Deque<Recent> recent = new ArrayDeque<>();
        Instant t = start;
        int seq = nextSeq; // ids go on from the previous stream's
        long[][] phases = new long[1][];
        engine.phaseListener((n, nanos) -> phases[0] = nanos.clone());
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            // Every autovacuum run in the server's log (checkpoints are logged by default), to set against the tail.
            st.execute("alter system set log_autovacuum_min_duration = 0");
            st.execute("select pg_reload_conf()");
        }
        String activityBefore = databaseActivity();
        boolean paused = false;
        s.ab = AB;
        List<Queued> batch = new ArrayList<>();
        for (int cycle = 0; cycle < warmup + cycles; cycle++) {
            boolean measure = cycle >= warmup;
            if (cycle == warmup) {
                s.loadBefore = loadAverage();
                s.jitMs = -JIT.getTotalCompilationTime();
                s.streamNanos = -System.nanoTime();
            }
            // A/B: the four ways rotate every cycle while warming up, then in blocks of 5 measured cycles.
            int way = batched ? 3 : !AB ? 1 : measure ? ((cycle - warmup) / 5) % 4 : cycle % 4;
            boolean readAhead = way % 2 == 1;
            boolean batched = way >= 2;
            if (AB) {
                // the A/B's two ways as it names them, whatever the last batch was
                engine.readAhead(readAhead ? FailureCorrelationEngine.ReadAhead.ALWAYS
                        : FailureCorrelationEngine.ReadAhead.NEVER);
            }
            if (!AB_READ_AHEAD_ONLY) {
                engine.pipelined(readAhead); // the old path also sends each write where the step makes it
            }
            // Blocks of 10 measured cycles alternate: the process's other scheduled jobs running, then all paused.
            boolean pause = !AB && !batched && measure && ((cycle - warmup) / 10) % 2 == 1;
            if (pause != paused) {
                if (pause) {
                    scheduler.pause();
                } else {
                    scheduler.resume();
                    scheduler.pause(FailureCorrelationEngine.DRAIN_JOB);
                }
                paused = pause;
            }
            // The close job runs every minute of a server's clock; a cycle is 6 minutes of the stream's. Its
            // scheduled run follows the wall clock, which the stream outruns, so the stream closes quiet clusters
            // itself at each cycle's start (untimed, as the job does in its own transaction).
            engine.closeQuiet();
            String[] outage = new String[3];
            Recent cause = null;
            for (int step = 0; step < 20; step++, seq++) {
                t = t.plusSeconds(18);
                clock.set(t.plusSeconds(5));
                Kind kind;
                Recent episode;
                try (Connection c = dataSource.getConnection()) {
                    c.setAutoCommit(true);
                    if (step < 9) {
                        kind = Kind.NEW_ISOLATED;
                        int k = random.nextInt(12);
                        String type = List.of("rate_limit", "rate_limit", "timeout", "overloaded", "context_overflow",
                                "malformed_response").get(random.nextInt(6));
                        List<String> traces = new ArrayList<>();
                        int calls = 1 + random.nextInt(3);
                        episode = newEpisode(c, "PROVIDER", type, k, t, calls, seq, traces);
                        for (int i = 0; i < traces.size(); i++) {
                            if (random.nextBoolean()) {
                                call(c, "bench-fb-" + seq + "-" + i, t.plusSeconds(10L * i + 2), traces.get(i),
                                        (k + 1 + random.nextInt(2)) % 12, true);
                            }
                        }
                    } else if (step < 11) {
                        kind = Kind.NEW_QUALITY;
                        episode = newEpisode(c, "QUALITY", List.of("hallucination", "format_non_compliance",
                                "low_faithfulness", "language_drift").get(random.nextInt(4)), random.nextInt(12), t,
                                1 + random.nextInt(2), seq, new ArrayList<>());
                    } else if (step < 14) {
                        kind = Kind.NEW_UPSTREAM;
                        int k = (step - 11) + 3 * random.nextInt(4); // openai, anthropic, gemini in turn
                        episode = newEpisode(c, "PROVIDER", "outage", k, t, 3, seq, new ArrayList<>());
                        outage[step - 11] = episode.id().toString();
                    } else if (step == 14) {
                        kind = Kind.CASCADE_CAUSE;
                        int k = random.nextInt(12);
                        List<String> traces = new ArrayList<>();
                        episode = newEpisode(c, "PROVIDER", "timeout", k, t.minusSeconds(40), 4, seq, traces);
                        int target = (k + 1) % 12;
                        List<String> fallbacks = new ArrayList<>();
                        for (int i = 0; i < traces.size(); i++) {
                            String id = "bench-fb-" + seq + "-" + i;
                            call(c, id, t.minusSeconds(40).plusSeconds(10L * i + 2), traces.get(i), target, true);
                            fallbacks.add(id);
                        }
                        cause = new Recent(episode.id(), String.valueOf(target), null, null, null, null);
                        pendingFallbacks = fallbacks;
                    } else if (step == 15) {
                        kind = Kind.CASCADE_EFFECT;
                        int target = Integer.parseInt(cause.fingerprint());
                        episode = qualityOn(c, "format_non_compliance", target, pendingFallbacks,
                                t.minusSeconds(38), t.minusSeconds(8));
                    } else {
                        Recent pick = pick(clustered, t, random);
                        kind = pick != null ? Kind.UPDATE_CLUSTERED : Kind.UPDATE_UNCLUSTERED;
                        if (pick == null) {
                            pick = pick(recent, t, random);
                        }
                        if (pick == null && !batch.isEmpty()) {
                            // Batched, this cycle's episodes are not drained yet: one of them changes again.
                            pick = batch.get(random.nextInt(batch.size())).episode();
                        }
                        episode = update(c, pick, t, seq);
                    }
                }
                // Queued as the fold queues it (the fold's cost, not timed), then drained as the job drains it.
                try (Connection c = dataSource.getConnection()) {
                    engine.recordInFold(c, List.of(new EpisodeChange(episode.id(), episode.fingerprint(),
                            kind != Kind.UPDATE_CLUSTERED && kind != Kind.UPDATE_UNCLUSTERED, Severity.P3)));
                }
                if (batched) {
                    batch.add(new Queued(episode, System.nanoTime()));
                    if (measure) {
                        s.sample.putIfAbsent(kind, episode.id()); // the plans' parameters
                    }
                    if (step < 19) {
                        continue;
                    }
                    long t0 = System.nanoTime();
                    FailureCorrelationEngine.Drained drained = engine.drainBatch(true);
                    long end = System.nanoTime();
                    long distinct = batch.stream().map(q -> q.episode().id()).distinct().count();
                    assertThat(drained.correlated()).as("the drain took the cycle's queued episodes")
                            .isEqualTo((int) distinct);
                    if (measure && batched) {
                        long[] perEpisode = phases[0].clone();
                        for (int i = 0; i < perEpisode.length; i++) {
                            perEpisode[i] /= distinct;
                        }
                        s.batchDrains.add(new Drain(kind, (end - t0) / 1000 / distinct, perEpisode, false, false,
                                java.time.LocalTime.now(java.time.ZoneOffset.UTC).toString(), false));
                    }
                    if (measure) {
                        (readAhead ? s.batchNew : s.batchOld).recordValue((end - t0) / 1000 / distinct);
                        for (Queued q : batch) {
                            (readAhead ? s.batchNewLatency : s.batchOldLatency).recordValue((end - q.at()) / 1000);
                        }
                    }
                    for (Queued q : batch) {
                        track(s, q.episode(), measure, clustered, recent);
                    }
                    batch.clear();
                    continue;
                }
                long gcBefore = gcCount();
                long jitBefore = JIT.getTotalCompilationTime();
                String at = java.time.LocalTime.now(java.time.ZoneOffset.UTC).toString();
                long t0 = System.nanoTime();
                FailureCorrelationEngine.Drained drained = engine.drainBatch(true);
                long micros = (System.nanoTime() - t0) / 1000;
                boolean gc = gcCount() != gcBefore;
                boolean jit = JIT.getTotalCompilationTime() != jitBefore;
                assertThat(drained.correlated()).as("the drain took the queued episode").isPositive();
                if (drained.correlated() > 1) {
                    // A scheduled job folded episodes of its own meanwhile (the jobs run in half of the blocks, and
                    // through the warm-up; 3 at once in some runs of 2026-12-07): this drain took them with the
                    // stream's, so it is no one episode's drain. Left out of the figures, and counted.
                    s.drainsWithJobEpisodes++;
                    track(s, episode, measure, clustered, recent);
                    continue;
                }
                if (measure && !readAhead) {
                    s.oldAll.recordValue(micros);
                    s.oldByKind.get(kind).recordValue(micros);
                } else if (measure) {
                    s.all.recordValue(micros);
                    s.byKind.get(kind).recordValue(micros);
                    (paused ? s.jobsPaused : s.jobsRunning).recordValue(micros);
                    s.drains.add(new Drain(kind, micros, phases[0], gc, paused, at, jit));
                    s.sample.putIfAbsent(kind, episode.id());
                }
                track(s, episode, measure, clustered, recent);
            }
        }
        nextSeq = seq;
        engine.pipelined(config.pipelined());
        engine.readAhead(FailureCorrelationEngine.ReadAhead.ADAPTIVE);
        if (paused) {
            scheduler.resume();
            scheduler.pause(FailureCorrelationEngine.DRAIN_JOB);
        }
        engine.phaseListener(null);
        s.databaseActivity = "Database during the stream: before " + activityBefore + "; after " + databaseActivity();
        s.loadAfter = loadAverage();
        s.jitMs += JIT.getTotalCompilationTime();
        s.streamNanos += System.nanoTime();
        s.until = t;
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select status || '/' || type, count(*) from correlation_clusters"
                        + " where opened_at >= '" + Timestamp.from(start) + "' group by 1 order by 1")) {
            while (rs.next()) {
                s.clusters.put(rs.getString(1), rs.getLong(2));
            }
        }
        return s;
    }

    private List<String> pendingFallbacks = List.of();

    /** The next stream's first sequence number, from which its episodes' and calls' ids are made. */
    private int nextSeq;

    /** -Dbench.correlate.ab=true: the old path (no read-ahead) and batches of 20 measured beside the new one. */
    private static final boolean AB = Boolean.getBoolean("bench.correlate.ab");
    /** With AB: only the read-ahead is switched; both ways defer their writes to the step's end. */
    private static final boolean AB_READ_AHEAD_ONLY = Boolean.getBoolean("bench.correlate.ab-read-ahead-only");

    /**
     * -Dbench.correlate.batched=true: every cycle's 20 episodes drained in one batch with the read-ahead, as the drain
     * job takes what a second of an incident queued; the per-episode cost of each batch, with its phases.
     */
    private static final boolean BATCHED = Boolean.getBoolean("bench.correlate.batched");

    /** Whether the stream being run drains batches ({@link #BATCHED}, or the full bench's second stream). */
    private boolean batched = BATCHED;

    private record Queued(Recent episode, long at) {
    }

    /** After an episode's drain: remembered as clustered or not, for the updates of later cycles. */
    private void track(Stream s, Recent episode, boolean measure, Deque<Recent> clustered, Deque<Recent> recent)
            throws SQLException {
        Recent now = new Recent(episode.id(), episode.fingerprint(), episode.provider(), episode.deployment(),
                episode.type(), episode.lastSeen());
        if (inActiveCluster(episode.id())) {
            clustered.addLast(now);
            if (s.sampleCluster == null && measure) {
                s.sampleCluster = firstActiveCluster(episode.id());
            }
        } else {
            recent.addLast(now);
        }
        while (clustered.size() > 40) {
            clustered.removeFirst();
        }
        while (recent.size() > 40) {
            recent.removeFirst();
        }
    }

    /** A recent entry whose episode is still open (last seen within the dedup window). */
    private static Recent pick(Deque<Recent> from, Instant now, Random random) {
        List<Recent> open = from.stream().filter(r -> r.lastSeen().isAfter(now.minus(Duration.ofMinutes(5))))
                .toList();
        if (open.isEmpty()) {
            return null;
        }
        return open.get(random.nextInt(open.size()));
    }

    private boolean inActiveCluster(UUID episode) throws SQLException {
        return firstActiveCluster(episode) != null;
    }

    private UUID firstActiveCluster(UUID episode) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select m.cluster_id"
                + " from correlation_members m join correlation_clusters k on k.cluster_id = m.cluster_id"
                + " where m.failure_id = ? and k.status = 'active' limit 1")) {
            st.setObject(1, episode);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? rs.getObject(1, UUID.class) : null;
            }
        }
    }

    private static void call(Connection c, String id, Instant at, String trace, int deployment, boolean success)
            throws SQLException {
        int p = deployment % 3;
        try (PreparedStatement st = c.prepareStatement("insert into llm_calls (call_id, started_at, ended_at,"
                + " trace_id, provider, model, model_group, deployment, stream, success, http_status, error_class,"
                + " latency_ms, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost_usd,"
                + " response_chars, user_ref, rate_limit_headers, requester_metadata, received_at)"
                + " values (?, ?, ?, ?, ?, ?, ?, ?, false, ?, ?, ?, 800, 100, 50, 0, 0, 0.0002, 300, 'user-1',"
                + " '{}'::jsonb, '{}'::jsonb, ?)")) {
            st.setString(1, id);
            st.setTimestamp(2, Timestamp.from(at));
            st.setTimestamp(3, Timestamp.from(at.plusMillis(800)));
            st.setString(4, trace);
            st.setString(5, CorrelationSeed.PROVIDERS[p]);
            st.setString(6, CorrelationSeed.MODELS[p]);
            st.setString(7, CorrelationSeed.MODELS[p]);
            st.setString(8, CorrelationSeed.deployment(deployment));
            st.setBoolean(9, success);
            st.setInt(10, success ? 200 : 503);
            st.setString(11, success ? null : "ServiceUnavailableError");
            st.setTimestamp(12, Timestamp.from(at.plusMillis(800)));
            st.executeUpdate();
        }
    }

    /** A new episode with {@code calls} failed calls 10 s apart from {@code first}, each in its own trace. */
    private Recent newEpisode(Connection c, String category, String type, int deployment, Instant first, int calls,
            int seq, List<String> traces) throws SQLException {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < calls; i++) {
            String id = "bench-" + seq + "-" + i;
            String trace = "bench-tr-" + seq + "-" + i;
            call(c, id, first.plusSeconds(10L * i), trace, deployment, "QUALITY".equals(category));
            ids.add(id);
            traces.add(trace);
        }
        return insertEpisode(c, category, type, deployment, ids, first, first.plusSeconds(10L * (calls - 1)));
    }

    private Recent qualityOn(Connection c, String type, int deployment, List<String> callIds, Instant first,
            Instant last) throws SQLException {
        return insertEpisode(c, "QUALITY", type, deployment, callIds, first, last);
    }

    private Recent insertEpisode(Connection c, String category, String type, int deployment, List<String> callIds,
            Instant first, Instant last) throws SQLException {
        UUID id = UUID.randomUUID();
        String provider = CorrelationSeed.PROVIDERS[deployment % 3];
        String dep = CorrelationSeed.deployment(deployment);
        String fingerprint = category + "|" + type + "|" + provider + "|" + dep;
        try (PreparedStatement st = c.prepareStatement("insert into failure_events (failure_id, fingerprint, category,"
                + " type, severity, provider, deployment, detection_method, evidence, impact_scope, first_seen,"
                + " last_seen, occurrences, affected_requests, affected_users)"
                + " values (?, ?, ?, ?, 'P3', ?, ?, 'bench', '{}'::jsonb, '{}'::jsonb, ?, ?, ?, ?, 1)")) {
            st.setObject(1, id);
            st.setString(2, fingerprint);
            st.setString(3, category);
            st.setString(4, type);
            st.setString(5, provider);
            st.setString(6, dep);
            st.setTimestamp(7, Timestamp.from(first));
            st.setTimestamp(8, Timestamp.from(last));
            st.setLong(9, callIds.size());
            st.setLong(10, callIds.size());
            st.executeUpdate();
        }
        try (PreparedStatement st = c.prepareStatement("insert into failure_event_calls (failure_id, call_id, seen_at,"
                + " trace_id, call_started_at, model) select ?, call_id, ended_at, trace_id, started_at, model"
                + " from llm_calls where call_id = any (?)")) {
            st.setObject(1, id);
            st.setArray(2, c.createArrayOf("text", callIds.toArray()));
            st.executeUpdate();
        }
        return new Recent(id, fingerprint, provider, dep, type, last);
    }

    /** One more occurrence of an open episode, as the fold records it: a call, last seen, occurrences. */
    private Recent update(Connection c, Recent episode, Instant at, int seq) throws SQLException {
        int deployment = 0;
        for (int k = 0; k < 12; k++) {
            if (CorrelationSeed.deployment(k).equals(episode.deployment())) {
                deployment = k;
            }
        }
        String id = "bench-up-" + seq;
        call(c, id, at, "bench-tr-up-" + seq, deployment, episode.fingerprint().startsWith("QUALITY"));
        try (PreparedStatement st = c.prepareStatement("update failure_events set last_seen = ?, occurrences ="
                + " occurrences + 1, affected_requests = affected_requests + 1 where failure_id = ?")) {
            st.setTimestamp(1, Timestamp.from(at.plusMillis(800)));
            st.setObject(2, episode.id());
            st.executeUpdate();
        }
        try (PreparedStatement st = c.prepareStatement("insert into failure_event_calls (failure_id, call_id, seen_at,"
                + " trace_id, call_started_at, model) values (?, ?, ?, ?, ?, ?)")) {
            st.setObject(1, episode.id());
            st.setString(2, id);
            st.setTimestamp(3, Timestamp.from(at.plusMillis(800)));
            st.setString(4, "bench-tr-up-" + seq);
            st.setTimestamp(5, Timestamp.from(at));
            st.setString(6, CorrelationSeed.MODELS[deployment % 3]);
            st.executeUpdate();
        }
        return new Recent(episode.id(), episode.fingerprint(), episode.provider(), episode.deployment(),
                episode.type(), at.plusMillis(800));
    }

    // ---- plans ------------------------------------------------------------------------------------------------

    /**
     * EXPLAIN (ANALYZE, BUFFERS) of the engine's queries (copied from FailureCorrelationEngine: keep them in step)
     * with the parameters of episodes from the stream, both as a custom plan and as the generic plan a long-lived
     * prepared statement can switch to. Writes run inside a transaction that is rolled back.
     */
    private String explain(Stream s) throws Exception {
        Plans plans = new Plans();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                // The engine's settings for this transaction; each plan then asks for a custom or a generic plan.
                st.execute("select " + FailureCorrelationEngine.PLAN_SETTINGS);
            }
            Map<String, Object[]> episodes = new LinkedHashMap<>();
            for (Map.Entry<Kind, UUID> e : s.sample.entrySet()) {
                try (PreparedStatement st = c.prepareStatement("select failure_id, fingerprint, provider, deployment,"
                        + " type, first_seen from failure_events where failure_id = ?")) {
                    st.setObject(1, e.getValue());
                    try (ResultSet rs = st.executeQuery()) {
                        rs.next();
                        episodes.put(e.getKey().name(), new Object[] { rs.getObject(1), rs.getString(2),
                                rs.getString(3), rs.getString(4), rs.getString(5), rs.getTimestamp(6) });
                    }
                }
            }
            Object[] isolated = episodes.get(Kind.NEW_ISOLATED.name());
            Object[] cause = episodes.get(Kind.CASCADE_CAUSE.name());
            Object[] effect = episodes.get(Kind.CASCADE_EFFECT.name());
            Timestamp onset = (Timestamp) isolated[5];
            Timestamp causeOnset = (Timestamp) cause[5];
            String[] temporal = config.temporalTypes().toArray(String[]::new);
            UUID cluster = s.sampleCluster;
            // The largest seeded episode: the worst case of "its most recent failed calls".
            UUID storm;
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select failure_id from"
                    + " failure_events order by occurrences desc limit 1")) {
                rs.next();
                storm = rs.getObject(1, UUID.class);
            }
            List<String> fallbackCalls = new ArrayList<>();
            try (PreparedStatement st = c.prepareStatement("select call_id from failure_event_calls where failure_id = ?")) {
                st.setObject(1, effect[0]);
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        fallbackCalls.add(rs.getString(1));
                    }
                }
            }
            plans.add(c, "load", "select " + COLUMNS + " from failure_events where failure_id = any (?)"
                    + " order by first_seen, failure_id", new String[] { "uuid[]" },
                    uuids(c, isolated[0], cause[0]));
            plans.add(c, "activeClusters", "select k.cluster_id from correlation_clusters k"
                    + " where k.status = 'active' and k.cluster_id in (select m.cluster_id from correlation_members m"
                    + " where m.failure_id = any (?)) order by k.opened_at, k.cluster_id", new String[] { "uuid[]" },
                    uuids(c, isolated[0], cause[0], effect[0]));
            plans.add(c, "temporalGroup candidates", "select " + COLUMNS + " from failure_events"
                    + " where first_seen between ? and ? and failure_id <> ? and category = 'PROVIDER' and type = any (?)"
                    + " order by first_seen, failure_id limit ?", new String[] { "timestamptz", "timestamptz", "uuid",
                            "text[]", "int" },
                    ts(onset, -config.window().toSeconds()), ts(onset, config.window().toSeconds()), isolated[0],
                    c.createArrayOf("text", temporal), config.maxCandidates());
            plans.add(c, "onset base rate", "select x.occurrences, (select count(*) from failure_events p"
                    + " where p.fingerprint = ? and p.first_seen >= ? and p.first_seen < ?"
                    + " and p.occurrences >= x.occurrences) from failure_events x where x.failure_id = ?",
                    new String[] { "text", "timestamptz", "timestamptz", "uuid" }, isolated[1],
                    ts(onset, -config.baseRateLookback().toSeconds()), ts(onset, -config.window().toSeconds()),
                    isolated[0]);
            plans.add(c, "episodesOfCalls", "select f.call_id, " + prefixed("e") + " from failure_event_calls"
                    + " f join failure_events e on e.failure_id = f.failure_id where f.call_id = any (?)"
                    + " and e.failure_id <> ?", new String[] { "text[]", "uuid" },
                    c.createArrayOf("text", fallbackCalls.toArray()), cause[0]);
            plans.add(c, "baseline calls", "select count(*) from llm_calls where deployment = ?"
                    + " and provider = ? and success and started_at >= ? and started_at < ?",
                    new String[] { "text", "text", "timestamptz", "timestamptz" }, effect[3], effect[2],
                    ts(causeOnset, -config.baselineWindow().toSeconds()), causeOnset);
            plans.add(c, "baseline quality failures", "select count(*) from failure_events e join failure_event_calls"
                    + " f on f.failure_id = e.failure_id where e.provider = ? and e.category = 'QUALITY' and e.type = ?"
                    + " and e.deployment = ? and e.last_seen >= ? and f.seen_at >= ? and f.seen_at < ?",
                    new String[] { "text", "text", "text", "timestamptz", "timestamptz", "timestamptz" }, effect[2],
                    effect[4], effect[3], ts(causeOnset, -config.baselineWindow().toSeconds()),
                    ts(causeOnset, -config.baselineWindow().toSeconds()), causeOnset);
            if (cluster != null) {
                plans.add(c, "summarise members", "select " + prefixed("e") + " from correlation_members m"
                        + " join failure_events e on e.failure_id = m.failure_id where m.cluster_id = ?"
                        + " order by e.first_seen, e.failure_id", new String[] { "uuid" }, cluster);
                plans.add(c, "summarise edges to cluster", "update correlation_edges set cluster_id = ?"
                        + " where from_failure_id = any (?) and coalesce(to_failure_id, from_failure_id) = any (?)"
                        + " and cluster_id is distinct from ?",
                        new String[] { "uuid", "uuid[]", "uuid[]", "uuid" }, cluster, uuids(c, cause[0], effect[0]),
                        uuids(c, cause[0], effect[0]), cluster);
                plans.add(c, "summarise edges", "select from_failure_id, to_failure_id, kind, confidence,"
                        + " case when kind <> 'temporal' then evidence::text end from correlation_edges"
                        + " where cluster_id = ? order by edge_id",
                        new String[] { "uuid" }, cluster);
                plans.add(c, "keep active", "update correlation_clusters set last_seen = greatest(last_seen, ?),"
                        + " last_activity = greatest(last_activity, ?) where cluster_id = any (?)",
                        new String[] { "timestamptz", "timestamptz", "uuid[]" }, causeOnset, causeOnset,
                        uuids(c, cluster));
            }
            // The largest active cluster at the end of the stream, with the engine's own summary statements: the
            // summaries in the stream's tail read clusters like it.
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select k.cluster_id,"
                    + " (select count(*) from correlation_members m where m.cluster_id = k.cluster_id) members,"
                    + " (select count(*) from correlation_edges e where e.cluster_id = k.cluster_id) edges"
                    + " from correlation_clusters k where k.status = 'active' order by 2 desc, 1 limit 1")) {
                if (rs.next()) {
                    UUID largest = rs.getObject(1, UUID.class);
                    String what = String.format(Locale.ROOT, " (largest active cluster: %d members, %d edges)",
                            rs.getLong(2), rs.getLong(3));
                    String[] parts = FailureCorrelationEngine.SUMMARY_READ.split("; ", 2);
                    plans.add(c, "summary members" + what, parts[0], new String[] { "uuid" }, largest);
                    plans.add(c, "summary edges, moved and read" + what, parts[1],
                            new String[] { "uuid", "uuid", "uuid", "uuid" }, largest, largest, largest, largest);
                }
            }
            plans.add(c, "closeQuiet", "update correlation_clusters set status = 'closed',"
                    + " closed_at = ? where status = 'active' and last_activity < ? returning cluster_id",
                    new String[] { "timestamptz", "timestamptz" }, ts(onset, 86400 * 365), ts(onset, -86400 * 365));
            plans.add(c, "metrics", "select type, count(*), max(strength) from correlation_clusters"
                    + " where status = 'active' group by type", new String[0]);
            // The two trace walks: the first cut (a plain join) and the current LATERAL form, for the cascade's
            // episodes and for the largest seeded episode (a 429 storm); then the current form without V11's index
            // (dropped inside this transaction, which is rolled back).
            Object[][] walks = { { "cascade timeout", cause[0], "cascade quality", effect[0] },
                    { "largest seeded episode", storm, "largest seeded quality episode", largestQuality(c) } };
            // The walks as a step runs them since 2026-12-05: bounded by the episode's walk range, so that the
            // generic plan prunes llm_calls when it starts.
            for (Object[] w : walks) {
                Instant[] forward = walkRange(c, (UUID) w[1]);
                plans.add(c, "step's forward walk with episodes, bounded, " + w[0],
                        FailureCorrelationEngine.TRACE_WALK_FORWARD_BOUNDED, new String[] { "uuid", "int",
                                "timestamptz", "timestamptz", "timestamptz", "timestamptz", "uuid" },
                        new Object[] { w[1], config.maxTracedCalls(), Timestamp.from(forward[0]),
                                Timestamp.from(forward[1]), Timestamp.from(forward[0]), Timestamp.from(forward[1]),
                                w[1] });
                Instant[] back = walkRange(c, (UUID) w[3]);
                plans.add(c, "step's walk back, bounded, " + w[2], FailureCorrelationEngine.TRACE_WALK_BACK_BOUNDED,
                        new String[] { "uuid", "int", "timestamptz", "timestamptz", "timestamptz", "timestamptz" },
                        new Object[] { w[3], config.maxTracedCalls(), Timestamp.from(back[0]),
                                Timestamp.from(back[1]), Timestamp.from(back[0]), Timestamp.from(back[1]) });
            }
            for (String version : List.of("first cut", "current", "current without V11 index")) {
                if (version.startsWith("current without")) {
                    try (Statement st = c.createStatement()) {
                        st.execute("drop index failure_event_calls_recent");
                    }
                }
                for (Object[] w : walks) {
                    boolean first = version.equals("first cut");
                    plans.add(c, "linkCausal, " + version + ", " + w[0], first ? LINK_CAUSAL_FIRST_CUT : LINK_CAUSAL,
                            new String[] { "uuid", "int" }, new Object[] { w[1], config.maxTracedCalls() });
                    plans.add(c, "providerEpisodesSharingTraces, " + version + ", " + w[2],
                            first ? SHARING_FIRST_CUT : SHARING,
                            new String[] { "uuid", "int" }, new Object[] { w[3], config.maxTracedCalls() });
                }
            }
            c.rollback();
        }
        Files.writeString(Path.of("target", "bench-correlation-plans.md"), plans.detail());
        return plans.report();
    }

    private static final String COLUMNS = "failure_id, fingerprint, category, type, provider, deployment, first_seen,"
            + " last_seen";

    /** The range of started_at the step's walks of this episode read ({@link FailureCorrelationEngine#walkRange}). */
    private static Instant[] walkRange(Connection c, UUID episode) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(
                "select first_seen, last_seen from failure_events where failure_id = ?")) {
            st.setObject(1, episode);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return FailureCorrelationEngine.walkRange(rs.getTimestamp(1).toInstant(),
                        rs.getTimestamp(2).toInstant());
            }
        }
    }

    private static UUID largestQuality(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select failure_id from"
                + " failure_events where category = 'QUALITY' order by occurrences desc limit 1")) {
            rs.next();
            return rs.getObject(1, UUID.class);
        }
    }

    /** The engine's first cut of the trace walk from a provider episode (a plain join). */
    static final String LINK_CAUSAL_FIRST_CUT = "with failed as (select l.call_id, l.trace_id, l.started_at,"
            + " l.deployment, l.model from failure_event_calls f join llm_calls l on l.call_id = f.call_id"
            + " and l.started_at <= f.seen_at and l.started_at >= f.seen_at - interval '1 day'"
            + " where f.failure_id = ? and l.trace_id is not null order by f.seen_at desc limit ?)"
            + " select distinct on (n.call_id) n.call_id, n.trace_id, n.provider, n.model, n.deployment,"
            + " n.success, (extract(epoch from n.started_at - failed.started_at) * 1000)::bigint"
            + " from failed join llm_calls n on n.trace_id = failed.trace_id and n.call_id <> failed.call_id"
            + " and n.started_at >= failed.started_at and n.started_at <= failed.started_at + interval '1 hour'"
            + " and (n.deployment <> failed.deployment or n.model is distinct from failed.model)"
            + " order by n.call_id, n.started_at";

    /** The engine's own trace walks, as it runs them. */
    static final String LINK_CAUSAL = FailureCorrelationEngine.TRACE_WALK_FORWARD;

    /** The engine's first cut of the trace walk back from a quality episode. */
    static final String SHARING_FIRST_CUT = "with mine as (select l.trace_id, l.started_at"
            + " from failure_event_calls f join llm_calls l on l.call_id = f.call_id and l.started_at <= f.seen_at"
            + " and l.started_at >= f.seen_at - interval '1 day' where f.failure_id = ? and l.trace_id is not null"
            + " order by f.seen_at desc limit ?)"
            + " select distinct " + prefixed("e") + " from mine join llm_calls p on p.trace_id = mine.trace_id"
            + " and p.started_at <= mine.started_at and p.started_at >= mine.started_at - interval '1 hour'"
            + " and not p.success join failure_event_calls fp on fp.call_id = p.call_id"
            + " join failure_events e on e.failure_id = fp.failure_id and e.category = 'PROVIDER'";

    static final String SHARING = FailureCorrelationEngine.TRACE_WALK_BACK;

    private static String prefixed(String alias) {
        return alias + "." + COLUMNS.replace(", ", ", " + alias + ".");
    }

    private static java.sql.Array uuids(Connection c, Object... ids) throws SQLException {
        return c.createArrayOf("uuid", ids);
    }

    private static Timestamp ts(Timestamp at, long plusSeconds) {
        return Timestamp.from(at.toInstant().plusSeconds(plusSeconds));
    }

    /** Plans of each query, custom and generic, and whether any scans a big table sequentially. */
    static final class Plans {
        private final StringBuilder summary = new StringBuilder();
        private final StringBuilder detail = new StringBuilder();
        private int n;

        void add(Connection c, String name, String sql, String[] types, Object... params) throws SQLException {
            String numbered = sql;
            for (int i = 1; numbered.contains("?"); i++) {
                numbered = numbered.replaceFirst("\\?", "\\$" + i);
            }
            String statement = "bench_q" + n++;
            try (Statement st = c.createStatement()) {
                st.execute("prepare " + statement + (types.length == 0 ? "" : "(" + String.join(", ", types) + ")")
                        + " as " + numbered);
            }
            StringBuilder execute = new StringBuilder("execute " + statement);
            if (params.length > 0) {
                execute.append("(");
                for (int i = 0; i < params.length; i++) {
                    execute.append(i == 0 ? "" : ", ").append(literal(params[i]));
                }
                execute.append(")");
            }
            String custom = plan(c, "force_custom_plan", execute.toString());
            String generic = plan(c, "force_generic_plan", execute.toString());
            try (Statement st = c.createStatement()) {
                st.execute("deallocate " + statement);
            }
            summary.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s |%n", name, scans(custom),
                    time(custom), seqScans(generic).isEmpty() ? "none" : String.join(", ", seqScans(generic)),
                    time(generic)));
            detail.append("#### ").append(name).append(" (custom plan)\n```\n").append(custom).append("```\n");
            detail.append("#### ").append(name).append(" (generic plan)\n```\n").append(generic).append("```\n");
        }

        /** EXECUTE's arguments as literals: PREPARE declared their types. */
        private static String literal(Object value) throws SQLException {
            if (value instanceof Timestamp t) {
                return "'" + t.toInstant() + "'";
            }
            if (value instanceof java.sql.Array a) {
                return "'" + a.toString().replace("'", "''") + "'";
            }
            if (value instanceof Number) {
                return value.toString();
            }
            return "'" + value.toString().replace("'", "''") + "'";
        }

        private static String plan(Connection c, String mode, String execute) throws SQLException {
            StringBuilder text = new StringBuilder();
            try (Statement st = c.createStatement()) {
                st.execute("set plan_cache_mode = " + mode);
                try (ResultSet rs = st.executeQuery("explain (analyze, buffers) " + execute)) {
                    while (rs.next()) {
                        text.append(rs.getString(1)).append('\n');
                    }
                }
            }
            try (Statement st = c.createStatement()) {
                st.execute("reset plan_cache_mode");
            }
            return text.toString();
        }

        private static List<String> seqScans(String plan) {
            List<String> found = new ArrayList<>();
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("Seq Scan on (\\w+)").matcher(plan);
            while (m.find()) {
                found.add(m.group(1));
            }
            return found.stream().distinct().toList();
        }

        private static String scans(String plan) {
            List<String> found = new ArrayList<>();
            java.util.regex.Matcher m = java.util.regex.Pattern
                    .compile("(Seq Scan|Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)?(?: using (\\w+))? on (\\w+)")
                    .matcher(plan);
            while (m.find()) {
                String table = m.group(3).replaceAll("_\\d{8}$", "_<day>");
                found.add(m.group(1) + (m.group(2) != null ? " " + m.group(2).replaceAll("_\\d{8}_", "_<day>_") : "")
                        + " on " + table);
            }
            return String.join(", ", found.stream().distinct().toList());
        }

        private static String time(String plan) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("Execution Time: ([0-9.]+) ms").matcher(plan);
            return m.find() ? m.group(1) : "?";
        }

        String report() {
            return "Plans of the engine's queries at this scale (EXPLAIN ANALYZE, BUFFERS; with the engine's"
                    + " settings, sequential scans off; custom plan with the stream's parameters, and the generic"
                    + " plan a reused prepared statement may switch to):\n\n"
                    + "| query | scans (custom plan) | ms | seq scans (generic plan) | ms |\n|---|---|---|---|---|\n"
                    + summary + "\nFull plans: target/bench-correlation-plans.md\n";
        }

        String detail() {
            return detail.toString();
        }
    }
}
