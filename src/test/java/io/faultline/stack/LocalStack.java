package io.faultline.stack;

import io.faultline.simulator.ProviderSimulator;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Every real part of the flow on loopback: PostgreSQL, the provider simulator, the packaged Faultline jar and a
 * LiteLLM proxy with the Faultline plugin. Used by {@code make run} and the end-to-end tests alike.
 */
public final class LocalStack implements AutoCloseable {

    public static final String MASTER_KEY = "sk-faultline-local";
    /** The ingest role's key the LiteLLM plugin sends (the tests' own calls use the admin key, settings.apiKey()). */
    public static final String INGEST_KEY = "it-ingest-key";

    /** Where things are and how to reach the database. */
    public record Settings(Path jar, Path venv, Path litellmDir, Path workDir, String jdbcUrl, String dbUser,
            String dbPassword, String apiKey, int faultlinePort, int litellmPort) {
    }

    private final Settings settings;
    private final ProviderSimulator simulator;
    private ManagedProcess faultline;
    private Map<String, String> faultlineEnv = Map.of();
    private ManagedProcess litellm;

    private LocalStack(Settings settings, ProviderSimulator simulator) {
        this.settings = settings;
        this.simulator = simulator;
    }

    public static LocalStack start(Settings settings) throws Exception {
        return start(settings, Map.of());
    }

    /** A stack whose Faultline also gets {@code faultlineEnv} (e.g. shorter windows or smaller sample floors). */
    public static LocalStack start(Settings settings, Map<String, String> faultlineEnv) throws Exception {
        Files.createDirectories(settings.workDir());
        LocalStack stack = new LocalStack(settings, ProviderSimulator.start(0));
        stack.faultlineEnv = Map.copyOf(faultlineEnv);
        try {
            stack.startFaultline();
            stack.startLiteLlm();
            return stack;
        } catch (RuntimeException | Error e) {
            stack.close();
            throw e;
        }
    }

    /**
     * Only the simulator: the caller starts Faultline ({@link #startFaultline(String)}) and LiteLLM
     * ({@link #startLiteLlm()}) when its scenario needs them, e.g. Faultline before its database exists.
     */
    public static LocalStack prepare(Settings settings, Map<String, String> faultlineEnv) throws Exception {
        Files.createDirectories(settings.workDir());
        LocalStack stack = new LocalStack(settings, ProviderSimulator.start(0));
        stack.faultlineEnv = Map.copyOf(faultlineEnv);
        return stack;
    }

    public void startFaultline() {
        startFaultline("/q/health/ready");
    }

    /** Starts Faultline and waits until {@code healthPath} answers 200 ({@code /q/health/live}: up, maybe not ready). */
    public void startFaultline(String healthPath) {
        startFaultline(healthPath, Map.of());
    }

    /** With {@code extraEnv} on top of the stack's own Faultline environment, for this start only. */
    public void startFaultline(String healthPath, Map<String, String> extraEnv) {
        faultline = startFaultlineProcess("faultline", settings.faultlinePort(), healthPath, extraEnv);
    }

    /**
     * Another Faultline process on the same database, listening on {@code port}, with the stack's environment and
     * {@code extraEnv}; its log is {@code name}.log. The caller owns (and closes or kills) it.
     */
    public ManagedProcess startFaultlineReplica(String name, int port, Map<String, String> extraEnv) {
        return startFaultlineProcess(name, port, "/q/health/ready", extraEnv);
    }

    private ManagedProcess startFaultlineProcess(String name, int port, String healthPath,
            Map<String, String> extraEnv) {
        Map<String, String> env = new HashMap<>();
        env.put("QUARKUS_DATASOURCE_JDBC_URL", settings.jdbcUrl());
        env.put("QUARKUS_DATASOURCE_USERNAME", settings.dbUser());
        env.put("QUARKUS_DATASOURCE_PASSWORD", settings.dbPassword());
        env.put("QUARKUS_HTTP_PORT", String.valueOf(port));
        env.put("QUARKUS_HTTP_HOST", "127.0.0.1");
        env.put("FAULTLINE_API_KEY", settings.apiKey());
        // The plugin holds the ingest role's key only, as in k8s/; written with the trailing newline a Secret file
        // often has, which Faultline trims.
        env.put("FAULTLINE_INGEST_API_KEY", INGEST_KEY + "\n");
        env.put("FAULTLINE_BASELINE_LITELLM_URL", litellmUrl());
        env.put("FAULTLINE_BASELINE_LITELLM_KEY", MASTER_KEY);
        // The simulated models are not 128k-token models: a near-limit prompt of ~460 KB would only measure how fast
        // LiteLLM reads a big body on this machine, not what the simulator was scripted to do.
        env.put("FAULTLINE_BASELINE_CONTEXT_TOKENS", "2000");
        // No routing to drain when a test closes its stack: stop at once (RestartIT measures the graceful stop).
        env.put("QUARKUS_SHUTDOWN_DELAY", "0");
        env.putAll(faultlineEnv);
        env.putAll(extraEnv);
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-jar", settings.jar().toAbsolutePath().toString());
        return ManagedProcess.start(name, command, env, settings.workDir(), settings.workDir())
                .awaitHttpOk("http://127.0.0.1:" + port + healthPath, ManagedProcess.READY_WITHIN);
    }

    public void startLiteLlm() {
        Map<String, String> env = new HashMap<>();
        env.put("LITELLM_LOCAL_MODEL_COST_MAP", "True");
        env.put("LITELLM_TELEMETRY_DISABLED", "True");
        env.put("LITELLM_MASTER_KEY", MASTER_KEY);
        env.put("OPENAI_API_KEY", "sk-simulated-openai");
        env.put("ANTHROPIC_API_KEY", "sk-ant-simulated");
        env.put("GEMINI_API_KEY", "simulated-gemini");
        env.put("FAULTLINE_SIM_OPENAI_BASE", simulator.baseUrl() + "/openai/v1");
        env.put("FAULTLINE_SIM_ANTHROPIC_BASE", simulator.baseUrl() + "/anthropic");
        env.put("FAULTLINE_SIM_GEMINI_BASE", simulator.baseUrl() + "/gemini/v1beta");
        // The two-deployment groups of config.yaml and the faithfulness judge: one simulator deployment (path) per
        // LiteLLM deployment.
        for (String deployment : List.of("pair-a", "pair-b", "control-a", "control-b", "lat-a", "lat-b",
                "latctl-a", "latctl-b", "judge")) {
            env.put("FAULTLINE_SIM_" + deployment.toUpperCase(java.util.Locale.ROOT).replace('-', '_') + "_BASE",
                    simulator.baseUrl() + "/" + deployment + "/v1");
        }
        env.put("FAULTLINE_URL", faultlineUrl());
        env.put("FAULTLINE_INGEST_API_KEY", INGEST_KEY);
        env.put("FAULTLINE_SPOOL_DIR", settings.workDir().resolve("spool").toAbsolutePath().toString());
        env.put("FAULTLINE_FLUSH_INTERVAL_S", "0.2");
        env.put("FAULTLINE_RETRY_MAX_BACKOFF_S", "1");
        // The proxy every call names (stored as the label "local_stack_proxy"; LiteLlmEndToEndIT checks it arrives).
        env.put("FAULTLINE_PROXY_ID", "Local Stack Proxy");
        env.put("PYTHONPATH", settings.litellmDir().toAbsolutePath().toString());
        env.put("NO_PROXY", "127.0.0.1,localhost");
        List<String> command = new ArrayList<>(List.of(settings.venv().resolve("bin/litellm").toAbsolutePath()
                .toString(), "--config", settings.litellmDir().resolve("config.yaml").toAbsolutePath().toString(),
                "--host", "127.0.0.1", "--port", String.valueOf(settings.litellmPort())));
        litellm = ManagedProcess.start("litellm", command, env, settings.workDir(), settings.workDir())
                .awaitHttpOk(litellmUrl() + "/health/liveliness", ManagedProcess.READY_WITHIN);
    }

    public ProviderSimulator simulator() {
        return simulator;
    }

    public String faultlineUrl() {
        return "http://127.0.0.1:" + settings.faultlinePort();
    }

    public String litellmUrl() {
        return "http://127.0.0.1:" + settings.litellmPort();
    }

    public ManagedProcess faultline() {
        return faultline;
    }

    public ManagedProcess litellm() {
        return litellm;
    }

    public Settings settings() {
        return settings;
    }

    @Override
    public void close() {
        if (litellm != null) {
            litellm.close();
        }
        if (faultline != null) {
            faultline.close();
        }
        simulator.close();
    }
}
