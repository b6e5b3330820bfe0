package io.faultline.bench;

import io.faultline.stack.ManagedProcess;
import io.faultline.testing.EmbeddedPostgres;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code make soak}: the packaged Faultline jar on an embedded PostgreSQL, every detector on (the defaults), fed the
 * {@link SoakWorkload} through the ingest API plus signals, budget and batch declarations, dashboard reads and a
 * Prometheus scrape every 15 s. First a closed-loop burst measures the maximum ingest rate on this machine now; the
 * soak then runs open-loop at half of it for {@code --minutes}, and samples every minute: RSS and threads from
 * {@code /proc}, heap after a full GC (jcmd GC.run, then the live set that GC left, {@code jvm_gc_live_data_size}; the
 * heap used as the scrape after it reads it is kept beside), open database connections
 * ({@code pg_stat_activity}), every bounded map ({@code faultline_memory_entries}), and the batch latency of the
 * minute (measured from each batch's scheduled time, so a stall is not hidden by the client waiting for it).
 * Writes {@code target/soak/soak.csv} and {@code target/soak/summary.md}; {@code bench/plot_soak.py} draws the PNG.
 * Talks to 127.0.0.1 only. A measurement, not a test: it judges the series against the targets of issue 15 and says
 * so, and exits non-zero only when calls were lost or the process died.
 */
public final class Soak {

    private static final AtomicLong LOGGED = new AtomicLong();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final String KEY = "soak-admin-key";
    private static final Pattern METRIC = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})? ([-+0-9.eEInfNa]+)");

    private Soak() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = options(args);
        double minutes = Double.parseDouble(o.getOrDefault("minutes", "30"));
        int warmupMinutes = Integer.parseInt(o.getOrDefault("warmup-minutes", String.valueOf((int) Math.max(1,
                Math.round(minutes / 6)))));
        int burstSeconds = Integer.parseInt(o.getOrDefault("burst-seconds", "30"));
        double fraction = Double.parseDouble(o.getOrDefault("fraction", "0.5"));
        Path out = Path.of(o.getOrDefault("out", "target/soak"));
        String javaOpts = o.getOrDefault("java-opts", "-Xmx512m");
        Files.createDirectories(out);

        log("Starting an embedded PostgreSQL...");
        String jdbc = EmbeddedPostgres.freshDatabase("soak");
        int port = ManagedProcess.freePort();
        Map<String, String> env = ManagedProcess.faultlineEnv(jdbc, port, KEY);
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(Arrays.asList(javaOpts.trim().split("\\s+")));
        command.addAll(List.of("-jar", Path.of(o.getOrDefault("jar", "target/quarkus-app/quarkus-run.jar"))
                .toAbsolutePath().toString()));
        Files.deleteIfExists(out.resolve("faultline.log"));
        String base = "http://127.0.0.1:" + port;
        long t0 = System.nanoTime();
        ManagedProcess faultline = ManagedProcess.start("faultline", command, env, out, out)
                .awaitHttpOk(base + "/q/health/ready", ManagedProcess.READY_WITHIN);
        log(String.format(Locale.ROOT, "Faultline ready in %.1f s (pid %d, %s)", (System.nanoTime() - t0) / 1e9,
                faultline.pid(), javaOpts));
        int status = 0;
        try {
            status = soak(faultline, base, jdbc, minutes, warmupMinutes, burstSeconds, fraction, out, o);
        } finally {
            faultline.close();
        }
        System.exit(status);
    }

    private static int soak(ManagedProcess faultline, String base, String jdbc, double minutes, int warmupMinutes,
            int burstSeconds, double fraction, Path out, Map<String, String> o) throws Exception {
        URI ingest = URI.create(base + "/api/v1/calls");
        String auth = "Bearer " + KEY;
        declare(base, KEY);
        SoakWorkload workload = new SoakWorkload("soak" + Long.toString(System.currentTimeMillis(), 36));
        Sample idle = sample(faultline, base, jdbc);
        log(String.format(Locale.ROOT, "Idle: RSS %.0f MB, heap after GC %.0f MB, %d threads", idle.rssMb,
                idle.heapAfterGcMb, idle.liveThreads));

        // 1. The maximum: closed loop, 4 clients, a short warm-up then burstSeconds measured.
        AtomicLong failed = new AtomicLong();
        closedLoop(workload, ingest, auth, 4, 10, failed);
        long before = workload.calls();
        double seconds = closedLoop(workload, ingest, auth, 4, burstSeconds, failed);
        double max = (workload.calls() - before) / seconds;
        // --rate: a fixed rate instead (to compare JVM options at the rate of an earlier soak)
        double rate = o.containsKey("rate") ? Double.parseDouble(o.get("rate")) : max * fraction;
        log(String.format(Locale.ROOT, "Maximum ingest rate (closed loop, 4 clients, %d s): %.0f calls/s; soaking at"
                + " %.0f%% = %.0f calls/s (%.1f batches/s) for %.0f min, load %s", burstSeconds, max,
                fraction * 100, rate, rate / SoakWorkload.BATCH, minutes, loadavg()));

        // 2. The soak: open loop at `rate`, side traffic, a sample each minute.
        AtomicLong sent = new AtomicLong();
        AtomicLong answered = new AtomicLong();
        AtomicLong non200 = new AtomicLong();
        Histogram[] minute = { new Histogram(3_600_000_000L, 3) };
        ThreadLocal<RawHttpClient> clients = ThreadLocal.withInitial(() -> client(ingest));
        ThreadPoolExecutor senders = (ThreadPoolExecutor) Executors.newFixedThreadPool(8);
        ScheduledExecutorService pacer = Executors.newScheduledThreadPool(2);
        long periodNanos = (long) (1e9 * SoakWorkload.BATCH / rate);
        long start = System.nanoTime();
        AtomicLong tick = new AtomicLong();
        long acceptedBefore = workload.calls();
        pacer.scheduleAtFixedRate(() -> {
            // catch up with every batch due by now, each timed from its own due time
            long due = (System.nanoTime() - start) / periodNanos;
            for (long k; (k = tick.get()) <= due; tick.incrementAndGet()) {
                long scheduled = start + k * periodNanos;
                sent.incrementAndGet();
                senders.execute(() -> {
                    try {
                        int code = clients.get().send(workload.next(ingest, auth));
                        if (code == 200) {
                            answered.incrementAndGet();
                        } else {
                            non200.incrementAndGet();
                        }
                    } catch (IOException e) {
                        non200.incrementAndGet();
                        clients.remove();
                    }
                    long micros = (System.nanoTime() - scheduled) / 1000;
                    synchronized (minute) {
                        minute[0].recordValue(Math.min(micros, 3_599_999_999L));
                    }
                });
            }
        }, 0, Math.max(1, periodNanos / 4), TimeUnit.NANOSECONDS);
        ExecutorService side = Executors.newSingleThreadExecutor();
        SideTraffic traffic = new SideTraffic(base, auth);
        pacer.scheduleAtFixedRate(() -> side.execute(traffic::tick), 1, 5, TimeUnit.SECONDS);

        List<Sample> samples = new ArrayList<>();
        long minuteNanos = 60_000_000_000L;
        int total = (int) Math.ceil(minutes);
        boolean died = false;
        for (int m = 1; m <= total; m++) {
            long wake = start + m * minuteNanos;
            while (System.nanoTime() < wake) {
                Thread.sleep(Math.max(1, Math.min(1000, (wake - System.nanoTime()) / 1_000_000)));
            }
            Histogram h;
            synchronized (minute) {
                h = minute[0];
                minute[0] = new Histogram(3_600_000_000L, 3);
            }
            if (!faultline.alive()) {
                died = true;
                log("Faultline died:\n" + faultline.tail());
                break;
            }
            Sample s = sample(faultline, base, jdbc);
            s.minute = m;
            s.batches = h.getTotalCount();
            s.callsPerSecond = h.getTotalCount() * SoakWorkload.BATCH / 60.0;
            s.p50Ms = h.getValueAtPercentile(50) / 1000.0;
            s.p99Ms = h.getValueAtPercentile(99) / 1000.0;
            s.maxMs = h.getMaxValue() / 1000.0;
            s.non200 = non200.get();
            s.backlog = senders.getQueue().size();
            samples.add(s);
            log(String.format(Locale.ROOT, "min %2d: %5.0f calls/s p50 %6.1f ms p99 %7.1f ms | RSS %4.0f MB heap"
                    + " after GC %4.0f MB | %3d threads %2d db conns | backlog %d non-200 %d | load %s", m,
                    s.callsPerSecond, s.p50Ms, s.p99Ms, s.rssMb, s.heapAfterGcMb, s.liveThreads, s.dbConnections,
                    s.backlog, s.non200, s.load));
            writeCsv(out.resolve("soak.csv"), samples);
        }
        pacer.shutdownNow();
        senders.shutdown();
        senders.awaitTermination(2, TimeUnit.MINUTES);
        side.shutdownNow();
        long stored = count(jdbc, "select count(*) from llm_calls");
        long acceptedCalls = answered.get() * SoakWorkload.BATCH;
        String summary = summary(samples, warmupMinutes, idle, max, rate, fraction, acceptedCalls, stored,
                acceptedBefore, traffic);
        Files.writeString(out.resolve("summary.md"), summary);
        System.out.println(summary);
        boolean lost = stored < acceptedBefore + acceptedCalls;
        return died || lost ? 1 : 0;
    }

    // ------------------------------------------------------------------------------------------------ load

    private static RawHttpClient client(URI uri) {
        try {
            return new RawHttpClient(uri);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Sends batches from {@code clients} threads, each the next as soon as its last returned; the seconds. */
    private static double closedLoop(SoakWorkload workload, URI ingest, String auth, int clients, int seconds,
            AtomicLong failed) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        long start = System.nanoTime();
        long end = start + seconds * 1_000_000_000L;
        List<java.util.concurrent.Future<?>> futures = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            futures.add(pool.submit(() -> {
                try (RawHttpClient client = new RawHttpClient(ingest)) {
                    while (System.nanoTime() < end) {
                        if (client.send(workload.next(ingest, auth)) != 200) {
                            failed.incrementAndGet();
                        }
                    }
                }
                return null;
            }));
        }
        for (java.util.concurrent.Future<?> f : futures) {
            f.get();
        }
        pool.shutdown();
        return (System.nanoTime() - start) / 1e9;
    }

    /** Budgets per team (small enough to be crossed), one per model, and batch expectations. */
    static void declare(String base, String key) throws Exception {
        for (int t = 0; t < 5; t++) {
            send("PUT", base + "/api/v1/budgets/team/team-" + t,
                    "{\"period\":\"day\",\"amountUsd\":" + (1 + t) + ",\"warnAt\":[0.5,0.8,1.0]}", key);
        }
        send("PUT", base + "/api/v1/budgets/model/openai-model-0", "{\"period\":\"month\",\"amountUsd\":50}", key);
        for (int b = 0; b < 3; b++) {
            send("PUT", base + "/api/v1/batches/nightly-" + b, "{\"expectedCostUsd\":0.05}", key);
        }
    }

    /** Signals every 5 s, an embeddings window every 30 s, dashboard reads and a Prometheus scrape every 15 s. */
    static final class SideTraffic {
        private final String base;
        private final String auth;
        private long n;
        final AtomicLong signals = new AtomicLong();
        final AtomicLong reads = new AtomicLong();
        final AtomicLong errors = new AtomicLong();

        SideTraffic(String base, String auth) {
            this.base = base;
            this.auth = auth;
        }

        void tick() {
            long i = n++;
            String now = Instant.now().toString();
            try {
                double top = 0.8 - (i % 60 > 50 ? 0.4 : 0) + (i % 7) / 100.0;
                ok(send("POST", base + "/api/v1/signals/retrieval", String.format(Locale.ROOT,
                        "{\"signalId\":\"r-%d-%d\",\"index\":\"docs-%d\",\"at\":\"%s\",\"topScore\":%.3f,"
                                + "\"meanScore\":%.3f,\"hits\":3,\"k\":5}", System.nanoTime(), i, i % 3, now, top,
                        top * 0.7)), signals);
                ok(send("POST", base + "/api/v1/signals/index", String.format(Locale.ROOT,
                        "{\"signalId\":\"x-%d-%d\",\"index\":\"docs-%d\",\"lastUpdatedAt\":\"%s\",\"at\":\"%s\","
                                + "\"maxAge\":\"PT24H\",\"heartbeatTimeout\":\"PT2H\"}", System.nanoTime(), i, i % 3,
                        Instant.now().minus(Duration.ofHours(i % 30)), now)), signals);
                Instant started = Instant.now().minusSeconds(600);
                ok(send("POST", base + "/api/v1/signals/ingestion", String.format(Locale.ROOT,
                        "{\"signalId\":\"g-%d-%d\",\"pipeline\":\"crawl-%d\",\"runId\":\"run-%d-%d\",\"status\":\"%s\","
                                + "\"startedAt\":\"%s\",\"finishedAt\":\"%s\",\"expectedEvery\":\"PT1H\"%s}",
                        System.nanoTime(), i, i % 3, System.nanoTime(), i, i % 9 == 0 ? "failed" : "succeeded",
                        started, started.plusSeconds(300), i % 9 == 0 ? ",\"error\":\"connection reset\"" : "")),
                        signals);
                if (i % 6 == 0) {
                    StringBuilder vectors = new StringBuilder();
                    java.util.SplittableRandom r = new java.util.SplittableRandom(i);
                    for (int v = 0; v < 20; v++) {
                        vectors.append(v == 0 ? "[" : ",[");
                        for (int d = 0; d < 16; d++) {
                            vectors.append(d == 0 ? "" : ",").append(String.format(Locale.ROOT, "%.4f",
                                    r.nextGaussian() + (i > 200 ? 0.5 : 0)));
                        }
                        vectors.append(']');
                    }
                    ok(send("POST", base + "/api/v1/signals/embeddings", "{\"signalId\":\"e-" + System.nanoTime()
                            + "\",\"space\":\"kb\",\"at\":\"" + now + "\",\"vectors\":[" + vectors + "]}"), signals);
                }
                if (i % 3 == 0) {
                    ok(get(base + "/q/metrics"), reads);
                    ok(get(base + "/api/v1/failures?limit=50"), reads);
                    ok(get(base + "/api/v1/failures/summary"), reads);
                    ok(get(base + "/api/v1/calls/stats"), reads);
                    ok(get(base + "/api/v1/budgets"), reads);
                }
            } catch (Exception e) {
                failed(e);
            }
        }

        private void ok(int status, AtomicLong counter) {
            if (status / 100 == 2) {
                counter.incrementAndGet();
            } else {
                errors.incrementAndGet();
            }
        }

        private void failed(Exception e) {
            if (e instanceof InterruptedException) {
                return; // the soak is over: shutdownNow() interrupted a request in flight
            }
            if (errors.incrementAndGet() <= 5) {
                log("side traffic failed: " + e);
            }
        }

        private int get(String url) throws Exception {
            return HTTP.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", auth)
                    .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        }
    }

    private static int send(String method, String url, String body) throws Exception {
        return send(method, url, body, KEY);
    }

    private static int send(String method, String url, String body, String key) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization",
                "Bearer " + key).header("Content-Type", "application/json").timeout(Duration.ofSeconds(30))
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers
                        .ofString());
        if (r.statusCode() / 100 != 2 && LOGGED.incrementAndGet() <= 10) {
            log(method + " " + url + " answered " + r.statusCode() + ": " + r.body());
        }
        return r.statusCode();
    }

    // -------------------------------------------------------------------------------------------- sampling

    static final class Sample {
        int minute;
        long batches;
        double callsPerSecond;
        double p50Ms;
        double p99Ms;
        double maxMs;
        long non200;
        int backlog;
        double rssMb;
        double heapAfterGcMb;
        double heapUsedAtScrapeMb;
        double heapCommittedMb;
        double nonHeapMb;
        long liveThreads;
        long osThreads;
        long dbConnections;
        double gcPauseSeconds;
        double sloRollupSeconds;
        long sloRollupRuns;
        String load;
        final Map<String, Double> maps = new TreeMap<>();
    }

    static Sample sample(ManagedProcess p, String base, String jdbc) throws Exception {
        Sample s = new Sample();
        jcmd(p.pid(), "GC.run");
        Map<String, Double> m = scrape(base);
        String status = Files.readString(Path.of("/proc", String.valueOf(p.pid()), "status"));
        s.rssMb = procKb(status, "VmRSS") / 1024.0;
        s.osThreads = (long) procKb(status, "Threads");
        // The live set the full GC left: Micrometer's gauge set by the GC's own notification. The heap used read
        // from the scrape also holds what the service allocated between the GC and the scrape (under load, a scrape
        // that waits a second or more counted tens of MB of fresh garbage as "after GC"); kept beside it.
        s.heapUsedAtScrapeMb = sum(m, "jvm_memory_used_bytes", "area=\"heap\"") / 1048576.0;
        double live = sum(m, "jvm_gc_live_data_size_bytes", "") / 1048576.0;
        s.heapAfterGcMb = live > 0 ? live : s.heapUsedAtScrapeMb;
        s.heapCommittedMb = sum(m, "jvm_memory_committed_bytes", "area=\"heap\"") / 1048576.0;
        s.nonHeapMb = sum(m, "jvm_memory_used_bytes", "area=\"nonheap\"") / 1048576.0;
        s.liveThreads = (long) sum(m, "jvm_threads_live_threads", "");
        s.gcPauseSeconds = sum(m, "jvm_gc_pause_seconds_sum", "");
        // The SLO rollup's runs on this replica and their time (the soak runs one): each run's cost must not grow.
        s.sloRollupSeconds = sum(m, "faultline_slo_rollup_duration_seconds_sum", "");
        s.sloRollupRuns = (long) sum(m, "faultline_slo_rollup_duration_seconds_count", "");
        for (Map.Entry<String, Double> e : m.entrySet()) {
            if (e.getKey().startsWith("faultline_memory_entries{")) {
                Matcher name = Pattern.compile("map=\"([^\"]+)\"").matcher(e.getKey());
                if (name.find()) {
                    s.maps.put(name.group(1), e.getValue());
                }
            }
        }
        s.dbConnections = count(jdbc, "select count(*) from pg_stat_activity where datname = current_database()"
                + " and pid <> pg_backend_pid()");
        s.load = loadavg();
        return s;
    }

    private static void jcmd(long pid, String what) throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                String.valueOf(pid), what).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
    }

    private static Map<String, Double> scrape(String base) throws Exception {
        String body = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/q/metrics")).timeout(Duration.ofSeconds(
                30)).build(), HttpResponse.BodyHandlers.ofString()).body();
        Map<String, Double> out = new LinkedHashMap<>();
        for (String line : body.split("\n")) {
            Matcher m = METRIC.matcher(line);
            if (!line.startsWith("#") && m.find()) {
                try {
                    out.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3)));
                } catch (NumberFormatException ignored) {
                    // NaN or +Inf
                }
            }
        }
        return out;
    }

    private static double sum(Map<String, Double> metrics, String name, String labelContains) {
        double total = 0;
        for (Map.Entry<String, Double> e : metrics.entrySet()) {
            String k = e.getKey();
            if ((k.equals(name) || k.startsWith(name + "{")) && k.contains(labelContains)) {
                total += e.getValue();
            }
        }
        return total;
    }

    private static double procKb(String status, String field) {
        for (String line : status.split("\n")) {
            if (line.startsWith(field + ":")) {
                return Double.parseDouble(line.substring(field.length() + 1).trim().split("\\s+")[0]);
            }
        }
        return Double.NaN;
    }

    static String loadavg() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }

    private static long count(String jdbc, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(jdbc, "postgres", "postgres");
                Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    // --------------------------------------------------------------------------------------------- output

    private static void writeCsv(Path file, List<Sample> samples) throws IOException {
        TreeSet<String> maps = new TreeSet<>();
        samples.forEach(s -> maps.addAll(s.maps.keySet()));
        StringBuilder csv = new StringBuilder("minute,calls_per_s,batches,p50_ms,p99_ms,max_ms,non200,backlog,rss_mb,"
                + "heap_after_gc_mb,heap_committed_mb,nonheap_mb,live_threads,os_threads,db_connections,"
                + "gc_pause_s_total,load1,heap_used_at_scrape_mb,slo_rollup_s_total,slo_rollup_runs");
        maps.forEach(name -> csv.append(",map:").append(name));
        csv.append('\n');
        for (Sample s : samples) {
            csv.append(String.format(Locale.ROOT, "%d,%.0f,%d,%.2f,%.2f,%.2f,%d,%d,%.1f,%.1f,%.1f,%.1f,%d,%d,%d,%.3f,%s",
                    s.minute, s.callsPerSecond, s.batches, s.p50Ms, s.p99Ms, s.maxMs, s.non200, s.backlog, s.rssMb,
                    s.heapAfterGcMb, s.heapCommittedMb, s.nonHeapMb, s.liveThreads, s.osThreads, s.dbConnections,
                    s.gcPauseSeconds, s.load.split(" ")[0]));
            csv.append(String.format(Locale.ROOT, ",%.1f,%.3f,%d", s.heapUsedAtScrapeMb, s.sloRollupSeconds,
                    s.sloRollupRuns));
            for (String name : maps) {
                Double v = s.maps.get(name);
                csv.append(',').append(v == null ? "" : String.valueOf(v.longValue()));
            }
            csv.append('\n');
        }
        Files.writeString(file, csv);
    }

    private static String summary(List<Sample> all, int warmup, Sample idle, double max, double rate,
            double fraction, long accepted, long stored, long burstCalls, SideTraffic traffic) {
        List<Sample> s = all.stream().filter(x -> x.minute > warmup).toList();
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, """
                Soak (%s): %d minutes sampled, warm-up %d min excluded from the judgements below; %d cores, load at
                the end %s. Maximum ingest rate (closed loop, 4 clients): %.0f calls/s; soak rate %.0f%% of it =
                %.0f calls/s in batches of %d.
                Calls accepted during the soak %d (+%d in the burst), stored %d: %s. Side traffic: %d signals, %d
                reads, %d errors.
                Idle before the soak: RSS %.0f MB, heap after GC %.1f MB, %d live threads.
                """, Instant.now(), all.size(), warmup, Runtime.getRuntime().availableProcessors(), loadavg(), max,
                fraction * 100, rate, SoakWorkload.BATCH, accepted, burstCalls, stored,
                stored >= burstCalls + accepted ? "nothing lost" : "CALLS LOST", traffic.signals.get(),
                traffic.reads.get(), traffic.errors.get(), idle.rssMb, idle.heapAfterGcMb, idle.liveThreads));
        if (s.size() < 2) {
            return out.append("Too few samples after warm-up to judge.\n").toString();
        }
        out.append("\n| series (after warm-up) | first | min | max | last | spread (max-min)/min | target | verdict |\n");
        out.append("|---|---|---|---|---|---|---|---|\n");
        row(out, "RSS MB", s, x -> x.rssMb, 0.10, "flat within 10%");
        row(out, "heap after GC MB", s, x -> x.heapAfterGcMb, 0.10, "flat within 10%");
        row(out, "live threads", s, x -> (double) x.liveThreads, 0.0, "no growth");
        row(out, "db connections", s, x -> (double) x.dbConnections, 0.0, "no growth");
        int third = Math.max(1, s.size() / 3);
        double p99First = median(s.subList(0, third).stream().mapToDouble(x -> x.p99Ms).toArray());
        double p99Last = median(s.subList(s.size() - third, s.size()).stream().mapToDouble(x -> x.p99Ms).toArray());
        double loadFirst = median(s.subList(0, third).stream().mapToDouble(x -> Double.parseDouble(
                x.load.split(" ")[0])).toArray());
        double loadLast = median(s.subList(s.size() - third, s.size()).stream().mapToDouble(x -> Double.parseDouble(
                x.load.split(" ")[0])).toArray());
        out.append(String.format(Locale.ROOT, "| p99 batch ms, median of first vs last third | %.1f | | | %.1f |"
                + " ratio %.2f | flat | %s |%n", p99First, p99Last, p99Last / p99First,
                p99Last <= p99First * 1.5 ? "flat (within 1.5x)" : "GREW"));
        out.append(String.format(Locale.ROOT, "%nLoad (1-min) median over the first third %.2f, last third %.2f.%n",
                loadFirst, loadLast));
        out.append("\nBounded maps (entries), first sample after warm-up -> max -> last:\n");
        for (String name : new TreeSet<>(s.get(s.size() - 1).maps.keySet())) {
            double first = s.get(0).maps.getOrDefault(name, 0.0);
            double mx = s.stream().mapToDouble(x -> x.maps.getOrDefault(name, 0.0)).max().orElse(0);
            double last = s.get(s.size() - 1).maps.getOrDefault(name, 0.0);
            out.append(String.format(Locale.ROOT, "- %s: %.0f -> %.0f -> %.0f%n", name, first, mx, last));
        }
        return out.toString();
    }

    private static void row(StringBuilder out, String name, List<Sample> s, java.util.function.ToDoubleFunction<Sample> f,
            double tolerance, String target) {
        double[] v = s.stream().mapToDouble(f).toArray();
        double min = Arrays.stream(v).min().orElse(0);
        double max = Arrays.stream(v).max().orElse(0);
        double spread = min == 0 ? 0 : (max - min) / min;
        String verdict;
        if (tolerance > 0) {
            verdict = spread <= tolerance ? "flat" : "NOT FLAT";
        } else {
            // growth: the last third's median above the first third's (one sample's pool or worker churn is
            // not growth; a leak moves the median)
            int third = Math.max(1, v.length / 3);
            double first = median(Arrays.copyOfRange(v, 0, third));
            double last = median(Arrays.copyOfRange(v, v.length - third, v.length));
            verdict = last <= first ? String.format(Locale.ROOT, "no growth (median %.0f -> %.0f)", first, last)
                    : String.format(Locale.ROOT, "GREW (median %.0f -> %.0f)", first, last);
        }
        out.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.1f | %.1f | %.1f%% | %s | %s |%n", name, v[0],
                min, max, v[v.length - 1], spread * 100, target, verdict));
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c.length == 0 ? Double.NaN : c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            options.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        return options;
    }

    private static void log(String line) {
        System.out.println("[soak " + Instant.now().toString().substring(11, 19) + "] " + line);
    }
}
