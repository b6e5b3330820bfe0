package io.faultline.content;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.agroal.api.AgroalDataSource;
import io.faultline.simulator.ProviderSimulator;
import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;

/**
 * The LLM-as-judge faithfulness check against the provider simulator playing the judge (its OpenAI wire, as the
 * LiteLLM proxy answers): calls go in through the ingest API, the judge runs after they are stored, its failures land
 * in {@code failure_events} and its spend in the database. Each test judges on a day of its own (the test clock), so
 * the daily cap of one does not reach another.
 */
@QuarkusTest
@TestProfile(FaithfulnessJudgeTest.JudgeOn.class)
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FaithfulnessJudgeTest {

    static final int CAP = 3;

    /** The simulator, started before the application so that its address can be the judge's base URL. */
    public static class Simulator implements QuarkusTestResourceLifecycleManager {
        private ProviderSimulator simulator;

        @Override
        public Map<String, String> start() {
            simulator = ProviderSimulator.start(0);
            return Map.of("faultline.faithfulness.judge.base-url", simulator.baseUrl() + "/judge");
        }

        @Override
        public void stop() {
            simulator.close();
        }
    }

    public static class JudgeOn implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.faithfulness.judge.enabled", "true",
                    "faultline.faithfulness.judge.sample-rate", "1",
                    "faultline.faithfulness.judge.max-calls-per-day", String.valueOf(CAP),
                    "faultline.faithfulness.judge.timeout", "10s");
        }

        @Override
        public List<TestResourceEntry> testResources() {
            return List.of(new TestResourceEntry(Simulator.class));
        }
    }

    private static final String CONTEXT = "Orders ship within two business days from the warehouse in Leipzig. Returns"
            + " are accepted within 30 days of delivery if the item is unused. Refunds are issued to the original"
            + " payment method within 5 business days after the return arrives.";
    private static final String QUESTION = "How long do I have to return a jacket, and when do I get my money back?";
    private static final String ANSWER = "You can return an unused item within 30 days of delivery. Once the return"
            + " arrives, the refund goes to your original payment method within 5 business days.";
    private static final String UNSUPPORTED =
            "{\"claims\": 2, \"unsupported_claims\": 2, \"verdict\": \"unsupported\"}";
    private static final String SUPPORTED = "{\"claims\": 2, \"unsupported_claims\": 0, \"verdict\": \"supported\"}";

    @ConfigProperty(name = "faultline.faithfulness.judge.base-url")
    String judgeBase;

    @Inject
    TestClock clock;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    MeterRegistry registry;

    @Inject
    FaithfulnessJudge judge;

    @Inject
    JudgeConfig judgeConfig;

    @Inject
    io.faultline.call.CallMapper mapper;

    @Inject
    ContentConfig contentConfig;

    @Inject
    FaithfulnessRules lexicalRules;

    @Inject
    io.faultline.episode.FailureSink sink;

    @Inject
    io.faultline.classify.SeverityPolicy severities;

    private final HttpClient http = HttpClient.newHttpClient();

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void an_answer_the_lexical_check_passes_and_the_judge_finds_unsupported_becomes_a_judged_hallucination()
            throws Exception {
        day(1);
        script("{\"content\": " + Payloads.JSON.writeValueAsString("```json\n" + UNSUPPORTED + "\n```") + "}");
        String deployment = "judged-" + UUID.randomUUID();
        long before = judgeRequests();
        ingest(grounded(deployment, ANSWER, "gpt-4o-mini"));

        await().atMost(Duration.ofSeconds(30)).until(() -> failures(deployment).size() == 1);
        JsonNode failure = failures(deployment).get(0);
        assertThat(failure.path("type").asText()).isEqualTo("hallucination");
        assertThat(failure.path("detection_method").asText()).isEqualTo(FaithfulnessJudge.METHOD);
        JsonNode evidence = failure.path("evidence");
        assertThat(evidence.path("judge_verdict").asText()).isEqualTo("unsupported");
        assertThat(evidence.path("lexical_verdict").asText()).isEqualTo("none");
        assertThat(evidence.path("claims_judged").asInt()).isEqualTo(2);
        assertThat(evidence.path("unsupported_claims").asInt()).isEqualTo(2);
        assertThat(evidence.path("judge_model").asText()).isEqualTo("faultline-judge");
        // no reported cost from the simulator: the call is counted at the assumed cost
        assertThat(evidence.path("judge_cost_usd").asDouble()).isEqualTo(0.002);
        assertThat(evidence.toString()).doesNotContain("Leipzig").doesNotContain("refund");
        assertThat(judgeRequests() - before).isEqualTo(1);
        assertThat(spend(1)).isEqualTo(1);

        String families = Metrics.families("faultline_faithfulness_judge_");
        assertThat(families).contains("# TYPE faultline_faithfulness_judge_verdicts_total counter")
                .contains("# TYPE faultline_faithfulness_judge_cost_usd_total counter");
        assertThat(Metrics.value(families, "faultline_faithfulness_judge_verdicts_total", "lexical", "none",
                "verdict", "unsupported")).isPositive();
        assertThat(Metrics.promtool(families)).as("promtool's complaints").isEmpty();
    }

    @Test
    void a_supported_verdict_raises_nothing_and_is_counted_beside_the_lexical_verdict() throws Exception {
        day(2);
        script("{\"content\": " + Payloads.JSON.writeValueAsString(SUPPORTED) + "}");
        String deployment = "supported-" + UUID.randomUUID();
        double before = verdicts("supported", "none");
        ingest(grounded(deployment, ANSWER, "gpt-4o-mini"));

        await().atMost(Duration.ofSeconds(30)).until(() -> verdicts("supported", "none") == before + 1);
        assertThat(failures(deployment)).isEmpty();
        assertThat(spend(2)).isEqualTo(1);
    }

    @Test
    void the_daily_cap_holds_across_calls_and_the_next_day_starts_over() throws Exception {
        day(3);
        script("{\"content\": " + Payloads.JSON.writeValueAsString(UNSUPPORTED) + "}");
        long requests = judgeRequests();
        double capped = skipped("daily_cap");
        List<String> deployments = new ArrayList<>();
        for (int i = 0; i < CAP + 2; i++) {
            deployments.add("capped-" + i + "-" + UUID.randomUUID());
            ingest(grounded(deployments.get(i), ANSWER, "gpt-4o-mini"));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> skipped("daily_cap") == capped + 2);
        assertThat(judgeRequests() - requests).isEqualTo(CAP);
        assertThat(spend(3)).isEqualTo(CAP);
        assertThat(deployments.stream().mapToInt(d -> failures(d).size()).sum()).isEqualTo(CAP);

        day(4);
        String nextDay = "next-day-" + UUID.randomUUID();
        ingest(grounded(nextDay, ANSWER, "gpt-4o-mini"));
        await().atMost(Duration.ofSeconds(30)).until(() -> failures(nextDay).size() == 1);
        assertThat(spend(4)).isEqualTo(1);
    }

    @Test
    void a_daily_cost_cap_of_zero_reserves_no_judge_call_even_at_an_assumed_cost_of_zero() throws Exception {
        day(8);
        FaithfulnessJudge zeroCap = new FaithfulnessJudge(new CostCap(judgeConfig, 0, 0), contentConfig,
                lexicalRules, sink, severities, dataSource, clock, Payloads.JSON, registry);
        try {
            for (int i = 0; i < 3; i++) {
                assertThat(zeroCap.reserve()).as("reservation " + i).isNull();
            }
            assertThat(spend(8)).isZero();
        } finally {
            zeroCap.stop();
        }
        // At an assumed cost of 0, a day whose spend has reached the cap takes no more calls either.
        day(9);
        FaithfulnessJudge cent = new FaithfulnessJudge(new CostCap(judgeConfig, 0.01, 0), contentConfig,
                lexicalRules, sink, severities, dataSource, clock, Payloads.JSON, registry);
        try {
            FaithfulnessJudge.Reservation reserved = cent.reserve();
            assertThat(reserved.day()).isEqualTo(LocalDate.parse("2032-03-10"));
            cent.settle(reserved, 0);
            assertThat(cent.reserve().day()).as("under the cap").isEqualTo(reserved.day());
            try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                    "update faithfulness_judge_spend set cost_usd = 0.01 where day = ?")) {
                st.setObject(1, reserved.day());
                st.executeUpdate();
            }
            assertThat(cent.reserve()).isNull();
            assertThat(spend(9)).isEqualTo(2);
        } finally {
            cent.stop();
        }
    }

    /** The judge's configuration with other daily cost cap and assumed cost per call. */
    @Test
    void at_an_assumed_cost_of_zero_two_replicas_do_not_pass_the_daily_cost_cap_by_a_call_each() throws Exception {
        day(10);
        // Two replicas sharing the database; the judge costs $0.008 a call, the cap is $0.01.
        FaithfulnessJudge a = new FaithfulnessJudge(new CostCap(judgeConfig, 0.01, 0), contentConfig, lexicalRules,
                sink, severities, dataSource, clock, Payloads.JSON, registry);
        FaithfulnessJudge b = new FaithfulnessJudge(new CostCap(judgeConfig, 0.01, 0), contentConfig, lexicalRules,
                sink, severities, dataSource, clock, Payloads.JSON, registry);
        try {
            FaithfulnessJudge.Reservation first = a.reserve();
            assertThat(first).isNotNull();
            // While the first call is out at a cost nobody knows yet, the other replica sends none: both reserved at
            // $0 passed the cap, and settled at $0.016.
            assertThat(b.reserve()).as("reserved while a call of unknown cost is out").isNull();
            a.settle(first, 0.008);
            // Its cost known, a second call at that cost does not fit under the cap either.
            assertThat(b.reserve()).as("reserved past the cap at the cost seen today").isNull();
            assertThat(cost(10)).isEqualTo(0.008);
            assertThat(spend(10)).isEqualTo(1);

            // A replica that died with its call out holds the others back no longer than the judge's timeout.
            day(11);
            assertThat(a.reserve()).isNotNull();
            assertThat(b.reserve()).isNull();
            clock.advance(judgeConfig.timeout().plusSeconds(1));
            assertThat(b.reserve()).as("after the dead replica's call timed out").isNotNull();
        } finally {
            a.stop();
            b.stop();
        }
    }

    @Test
    void at_an_assumed_cost_below_the_real_one_two_replicas_do_not_pass_the_daily_cost_cap_together()
            throws Exception {
        day(13);
        // The judge costs $0.008 a call, $0.002 is assumed, the cap is $0.01: two calls reserved at the assumed cost
        // before either was priced fitted under it, and settled at $0.016.
        FaithfulnessJudge a = new FaithfulnessJudge(new CostCap(judgeConfig, 0.01, 0.002), contentConfig,
                lexicalRules, sink, severities, dataSource, clock, Payloads.JSON, registry);
        FaithfulnessJudge b = new FaithfulnessJudge(new CostCap(judgeConfig, 0.01, 0.002), contentConfig,
                lexicalRules, sink, severities, dataSource, clock, Payloads.JSON, registry);
        try {
            FaithfulnessJudge.Reservation first = a.reserve();
            assertThat(first).isNotNull();
            assertThat(b.reserve()).as("reserved while the day's first call, of unknown cost, is out").isNull();
            a.settle(first, 0.008);
            assertThat(b.reserve()).as("reserved past the cap at the cost seen today").isNull();
            assertThat(cost(13)).isEqualTo(0.008);
            assertThat(spend(13)).isEqualTo(1);
        } finally {
            a.stop();
            b.stop();
        }
    }

    @Test
    void a_call_held_back_while_another_replicas_call_of_unknown_cost_is_out_is_not_counted_as_the_daily_cap()
            throws Exception {
        day(12);
        FaithfulnessJudge a = new FaithfulnessJudge(new CostCap(judgeConfig, 0.01, 0), contentConfig, lexicalRules,
                sink, severities, dataSource, clock, Payloads.JSON, registry);
        FaithfulnessJudge b = new FaithfulnessJudge(new CostCap(judgeConfig, 0.01, 0), contentConfig, lexicalRules,
                sink, severities, dataSource, clock, Payloads.JSON, registry);
        try {
            io.faultline.call.LlmCall call = mapper.map(Payloads.success("openai", "gpt-4o-mini", "dep-unknown",
                    clock.instant()).node());
            double capped = skipped("daily_cap");
            double unknown = skipped("cost_unknown");
            FaithfulnessJudge.Reservation first = a.reserve();
            assertThat(first).isNotNull();
            // The day is far under its caps; the other replica waits only for the first call's cost.
            b.judge(call, List.of(CONTEXT));
            assertThat(skipped("cost_unknown")).isEqualTo(unknown + 1);
            assertThat(skipped("daily_cap")).as("the cap was not reached").isEqualTo(capped);

            // Settled at a cost that leaves no room: that one is the daily cap.
            a.settle(first, 0.008);
            b.judge(call, List.of(CONTEXT));
            assertThat(skipped("daily_cap")).isEqualTo(capped + 1);
            assertThat(skipped("cost_unknown")).isEqualTo(unknown + 1);
        } finally {
            a.stop();
            b.stop();
        }
    }

    record CostCap(JudgeConfig base, double maxCostPerDayUsd, double assumedCostPerCallUsd) implements JudgeConfig {
        @Override public boolean enabled() { return base.enabled(); }
        @Override public java.util.Optional<String> baseUrl() { return base.baseUrl(); }
        @Override public java.util.Optional<String> apiKey() { return base.apiKey(); }
        @Override public String model() { return base.model(); }
        @Override public double sampleRate() { return base.sampleRate(); }
        @Override public int maxCallsPerDay() { return base.maxCallsPerDay(); }
        @Override public Duration timeout() { return base.timeout(); }
        @Override public int queueCapacity() { return base.queueCapacity(); }
        @Override public int maxContextChars() { return base.maxContextChars(); }
        @Override public int maxAnswerChars() { return base.maxAnswerChars(); }
    }

    @Test
    void the_judges_own_calls_and_ungrounded_calls_are_not_judged() throws Exception {
        day(5);
        script("{\"content\": " + Payloads.JSON.writeValueAsString(UNSUPPORTED) + "}");
        long requests = judgeRequests();
        String own = "own-" + UUID.randomUUID();
        String ungrounded = "ungrounded-" + UUID.randomUUID();
        String marker = "marker-" + UUID.randomUUID();
        ingest(grounded(own, ANSWER, "faultline-judge"));
        Payloads plain = Payloads.success("openai", "gpt-4o-mini", ungrounded, clock.instant());
        ingest(Payloads.array(plain.answer("Paris is the capital of Germany.", "stop")));
        ingest(grounded(marker, ANSWER, "gpt-4o-mini"));

        // one worker, in order: once the marker is judged, the two before it were passed over
        await().atMost(Duration.ofSeconds(30)).until(() -> failures(marker).size() == 1);
        assertThat(judgeRequests() - requests).isEqualTo(1);
        assertThat(failures(own)).isEmpty();
        assertThat(failures(ungrounded)).isEmpty();
    }

    @Test
    void a_judge_that_fails_is_counted_as_skipped_and_ingest_does_not_notice() throws Exception {
        day(6);
        script("{\"faults\": [{\"kind\": \"server_error\", \"count\": 1}], \"content\": "
                + Payloads.JSON.writeValueAsString(UNSUPPORTED) + "}");
        double errors = skipped("error");
        String failed = "judge-down-" + UUID.randomUUID();
        ingest(grounded(failed, ANSWER, "gpt-4o-mini"));
        await().atMost(Duration.ofSeconds(30)).until(() -> skipped("error") == errors + 1);
        assertThat(failures(failed)).isEmpty();

        String after = "judge-back-" + UUID.randomUUID();
        ingest(grounded(after, ANSWER, "gpt-4o-mini"));
        await().atMost(Duration.ofSeconds(30)).until(() -> failures(after).size() == 1);
    }

    @Test
    void the_status_shows_the_caps_and_todays_spend_across_replicas() throws Exception {
        day(7);
        script("{\"content\": " + Payloads.JSON.writeValueAsString(SUPPORTED) + "}");
        double before = verdicts("supported", "none");
        ingest(grounded("status-a-" + UUID.randomUUID(), ANSWER, "gpt-4o-mini"));
        ingest(grounded("status-b-" + UUID.randomUUID(), ANSWER, "gpt-4o-mini"));
        await().atMost(Duration.ofSeconds(30)).until(() -> verdicts("supported", "none") == before + 2);

        io.restassured.RestAssured.given().header("Authorization", "Bearer " + Api.KEY)
                .get("/api/v1/faithfulness/judge").then().statusCode(200)
                .body("enabled", equalTo(true))
                .body("model", equalTo("faultline-judge"))
                .body("maxCallsPerDay", equalTo(CAP))
                .body("day", equalTo("2032-03-08"))
                .body("callsToday", equalTo(2))
                .body("costTodayUsd", equalTo(0.004f))
                .body("queued", equalTo(0));
    }

    @Test
    void the_request_carries_grounding_question_and_answer_as_data_bounded_and_well_formed() {
        CallContent content = new CallContent(List.of(new CallContent.Message("system", "be brief"),
                new CallContent.Message("user", QUESTION)), "An answer with a lone \uD800 surrogate.", null, null,
                List.of(CONTEXT, "x".repeat(40_000)), false, List.of(), false, null);
        ObjectNode request = judge.request(content, FaithfulnessRules.groundingOf(content));
        assertThat(request.path("model").asText()).isEqualTo("faultline-judge");
        assertThat(request.path("temperature").asInt()).isZero();
        assertThat(request.path("response_format").path("type").asText()).isEqualTo("json_object");
        assertThat(request.path("metadata").path("faultline_judge").asBoolean()).isTrue();
        assertThat(request.path("messages").path(0).path("content").asText()).isEqualTo(FaithfulnessJudge.INSTRUCTIONS);
        String text = request.path("messages").path(1).path("content").asText();
        assertThat(text).startsWith("CONTEXT:\n" + CONTEXT).contains("QUESTION:\n" + QUESTION)
                .endsWith("ANSWER:\nAn answer with a lone \uFFFD surrogate.");
        assertThat(text.length()).isLessThan(16_384 + QUESTION.length() + 200);
    }

    @Test
    void a_reply_that_holds_no_verdict_is_not_a_judgement() {
        assertThat(judge.parse(reply("{\"claims\": 2, \"verdict\": \"maybe\"}"), 0, 1)).isNull();
        assertThat(judge.parse(reply("I cannot judge this."), 0, 1)).isNull();
        assertThat(judge.parse("not json".getBytes(StandardCharsets.UTF_8), 0, 1)).isNull();
        FaithfulnessJudge.Judgement partial = judge.parse(
                reply("{\"claims\": 4, \"unsupported_claims\": 9, \"verdict\": \"partially_supported\"}"), 0.01, 5);
        assertThat(partial.verdict()).isEqualTo(FaithfulnessJudge.Verdict.PARTIALLY_SUPPORTED);
        assertThat(partial.unsupportedClaims()).as("capped at the claims").isEqualTo(4);
        assertThat(partial.costUsd()).isEqualTo(0.01);
    }

    @Test
    void only_a_finite_cost_not_below_zero_is_taken_from_the_proxy() {
        assertThat(FaithfulnessJudge.reportedCost(" 0.00031 ")).hasValue(0.00031);
        assertThat(FaithfulnessJudge.reportedCost("0")).hasValue(0);
        for (String bad : new String[] {"Infinity", "NaN", "1e999", "-0.5", "-Infinity", "", "cheap", null}) {
            assertThat(FaithfulnessJudge.reportedCost(bad)).as(bad).isEmpty();
        }
    }

    @Test
    void the_sample_is_a_hash_of_the_call_id_near_the_configured_rate() {
        int in = 0;
        for (int i = 0; i < 100_000; i++) {
            if (FaithfulnessJudge.sampled("call-" + i, 0.05)) {
                in++;
            }
        }
        assertThat(in).isBetween(4_500, 5_500);
        assertThat(FaithfulnessJudge.sampled("call-1", 0.05)).isEqualTo(FaithfulnessJudge.sampled("call-1", 0.05));
        assertThat(FaithfulnessJudge.sampled("call-1", 0)).isFalse();
        assertThat(FaithfulnessJudge.sampled("call-1", 1)).isTrue();
    }

    private static byte[] reply(String content) {
        ObjectNode reply = Payloads.JSON.createObjectNode();
        reply.putArray("choices").addObject().putObject("message").put("role", "assistant").put("content", content);
        return reply.toString().getBytes(StandardCharsets.UTF_8);
    }

    private void day(int n) {
        clock.set(Instant.parse("2032-03-01T10:00:00Z").plus(Duration.ofDays(n)));
    }

    private String grounded(String deployment, String answer, String model) {
        Payloads call = Payloads.success("openai", model, deployment, clock.instant());
        ObjectNode node = call.node();
        node.putArray("messages").add(Payloads.JSON.createObjectNode().put("role", "system")
                .put("content", "Answer from the context.\n<context>" + CONTEXT + "</context>"))
                .add(Payloads.JSON.createObjectNode().put("role", "user").put("content", QUESTION));
        return Payloads.array(call.answer(answer, "stop"));
    }

    private static void ingest(String body) {
        Api.ingest(body).statusCode(200).body("accepted", equalTo(1));
    }

    private String admin(String method, String path, String body) throws Exception {
        URI uri = URI.create(judgeBase.substring(0, judgeBase.length() - "/judge".length()) + path);
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10));
        request.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(method + " " + path + ": " + response.body()).isLessThan(300);
        return response.body();
    }

    private void script(String json) throws Exception {
        admin("PUT", "/_sim/deployments/judge", json);
    }

    private long judgeRequests() throws Exception {
        return Payloads.JSON.readTree(admin("GET", "/_sim/stats", null)).path("deployments").path("judge")
                .path("requests").asLong(0);
    }

    private List<JsonNode> failures(String deployment) {
        List<JsonNode> out = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select type, detection_method, evidence::text from failure_events where deployment = ?"
                        + " and category = 'QUALITY'")) {
            st.setString(1, deployment);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    ObjectNode row = Payloads.JSON.createObjectNode();
                    row.put("type", rs.getString(1));
                    row.put("detection_method", rs.getString(2));
                    row.set("evidence", Payloads.JSON.readTree(rs.getString(3)));
                    out.add(row);
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    private double cost(int day) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select cost_usd from faithfulness_judge_spend where day = ?")) {
            st.setObject(1, LocalDate.ofInstant(Instant.parse("2032-03-01T10:00:00Z").plus(Duration.ofDays(day)),
                    ZoneOffset.UTC));
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? rs.getDouble(1) : 0;
            }
        }
    }

    private int spend(int day) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select calls from faithfulness_judge_spend where day = ?")) {
            st.setObject(1, LocalDate.ofInstant(Instant.parse("2032-03-01T10:00:00Z").plus(Duration.ofDays(day)),
                    ZoneOffset.UTC));
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? rs.getInt(1) : 0;
            }
        }
    }

    private double verdicts(String verdict, String lexical) {
        Counter counter = registry.find("faultline.faithfulness.judge.verdicts").tags("verdict", verdict, "lexical",
                lexical).counter();
        return counter == null ? 0 : counter.count();
    }

    private double skipped(String reason) {
        Counter counter = registry.find("faultline.faithfulness.judge.skipped").tags("reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }
}
