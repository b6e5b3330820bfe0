package io.faultline.content;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;

/**
 * The judge's wire against a judge outside the process that misbehaves as a real proxy can: one that answers its
 * headers and never finishes its body, and one whose reply arrives after midnight, at a cost it reports.
 */
@QuarkusTest
@TestProfile(FaithfulnessJudgeWireTest.StalledJudge.class)
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FaithfulnessJudgeWireTest {

    /**
     * A judge outside the process. Stalling: 200 and a promised body of 64 bytes, of which it sends one, then
     * nothing. Otherwise it holds each request until the test releases it, then answers {@link #REPLY} at the cost
     * {@link #COST} in LiteLLM's header.
     */
    public static class StallingJudge implements QuarkusTestResourceLifecycleManager {
        static final AtomicInteger REQUESTS = new AtomicInteger();
        static volatile boolean stalling = true;
        static volatile CountDownLatch release = new CountDownLatch(0);
        static final String COST = "0.05";
        static final String REPLY = "{\"choices\": [{\"message\": {\"role\": \"assistant\", \"content\":"
                + " \"{\\\"claims\\\": 1, \\\"unsupported_claims\\\": 0, \\\"verdict\\\": \\\"supported\\\"}\"}}]}";
        private final CountDownLatch closing = new CountDownLatch(1);
        private HttpServer server;

        @Override
        public Map<String, String> start() {
            try {
                server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            server.setExecutor(Executors.newCachedThreadPool());
            server.createContext("/", exchange -> {
                exchange.getRequestBody().readAllBytes();
                exchange.getResponseHeaders().set("content-type", "application/json");
                if (!stalling) {
                    CountDownLatch held = release;
                    REQUESTS.incrementAndGet();
                    try {
                        held.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    byte[] reply = REPLY.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                    exchange.getResponseHeaders().set(FaithfulnessJudge.COST_HEADER, COST);
                    exchange.sendResponseHeaders(200, reply.length);
                    exchange.getResponseBody().write(reply);
                    exchange.close();
                    return;
                }
                REQUESTS.incrementAndGet();
                exchange.sendResponseHeaders(200, 64);
                OutputStream body = exchange.getResponseBody();
                body.write('{');
                body.flush();
                try {
                    closing.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                exchange.close();
            });
            server.start();
            return Map.of("faultline.faithfulness.judge.base-url",
                    "http://127.0.0.1:" + server.getAddress().getPort());
        }

        @Override
        public void stop() {
            closing.countDown();
            server.stop(0);
        }
    }

    public static class StalledJudge implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.faithfulness.judge.enabled", "true",
                    "faultline.faithfulness.judge.sample-rate", "1",
                    "faultline.faithfulness.judge.timeout", "5s");
        }

        @Override
        public List<TestResourceEntry> testResources() {
            return List.of(new TestResourceEntry(StallingJudge.class));
        }
    }

    private static final String CONTEXT = "Returns are accepted within 30 days of delivery if the item is unused.";

    @Inject
    TestClock clock;

    @Inject
    MeterRegistry registry;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @AfterEach
    void stallAgain() {
        StallingJudge.release.countDown();
        StallingJudge.stalling = true;
    }

    @Test
    void a_judge_that_stalls_mid_body_is_given_up_at_the_timeout_and_the_next_call_is_still_judged() {
        clock.set(Instant.parse("2032-05-01T10:00:00Z"));
        double errors = skipped("error");
        int requests = StallingJudge.REQUESTS.get();
        ingest(grounded("stall-a-" + UUID.randomUUID()));
        ingest(grounded("stall-b-" + UUID.randomUUID()));

        // one worker: the second call reaches the judge only once the first was given up
        await().atMost(Duration.ofSeconds(30)).until(() -> skipped("error") >= errors + 2);
        assertThat(StallingJudge.REQUESTS.get() - requests).isEqualTo(2);
    }

    @Test
    void a_call_reserved_before_midnight_and_answered_after_is_settled_on_the_day_it_was_reserved() throws Exception {
        LocalDate before = LocalDate.parse("2032-05-02");
        clock.set(Instant.parse("2032-05-02T23:59:50Z"));
        StallingJudge.release = new CountDownLatch(1);
        StallingJudge.stalling = false;
        double verdicts = verdicts();
        int requests = StallingJudge.REQUESTS.get();
        ingest(grounded("midnight-" + UUID.randomUUID()));
        await().atMost(Duration.ofSeconds(30)).until(() -> StallingJudge.REQUESTS.get() == requests + 1);
        clock.set(Instant.parse("2032-05-03T00:00:05Z"));
        StallingJudge.release.countDown();
        await().atMost(Duration.ofSeconds(30)).until(() -> verdicts() == verdicts + 1);

        assertThat(spend(before)).as("the day the call was reserved on holds what it cost")
                .containsExactly(1, Double.parseDouble(StallingJudge.COST));
        assertThat(spend(before.plusDays(1))).as("the next day was not charged for it").isEmpty();
    }

    @Test
    void a_judge_call_interrupted_at_shutdown_is_counted_as_skipped() {
        clock.set(Instant.parse("2032-05-04T10:00:00Z"));
        StallingJudge.release = new CountDownLatch(1);
        StallingJudge.stalling = false;
        double interrupted = skipped("interrupted");
        int requests = StallingJudge.REQUESTS.get();
        ingest(grounded("interrupted-" + UUID.randomUUID()));
        await().atMost(Duration.ofSeconds(30)).until(() -> StallingJudge.REQUESTS.get() == requests + 1);
        // what shutdownNow does to the judge's one worker while it waits on the judge
        Thread worker = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("faultline-faithfulness-judge")).findFirst().orElseThrow();
        worker.interrupt();
        await().atMost(Duration.ofSeconds(30)).until(() -> skipped("interrupted") == interrupted + 1);
    }

    private List<Number> spend(LocalDate day) throws Exception {
        try (var c = dataSource.getConnection(); var st = c.prepareStatement(
                "select calls, cost_usd from faithfulness_judge_spend where day = ?")) {
            st.setObject(1, day);
            try (var rs = st.executeQuery()) {
                return rs.next() ? List.of(rs.getInt(1), rs.getDouble(2)) : List.of();
            }
        }
    }

    private double verdicts() {
        return registry.find("faultline.faithfulness.judge.verdicts").tags("verdict", "supported").counters()
                .stream().mapToDouble(Counter::count).sum();
    }

    private String grounded(String deployment) {
        Payloads call = Payloads.success("openai", "gpt-4o-mini", deployment, clock.instant());
        ObjectNode node = call.node();
        node.putArray("messages").add(Payloads.JSON.createObjectNode().put("role", "system")
                .put("content", "Answer from the context.\n<context>" + CONTEXT + "</context>"))
                .add(Payloads.JSON.createObjectNode().put("role", "user").put("content", "Can I return it?"));
        return Payloads.array(call.answer("Yes, within 30 days of delivery if it is unused.", "stop"));
    }

    private static void ingest(String body) {
        Api.ingest(body).statusCode(200).body("accepted", equalTo(1));
    }

    private double skipped(String reason) {
        Counter counter = registry.find("faultline.faithfulness.judge.skipped").tags("reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }
}
