package io.faultline.e2e;

import io.faultline.stack.LocalStack;
import io.faultline.stack.ManagedProcess;
import io.faultline.testing.Api;
import io.faultline.testing.EmbeddedPostgres;

import java.nio.file.Files;
import java.nio.file.Path;

/** Starts the whole local stack for an end-to-end test class, on a database of its own. */
final class StackFixture {

    private StackFixture() {
    }

    static LocalStack start(String name) throws Exception {
        return start(name, java.util.Map.of());
    }

    static LocalStack start(String name, java.util.Map<String, String> faultlineEnv) throws Exception {
        return LocalStack.start(settings(name), faultlineEnv);
    }

    /** Only the simulator: the test starts Faultline and LiteLLM, e.g. with settings that need LiteLLM's address. */
    static LocalStack prepare(String name) throws Exception {
        return LocalStack.prepare(settings(name), java.util.Map.of());
    }

    private static LocalStack.Settings settings(String name) throws Exception {
        Path venv = Path.of(System.getProperty("faultline.venv", "litellm/.venv"));
        if (!Files.isExecutable(venv.resolve("bin/litellm"))) {
            throw new IllegalStateException("No LiteLLM venv at " + venv.toAbsolutePath()
                    + ": run the tests with `make test`, which creates it from litellm/requirements.txt");
        }
        Path jar = Path.of("target/quarkus-app/quarkus-run.jar");
        if (!Files.exists(jar)) {
            throw new IllegalStateException("No packaged app at " + jar + ": end-to-end tests run after `package`");
        }
        String url = EmbeddedPostgres.freshDatabase(name);
        Path work = Path.of("target", "stack-" + name);
        deleteRecursively(work);
        return new LocalStack.Settings(jar, venv, Path.of("litellm"), work, url, "postgres", "postgres", Api.KEY,
                ManagedProcess.freePort(), ManagedProcess.freePort());
    }

    private static void deleteRecursively(Path dir) throws Exception {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
