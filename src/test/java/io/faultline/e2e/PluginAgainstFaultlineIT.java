package io.faultline.e2e;

import io.faultline.simulator.ProviderSimulator;
import io.faultline.stack.ManagedProcess;
import io.faultline.testing.Api;
import io.faultline.testing.EmbeddedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;

import javax.xml.parsers.DocumentBuilderFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The plugin's pytest modules that need real services: {@code litellm/tests/test_against_faultline.py} against the
 * packaged Faultline on a real PostgreSQL (the answers its stand-in can only imitate: 422, 413, 401, 503), and
 * {@code litellm/tests/test_simulator_with_litellm.py}, the real LiteLLM SDK against the provider simulator.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PluginAgainstFaultlineIT {

    private static final String DATABASE = "plugin_it";
    /** Small, so that the 413 case needs only a few calls. */
    private static final int MAX_BATCH_ITEMS = 5;
    /** A ceiling against a hung pytest; each module takes well under a minute here. */
    private static final Duration PYTEST_CEILING = Duration.ofMinutes(20);

    private static Path venv;
    private static Path work;
    private static int port;
    private static ManagedProcess faultline;
    private static ProviderSimulator simulator;

    /** What pytest reported in its JUnit XML. */
    record PytestRun(int exitCode, int tests, int failures, int errors, int skipped, String output) {
    }

    @BeforeAll
    static void start() throws Exception {
        venv = Path.of(System.getProperty("faultline.venv", "litellm/.venv")).toAbsolutePath();
        if (!Files.isExecutable(venv.resolve("bin/python"))) {
            throw new IllegalStateException("No LiteLLM venv at " + venv + ": run the tests with `make test`");
        }
        Path jar = Path.of("target/quarkus-app/quarkus-run.jar");
        if (!Files.exists(jar)) {
            throw new IllegalStateException("No packaged app at " + jar + ": end-to-end tests run after `package`");
        }
        String jdbcUrl = EmbeddedPostgres.freshDatabase(DATABASE);
        work = Path.of("target", "stack-plugin-it").toAbsolutePath();
        deleteRecursively(work);
        Files.createDirectories(work);
        port = ManagedProcess.freePort();
        Map<String, String> env = new HashMap<>();
        env.put("QUARKUS_DATASOURCE_JDBC_URL", jdbcUrl);
        env.put("QUARKUS_DATASOURCE_USERNAME", "postgres");
        env.put("QUARKUS_DATASOURCE_PASSWORD", "postgres");
        env.put("QUARKUS_HTTP_PORT", String.valueOf(port));
        env.put("QUARKUS_HTTP_HOST", "127.0.0.1");
        env.put("FAULTLINE_API_KEY", Api.KEY);
        env.put("FAULTLINE_INGEST_MAX_BATCH_ITEMS", String.valueOf(MAX_BATCH_ITEMS));
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "-jar", jar.toAbsolutePath().toString());
        faultline = ManagedProcess.start("faultline", command, env, work, work)
                .awaitHttpOk(faultlineUrl() + "/q/health/ready", ManagedProcess.READY_WITHIN);
        simulator = ProviderSimulator.start(0);
    }

    @AfterAll
    static void stop() {
        if (faultline != null) {
            faultline.close();
        }
        if (simulator != null) {
            simulator.close();
        }
    }

    @Test
    void the_plugin_meets_the_real_faultlines_422_413_401_and_503_as_it_meets_its_stand_in() throws Exception {
        PytestRun run = pytest("test_against_faultline.py", Map.of(
                "FAULTLINE_URL", faultlineUrl(),
                "FAULTLINE_API_KEY", Api.KEY,
                "FAULTLINE_TEST_DB_URL", "postgresql://postgres:postgres@127.0.0.1:" + EmbeddedPostgres.server()
                        .getPort() + "/" + DATABASE,
                "FAULTLINE_TEST_MAX_BATCH_ITEMS", String.valueOf(MAX_BATCH_ITEMS)));

        assertPassed(run, 7);
        assertThat(faultline.alive()).as("Faultline survived the database going away").isTrue();
    }

    @Test
    void litellm_parses_every_outcome_the_simulator_scripts_as_expected() throws Exception {
        PytestRun run = pytest("test_simulator_with_litellm.py", Map.of("FAULTLINE_SIM_URL", simulator.baseUrl()));

        assertPassed(run, 75);
    }

    private static void assertPassed(PytestRun run, int expectedTests) {
        assertThat(run.exitCode()).as("pytest exit code; output:\n%s", run.output()).isZero();
        assertThat(run.tests()).as("tests pytest ran").isGreaterThanOrEqualTo(expectedTests);
        assertThat(List.of(run.failures(), run.errors(), run.skipped())).as("failures, errors, skipped")
                .containsOnly(0);
    }

    private static PytestRun pytest(String module, Map<String, String> env) throws Exception {
        String name = module.replace(".py", "");
        Path report = work.resolve(name + ".xml");
        Path log = work.resolve(name + ".log");
        List<String> command = new ArrayList<>(List.of(venv.resolve("bin/python").toString(), "-m", "pytest",
                "-p", "no:cacheprovider", "-q", "tests/" + module, "--junitxml=" + report));
        ProcessBuilder builder = new ProcessBuilder(command).directory(Path.of("litellm").toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().putAll(env);
        builder.environment().put("NO_PROXY", "127.0.0.1,localhost");
        builder.environment().put("FAULTLINE_SPOOL_DIR", work.resolve("spool-" + name).toString());
        Process process = builder.start();
        if (!process.waitFor(PYTEST_CEILING.toSeconds(), TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
            throw new AssertionError("pytest " + module + " did not finish within " + PYTEST_CEILING + ":\n"
                    + Files.readString(log));
        }
        String output = Files.readString(log);
        if (!Files.exists(report)) {
            return new PytestRun(process.exitValue(), 0, 0, 0, 0, output);
        }
        Element suite = (Element) DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(report.toFile())
                .getElementsByTagName("testsuite").item(0);
        return new PytestRun(process.exitValue(), count(suite, "tests"), count(suite, "failures"),
                count(suite, "errors"), count(suite, "skipped"), output);
    }

    private static int count(Element suite, String attribute) {
        return Integer.parseInt(suite.getAttribute(attribute));
    }

    private static String faultlineUrl() {
        return "http://127.0.0.1:" + port;
    }

    private static void deleteRecursively(Path dir) throws Exception {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
