package io.faultline.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real PostgreSQL server of the machine's own installation (Debian's {@code postgresql} package, in
 * {@code /usr/lib/postgresql/<version>/bin}) in a cluster of its own under a temporary folder, listening on
 * 127.0.0.1 only, that a test can stop and start again: the embedded one cannot be stopped under a running
 * Faultline. PostgreSQL refuses to run as root; as root (CI containers, this machine) every command runs as the
 * {@code postgres} user through {@code runuser}.
 */
public final class PostgresServer implements AutoCloseable {

    private static final long COMMAND_TIMEOUT_S = 120;

    private final Path bin;
    private final Path dir;
    private final int port;
    private boolean running;

    private PostgresServer(Path bin, Path dir, int port) {
        this.bin = bin;
        this.dir = dir;
        this.port = port;
    }

    /**
     * A new cluster (initdb, trust authentication on loopback), not started yet. It lives in the system's temporary
     * folder: the {@code postgres} user must reach it, which a checkout under a private home folder would not let it,
     * and the socket path must stay short.
     */
    public static PostgresServer create(int port) {
        Path bin = binaries();
        try {
            Path dir = Files.createTempDirectory("faultline-pg-");
            PostgresServer server = new PostgresServer(bin, dir, port);
            if (root()) {
                run(List.of("chown", "postgres", dir.toString()), false);
            }
            server.pg(List.of(bin.resolve("initdb").toString(), "-D", dir.resolve("data").toString(), "-U",
                    "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"));
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The newest installed major version. */
    static Path binaries() {
        Path root = Path.of("/usr/lib/postgresql");
        try (Stream<Path> versions = Files.list(root)) {
            return versions.filter(v -> Files.isExecutable(v.resolve("bin/pg_ctl")))
                    .max(Comparator.comparingInt(v -> Integer.parseInt(v.getFileName().toString().replaceAll("\\D",
                            "0"))))
                    .map(v -> v.resolve("bin"))
                    .orElseThrow(() -> new IllegalStateException("no PostgreSQL under " + root));
        } catch (IOException e) {
            throw new IllegalStateException("PostgreSQL is not installed (" + root + " is missing): `.ci/run`"
                    + " installs the `postgresql` package; on another machine `apt-get install postgresql`", e);
        }
    }

    public void start() {
        pg(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-w", "-t", "60", "-l",
                dir.resolve("server.log").toString(), "-o",
                "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
                "start"));
        running = true;
    }

    /** A fast shutdown: sessions are ended, new connections are refused, as when the database is stopped. */
    public void stop() {
        pg(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-w", "-t", "60", "-m",
                "fast", "stop"));
        running = false;
    }

    public boolean running() {
        return running;
    }

    public int port() {
        return port;
    }

    public String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
    }

    @Override
    public void close() {
        try {
            if (running) {
                stop();
            }
        } finally {
            try (Stream<Path> paths = Files.walk(dir)) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException ignored) {
                // a temporary folder: the system cleans what is left
            }
        }
    }

    private void pg(List<String> command) {
        run(command, root());
    }

    private static boolean root() {
        return "root".equals(System.getProperty("user.name"));
    }

    private static void run(List<String> command, boolean asPostgres) {
        List<String> full = new ArrayList<>();
        if (asPostgres) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(command);
        try {
            Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(COMMAND_TIMEOUT_S, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("timed out: " + full);
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException(full + " exited with " + p.exitValue() + ":\n" + new String(out));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
