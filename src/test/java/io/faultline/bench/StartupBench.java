package io.faultline.bench;

import io.faultline.stack.ManagedProcess;
import io.faultline.testing.EmbeddedPostgres;

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
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code make startup}: how long the packaged jar takes from {@code java -jar} to its first 200 on
 * {@code /q/health/ready}, and its RSS when idle, on an embedded PostgreSQL: on a fresh database (every migration
 * applied), on a migrated empty one, and on one holding a day of calls at {@code --calls-per-second} (generated in
 * SQL, spread over the last 24 hours: five providers, ten deployments, 500 users, 20 keys, 1 call in 10 a failure),
 * each with every JVM option set of {@code --java-opts} (separated by {@code |}). Reports the wall-clock time to
 * ready, Quarkus's own "started in", and the time the log says went to the schema and to the state rebuilt from the
 * database, median of {@code --runs}. Writes {@code target/startup/report.md}. 127.0.0.1 only.
 */
public final class StartupBench {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    private static final Pattern STARTED = Pattern.compile("started in ([0-9.]+)s");
    private static final Pattern DB = Pattern.compile("Schema checked in (\\d+) ms \\((\\d+) migrations applied\\);"
            + " state rebuilt from the database in (\\d+) ms");

    private StartupBench() {
    }

    private record Run(double readyS, double quarkusS, long schemaMs, long rebuildMs, int applied, double idleRssMb) {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            o.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        Path jar = Path.of(o.getOrDefault("jar", "target/quarkus-app/quarkus-run.jar")).toAbsolutePath();
        int runs = Integer.parseInt(o.getOrDefault("runs", "3"));
        double rate = Double.parseDouble(o.getOrDefault("calls-per-second", "12"));
        List<String> optionSets = Arrays.stream(o.getOrDefault("java-opts", "-Xmx512m").split("\\|"))
                .map(String::trim).toList();
        Path out = Path.of(o.getOrDefault("out", "target/startup"));
        Files.createDirectories(out);
        Path trained = train(jar, out);
        if (Boolean.parseBoolean(o.getOrDefault("train-only", "false"))) {
            System.out.println("[startup] trained class-data archive: " + trained);
            return;
        }
        String jdbc = EmbeddedPostgres.freshDatabase("startup");
        StringBuilder report = new StringBuilder(String.format(Locale.ROOT, """
                Start-up (%s): %d cores, load before %s, %s; median of %d starts per row (min-max).
                | database | JVM options | to ready s | Quarkus "started in" s | schema ms | state rebuilt ms | idle RSS MB |
                |---|---|---|---|---|---|---|
                """, Instant.now(), Runtime.getRuntime().availableProcessors(), Soak.loadavg(),
                System.getProperty("java.vm.name") + " " + System.getProperty("java.version"), runs));

        Run fresh = start(jar, jdbc, optionSets.get(0), out, true);
        row(report, "fresh (every migration applied)", optionSets.get(0), List.of(fresh));
        for (String opts : optionSets) {
            List<Run> empty = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                empty.add(start(jar, jdbc, opts, out, false));
            }
            row(report, "migrated, empty", opts, empty);
        }
        long calls = Math.round(rate * 86_400);
        long t0 = System.nanoTime();
        generateDay(jdbc, calls, rate);
        String day = String.format(Locale.ROOT, "a day of calls (%,d at %.0f/s)", calls, rate);
        System.out.printf(Locale.ROOT, "[startup] %s generated in %.0f s, load %s%n", day,
                (System.nanoTime() - t0) / 1e9, Soak.loadavg());
        for (String opts : optionSets) {
            List<Run> loaded = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                loaded.add(start(jar, jdbc, opts, out, false));
            }
            row(report, day, opts, loaded);
        }
        report.append(String.format(Locale.ROOT, "Load after: %s.%n", Soak.loadavg()));
        Files.writeString(out.resolve("report.md"), report);
        System.out.println(report);
    }

    /**
     * A training run that writes {@code app-trained.jsa} beside the jar: a dynamic class-data archive
     * ({@code -XX:ArchiveClassesAtExit}) of every class a real start loads, against a database, up to ready and
     * through a few ingest batches and reads, then a clean stop. Quarkus's own AppCDS archive
     * ({@code quarkus.package.jar.appcds.enabled}) is recorded by a build-time start that ends before runtime
     * initialisation, so the classes of Hibernate's boot, Flyway, the JDBC driver, the detectors and the HTTP layer,
     * more than half of what a start loads, are still read from the jars and verified at every start. The archive only
     * works with the JDK that wrote it and the same jar path, as Quarkus's does.
     */
    static Path train(Path jar, Path out) throws Exception {
        Path archive = jar.getParent().resolve("app-trained.jsa");
        Files.deleteIfExists(archive);
        String jdbc = EmbeddedPostgres.freshDatabase("cds_training");
        int port = ManagedProcess.freePort();
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "-XX:ArchiveClassesAtExit=" + archive, "-jar", jar.toString());
        long start = System.nanoTime();
        try (ManagedProcess p = ManagedProcess.start("faultline-training", command,
                ManagedProcess.faultlineEnv(jdbc, port, "startup-key"), jar.getParent(), out)) {
            String base = "http://127.0.0.1:" + port;
            p.awaitHttpOk(base + "/q/health/ready", ManagedProcess.READY_WITHIN);
            Soak.declare(base, "startup-key");
            URI ingest = URI.create(base + "/api/v1/calls");
            SoakWorkload workload = new SoakWorkload("training");
            try (RawHttpClient client = new RawHttpClient(ingest)) {
                for (int i = 0; i < 30; i++) {
                    int code = client.send(workload.next(ingest, "Bearer startup-key"));
                    if (code != 200) {
                        throw new IllegalStateException("training ingest answered " + code + ":\n" + p.tail());
                    }
                }
            }
            for (String read : List.of("/api/v1/failures", "/api/v1/failures/correlations", "/api/v1/predictions",
                    "/api/v1/budgets", "/q/metrics", "/q/health")) {
                HTTP.send(HttpRequest.newBuilder(URI.create(base + read)).header("Authorization", "Bearer startup-key")
                        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.discarding());
            }
        } // a clean stop (SIGTERM): the JVM writes the archive as it exits
        if (!Files.isRegularFile(archive) || Files.size(archive) == 0) {
            throw new IllegalStateException("the training run wrote no class-data archive at " + archive);
        }
        System.out.printf(Locale.ROOT, "[startup] training run: %s, %.0f MB, in %.1f s%n", archive,
                Files.size(archive) / 1048576.0, (System.nanoTime() - start) / 1e9);
        return archive;
    }

    /** One start; {@code declare}: also set the soak's budgets and batch expectations (stored, rebuilt at start). */
    private static Run start(Path jar, String jdbc, String opts, Path out, boolean declare) throws Exception {
        int port = ManagedProcess.freePort();
        Map<String, String> env = ManagedProcess.faultlineEnv(jdbc, port, "startup-key");
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(Arrays.asList(opts.split("\\s+")));
        command.addAll(List.of("-jar", jar.toString()));
        Files.deleteIfExists(out.resolve("faultline.log"));
        long start = System.nanoTime();
        ManagedProcess p = ManagedProcess.start("faultline", command, env, jar.getParent(), out);
        try {
            String ready = "http://127.0.0.1:" + port + "/q/health/ready";
            while (true) {
                if (!p.alive()) {
                    throw new IllegalStateException("Faultline exited:\n" + p.tail());
                }
                try {
                    if (HTTP.send(HttpRequest.newBuilder(URI.create(ready)).timeout(Duration.ofSeconds(2)).build(),
                            HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                        break;
                    }
                } catch (IOException notYet) {
                    // not listening yet
                }
                if (System.nanoTime() - start > ManagedProcess.READY_WITHIN.toNanos()) {
                    throw new IllegalStateException("not ready in time:\n" + p.tail());
                }
                Thread.sleep(20);
            }
            double readyS = (System.nanoTime() - start) / 1e9;
            if (declare) {
                Soak.declare("http://127.0.0.1:" + port, "startup-key");
            }
            Thread.sleep(10_000);
            String log = Files.readString(p.log());
            Matcher started = STARTED.matcher(log);
            Matcher db = DB.matcher(log);
            boolean hasDb = db.find();
            String status = Files.readString(Path.of("/proc", String.valueOf(p.pid()), "status"));
            double rss = status.lines().filter(l -> l.startsWith("VmRSS:")).mapToDouble(l -> Double.parseDouble(
                    l.substring(6).trim().split("\\s+")[0]) / 1024).findFirst().orElse(Double.NaN);
            Run run = new Run(readyS, started.find() ? Double.parseDouble(started.group(1)) : Double.NaN,
                    hasDb ? Long.parseLong(db.group(1)) : -1, hasDb ? Long.parseLong(db.group(3)) : -1,
                    hasDb ? Integer.parseInt(db.group(2)) : -1, rss);
            System.out.printf(Locale.ROOT, "[startup] %s: ready %.2f s, %s, load %s%n", opts, readyS, run,
                    Soak.loadavg());
            return run;
        } finally {
            p.close();
        }
    }

    /** A day of calls before now, at {@code rate} a second, in one INSERT ... SELECT. */
    private static void generateDay(String jdbc, long calls, double rate) throws Exception {
        try (Connection c = DriverManager.getConnection(jdbc, "postgres", "postgres");
                Statement st = c.createStatement()) {
            st.execute(String.format(Locale.ROOT, """
                    insert into llm_calls (call_id, started_at, ended_at, trace_id, provider, model, model_group,
                        deployment, api_base, call_type, stream, success, http_status, error_class, error_code,
                        error_message, latency_ms, ttft_ms, prompt_tokens, completion_tokens, reasoning_tokens,
                        cached_tokens, cost_usd, cache_hit, finish_reason, response_chars, user_ref, team_id,
                        api_key_hash, rate_limit_headers, requester_metadata, received_at)
                    select 'day-' || g, t, t + (400 + g %% 1700) * interval '1 ms', 'tr-' || (g / 4), p,
                        p || '-model-' || (g / 5 %% 2), p || '-model-' || (g / 5 %% 2), p || '-dep-' || (g / 10 %% 2),
                        'http://127.0.0.1:9/' || p, 'acompletion', false, g %% 10 <> 0,
                        case when g %% 10 = 0 then (array[429, 529, 500, 503, 400, 401, 408])[1 + (g / 10) %% 7]
                            else 200 end,
                        case when g %% 10 = 0 then (array['RateLimitError', 'InternalServerError',
                            'InternalServerError', 'ServiceUnavailableError', 'ContextWindowExceededError',
                            'AuthenticationError', 'Timeout'])[1 + (g / 10) %% 7] end,
                        case when g %% 10 = 0 then ((array[429, 529, 500, 503, 400, 401, 408])[1 + (g / 10) %% 7])::text
                            end,
                        case when g %% 10 = 0 then 'generated failure' end,
                        400 + g %% 1700, 120 + g %% 300,
                        case when g %% 10 = 0 then 0 else 300 + g %% 200 end,
                        case when g %% 10 = 0 then 0 else 40 + g %% 120 end, 0, case when g %% 3 = 0 then 128 else 0 end,
                        case when g %% 10 = 0 then 0 else 0.0001 end, false,
                        case when g %% 10 = 0 then null else 'stop' end, 400, 'user-' || (g %% 500),
                        'team-' || (g %% 5), md5((g %% 20)::text), '{}'::jsonb,
                        case when g %% 20 = 3 then jsonb_build_object('batch_id', 'nightly-' || (g %% 3))
                            else '{}'::jsonb end,
                        t + interval '1 second'
                    from (select g, (array['openai', 'anthropic', 'gemini', 'azure', 'bedrock'])[1 + g %% 5] as p,
                              now() - interval '24 hours' + g * interval '1 second' / %f as t
                          from generate_series(0, %d) g) s
                    """, rate, calls - 1));
            // What ingest records as it stores calls (EpisodeFolder.touch): every deployment and when it was last seen.
            st.execute("insert into provider_deployments (provider, deployment, last_seen) select provider, deployment,"
                    + " max(ended_at) from llm_calls group by 1, 2 on conflict (provider, deployment) do update"
                    + " set last_seen = greatest(provider_deployments.last_seen, excluded.last_seen)");
            st.execute("analyze llm_calls");
            try (ResultSet rs = st.executeQuery("select count(*) from llm_calls")) {
                rs.next();
                System.out.println("[startup] llm_calls holds " + rs.getLong(1) + " rows");
            }
        }
    }

    private static void row(StringBuilder report, String database, String opts, List<Run> runs) {
        report.append(String.format(Locale.ROOT, "| %s | `%s` | %s | %s | %s | %s | %s |%n", database, opts,
                stat(runs.stream().mapToDouble(Run::readyS).toArray(), "%.2f"),
                stat(runs.stream().mapToDouble(Run::quarkusS).toArray(), "%.2f"),
                stat(runs.stream().mapToDouble(Run::schemaMs).toArray(), "%.0f"),
                stat(runs.stream().mapToDouble(Run::rebuildMs).toArray(), "%.0f"),
                stat(runs.stream().mapToDouble(Run::idleRssMb).toArray(), "%.0f")));
    }

    private static String stat(double[] v, String format) {
        double[] c = v.clone();
        Arrays.sort(c);
        double median = c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
        String m = String.format(Locale.ROOT, format, median);
        return c.length == 1 ? m : m + " (" + String.format(Locale.ROOT, format, c[0]) + "-" + String.format(
                Locale.ROOT, format, c[c.length - 1]) + ")";
    }
}
