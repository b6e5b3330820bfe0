package io.faultline.stack;

import org.awaitility.Awaitility;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A child process of the local stack, with its output in a log file and a bounded wait for readiness. */
public final class ManagedProcess implements AutoCloseable {

    /**
     * How long a started process may take to answer its health check. Not a performance bound: a process that dies
     * fails the wait at once with its log; LiteLLM's imports alone took over two minutes on a 2-core machine at load
     * 15, so the wait is generous enough for any machine CI runs on.
     */
    public static final Duration READY_WITHIN = Duration.ofMinutes(5);

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2)).build();

    private final String name;
    private final Process process;
    private final Path log;

    private ManagedProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    public static ManagedProcess start(String name, List<String> command, Map<String, String> env, Path workDir,
            Path logDir) {
        try {
            Files.createDirectories(logDir);
            Path log = logDir.resolve(name + ".log");
            ProcessBuilder builder = new ProcessBuilder(command).directory(workDir.toFile())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            builder.environment().putAll(env);
            return new ManagedProcess(name, builder.start(), log);
        } catch (IOException e) {
            throw new UncheckedIOException("could not start " + name + " (" + command.get(0) + ")", e);
        }
    }

    /** Waits until GET url answers 200, failing early with the log's tail if the process dies. */
    public ManagedProcess awaitHttpOk(String url, Duration timeout) {
        Awaitility.await(name + " ready at " + url).atMost(timeout).pollInterval(Duration.ofMillis(250))
                .until(() -> {
                    if (!process.isAlive()) {
                        throw new IllegalStateException(name + " exited with " + process.exitValue() + ":\n" + tail());
                    }
                    try {
                        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2))
                                .build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
                    } catch (IOException e) {
                        return false;
                    }
                });
        return this;
    }

    /** The operating system's id of the process (for /proc and jcmd). */
    public long pid() {
        return process.pid();
    }

    public boolean alive() {
        return process.isAlive();
    }

    /** SIGTERM, as Kubernetes stops a pod: returns at once; {@link #awaitExit} waits for the graceful stop. */
    public void terminate() {
        process.destroy();
    }

    /** Waits (bounded) for the process to end on its own; its exit code. */
    public int awaitExit(Duration within) throws InterruptedException {
        if (!process.waitFor(within.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException(name + " still running " + within + " after it was asked to stop:\n"
                    + tail());
        }
        return process.exitValue();
    }

    /** Hard stop, as a crash or an OOM kill would do: nothing gets a chance to flush. */
    public void kill() {
        process.destroyForcibly();
        waitFor();
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    private void waitFor() {
        try {
            process.waitFor(15, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public String tail() {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    public Path log() {
        return log;
    }

    /**
     * The environment that starts the packaged Faultline on {@code 127.0.0.1:port} against the given database (user
     * and password {@code postgres}, the embedded server's) with {@code apiKey} as its admin key; mutable, for extras.
     */
    public static Map<String, String> faultlineEnv(String jdbcUrl, int port, String apiKey) {
        Map<String, String> env = new java.util.HashMap<>();
        env.put("QUARKUS_DATASOURCE_JDBC_URL", jdbcUrl);
        env.put("QUARKUS_DATASOURCE_USERNAME", "postgres");
        env.put("QUARKUS_DATASOURCE_PASSWORD", "postgres");
        env.put("QUARKUS_HTTP_PORT", String.valueOf(port));
        env.put("QUARKUS_HTTP_HOST", "127.0.0.1");
        env.put("FAULTLINE_API_KEY", apiKey);
        return env;
    }

    /** Ports this JVM handed out: each is bound by a process only after a while, so it must not be handed out twice. */
    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** The lowest port chosen: below it lie the well-known and registered ports of services that may run here. */
    private static final int LOWEST = 20_000;

    /**
     * A port for a child process to listen on, outside the kernel's range of ephemeral ports. A port the kernel picked
     * for a socket bound to port 0 is an ephemeral one, which every outgoing connection of any process draws from: a
     * LiteLLM that spends a minute importing before it binds found its port taken by a client socket in the meantime
     * (a CI run, load 8: uvicorn's "address already in use", exit 3). Below that range only listeners take ports, so a
     * port checked free stays free unless another test process picks the same one; chosen at random, and checked by
     * binding it. Falls back to an ephemeral port when the range leaves no room below it.
     */
    public static int freePort() {
        int low = ephemeralLow();
        if (low - LOWEST >= 1_000) {
            java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
            for (int attempt = 0; attempt < 200; attempt++) {
                int port = random.nextInt(LOWEST, low);
                if (!HANDED_OUT.contains(port) && bindable(port) && HANDED_OUT.add(port)) {
                    return port;
                }
            }
        }
        try (ServerSocket socket = new ServerSocket(0)) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The first port of the ephemeral range (Linux: {@code net.ipv4.ip_local_port_range}); 32768 if unknown. */
    static int ephemeralLow() {
        try {
            // Read line by line: /proc reports a size of 0, and Files.readString read "3" of "32768\t60999".
            String range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).trim();
            return Integer.parseInt(range.split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 32_768;
        }
    }

    private static boolean bindable(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.bind(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
