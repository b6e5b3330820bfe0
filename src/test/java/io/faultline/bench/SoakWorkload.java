package io.faultline.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.testing.Payloads;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The soak's ingest batches: LiteLLM payloads as the benches and the end-to-end tests build them, prebuilt once as
 * templates and stamped at send time with fresh call ids and the current time (so that the windows, budgets and
 * predictions see live traffic, and no call is a duplicate of another), cheaply enough that the load generator does
 * not take the CPU the two-core machine needs for Faultline and PostgreSQL.
 * <p>
 * The mix: five providers; 90% successes carrying the content of {@link IngestBench#content} (system prompt,
 * retrieved context, JSON answers, an e-mail address, an injection attempt), rate-limit headers, tokens that vary
 * and now and then spike, batch ids on some calls, embedding calls; 10% failures of every kind each provider has
 * (429, 529, 500, 503, context overflow, 401, timeout) with their headers; and one call in a thousand for a model
 * nobody will ask for again, the keys that the bounded maps exist for.
 */
final class SoakWorkload {

    static final int BATCH = 100;
    private static final int TEMPLATES = 120;
    private static final String[] PROVIDERS = { "openai", "anthropic", "gemini", "azure", "bedrock" };
    private static final int[] STATUSES = { 429, 529, 500, 503, 400, 401, 408 };
    private static final Pattern HOLE = Pattern.compile("\"__(CID|TRACE|SEQ|T\\+(\\d+))__\"|__SEQ__");

    /** One template: literal text between holes; a hole is a call id, a trace id, a sequence or a time offset. */
    private record Template(String[] text, int[] kind, long[] offsetMillis) {
    }

    private final List<Template> templates = new ArrayList<>();
    private final String run;
    private final AtomicLong sequence = new AtomicLong();
    private final AtomicLong next = new AtomicLong();

    SoakWorkload(String run) {
        this.run = run;
        int n = 0;
        for (int t = 0; t < TEMPLATES; t++) {
            ArrayNode batch = Payloads.JSON.createArrayNode();
            for (int i = 0; i < BATCH; i++, n++) {
                batch.add(call(n));
            }
            templates.add(compile(batch.toString()));
        }
    }

    /** The next batch, stamped now, as request bytes. */
    byte[] next(java.net.URI uri, String authorization) {
        Template t = templates.get((int) (next.getAndIncrement() % templates.size()));
        long now = System.currentTimeMillis();
        StringBuilder out = new StringBuilder(t.text[0].length() * (t.text.length + 1));
        long callSeq = -1;
        for (int i = 0; i < t.kind.length; i++) {
            out.append(t.text[i]);
            switch (t.kind[i]) {
                case 0 -> {
                    callSeq = sequence.getAndIncrement();
                    out.append('"').append(run).append('-').append(callSeq).append('"');
                }
                case 1 -> out.append("\"tr-").append(run).append('-').append(Math.max(0, callSeq) / 4).append('"');
                case 2 -> out.append(Math.max(0, callSeq));
                default -> out.append(String.format(Locale.ROOT, "%.3f", (now + t.offsetMillis[i]) / 1000.0));
            }
        }
        out.append(t.text[t.kind.length]);
        return RawHttpClient.post(uri, authorization, out.toString());
    }

    /** Calls stamped so far (each batch is BATCH calls). */
    long calls() {
        return sequence.get();
    }

    private static Template compile(String json) {
        List<String> text = new ArrayList<>();
        List<Integer> kinds = new ArrayList<>();
        List<Long> offsets = new ArrayList<>();
        Matcher m = HOLE.matcher(json);
        int at = 0;
        while (m.find()) {
            text.add(json.substring(at, m.start()));
            String what = m.group(1);
            if (what == null) {
                kinds.add(2); // __SEQ__ inside a string
                offsets.add(0L);
            } else if (what.equals("CID")) {
                kinds.add(0);
                offsets.add(0L);
            } else if (what.equals("TRACE")) {
                kinds.add(1);
                offsets.add(0L);
            } else if (what.equals("SEQ")) {
                kinds.add(2);
                offsets.add(0L);
            } else {
                kinds.add(3);
                offsets.add(Long.parseLong(m.group(2)));
            }
            at = m.end();
        }
        text.add(json.substring(at));
        int[] k = kinds.stream().mapToInt(Integer::intValue).toArray();
        long[] o = offsets.stream().mapToLong(Long::longValue).toArray();
        // the call id must come first in each call so that the trace and the one-off names use its sequence
        return new Template(text.toArray(String[]::new), k, o);
    }

    /** Call {@code n} of the templates, with holes for the call id, the trace and the times. */
    private static ObjectNode call(int n) {
        String provider = PROVIDERS[n % PROVIDERS.length];
        String model = provider + "-model-" + (n / 5 % 2);
        String deployment = provider + "-dep-" + (n / 10 % 2);
        boolean oneOff = n % 1000 == 999;
        if (oneOff) {
            model = "adhoc-__SEQ__";
            deployment = "adhoc-__SEQ__";
        }
        Instant base = Instant.ofEpochSecond(1_000_000);
        Payloads p;
        if (n % 10 == 0) {
            int status = STATUSES[(n / 10) % STATUSES.length];
            String errorClass = switch (status) {
                case 429 -> "RateLimitError";
                case 529, 500 -> "InternalServerError";
                case 503 -> "ServiceUnavailableError";
                case 401 -> "AuthenticationError";
                case 408 -> "Timeout";
                default -> "ContextWindowExceededError";
            };
            String message = switch (status) {
                case 529 -> provider + "Exception - {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}";
                case 429 -> provider + "Exception - Rate limit reached for requests per min. Please try again in 2s.";
                case 400 -> provider + "Exception - This model's maximum context length is 8192 tokens. However,"
                        + " your messages resulted in 9120 tokens.";
                case 401 -> provider + "Exception - Incorrect API key provided.";
                case 408 -> provider + "Exception - Request timed out.";
                default -> provider + "Exception - The server had an error while processing your request.";
            };
            p = Payloads.failure(provider, model, deployment, base, status, errorClass, message);
            if (status == 429) {
                p.header("retry-after", "2").header("x-ratelimit-remaining-requests", "0")
                        .header("anthropic-ratelimit-requests-remaining", "0");
            }
            if (status == 408) {
                p.latency(30);
            }
        } else if (n % 50 == 21) {
            p = embedding(provider, deployment, base, n);
        } else {
            p = IngestBench.content(Payloads.success(provider, model, deployment, base), n);
            long prompt = n % 300 == 77 ? 60_000 : 300 + n % 200;
            long completion = 40 + n % 120;
            p.tokens(prompt, completion, provider.equals("openai") && n % 7 == 0 ? 200 : 0, n % 3 == 0 ? 128 : 0);
            p.set("response_cost", (prompt * 0.15 + completion * 0.6) / 1_000_000);
            p.header("x-ratelimit-remaining-requests", String.valueOf(5000 - n % 4000))
                    .header("x-ratelimit-limit-requests", "5000")
                    .header("x-ratelimit-remaining-tokens", String.valueOf(2_000_000 - n % 1_500_000))
                    .header("x-ratelimit-limit-tokens", "2000000");
            double latency = 0.3 + (n % 17) / 10.0;
            p.latency(latency);
            p.node().put("completionStartTime", p.node().get("startTime").asDouble() + latency * 0.3);
        }
        p.user("user-" + (n % 500));
        ObjectNode metadata = (ObjectNode) p.node().get("metadata");
        metadata.put("user_api_key_hash", String.format(Locale.ROOT, "%064x", 0xabcdefL + n % 20));
        metadata.put("user_api_key_team_id", "team-" + (n % 5));
        if (n % 20 == 3) {
            p.metadata(Map.of("batch_id", "nightly-" + (n % 3)));
        }
        p.set("litellm_call_id", "__CID__");
        p.set("trace_id", "__TRACE__");
        stamp(p.node(), "startTime", "endTime", "completionStartTime");
        return p.node();
    }

    private static Payloads embedding(String provider, String deployment, Instant base, int n) {
        Payloads p = Payloads.success(provider, "text-embedding-3-small", deployment, base);
        ObjectNode node = p.node();
        node.put("call_type", "aembedding");
        node.put("prompt_tokens", 8).put("completion_tokens", 0).put("total_tokens", 8).put("response_cost", 1e-6);
        node.remove("messages");
        ObjectNode response = node.putObject("response").put("object", "list");
        ArrayNode data = response.putArray("data");
        java.util.SplittableRandom random = new java.util.SplittableRandom(n);
        for (int i = 0; i < 2; i++) {
            ArrayNode vector = data.addObject().put("object", "embedding").put("index", i).putArray("embedding");
            for (int d = 0; d < 16; d++) {
                vector.add(Math.round((random.nextDouble() * 2 - 1) * 1e4) / 1e4);
            }
        }
        return p;
    }

    /** Replaces absolute times with holes that keep their offset from startTime. */
    private static void stamp(ObjectNode node, String... fields) {
        double start = node.path("startTime").asDouble();
        for (String field : fields) {
            if (node.has(field) && node.get(field).isNumber()) {
                long offset = Math.round((node.get(field).asDouble() - start) * 1000);
                node.put(field, "__T+" + Math.max(0, offset) + "__");
            }
        }
    }

    static String utf8(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
