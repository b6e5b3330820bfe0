package io.faultline.simulator;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ProviderSimulatorTest {

    private static final String QUESTION = "What is the capital of France?";
    private static final String OPENAI_CHAT = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"" + QUESTION + "\"}]}";
    private static final String ANTHROPIC_MESSAGES = "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\",\"content\":\"" + QUESTION + "\"}]}";
    private static final String ANTHROPIC_THINKING = "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":2048,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},\"messages\":[{\"role\":\"user\",\"content\":\"" + QUESTION + "\"}]}";
    private static final String GEMINI_CONTENTS = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"" + QUESTION + "\"}]}]}";
    private static final String GEMINI_THINKING = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"" + QUESTION + "\"}]}],\"generationConfig\":{\"thinkingConfig\":{\"includeThoughts\":true,\"thinkingBudget\":1024}}}";

    /** Fields whose values, not just presence, carry the meaning a client reacts to. */
    private static final Set<String> KEY_FIELDS = Set.of("type", "code", "status", "param", "object", "role",
            "finish_reason", "stop_reason", "finishReason", "blockReason", "@type", "thought", "service_tier",
            "inference_geo", "modality", "category", "probability", "blocked");
    /** Headers a proxy or the HTTP stack adds, not the provider's API. */
    private static final Set<String> TRANSPORT_HEADERS = Set.of("content-length", "connection", "server",
            "cf-cache-status", "x-robots-tag", "date", "transfer-encoding");

    private static ProviderSimulator sim;
    private static HttpClient http;

    @BeforeAll
    static void start() {
        sim = ProviderSimulator.start(0);
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterAll
    static void stop() {
        sim.close();
    }

    @BeforeEach
    void reset() {
        sim.reset();
    }

    record FixtureCase(String fixture, String path, String request, FaultKind fault,
                       List<String> notSimulated, List<String> simulatorExtras) {

        @Override
        public String toString() {
            return fixture + (fault == null ? "" : " <- " + fault.wireName());
        }
    }

    static Stream<FixtureCase> fixtures() {
        String openai = "/fx/v1/chat/completions";
        String anthropic = "/fx/v1/messages";
        String gemini = "/fx/v1beta/models/gemini-2.5-flash:generateContent";
        return Stream.of(
                new FixtureCase("openai_chat_completion_200", openai, OPENAI_CHAT, null, List.of(), List.of()),
                new FixtureCase("openai_429_rate_limit_exceeded_tpm", openai, OPENAI_CHAT, FaultKind.RATE_LIMIT, List.of(), List.of()),
                new FixtureCase("openai_429_insufficient_quota", openai, OPENAI_CHAT, FaultKind.INSUFFICIENT_QUOTA, List.of(), List.of()),
                new FixtureCase("openai_500_server_error", openai, OPENAI_CHAT, FaultKind.SERVER_ERROR, List.of(), List.of()),
                new FixtureCase("openai_503_overloaded", openai, OPENAI_CHAT, FaultKind.OVERLOADED, List.of(), List.of()),
                new FixtureCase("openai_503_server_is_overloaded", openai, OPENAI_CHAT, FaultKind.UNAVAILABLE, List.of(), List.of()),
                new FixtureCase("openai_400_context_length_exceeded", openai, OPENAI_CHAT, FaultKind.CONTEXT_OVERFLOW, List.of(), List.of()),
                // A redacted_thinking block only appears when the provider's safety systems flag the reasoning.
                new FixtureCase("anthropic_messages_200_thinking_cache", anthropic, ANTHROPIC_THINKING, null, List.of("/content/1"), List.of()),
                new FixtureCase("anthropic_429_rate_limit_error", anthropic, ANTHROPIC_MESSAGES, FaultKind.RATE_LIMIT, List.of(), List.of()),
                new FixtureCase("anthropic_529_overloaded_error", anthropic, ANTHROPIC_MESSAGES, FaultKind.OVERLOADED, List.of(), List.of()),
                new FixtureCase("anthropic_400_prompt_too_long", anthropic, ANTHROPIC_MESSAGES, FaultKind.CONTEXT_OVERFLOW, List.of(), List.of()),
                new FixtureCase("gemini_generatecontent_200_thinking", gemini, GEMINI_THINKING, null, List.of(), List.of()),
                new FixtureCase("gemini_429_resource_exhausted", gemini, GEMINI_CONTENTS, FaultKind.RATE_LIMIT, List.of(), List.of()),
                new FixtureCase("gemini_503_unavailable", gemini, GEMINI_CONTENTS, FaultKind.OVERLOADED, List.of(), List.of()),
                new FixtureCase("gemini_503_unavailable", gemini, GEMINI_CONTENTS, FaultKind.UNAVAILABLE, List.of(), List.of()),
                new FixtureCase("gemini_400_invalid_argument_token_limit", gemini, GEMINI_CONTENTS, FaultKind.CONTEXT_OVERFLOW, List.of(), List.of()),
                new FixtureCase("gemini_candidate_finish_safety", gemini, GEMINI_CONTENTS, FaultKind.SAFETY_BLOCK, List.of(), List.of()),
                // Current prompt blocks also carry usage and ids, and LiteLLM fails without usageMetadata.
                new FixtureCase("gemini_prompt_blocked", gemini, GEMINI_CONTENTS, FaultKind.PROMPT_BLOCKED, List.of(),
                        List.of("/usageMetadata", "/modelVersion", "/responseId")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void answers_like_the_recorded_provider_response(FixtureCase fixtureCase) throws IOException, InterruptedException {
        JsonNode fixture = Json.MAPPER.readTree(fixtureDir().resolve(fixtureCase.fixture() + ".json").toFile());
        sim.script("fx", fixtureCase.fault() == null
                ? Script.success().withThinkingTokens(180)
                : Script.faults(Fault.of(fixtureCase.fault(), 1)));

        HttpResponse<String> response = post(fixtureCase.path(), fixtureCase.request());

        assertEquals(fixture.get("http_status").asInt(), response.statusCode());
        JsonNode expected = without(fixture.get("body"), fixtureCase.notSimulated());
        JsonNode actual = without(Json.MAPPER.readTree(response.body()), fixtureCase.simulatorExtras());
        assertEquals(leaves(expected).keySet(), leaves(actual).keySet(), "JSON key paths");
        assertEquals(keyValues(expected), keyValues(actual), "values of " + KEY_FIELDS);
        Set<String> expectedHeaders = new TreeSet<>();
        fixture.get("headers").fieldNames().forEachRemaining(name -> expectedHeaders.add(name.toLowerCase(Locale.ROOT)));
        expectedHeaders.removeAll(TRANSPORT_HEADERS);
        Set<String> actualHeaders = new TreeSet<>(response.headers().map().keySet().stream()
                .map(name -> name.toLowerCase(Locale.ROOT)).toList());
        assertTrue(actualHeaders.containsAll(expectedHeaders),
                "missing headers " + difference(expectedHeaders, actualHeaders));
        assertEquals(fixture.get("headers").get("content-type").asText().toLowerCase(Locale.ROOT),
                response.headers().firstValue("content-type").orElseThrow().toLowerCase(Locale.ROOT));
    }

    @Test
    void a_fault_counted_n_hits_exactly_the_next_n_requests_under_concurrency() {
        sim.script("east", Script.faults(Fault.of(FaultKind.RATE_LIMIT, 25)));

        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            calls.add(http.sendAsync(request("/east/v1/chat/completions", OPENAI_CHAT), HttpResponse.BodyHandlers.ofString()));
        }
        Map<Integer, Long> statuses = calls.stream().map(CompletableFuture::join)
                .collect(Collectors.groupingBy(HttpResponse::statusCode, TreeMap::new, Collectors.counting()));

        assertEquals(Map.of(200, 75L, 429, 25L), statuses);
        DeploymentStats stats = sim.stats().get("east");
        assertEquals(100, stats.requests());
        assertEquals(Map.of("rate_limit", 25L, "success", 75L), stats.outcomes());
    }

    @Test
    void queued_faults_play_in_order_and_then_requests_succeed() throws Exception {
        sim.script("east", Script.faults(Fault.of(FaultKind.RATE_LIMIT, 2), Fault.of(FaultKind.SERVER_ERROR, 1)));

        List<Integer> statuses = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            statuses.add(post("/east/v1/chat/completions", OPENAI_CHAT).statusCode());
        }

        assertEquals(List.of(429, 429, 500, 200, 200), statuses);
    }

    @Test
    void a_fault_counted_minus_one_lasts_until_reset() throws Exception {
        sim.script("claude", Script.faults(Fault.untilReset(FaultKind.OVERLOADED)));

        for (int i = 0; i < 5; i++) {
            assertEquals(529, post("/claude/v1/messages", ANTHROPIC_MESSAGES).statusCode());
        }
        sim.reset();

        assertEquals(200, post("/claude/v1/messages", ANTHROPIC_MESSAGES).statusCode());
    }

    @Test
    void deployments_named_by_the_first_path_segment_are_scripted_independently() throws Exception {
        sim.script("east", Script.faults(Fault.untilReset(FaultKind.UNAVAILABLE)));

        assertEquals(503, post("/east/v1/chat/completions", OPENAI_CHAT).statusCode());
        assertEquals(200, post("/west/v1/chat/completions", OPENAI_CHAT).statusCode());
        assertEquals(200, post("/v1/chat/completions", OPENAI_CHAT).statusCode());
        assertEquals(200, post("/v1beta/models/gemini-2.5-flash:generateContent", GEMINI_CONTENTS).statusCode());
        assertEquals(Set.of("east", "west", "default"), sim.stats().keySet());
        assertEquals(2, sim.stats().get("default").requests());
    }

    @Test
    void openai_headroom_drains_call_by_call_towards_zero() throws Exception {
        sim.script("east", Script.success().withRateLimit(
                RateLimit.of(10, 1000).withRemaining(3, 100).withDrainPerCall(1, 40)));

        List<List<String>> headroom = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            HttpResponse<String> response = post("/east/v1/chat/completions", OPENAI_CHAT);
            headroom.add(List.of(header(response, "x-ratelimit-remaining-requests"),
                    header(response, "x-ratelimit-remaining-tokens"), header(response, "x-ratelimit-reset-requests")));
        }

        // The third call takes the last request and token; the fourth finds nothing left and gets the 429.
        assertEquals(List.of(List.of("2", "60", "48s"), List.of("1", "20", "54s"), List.of("0", "0", "1m0s"),
                List.of("0", "0", "1m0s")), headroom);
        assertEquals(3, sim.stats().get("east").outcome("success"));
        assertEquals(1, sim.stats().get("east").outcome("rate_limit"));
    }

    @Test
    void used_up_requests_answer_openais_rpm_429_until_the_refill_brings_one_back() throws Exception {
        java.util.concurrent.atomic.AtomicLong nanos = new java.util.concurrent.atomic.AtomicLong();
        try (ProviderSimulator stepped = ProviderSimulator.start(0, nanos::get)) {
            stepped.script("east", Script.success().withRateLimit(RateLimit.of(10, 100_000).withRemaining(2, 100_000)
                    .withDrainPerCall(1, 0).withRefillPerSecond(0.5, 0)));

            HttpResponse<String> first = postTo(stepped, "/east/v1/chat/completions", OPENAI_CHAT);
            HttpResponse<String> second = postTo(stepped, "/east/v1/chat/completions", OPENAI_CHAT);
            HttpResponse<String> refused = postTo(stepped, "/east/v1/chat/completions", OPENAI_CHAT);
            nanos.addAndGet(TimeUnit.SECONDS.toNanos(2)); // one request back at 0.5 per second
            HttpResponse<String> refilled = postTo(stepped, "/east/v1/chat/completions", OPENAI_CHAT);
            nanos.addAndGet(TimeUnit.SECONDS.toNanos(1)); // half a request: not enough
            HttpResponse<String> halfway = postTo(stepped, "/east/v1/chat/completions", OPENAI_CHAT);

            assertEquals(List.of(200, 200, 429, 200, 429), Stream.of(first, second, refused, refilled, halfway)
                    .map(HttpResponse::statusCode).toList());
            assertEquals("0", header(second, "x-ratelimit-remaining-requests"));
            // The true time to full: 10 requests at 0.5 per second.
            assertEquals("20s", header(second, "x-ratelimit-reset-requests"));
            assertEquals("0", header(refused, "x-ratelimit-remaining-requests"));
            assertEquals("100000", header(refused, "x-ratelimit-remaining-tokens"));
            assertEquals("20s", header(refused, "x-ratelimit-reset-requests"));
            assertEquals("2", header(refused, "retry-after"));
            assertEquals("1", header(halfway, "retry-after"));
            JsonNode error = Json.MAPPER.readTree(refused.body()).get("error");
            assertEquals("rate_limit_exceeded", error.get("code").asText());
            assertEquals("requests", error.get("type").asText());
            assertTrue(error.get("message").asText().startsWith(
                    "Rate limit reached for gpt-4o-mini in organization org-XXXXXXXXXXXXXXXXXXXXXXXX on requests per min"
                            + " (RPM): Limit 10, Used 10, Requested 1. Please try again in 2s."), error.toString());
            // The same envelope, keys and headers as the recorded TPM 429: only the limit named differs.
            JsonNode fixture = Json.MAPPER.readTree(
                    fixtureDir().resolve("openai_429_rate_limit_exceeded_tpm.json").toFile());
            assertEquals(leaves(fixture.get("body")).keySet(),
                    leaves(Json.MAPPER.readTree(refused.body())).keySet());
            Set<String> expectedHeaders = new TreeSet<>();
            fixture.get("headers").fieldNames().forEachRemaining(expectedHeaders::add);
            assertTrue(refused.headers().map().keySet().containsAll(expectedHeaders), refused.headers().toString());
            assertEquals(3, stepped.stats().get("east").outcome("success"));
            assertEquals(2, stepped.stats().get("east").outcome("rate_limit"));
        }
    }

    @Test
    void used_up_tokens_answer_the_tpm_429_and_without_a_refill_stay_used_up() throws Exception {
        java.util.concurrent.atomic.AtomicLong nanos = new java.util.concurrent.atomic.AtomicLong();
        try (ProviderSimulator stepped = ProviderSimulator.start(0, nanos::get)) {
            stepped.script("east", Script.success().withRateLimit(RateLimit.of(100, 50).withDrainPerCall(1, 50)));

            HttpResponse<String> last = postTo(stepped, "/east/v1/chat/completions", OPENAI_CHAT);
            nanos.addAndGet(TimeUnit.HOURS.toNanos(1)); // no refill rate: time changes nothing
            HttpResponse<String> refused = postTo(stepped, "/east/v1/chat/completions", OPENAI_CHAT);

            assertEquals(200, last.statusCode());
            assertEquals(429, refused.statusCode());
            assertEquals("99", header(refused, "x-ratelimit-remaining-requests"));
            assertEquals("0", header(refused, "x-ratelimit-remaining-tokens"));
            assertEquals(String.valueOf(Fault.DEFAULT_RETRY_AFTER_SECONDS), header(refused, "retry-after"));
            JsonNode error = Json.MAPPER.readTree(refused.body()).get("error");
            assertEquals("tokens", error.get("type").asText());
            assertTrue(error.get("message").asText().contains("on tokens per min (TPM)"), error.toString());
        }
    }

    @Test
    void a_refill_never_goes_past_the_limit_and_anthropic_reports_the_true_reset_time() throws Exception {
        java.util.concurrent.atomic.AtomicLong nanos = new java.util.concurrent.atomic.AtomicLong();
        try (ProviderSimulator stepped = ProviderSimulator.start(0, nanos::get)) {
            stepped.script("claude", Script.success().withRateLimit(RateLimit.of(4, 1_000_000).withRemaining(1, 1_000_000)
                    .withDrainPerCall(1, 0).withRefillPerSecond(0.1, 0)));

            HttpResponse<String> last = postTo(stepped, "/claude/v1/messages", ANTHROPIC_MESSAGES);
            Instant before = Instant.now();
            HttpResponse<String> refused = postTo(stepped, "/claude/v1/messages", ANTHROPIC_MESSAGES);
            nanos.addAndGet(TimeUnit.DAYS.toNanos(365)); // a year of refill fills it to 4, not to millions
            List<Integer> after = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                after.add(postTo(stepped, "/claude/v1/messages", ANTHROPIC_MESSAGES).statusCode());
            }

            assertEquals(200, last.statusCode());
            assertEquals(429, refused.statusCode());
            assertEquals("rate_limit_error", Json.MAPPER.readTree(refused.body()).at("/error/type").asText());
            assertEquals("0", header(refused, "anthropic-ratelimit-requests-remaining"));
            assertEquals("10", header(refused, "retry-after"));
            // 4 requests at 0.1 per second: full again 40 s after the refusal, by the answer's own clock.
            Instant reset = Instant.parse(header(refused, "anthropic-ratelimit-requests-reset"));
            assertTrue(!reset.isBefore(before.plusSeconds(39)) && !reset.isAfter(Instant.now().plusSeconds(41)),
                    "reset " + reset + " is not 40 s after " + before);
            assertEquals(List.of(200, 200, 200, 200, 429), after);
        }
    }

    @Test
    void the_admin_api_takes_refill_rates_and_refuses_negative_ones() throws Exception {
        HttpResponse<String> put = send("PUT", "/_sim/deployments/ops", "{\"rateLimit\":{\"limitRequests\":10,"
                + "\"limitTokens\":1000,\"remainingRequests\":0,\"refillRequestsPerSecond\":2.5}}");
        HttpResponse<String> negative = send("PUT", "/_sim/deployments/ops", "{\"rateLimit\":{\"limitRequests\":10,"
                + "\"limitTokens\":1000,\"refillRequestsPerSecond\":-1}}");

        assertEquals(200, put.statusCode());
        assertEquals(2.5, Json.MAPPER.readTree(put.body()).at("/rateLimit/refillRequestsPerSecond").asDouble());
        assertEquals(400, negative.statusCode());
        assertTrue(negative.body().contains("refill"), negative.body());
    }

    @Test
    void anthropic_headroom_drains_by_the_calls_tokens_and_resets_are_rfc3339() throws Exception {
        sim.script("claude", Script.success().withContent("Paris.").withRateLimit(RateLimit.of(50, 1000)));

        HttpResponse<String> first = post("/claude/v1/messages", ANTHROPIC_MESSAGES);
        HttpResponse<String> second = post("/claude/v1/messages", ANTHROPIC_MESSAGES);

        JsonNode usage = Json.MAPPER.readTree(first.body()).get("usage");
        long callTokens = usage.get("input_tokens").asLong() + usage.get("output_tokens").asLong();
        assertEquals("49", header(first, "anthropic-ratelimit-requests-remaining"));
        assertEquals("48", header(second, "anthropic-ratelimit-requests-remaining"));
        assertEquals(String.valueOf(1000 - 2 * callTokens), header(second, "anthropic-ratelimit-tokens-remaining"));
        Instant reset = Instant.parse(header(second, "anthropic-ratelimit-requests-reset"));
        assertTrue(reset.isAfter(Instant.now().minusSeconds(5)), "reset " + reset + " lies in the past");
    }

    @Test
    void rate_limit_faults_report_exhausted_tokens_and_retry_after() throws Exception {
        sim.script("east", Script.faults(Fault.of(FaultKind.RATE_LIMIT, 1).withRetryAfterSeconds(7)));
        sim.script("claude", Script.faults(Fault.of(FaultKind.RATE_LIMIT, 1).withRetryAfterSeconds(7)));
        sim.script("gem", Script.faults(Fault.of(FaultKind.RATE_LIMIT, 1).withRetryAfterSeconds(7)));

        HttpResponse<String> openai = post("/east/v1/chat/completions", OPENAI_CHAT);
        HttpResponse<String> anthropic = post("/claude/v1/messages", ANTHROPIC_MESSAGES);
        HttpResponse<String> gemini = post("/gem/v1beta/models/gemini-2.5-flash:generateContent", GEMINI_CONTENTS);

        assertEquals("7", header(openai, "retry-after"));
        assertEquals("0", header(openai, "x-ratelimit-remaining-tokens"));
        assertEquals("7s", header(openai, "x-ratelimit-reset-tokens"));
        assertEquals("7", header(anthropic, "retry-after"));
        assertEquals("0", header(anthropic, "anthropic-ratelimit-input-tokens-remaining"));
        assertEquals("7s", Json.MAPPER.readTree(gemini.body()).at("/error/details/2/retryDelay").asText());
    }

    @Test
    void openai_reset_durations_are_formatted_like_go_durations() {
        assertEquals("0s", OpenAiWire.goDuration(0));
        assertEquals("12ms", OpenAiWire.goDuration(12));
        assertEquals("1s", OpenAiWire.goDuration(1000));
        assertEquals("1.5s", OpenAiWire.goDuration(1500));
        assertEquals("6m0s", OpenAiWire.goDuration(360_000));
        assertEquals("1h0m0s", OpenAiWire.goDuration(3_600_000));
    }

    @Test
    void openai_stream_sends_data_chunks_then_usage_then_done() throws Exception {
        sim.script("east", Script.success().withContent("Paris is the capital of France."));
        String streamRequest = OPENAI_CHAT.replace("{\"model\"", "{\"stream\":true,\"stream_options\":{\"include_usage\":true},\"model\"");

        HttpResponse<String> response = post("/east/v1/chat/completions", streamRequest);

        assertEquals("text/event-stream; charset=utf-8", header(response, "content-type"));
        List<String> frames = frames(response.body(), "\n\n");
        assertEquals("data: [DONE]", frames.get(frames.size() - 1));
        List<JsonNode> chunks = frames.subList(0, frames.size() - 1).stream().map(frame -> {
            assertTrue(frame.startsWith("data: "), frame);
            return parse(frame.substring("data: ".length()));
        }).toList();
        JsonNode usageChunk = chunks.get(chunks.size() - 1);
        assertEquals(0, usageChunk.get("choices").size());
        assertEquals(usageChunk.at("/usage/prompt_tokens").asInt() + usageChunk.at("/usage/completion_tokens").asInt(),
                usageChunk.at("/usage/total_tokens").asInt());
        List<JsonNode> choiceChunks = chunks.subList(0, chunks.size() - 1);
        assertTrue(choiceChunks.stream().allMatch(chunk -> chunk.get("usage").isNull()
                && chunk.get("object").asText().equals("chat.completion.chunk")));
        assertEquals("assistant", choiceChunks.get(0).at("/choices/0/delta/role").asText());
        assertEquals("Paris is the capital of France.", choiceChunks.stream()
                .map(chunk -> chunk.at("/choices/0/delta/content").asText("")).collect(Collectors.joining()));
        assertEquals("stop", choiceChunks.get(choiceChunks.size() - 1).at("/choices/0/finish_reason").asText());
    }

    @Test
    void anthropic_stream_sends_the_event_sequence_with_a_thinking_block() throws Exception {
        sim.script("claude", Script.success().withContent("Paris.").withThinkingTokens(120));
        String streamRequest = ANTHROPIC_THINKING.replace("{\"model\"", "{\"stream\":true,\"model\"");

        HttpResponse<String> response = post("/claude/v1/messages", streamRequest);

        List<String> names = new ArrayList<>();
        List<JsonNode> events = new ArrayList<>();
        for (String frame : frames(response.body(), "\n\n")) {
            String[] lines = frame.split("\n");
            JsonNode data = parse(lines[1].substring("data: ".length()));
            assertEquals("event: " + data.get("type").asText(), lines[0]);
            names.add(data.get("type").asText() + deltaType(data));
            events.add(data);
        }
        assertEquals(List.of("message_start", "ping", "content_block_start:thinking", "content_block_delta:thinking_delta"),
                names.subList(0, 4));
        assertEquals(List.of("content_block_delta:signature_delta", "content_block_stop", "content_block_start:text",
                "content_block_delta:text_delta"), names.subList(names.indexOf("content_block_delta:signature_delta"),
                names.indexOf("content_block_start:text") + 2));
        assertEquals(List.of("content_block_stop", "message_delta", "message_stop"), names.subList(names.size() - 3, names.size()));
        JsonNode messageDelta = events.get(events.size() - 2);
        assertEquals("end_turn", messageDelta.at("/delta/stop_reason").asText());
        assertEquals(Tokens.of("Paris.") + 120, messageDelta.at("/usage/output_tokens").asInt());
    }

    @Test
    void gemini_sse_stream_sends_crlf_framed_chunks_with_cumulative_usage() throws Exception {
        sim.script("gem", Script.success().withContent("Paris is the capital of France.").withThinkingTokens(284));

        HttpResponse<String> response = post("/gem/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                GEMINI_THINKING);

        assertTrue(response.body().endsWith("\r\n\r\n"));
        List<JsonNode> chunks = frames(response.body(), "\r\n\r\n").stream()
                .map(frame -> parse(frame.substring("data: ".length()))).toList();
        assertTrue(chunks.get(0).at("/candidates/0/content/parts/0/thought").asBoolean());
        JsonNode last = chunks.get(chunks.size() - 1);
        assertEquals("STOP", last.at("/candidates/0/finishReason").asText());
        assertEquals(284, last.at("/usageMetadata/thoughtsTokenCount").asInt());
        JsonNode usage = last.get("usageMetadata");
        assertEquals(usage.get("promptTokenCount").asInt() + usage.get("candidatesTokenCount").asInt() + 284,
                usage.get("totalTokenCount").asInt());
        assertEquals("Paris is the capital of France.", chunks.stream()
                .flatMap(chunk -> Stream.of(chunk.at("/candidates/0/content/parts/0")))
                .filter(part -> !part.path("thought").asBoolean())
                .map(part -> part.get("text").asText()).collect(Collectors.joining()));
    }

    @Test
    void scripted_function_calls_are_answered_in_each_providers_own_shape() throws Exception {
        FunctionCall broken = new FunctionCall("get_weather", "{\"city\": \"Par");
        sim.script("east", Script.success().withToolCalls(broken));
        JsonNode openai = parse(post("/east/v1/chat/completions", OPENAI_CHAT).body());
        assertEquals("tool_calls", openai.at("/choices/0/finish_reason").asText());
        assertTrue(openai.at("/choices/0/message/content").isNull());
        JsonNode made = openai.at("/choices/0/message/tool_calls/0");
        assertTrue(made.get("id").asText().startsWith("call_"));
        assertEquals("function", made.get("type").asText());
        assertEquals("get_weather", made.at("/function/name").asText());
        assertEquals("{\"city\": \"Par", made.at("/function/arguments").asText(), "OpenAI sends the text as it is");

        // Streamed, the first delta of a call names it and the arguments follow in pieces.
        String streamRequest = OPENAI_CHAT.replace("{\"model\"", "{\"stream\":true,\"model\"");
        List<JsonNode> chunks = frames(post("/east/v1/chat/completions", streamRequest).body(), "\n\n").stream()
                .filter(frame -> !frame.equals("data: [DONE]")).map(frame -> parse(frame.substring(6))).toList();
        assertEquals("get_weather", chunks.stream().map(c -> c.at("/choices/0/delta/tool_calls/0/function/name"))
                .filter(JsonNode::isTextual).findFirst().orElseThrow().asText());
        assertEquals("{\"city\": \"Par", chunks.stream()
                .map(c -> c.at("/choices/0/delta/tool_calls/0/function/arguments").asText(""))
                .collect(Collectors.joining()));
        assertEquals("tool_calls", chunks.get(chunks.size() - 1).at("/choices/0/finish_reason").asText());

        FunctionCall valid = new FunctionCall("get_weather", "{\"city\": \"Paris\"}");
        sim.script("claude", Script.success().withToolCalls(valid));
        JsonNode anthropic = parse(post("/claude/v1/messages", ANTHROPIC_MESSAGES).body());
        assertEquals("tool_use", anthropic.get("stop_reason").asText());
        assertEquals("tool_use", anthropic.at("/content/0/type").asText());
        assertEquals("Paris", anthropic.at("/content/0/input/city").asText(), "Anthropic sends the input as an object");
        assertTrue(anthropic.at("/content/0/id").asText().startsWith("toolu_01"));
        // Anthropic's stream sends the input as JSON text in pieces: the way broken input reaches a client.
        sim.script("claude", Script.success().withToolCalls(broken));
        String anthropicStream = ANTHROPIC_MESSAGES.replace("{\"model\"", "{\"stream\":true,\"model\"");
        StringBuilder partial = new StringBuilder();
        for (String frame : frames(post("/claude/v1/messages", anthropicStream).body(), "\n\n")) {
            JsonNode data = parse(frame.split("\n")[1].substring("data: ".length()));
            partial.append(data.at("/delta/partial_json").asText(""));
        }
        assertEquals(broken.arguments(), partial.toString());

        sim.script("gem", Script.success().withToolCalls(valid));
        JsonNode gemini = parse(post("/gem/v1beta/models/gemini-2.5-flash:generateContent", GEMINI_CONTENTS).body());
        assertEquals("get_weather", gemini.at("/candidates/0/content/parts/0/functionCall/name").asText());
        assertEquals("Paris", gemini.at("/candidates/0/content/parts/0/functionCall/args/city").asText());
        assertEquals("STOP", gemini.at("/candidates/0/finishReason").asText());
    }

    @Test
    void the_responses_api_answers_output_items_and_streams_typed_events() throws Exception {
        sim.script("east", Script.success().withContent("Paris is the capital of France."));
        String request = "{\"model\":\"gpt-4o-mini\",\"input\":\"" + QUESTION + "\",\"instructions\":\"Be brief.\"}";
        JsonNode whole = parse(post("/east/v1/responses", request).body());
        assertEquals("response", whole.get("object").asText());
        assertEquals("completed", whole.get("status").asText());
        assertEquals("Be brief.", whole.get("instructions").asText());
        assertEquals("Paris is the capital of France.", whole.at("/output/0/content/0/text").asText());
        assertEquals(whole.at("/usage/input_tokens").asInt() + whole.at("/usage/output_tokens").asInt(),
                whole.at("/usage/total_tokens").asInt());

        sim.script("east", Script.success().withToolCalls(new FunctionCall("get_weather", "{\"city\": \"Par")));
        List<String> names = new ArrayList<>();
        StringBuilder arguments = new StringBuilder();
        JsonNode completed = null;
        for (String frame : frames(post("/east/v1/responses", request.replace("{", "{\"stream\":true,")).body(),
                "\n\n")) {
            String[] lines = frame.split("\n");
            JsonNode data = parse(lines[1].substring("data: ".length()));
            assertEquals("event: " + data.get("type").asText(), lines[0]);
            assertEquals(names.size(), data.get("sequence_number").asInt());
            names.add(data.get("type").asText());
            arguments.append(data.path("delta").asText(""));
            if (data.get("type").asText().equals("response.completed")) {
                completed = data.get("response");
            }
        }
        assertEquals(List.of("response.created", "response.in_progress", "response.output_item.added"),
                names.subList(0, 3));
        assertEquals(List.of("response.function_call_arguments.done", "response.output_item.done",
                "response.completed"), names.subList(names.size() - 3, names.size()));
        assertEquals("{\"city\": \"Par", arguments.toString());
        assertEquals("function_call", completed.at("/output/0/type").asText());
        assertEquals("{\"city\": \"Par", completed.at("/output/0/arguments").asText());

        sim.script("east", Script.faults(Fault.of(FaultKind.SAFETY_BLOCK, 1)));
        JsonNode filtered = parse(post("/east/v1/responses", request).body());
        assertEquals("incomplete", filtered.get("status").asText());
        assertEquals("content_filter", filtered.at("/incomplete_details/reason").asText());
    }

    @Test
    void a_request_with_the_legacy_functions_is_answered_with_a_function_call() throws Exception {
        // OpenAI's chat API reference: to the deprecated functions it answers message.function_call {name,
        // arguments} and finish_reason function_call, not tool_calls; streamed, delta.function_call in pieces.
        String functions = "\"functions\":[{\"name\":\"lookup\",\"parameters\":{\"type\":\"object\","
                + "\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"integer\"}}}}],"
                + "\"function_call\":{\"name\":\"lookup\"},";
        String request = OPENAI_CHAT.replace("{\"model\"", "{" + functions + "\"model\"");
        JsonNode forced = parse(post("/east/v1/chat/completions", request).body());
        assertEquals("function_call", forced.at("/choices/0/finish_reason").asText());
        assertTrue(forced.at("/choices/0/message/tool_calls").isMissingNode());
        assertEquals("lookup", forced.at("/choices/0/message/function_call/name").asText());
        assertEquals("{\"id\":0}", forced.at("/choices/0/message/function_call/arguments").asText());

        sim.script("legacy", Script.success().withToolCalls(new FunctionCall("lookup", "{\"id\": 7}")));
        List<JsonNode> chunks = frames(post("/legacy/v1/chat/completions", request.replace("{\"functions\"",
                "{\"stream\":true,\"functions\"")).body(), "\n\n").stream()
                .filter(frame -> !frame.equals("data: [DONE]")).map(frame -> parse(frame.substring(6))).toList();
        assertEquals("lookup", chunks.stream().map(c -> c.at("/choices/0/delta/function_call/name"))
                .filter(JsonNode::isTextual).findFirst().orElseThrow().asText());
        assertEquals("{\"id\": 7}", chunks.stream()
                .map(c -> c.at("/choices/0/delta/function_call/arguments").asText(""))
                .collect(Collectors.joining()));
        assertEquals("function_call", chunks.get(chunks.size() - 1).at("/choices/0/finish_reason").asText());
    }

    @Test
    void a_forced_tool_choice_is_answered_with_a_call_whose_arguments_fit_the_schema() throws Exception {
        String tools = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"parameters\":"
                + "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"integer\","
                + "\"minimum\":7}}}}}],";
        JsonNode free = parse(post("/east/v1/chat/completions", OPENAI_CHAT.replace("{\"model\"", "{" + tools
                + "\"model\"")).body());
        assertEquals("stop", free.at("/choices/0/finish_reason").asText(), "tool_choice auto: a text answer");

        JsonNode forced = parse(post("/east/v1/chat/completions", OPENAI_CHAT.replace("{\"model\"", "{" + tools
                + "\"tool_choice\":\"required\",\"model\"")).body());
        assertEquals("lookup", forced.at("/choices/0/message/tool_calls/0/function/name").asText());
        assertEquals("{\"id\":7}", forced.at("/choices/0/message/tool_calls/0/function/arguments").asText());

        String geminiTools = "\"tools\":[{\"function_declarations\":[{\"name\":\"lookup\"}]}],"
                + "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\"}},";
        JsonNode gemini = parse(post("/gem/v1beta/models/gemini-2.5-flash:generateContent",
                GEMINI_CONTENTS.replace("{\"contents\"", "{" + geminiTools + "\"contents\"")).body());
        assertEquals("lookup", gemini.at("/candidates/0/content/parts/0/functionCall/name").asText());
    }

    @Test
    void gemini_stream_without_alt_sse_is_one_json_array_of_chunks() throws Exception {
        HttpResponse<String> response = post("/gem/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                GEMINI_CONTENTS);

        JsonNode chunks = Json.MAPPER.readTree(response.body());
        assertTrue(chunks.isArray() && chunks.size() > 1);
        assertEquals("STOP", chunks.get(chunks.size() - 1).at("/candidates/0/finishReason").asText());
    }

    @Test
    void safety_blocks_are_200_answers_with_a_content_filter_reason() throws Exception {
        sim.script("east", Script.faults(Fault.of(FaultKind.SAFETY_BLOCK, 1)));
        sim.script("claude", Script.faults(Fault.of(FaultKind.SAFETY_BLOCK, 1)));

        HttpResponse<String> openai = post("/east/v1/chat/completions", OPENAI_CHAT);
        HttpResponse<String> anthropic = post("/claude/v1/messages", ANTHROPIC_MESSAGES);

        assertEquals(200, openai.statusCode());
        assertEquals("content_filter", Json.MAPPER.readTree(openai.body()).at("/choices/0/finish_reason").asText());
        assertEquals(200, anthropic.statusCode());
        JsonNode refusal = Json.MAPPER.readTree(anthropic.body());
        assertEquals("refusal", refusal.get("stop_reason").asText());
        assertEquals(0, refusal.get("content").size());
    }

    @Test
    void thinking_tokens_are_reported_where_each_provider_reports_them() throws Exception {
        sim.script("t", Script.success().withThinkingTokens(300));

        JsonNode openai = Json.MAPPER.readTree(post("/t/v1/chat/completions", OPENAI_CHAT).body());
        JsonNode anthropic = Json.MAPPER.readTree(post("/t/v1/messages", ANTHROPIC_THINKING).body());
        JsonNode anthropicWithoutThinking = Json.MAPPER.readTree(post("/t/v1/messages", ANTHROPIC_MESSAGES).body());
        JsonNode gemini = Json.MAPPER.readTree(post("/t/v1beta/models/gemini-2.5-flash:generateContent", GEMINI_CONTENTS).body());

        assertEquals(300, openai.at("/usage/completion_tokens_details/reasoning_tokens").asInt());
        assertEquals(300, anthropic.at("/usage/output_tokens_details/thinking_tokens").asInt());
        assertEquals("thinking", anthropic.at("/content/0/type").asText());
        assertEquals(0, anthropicWithoutThinking.at("/usage/output_tokens_details/thinking_tokens").asInt());
        assertEquals(300, gemini.at("/usageMetadata/thoughtsTokenCount").asInt());
        assertEquals(1, gemini.at("/candidates/0/content/parts").size(), "thoughts are only shown with includeThoughts");
    }

    @Test
    void malformed_and_empty_faults_answer_200_with_bodies_no_parser_accepts() throws Exception {
        sim.script("east", Script.faults(Fault.of(FaultKind.MALFORMED, 1), Fault.of(FaultKind.EMPTY, 1)));

        HttpResponse<String> malformed = post("/east/v1/chat/completions", OPENAI_CHAT);
        HttpResponse<String> empty = post("/east/v1/chat/completions", OPENAI_CHAT);

        assertEquals(200, malformed.statusCode());
        assertTrue(malformed.body().startsWith("{\"id\":\"chatcmpl-"));
        assertThrows(JsonProcessingException.class, () -> Json.MAPPER.readTree(malformed.body()));
        assertEquals(200, empty.statusCode());
        assertEquals("", empty.body());
        assertEquals("application/json", header(empty, "content-type"));
    }

    @Test
    void a_malformed_stream_breaks_off_inside_an_event() throws Exception {
        sim.script("east", Script.faults(Fault.of(FaultKind.MALFORMED, 1)));

        HttpResponse<String> response = post("/east/v1/chat/completions", OPENAI_CHAT.replace("{\"model\"", "{\"stream\":true,\"model\""));

        List<String> frames = frames(response.body(), "\n\n");
        assertFalse(response.body().contains("[DONE]"));
        parse(frames.get(0).substring("data: ".length()));
        String broken = frames.get(frames.size() - 1).substring("data: ".length());
        assertThrows(JsonProcessingException.class, () -> Json.MAPPER.readTree(broken));
    }

    @Test
    void latency_delays_the_answer_and_its_jitter_repeats_for_a_seed() throws Exception {
        sim.script("slow", Script.success().withLatency(150, 0, 0));

        long started = System.nanoTime();
        assertEquals(200, post("/slow/v1/chat/completions", OPENAI_CHAT).statusCode());

        assertTrue(System.nanoTime() - started >= TimeUnit.MILLISECONDS.toNanos(150));
        Script jittery = Script.success().withLatency(100, 50, 42);
        assertEquals(delays(jittery), delays(jittery));
        assertTrue(delays(jittery).stream().allMatch(delay -> delay >= 100 && delay <= 150));
        assertFalse(delays(jittery).equals(delays(jittery.withLatency(100, 50, 43))));
    }

    @Test
    void the_admin_api_scripts_reports_and_resets_deployments() throws Exception {
        HttpResponse<String> put = send("PUT", "/_sim/deployments/ops",
                "{\"faults\":[{\"kind\":\"rate_limit\",\"count\":2}],\"content\":\"Paris.\",\"thinkingTokens\":5}");
        assertEquals(200, put.statusCode());
        assertEquals("rate_limit", Json.MAPPER.readTree(put.body()).at("/faults/0/kind").asText());
        assertEquals("Paris.", Json.MAPPER.readTree(send("GET", "/_sim/deployments/ops", null).body()).get("content").asText());

        List<Integer> statuses = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            statuses.add(post("/ops/v1/messages", ANTHROPIC_MESSAGES).statusCode());
        }
        assertEquals(List.of(429, 429, 200), statuses);
        JsonNode stats = Json.MAPPER.readTree(send("GET", "/_sim/stats", null).body());
        assertEquals(3, stats.at("/deployments/ops/requests").asInt());
        assertEquals(2, stats.at("/deployments/ops/outcomes/rate_limit").asInt());
        assertEquals(1, stats.at("/deployments/ops/outcomes/success").asInt());

        send("PUT", "/_sim/deployments/ops", "{\"faults\":[{\"kind\":\"server_error\",\"count\":-1}]}");
        assertEquals(204, send("DELETE", "/_sim/deployments/ops", null).statusCode());
        assertEquals(200, post("/ops/v1/messages", ANTHROPIC_MESSAGES).statusCode());
        assertEquals(204, send("POST", "/_sim/reset", null).statusCode());
        assertEquals(0, Json.MAPPER.readTree(send("GET", "/_sim/stats", null).body()).get("deployments").size());
    }

    @Test
    void the_admin_api_rejects_an_unknown_fault_kind_and_names_the_valid_ones() throws Exception {
        HttpResponse<String> response = send("PUT", "/_sim/deployments/ops", "{\"faults\":[{\"kind\":\"meltdown\"}]}");

        assertEquals(400, response.statusCode());
        assertTrue(response.body().contains("rate_limit"), response.body());
    }

    @Test
    void unknown_paths_get_404_and_bodies_that_are_not_json_get_the_providers_400() throws Exception {
        assertEquals(404, post("/east/v2/completions", OPENAI_CHAT).statusCode());

        HttpResponse<String> invalid = post("/east/v1/messages", "{not json");

        assertEquals(400, invalid.statusCode());
        assertEquals("invalid_request_error", Json.MAPPER.readTree(invalid.body()).at("/error/type").asText());
    }

    @Test
    void a_hang_answers_nothing_and_drops_the_connection_after_hang_ms() {
        sim.script("stuck", Script.faults(Fault.of(FaultKind.HANG, 1).withHangMs(200)));

        ExecutionException dropped = assertThrows(ExecutionException.class, () -> http.sendAsync(
                request("/stuck/v1/chat/completions", OPENAI_CHAT), HttpResponse.BodyHandlers.ofString())
                .get(10, TimeUnit.SECONDS));

        assertTrue(dropped.getCause() instanceof IOException, dropped.getCause().toString());
    }

    @Test
    void close_releases_a_hung_request_promptly() {
        ProviderSimulator own = ProviderSimulator.start(0);
        own.script("stuck", Script.faults(Fault.of(FaultKind.HANG, 1)));
        CompletableFuture<HttpResponse<String>> hung = http.sendAsync(HttpRequest.newBuilder(
                        URI.create(own.baseUrl() + "/stuck/v1/chat/completions"))
                .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(OPENAI_CHAT)).build(),
                HttpResponse.BodyHandlers.ofString());
        await().atMost(Duration.ofSeconds(10)).until(() -> own.stats().containsKey("stuck")
                && own.stats().get("stuck").requests() == 1);

        own.close();

        // The request would hang for its 60 s timeout; closing ends it with an error (not a TimeoutException here),
        // whatever the machine's speed.
        assertThrows(ExecutionException.class, () -> hung.get(30, TimeUnit.SECONDS));
    }

    private static List<Long> delays(Script script) {
        Deployment deployment = new Deployment();
        deployment.apply(script);
        List<Long> delays = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            delays.add(deployment.next(s -> new Usage(1, 1, 0), null).delayMs());
        }
        return delays;
    }

    private static Path fixtureDir() {
        Path besideRepo = Path.of("").toAbsolutePath().resolve("../shared/provider-wire").normalize();
        Path dir = Files.isDirectory(besideRepo) ? besideRepo : Path.of("/work/shared/provider-wire");
        assertTrue(Files.isDirectory(dir), "provider wire fixtures not found at " + besideRepo + " or " + dir);
        return dir;
    }

    private static HttpRequest request(String path, String body) {
        return HttpRequest.newBuilder(URI.create(sim.baseUrl() + path)).timeout(Duration.ofSeconds(10))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private static HttpResponse<String> postTo(ProviderSimulator target, String path, String body)
            throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(target.baseUrl() + path)).timeout(Duration.ofSeconds(10))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return http.send(request(path, body), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> send(String method, String path, String body) throws IOException, InterruptedException {
        HttpRequest.BodyPublisher publisher = body == null
                ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body);
        return http.send(HttpRequest.newBuilder(URI.create(sim.baseUrl() + path)).timeout(Duration.ofSeconds(10))
                .method(method, publisher).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String header(HttpResponse<?> response, String name) {
        return response.headers().firstValue(name).orElseThrow(() -> new AssertionError("no " + name + " header"));
    }

    private static List<String> frames(String body, String separator) {
        return Stream.of(body.split(separator)).filter(frame -> !frame.isBlank()).toList();
    }

    private static JsonNode parse(String json) {
        try {
            return Json.MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new AssertionError("not JSON: " + json, e);
        }
    }

    private static String deltaType(JsonNode event) {
        JsonNode block = event.has("content_block") ? event.get("content_block") : event.get("delta");
        return event.get("type").asText().startsWith("content_block_") && block != null ? ":" + block.get("type").asText() : "";
    }

    private static JsonNode without(JsonNode body, List<String> pointers) {
        JsonNode copy = body.deepCopy();
        for (String pointer : pointers) {
            int slash = pointer.lastIndexOf('/');
            JsonNode parent = copy.at(pointer.substring(0, slash));
            String last = pointer.substring(slash + 1);
            if (parent instanceof ArrayNode array) {
                array.remove(Integer.parseInt(last));
            } else {
                ((ObjectNode) parent).remove(last);
            }
        }
        return copy;
    }

    /** Every leaf (scalar or empty container) by JSON pointer, so two bodies can be compared path by path. */
    private static Map<String, JsonNode> leaves(JsonNode body) {
        Map<String, JsonNode> leaves = new TreeMap<>();
        collect("", body, leaves);
        return leaves;
    }

    private static void collect(String pointer, JsonNode node, Map<String, JsonNode> leaves) {
        if (node.isContainerNode() && node.size() > 0) {
            if (node.isArray()) {
                for (int i = 0; i < node.size(); i++) {
                    collect(pointer + "/" + i, node.get(i), leaves);
                }
            } else {
                node.properties().forEach(field -> collect(pointer + "/" + field.getKey(), field.getValue(), leaves));
            }
        } else {
            leaves.put(pointer, node);
        }
    }

    private static Map<String, JsonNode> keyValues(JsonNode body) {
        Map<String, JsonNode> values = new TreeMap<>();
        leaves(body).forEach((pointer, value) -> {
            if (KEY_FIELDS.contains(pointer.substring(pointer.lastIndexOf('/') + 1))) {
                values.put(pointer, value);
            }
        });
        return values;
    }

    private static Set<String> difference(Collection<String> a, Collection<String> b) {
        Set<String> result = new HashSet<>(a);
        result.removeAll(b);
        return result;
    }
}
