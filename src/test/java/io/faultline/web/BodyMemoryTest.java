package io.faultline.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.testing.Allocations;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/**
 * What a body can make the service allocate is a small multiple of its size, whatever its shape: read whole into a
 * JSON tree, a body of the smallest values ({@code [{},{},...]}) took some 30 times its size, so that the body budget
 * of admission control did not bound the heap. Measured as bytes allocated by every thread during the request
 * (HotSpot counts them per thread), which bounds what the request can hold.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BodyMemoryTest {

    private static final int INGEST_LIMIT = 10_485_760;
    private static final int SIGNALS_LIMIT = 1_048_576;
    private static final String PROBLEM = "application/problem+json";
    /**
     * Receiving a body copies it a few times on its way to the endpoint (about 8 times its size allocated, most of it
     * garbage at once); the tree of empty objects made that some 40 times.
     */
    private static final long FACTOR = 15;

    @TestHTTPResource("/")
    URL root;

    @Test
    void an_ingest_batch_of_empty_objects_is_refused_without_building_it_in_memory() throws Exception {
        byte[] body = repeated("[", "{}", "]", INGEST_LIMIT);
        Sent sent = post("/api/v1/calls", body);
        assertThat(sent.allocated).as("bytes allocated for a body of %d", body.length)
                .isLessThan(FACTOR * body.length);
        assertThat(sent.answer).startsWith("HTTP/1.1 413").contains(PROBLEM)
                .contains("faultline.ingest.max-batch-items");
    }

    @Test
    void a_call_of_millions_of_tiny_values_is_rejected_by_its_index_without_building_it() throws Exception {
        byte[] body = repeated("[{\"litellm_call_id\": \"tiny-values\", \"junk\": [", "{}", "]}]", INGEST_LIMIT);
        Sent sent = post("/api/v1/calls", body);
        assertThat(sent.allocated).as("bytes allocated for a body of %d", body.length)
                .isLessThan(FACTOR * body.length);
        assertThat(sent.answer).startsWith("HTTP/1.1 422").contains(PROBLEM).contains("\"index\":0")
                .contains("faultline.ingest.max-call-values");
    }

    @Test
    void a_call_to_classify_of_millions_of_tiny_values_is_refused_without_building_it() throws Exception {
        byte[] body = repeated("{\"litellm_call_id\": \"tiny-values\", \"junk\": [", "{}", "]}", INGEST_LIMIT);
        Sent sent = post("/api/v1/classify", body);
        assertThat(sent.allocated).as("bytes allocated for a body of %d", body.length)
                .isLessThan(FACTOR * body.length);
        assertThat(sent.answer).startsWith("HTTP/1.1 413").contains(PROBLEM)
                .contains("faultline.ingest.max-call-values");
    }

    @Test
    void a_signals_batch_of_empty_objects_is_refused_without_building_it_in_memory() throws Exception {
        byte[] body = repeated("[", "{}", "]", SIGNALS_LIMIT);
        Sent sent = post("/api/v1/signals/retrieval", body);
        assertThat(sent.allocated).as("bytes allocated for a body of %d", body.length)
                .isLessThan(FACTOR * body.length);
        assertThat(sent.answer).startsWith("HTTP/1.1 413").contains(PROBLEM)
                .contains("faultline.signals.max-batch-items");
    }

    @Test
    void a_single_signal_of_millions_of_tiny_values_is_refused_without_building_it() throws Exception {
        byte[] body = repeated("{\"signalId\": \"tiny-values\", \"junk\": [", "{}", "]}", SIGNALS_LIMIT);
        Sent sent = post("/api/v1/signals/index", body);
        assertThat(sent.allocated).as("bytes allocated for a body of %d", body.length)
                .isLessThan(FACTOR * body.length);
        assertThat(sent.answer).startsWith("HTTP/1.1 413").contains(PROBLEM);
    }

    @Test
    void a_call_over_the_value_cap_is_rejected_by_its_index_and_the_rest_of_its_batch_stored() {
        Instant start = Instant.now().minusSeconds(60);
        Payloads first = Payloads.success("openai", "gpt-4o", "cap-dep", start);
        Payloads last = Payloads.success("openai", "gpt-4o", "cap-dep", start.plusMillis(1));
        String tooMany = "{\"litellm_call_id\": \"too-many\", \"junk\": [[" + "{},".repeat(100_000) + "{}]]}";
        Api.ingest("[" + first.node() + "," + tooMany + "," + last.node() + "]").statusCode(200)
                .body("received", equalTo(3)).body("accepted", equalTo(2))
                .body("rejected[0].index", equalTo(1))
                .body("rejected[0].reason", containsString("faultline.ingest.max-call-values"));
    }

    @Test
    void an_admin_object_of_thousands_of_tiny_values_is_a_413_problem() {
        // 16 KiB at most, so at most 1,024 values: a budget holds a handful.
        String body = "{\"limitUsd\": 10, \"junk\": [" + "{},".repeat(2_000) + "{}]}";
        given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY)
                .contentType(ContentType.JSON).body(body).when()
                .put("/api/v1/budgets/team/tiny-values").then().statusCode(413).contentType(PROBLEM)
                .body("detail", containsString("1024 JSON values"));
    }

    /**
     * The largest batch a sender may send, of agent calls (10 KB each, a conversation of 18 tool calls with eight
     * tools offered: 555 JSON values), is taken whole: 10 MB and 555,000 values.
     */
    @Test
    void a_full_batch_of_large_realistic_calls_is_still_taken_whole() {
        StringBuilder batch = new StringBuilder("[");
        Instant start = Instant.now().minusSeconds(60);
        for (int i = 0; i < 1000; i++) {
            batch.append(i == 0 ? "" : ",").append(agentCall(start.plusMillis(i)));
        }
        String body = batch.append(']').toString();
        assertThat(body.length()).isBetween(8_000_000, INGEST_LIMIT);
        Api.ingest(body).statusCode(200).body("received", equalTo(1000))
                .body("accepted", equalTo(1000));
    }

    private static String agentCall(Instant start) {
        Payloads p = Payloads.success("openai", "gpt-4o", "agent-dep", start);
        ArrayNode messages = p.node().putArray("messages");
        messages.addObject().put("role", "system").put("content", "You are the order agent of a shop. ".repeat(8));
        for (int turn = 0; turn < 18; turn++) {
            messages.addObject().put("role", "user").put("content", "Where is order " + turn + "?");
            ObjectNode asked = messages.addObject().put("role", "assistant");
            asked.putNull("content");
            asked.putArray("tool_calls").addObject().put("id", "call_" + turn).put("type", "function")
                    .putObject("function").put("name", "lookup").put("arguments", "{\"order\": " + turn + "}");
            messages.addObject().put("role", "tool").put("tool_call_id", "call_" + turn)
                    .put("content", "{\"status\": \"shipped\", \"eta_days\": 2}");
        }
        ArrayNode tools = ((ObjectNode) p.node().get("model_parameters")).putArray("tools");
        for (int t = 0; t < 8; t++) {
            ObjectNode function = tools.addObject().put("type", "function").putObject("function");
            function.put("name", "tool_" + t).put("description", "Looks up thing " + t);
            ObjectNode parameters = function.putObject("parameters").put("type", "object");
            ObjectNode properties = parameters.putObject("properties");
            for (int a = 0; a < 5; a++) {
                properties.putObject("arg_" + a).put("type", "string").put("description", "argument " + a);
            }
            parameters.putArray("required").add("arg_0");
        }
        JsonNode node = p.node();
        return node.toString();
    }

    /** {@code head}, {@code unit} separated by commas as often as fits in {@code size} bytes, {@code tail}. */
    private static byte[] repeated(String head, String unit, String tail, int size) {
        int count = (size - head.length() - tail.length() + 1) / (unit.length() + 1);
        String body = head + unit + ("," + unit).repeat(count - 1) + tail;
        return body.getBytes(StandardCharsets.US_ASCII);
    }

    private record Sent(String answer, long allocated) {
    }

    private Sent post(String path, byte[] body) throws Exception {
        long before = Allocations.byAllThreads();
        String answer;
        try (Socket socket = new Socket(root.getHost(), root.getPort())) {
            socket.setSoTimeout(60_000);
            socket.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: " + root.getHost()
                    + "\r\nAuthorization: Bearer " + Api.KEY + "\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().write(body);
            answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
        return new Sent(answer, Allocations.byAllThreads() - before);
    }
}
