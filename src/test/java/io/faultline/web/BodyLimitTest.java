package io.faultline.web;

import com.fasterxml.jackson.databind.JsonNode;
import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A body larger than its endpoint's documented limit is refused on its declared length, before it is read: the
 * answer comes while the client has sent only the headers, as a 413 problem naming the limit.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BodyLimitTest {

    private static final long INGEST_LIMIT = 10_485_760;
    private static final String HTTP_COUNT = "http_server_requests_seconds_count";
    private static final String PROBLEM = "application/problem+json";

    @TestHTTPResource("/")
    URL root;

    @Test
    void an_ingest_body_declared_over_the_documented_limit_is_a_413_problem_before_a_byte_is_read() throws Exception {
        Answer answer = declareAndWait("/api/v1/calls", INGEST_LIMIT + 1);
        assertThat(answer.status).isEqualTo(413);
        assertThat(answer.contentType).isEqualTo("application/problem+json");
        JsonNode problem = Payloads.JSON.readTree(answer.body);
        assertThat(problem.path("status").asInt()).isEqualTo(413);
        assertThat(problem.path("title").asText()).isEqualTo("Payload too large");
        assertThat(problem.path("detail").asText()).contains(String.valueOf(INGEST_LIMIT)).contains("split");
        assertThat(problem.path("errors").path(0).path("field").asText()).isEqualTo("$");
    }

    @Test
    void the_limit_is_the_endpoints_own() throws Exception {
        // 2 MiB: under the ingest limit, over the 1 MiB of the signals endpoints.
        assertThat(declareAndWait("/api/v1/signals/retrieval", 2 * 1024 * 1024).status).isEqualTo(413);
        assertThat(declareAndWait("/api/v1/classify", INGEST_LIMIT + 1).status).isEqualTo(413);
        // Embeddings take up to 32 MiB; above the global backstop the answer is still a problem.
        Answer embeddings = declareAndWait("/api/v1/signals/embeddings", 48L * 1024 * 1024);
        assertThat(embeddings.status).isEqualTo(413);
        assertThat(embeddings.contentType).isEqualTo("application/problem+json");
        // A declared gigabyte is not drained: answered, then the connection is closed.
        assertThat(declareAndWait("/api/v1/calls", 1L << 30).status).isEqualTo(413);
    }

    @Test
    void a_client_that_sends_the_whole_oversized_body_reads_the_413_problem() {
        String big = "[" + "\"x\",".repeat(3_000_000) + "\"x\"]"; // ~12 MB, over the 10 MiB default
        for (int i = 0; i < 2; i++) {
            Api.ingest(big).statusCode(413).contentType("application/problem+json");
        }
    }

    @Test
    void a_body_at_the_limit_is_still_read_and_judged_by_its_content() {
        // Just under the limit, but not JSON: read in full, then refused for what it is.
        byte[] body = new byte[(int) INGEST_LIMIT];
        java.util.Arrays.fill(body, (byte) 'x');
        io.restassured.RestAssured.given().header("Authorization", "Bearer " + Api.KEY)
                .contentType("application/json").body(body).post("/api/v1/calls").then().statusCode(400)
                .contentType("application/problem+json");
    }

    @Test
    void a_chunked_body_over_the_limit_is_a_413_problem_and_one_under_it_is_read() throws Exception {
        // No length to refuse up front: before, one past the limit got a bare 413 with no body.
        byte[] big = ("[" + "\"x\",".repeat(600_000) + "\"x\"]").getBytes(StandardCharsets.UTF_8); // 2.4 MB
        Answer refused = chunked("/api/v1/signals/retrieval", big);
        assertThat(refused.status).isEqualTo(413);
        assertThat(refused.contentType).isEqualTo("application/problem+json");
        assertThat(Payloads.JSON.readTree(refused.body).path("detail").asText()).contains("1048576");

        String dep = "dep-" + java.util.UUID.randomUUID();
        Answer stored = chunked("/api/v1/calls", Payloads.array(Payloads.success("openai", "m", dep,
                java.time.Instant.now())).getBytes(StandardCharsets.UTF_8));
        assertThat(stored.status).isEqualTo(200);
        assertThat(Payloads.JSON.readTree(stored.body).path("accepted").asInt()).isEqualTo(1);
    }

    @Test
    void a_client_that_hangs_up_halfway_through_its_body_is_not_counted_as_a_server_error() throws Exception {
        // A plugin whose timeout fired, or a proxy stopping: the server's read of the body fails, nothing is stored.
        double clientErrors = notServerErrors(Metrics.scrape());
        double serverErrors = Metrics.valueOrZero(Metrics.scrape(), HTTP_COUNT, "status", "500", "uri",
                "/api/v1/calls");
        try (Socket socket = new Socket(root.getHost(), root.getPort())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /api/v1/calls HTTP/1.1\r\nHost: " + root.getHost() + "\r\nAuthorization: Bearer "
                    + Api.KEY + "\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n[{\"model\":")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }
        Awaitility.await("the hang-up recorded").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                .until(() -> notServerErrors(Metrics.scrape()) > clientErrors);
        assertThat(Metrics.valueOrZero(Metrics.scrape(), HTTP_COUNT, "status", "500", "uri", "/api/v1/calls"))
                .isEqualTo(serverErrors);
    }

    /** Ingest requests recorded as the client's doing: answered 400, or reset by the client (Vert.x's "RESET"). */
    private static double notServerErrors(String scrape) {
        return Metrics.valueOrZero(scrape, HTTP_COUNT, "status", "400", "uri", "/api/v1/calls")
                + Metrics.valueOrZero(scrape, HTTP_COUNT, "status", "RESET", "uri", "/api/v1/calls");
    }

    /**
     * Every endpoint reads JSON: a form is a 415 problem, unread, whatever its size or framing (Quarkus REST had
     * parsed a url-encoded "[]" as an empty batch, and a chunked form over the limit got a bare 413 with no body).
     */
    @Test
    void a_form_body_is_a_415_problem_unread() throws Exception {
        for (String type : new String[] { "application/x-www-form-urlencoded", "multipart/form-data; boundary=x" }) {
            HttpResponse<String> sized = HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1).build().send(
                    HttpRequest.newBuilder(URI.create(root + "api/v1/calls"))
                            .header("Authorization", "Bearer " + Api.KEY).header("Content-Type", type)
                            .POST(HttpRequest.BodyPublishers.ofString("[]")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(sized.statusCode()).isEqualTo(415);
            assertThat(sized.headers().firstValue("content-type")).hasValueSatisfying(t -> assertThat(t)
                    .startsWith(PROBLEM));
            assertThat(sized.body()).contains("application/json");
            Answer chunked = chunked("/api/v1/signals/retrieval", new byte[11 * 1024 * 1024], type);
            assertThat(chunked.status()).isEqualTo(415);
            assertThat(chunked.contentType()).startsWith(PROBLEM);
        }
    }

    /**
     * A compressed body is a 415 problem saying to send it uncompressed: it was parsed as JSON as it came, and a
     * gzipped batch got a 400 "Illegal character (CTRL-CHAR, code 31)" that named neither the encoding nor the fix.
     */
    @Test
    void a_compressed_body_is_a_415_problem_saying_to_send_it_uncompressed() throws Exception {
        ByteArrayOutputStream gzipped = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(gzipped)) {
            gz.write("[]".getBytes(StandardCharsets.UTF_8));
        }
        HttpResponse<String> answer = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1).build().send(
                HttpRequest.newBuilder(URI.create(root + "api/v1/calls"))
                        .header("Authorization", "Bearer " + Api.KEY).header("Content-Type", "application/json")
                        .header("Content-Encoding", "gzip")
                        .POST(HttpRequest.BodyPublishers.ofByteArray(gzipped.toByteArray())).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(answer.statusCode()).isEqualTo(415);
        assertThat(answer.headers().firstValue("content-type")).hasValueSatisfying(t -> assertThat(t)
                .startsWith(PROBLEM));
        assertThat(answer.body()).contains("Content-Encoding").contains("uncompressed");
        // identity is no compression: read as sent.
        HttpResponse<String> plain = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1).build().send(
                HttpRequest.newBuilder(URI.create(root + "api/v1/calls"))
                        .header("Authorization", "Bearer " + Api.KEY).header("Content-Type", "application/json")
                        .header("Content-Encoding", "identity")
                        .POST(HttpRequest.BodyPublishers.ofString("[]")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(plain.statusCode()).isEqualTo(200);
    }

    /** POSTs {@code body} in chunks of 64 KiB (no Content-Length), then reads the whole answer. */
    private Answer chunked(String path, byte[] body) throws IOException {
        return chunked(path, body, "application/json");
    }

    private Answer chunked(String path, byte[] body, String contentType) throws IOException {
        try (Socket socket = new Socket(root.getHost(), root.getPort())) {
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            try {
                out.write(("POST " + path + " HTTP/1.1\r\nHost: " + root.getHost() + "\r\nAuthorization: Bearer "
                        + Api.KEY + "\r\nContent-Type: " + contentType + "\r\nTransfer-Encoding: chunked\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                for (int at = 0; at < body.length; at += 65_536) {
                    int n = Math.min(65_536, body.length - at);
                    out.write((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.write(body, at, n);
                    out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                }
                out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            } catch (IOException closedEarly) {
                // the server answered and closed while the body was still on its way: read that answer
            }
            return readAnswer(socket.getInputStream(), "an answer");
        }
    }

    /** The answer's head, then as many bytes of body as it declares. */
    private static Answer readAnswer(InputStream in, String what) throws IOException {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        while (!raw.toString(StandardCharsets.ISO_8859_1).contains("\r\n\r\n")) {
            int b = in.read();
            assertThat(b).as(what).isNotNegative();
            raw.write(b);
        }
        String head = raw.toString(StandardCharsets.ISO_8859_1);
        byte[] body = in.readNBytes(Integer.parseInt(header(head, "content-length")));
        return new Answer(Integer.parseInt(head.substring(9, 12)), header(head, "content-type"),
                new String(body, StandardCharsets.UTF_8));
    }

    private static String header(String head, String name) {
        return head.lines().filter(l -> l.toLowerCase().startsWith(name + ":"))
                .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse("");
    }

    private record Answer(int status, String contentType, String body) {
    }

    /** Sends only the headers of a POST declaring {@code length} bytes, then reads the answer. */
    private Answer declareAndWait(String path, long length) throws IOException {
        try (Socket socket = new Socket(root.getHost(), root.getPort())) {
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST " + path + " HTTP/1.1\r\nHost: " + root.getHost() + "\r\nAuthorization: Bearer " + Api.KEY
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + length + "\r\n\r\n[")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            // The answer arrives while the body is still unsent.
            return readAnswer(socket.getInputStream(), "answer before the body was sent");
        }
    }
}
