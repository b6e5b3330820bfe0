package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/** Dev/test stand-in for the OpenAI, Anthropic and Gemini APIs that plays back scripted, wire-exact faults. */
public final class ProviderSimulator implements AutoCloseable {

    private static final int WORKER_THREADS = 64;
    private static final String ADMIN_PREFIX = "/_sim/";
    private static final String DEPLOYMENTS_PREFIX = ADMIN_PREFIX + "deployments/";

    private final HttpServer server;
    private final ExecutorService workers;
    private final CountDownLatch closing = new CountDownLatch(1);
    private final ConcurrentMap<String, Deployment> deployments = new ConcurrentHashMap<>();
    private final Map<Provider, ProviderWire> wires = new EnumMap<>(Map.of(
            Provider.OPENAI, new OpenAiWire(),
            Provider.ANTHROPIC, new AnthropicWire(),
            Provider.GEMINI, new GeminiWire()));

    private final LongSupplier nanoTime;

    private ProviderSimulator(HttpServer server, ExecutorService workers, LongSupplier nanoTime) {
        this.server = server;
        this.workers = workers;
        this.nanoTime = nanoTime;
    }

    /** Starts listening on 127.0.0.1; port 0 picks a free port. */
    public static ProviderSimulator start(int port) {
        return start(port, System::nanoTime);
    }

    /** As {@link #start(int)}, with the clock that rate-limit headroom refills by (tests step their own). */
    public static ProviderSimulator start(int port, LongSupplier nanoTime) {
        AtomicInteger threadNumber = new AtomicInteger();
        ExecutorService workers = Executors.newFixedThreadPool(WORKER_THREADS, task -> {
            Thread thread = new Thread(task, "provider-simulator-" + threadNumber.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 256);
            ProviderSimulator simulator = new ProviderSimulator(server, workers, nanoTime);
            server.createContext("/", simulator::handle);
            server.setExecutor(workers);
            server.start();
            return simulator;
        } catch (IOException e) {
            workers.shutdownNow();
            throw new UncheckedIOException("cannot listen on 127.0.0.1:" + port, e);
        }
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port();
    }

    /** Replaces the deployment's script; its fault queue and rate-limit headroom start over, its counts stay. */
    public void script(String deployment, Script script) {
        deployments.computeIfAbsent(deployment, name -> new Deployment(nanoTime)).apply(script);
    }

    /** Forgets every script and every count. */
    public void reset() {
        deployments.clear();
    }

    public Map<String, DeploymentStats> stats() {
        Map<String, DeploymentStats> stats = new TreeMap<>();
        deployments.forEach((name, deployment) -> stats.put(name, deployment.stats()));
        return stats;
    }

    /** Stops listening and releases requests that are hanging or waiting out their latency. */
    @Override
    public void close() {
        closing.countDown();
        server.stop(0);
        workers.shutdownNow();
        try {
            workers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public static void main(String[] args) {
        int port = 0;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--port") && i + 1 < args.length) {
                port = Integer.parseInt(args[++i]);
            } else {
                System.err.println("usage: ProviderSimulator [--port N]");
                System.exit(2);
            }
        }
        ProviderSimulator simulator = start(port);
        Runtime.getRuntime().addShutdownHook(new Thread(simulator::close, "provider-simulator-shutdown"));
        System.out.println("provider-simulator listening on " + simulator.baseUrl());
        System.out.flush();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            if (path.startsWith(ADMIN_PREFIX)) {
                handleAdmin(exchange, path);
                return;
            }
            Optional<Route> route = Route.parse(path, exchange.getRequestURI().getRawQuery());
            if (route.isEmpty()) {
                writeJson(exchange, 404, Json.object().put("error", "no provider API at " + path));
            } else if (!exchange.getRequestMethod().equals("POST")) {
                writeJson(exchange, 405, Json.object().put("error", "provider APIs take POST"));
            } else {
                handleProvider(exchange, route.get());
            }
        } catch (RuntimeException e) {
            // The HTTP server drops such exceptions silently; a simulator bug must not look like a provider fault.
            System.err.println("provider-simulator: failed on " + exchange.getRequestURI());
            e.printStackTrace();
            throw e;
        }
    }

    private void handleProvider(HttpExchange exchange, Route route) throws IOException {
        ProviderWire wire = wires.get(route.provider());
        JsonNode request;
        try {
            request = Json.MAPPER.readTree(readBody(exchange));
        } catch (IOException e) {
            write(exchange, wire.invalidRequest("The request body is not valid JSON."));
            return;
        }
        if (request == null || !request.isObject()) {
            write(exchange, wire.invalidRequest("The request body must be a JSON object."));
            return;
        }
        String model = route.model() != null ? route.model() : request.path("model").asText("unknown");
        int promptTokens = Tokens.prompt(request);
        Deployment deployment = deployments.computeIfAbsent(route.deployment(), name -> new Deployment(nanoTime));
        if (route.embeddings()) {
            handleEmbeddings(exchange, (OpenAiWire) wire, request, model, promptTokens, deployment);
            return;
        }
        Deployment.Turn turn = deployment.next(script -> new Usage(promptTokens,
                Tokens.of(ToolAnswers.output(ToolAnswers.calls(request, script),
                        JsonAnswers.answer(request, script.content()))),
                wire.thinkingTokens(request, script.thinkingTokens()),
                Math.min(promptTokens, script.cachedPromptTokens())), wire.defaultLimits());
        if (!awaitUnlessClosing(turn.delayMs())) {
            return;
        }
        Fault fault = turn.fault();
        if (fault != null && fault.kind() == FaultKind.HANG) {
            // Ending the exchange unanswered closes the connection: the client sees no response at all.
            awaitUnlessClosing(fault.hangMs());
            return;
        }
        Call call = new Call(model, request, wire.streams(request, route), route.sse(),
                JsonAnswers.answer(request, turn.script().content()),
                turn.usage(), turn.headroom(), fault, turn.delayMs(), ToolAnswers.calls(request, turn.script()),
                route.responses());
        Reply reply;
        if (fault == null) {
            reply = wire.success(call);
        } else if (fault.kind() == FaultKind.MALFORMED) {
            reply = wire.success(call).truncated();
        } else if (fault.kind() == FaultKind.EMPTY) {
            reply = wire.success(call).emptied();
        } else {
            reply = wire.fault(fault.kind(), call);
        }
        write(exchange, reply);
    }

    /** OpenAI's {@code /v1/embeddings}: deterministic vectors per input text, the script's faults and shift. */
    private void handleEmbeddings(HttpExchange exchange, OpenAiWire wire, JsonNode request, String model,
            int promptTokens, Deployment deployment) throws IOException {
        java.util.List<String> inputs = Embeddings.inputs(request);
        if (inputs.isEmpty()) {
            write(exchange, wire.invalidRequest("'input' must be a string or an array of strings."));
            return;
        }
        Deployment.Turn turn = deployment.next(script -> new Usage(promptTokens, 0, 0, 0), wire.defaultLimits());
        if (!awaitUnlessClosing(turn.delayMs())) {
            return;
        }
        Fault fault = turn.fault();
        if (fault != null && fault.kind() == FaultKind.HANG) {
            awaitUnlessClosing(fault.hangMs());
            return;
        }
        Script script = turn.script();
        int dimensions = request.path("dimensions").canConvertToInt() && request.path("dimensions").intValue() >= 2
                ? Math.min(request.path("dimensions").intValue(), Embeddings.MAX_DIMENSIONS)
                : script.embeddingDimensions();
        java.util.List<float[]> vectors = inputs.stream()
                .map(text -> Embeddings.of(text, dimensions, script.embeddingShift())).toList();
        Call call = new Call(model, request, false, false, "", turn.usage(), turn.headroom(), fault, turn.delayMs(),
                List.of(), false);
        Reply reply;
        if (fault == null) {
            reply = wire.embeddings(call, vectors);
        } else if (fault.kind() == FaultKind.MALFORMED) {
            reply = wire.embeddings(call, vectors).truncated();
        } else if (fault.kind() == FaultKind.EMPTY) {
            reply = wire.embeddings(call, vectors).emptied();
        } else {
            reply = wire.fault(fault.kind(), call);
        }
        write(exchange, reply);
    }

    private void handleAdmin(HttpExchange exchange, String path) throws IOException {
        String method = exchange.getRequestMethod();
        if (path.startsWith(DEPLOYMENTS_PREFIX) && path.length() > DEPLOYMENTS_PREFIX.length()) {
            String name = path.substring(DEPLOYMENTS_PREFIX.length());
            switch (method) {
                case "PUT" -> {
                    Script script;
                    try {
                        byte[] body = readBody(exchange);
                        script = body.length == 0 ? Script.success() : Json.MAPPER.readValue(body, Script.class);
                    } catch (IOException | IllegalArgumentException e) {
                        writeJson(exchange, 400, Json.object().put("error", "invalid script: " + e.getMessage()));
                        return;
                    }
                    script(name, script);
                    writeJson(exchange, 200, Json.MAPPER.valueToTree(script));
                }
                case "GET" -> {
                    Deployment deployment = deployments.get(name);
                    Script script = deployment == null ? Script.success() : deployment.script();
                    writeJson(exchange, 200, Json.MAPPER.valueToTree(script));
                }
                case "DELETE" -> {
                    script(name, Script.success());
                    exchange.sendResponseHeaders(204, -1);
                }
                default -> writeJson(exchange, 405, Json.object().put("error", "use PUT, GET or DELETE"));
            }
        } else if (path.equals(ADMIN_PREFIX + "reset") && method.equals("POST")) {
            reset();
            exchange.sendResponseHeaders(204, -1);
        } else if (path.equals(ADMIN_PREFIX + "stats") && method.equals("GET")) {
            ObjectNode body = Json.object();
            body.set("deployments", Json.MAPPER.valueToTree(stats()));
            writeJson(exchange, 200, body);
        } else {
            writeJson(exchange, 404, Json.object().put("error", "unknown admin route " + method + " " + path));
        }
    }

    /** Waits, or returns false as soon as the simulator closes. */
    private boolean awaitUnlessClosing(long millis) {
        try {
            return millis <= 0 ? closing.getCount() > 0 : !closing.await(millis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static byte[] readBody(HttpExchange exchange) throws IOException {
        try (InputStream body = exchange.getRequestBody()) {
            return body.readAllBytes();
        }
    }

    private static void writeJson(HttpExchange exchange, int status, JsonNode body) throws IOException {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("content-type", "application/json");
        write(exchange, Reply.json(status, headers, body));
    }

    private static void write(HttpExchange exchange, Reply reply) throws IOException {
        reply.headers().forEach((name, value) -> exchange.getResponseHeaders().set(name, value));
        if (reply.streamed()) {
            exchange.sendResponseHeaders(reply.status(), 0);
            OutputStream out = exchange.getResponseBody();
            for (String frame : reply.frames()) {
                out.write(frame.getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
            return;
        }
        byte[] body = reply.body();
        exchange.sendResponseHeaders(reply.status(), body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            exchange.getResponseBody().write(body);
        }
    }
}
