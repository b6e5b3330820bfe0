package io.faultline.stack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** A real Prometheus (Debian's package) scraping Faultline every second, with the project's alert rules loaded. */
public final class PrometheusServer implements AutoCloseable {

    private final ManagedProcess process;
    private final int port;

    private PrometheusServer(ManagedProcess process, int port) {
        this.process = process;
        this.port = port;
    }

    public static PrometheusServer scrape(String target, Path rules, Path workDir) {
        int port = ManagedProcess.freePort();
        try {
            Path dir = Files.createDirectories(workDir.resolve("prometheus")).toAbsolutePath();
            Files.writeString(dir.resolve("prometheus.yml"), """
                    global:
                      scrape_interval: 1s
                      evaluation_interval: 1s
                    rule_files:
                      - %s
                    scrape_configs:
                      - job_name: faultline
                        metrics_path: /q/metrics
                        static_configs:
                          - targets: ['%s']
                    """.formatted(rules.toAbsolutePath(), target));
            ManagedProcess process = ManagedProcess.start("prometheus", List.of(binary("prometheus"),
                    "--config.file=" + dir.resolve("prometheus.yml"), "--storage.tsdb.path=" + dir.resolve("data"),
                    "--web.listen-address=127.0.0.1:" + port, "--log.level=warn"), Map.of(), dir, workDir);
            return new PrometheusServer(process.awaitHttpOk("http://127.0.0.1:" + port + "/-/ready",
                    ManagedProcess.READY_WITHIN), port);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The Prometheus binaries: Debian installs them on the PATH (`apt-get install prometheus`). */
    public static String binary(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path candidate = Path.of(dir, name);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        throw new IllegalStateException(name + " is not installed: `apt-get install prometheus` (.ci/run does it)");
    }

    public String url() {
        return "http://127.0.0.1:" + port;
    }

    @Override
    public void close() {
        process.close();
    }
}
