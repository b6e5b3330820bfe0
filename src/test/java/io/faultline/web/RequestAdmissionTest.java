package io.faultline.web;

import io.agroal.api.AgroalDataSource;
import io.faultline.common.RequestAdmission;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
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
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What request bodies may cost at once: the bytes in flight are bounded (a request that does not fit gets a 503 with
 * Retry-After before its body is read), a body that does not arrive in time gets a 408, and clients trickling their
 * bodies hold connections, not the worker threads every other request needs.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(RequestAdmissionTest.SmallBudget.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RequestAdmissionTest {

    /**
     * A budget of 64 KiB, a body timeout of 3 s, few workers (so that a handful of slow clients could take them), and
     * one read at a time.
     */
    public static class SmallBudget implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.ingest.max-bytes-in-flight", "65536", "faultline.ingest.body-timeout", "3s",
                    "quarkus.thread-pool.max-threads", "12", "faultline.http.max-concurrent-reads", "1");
        }
    }

    @TestHTTPResource("/")
    URL root;

    @Inject
    RequestAdmission admission;

    @Inject
    AgroalDataSource dataSource;

    @Test
    void a_body_that_does_not_fit_the_bytes_in_flight_is_a_503_with_retry_after_before_it_is_read() throws Exception {
        try (Socket holder = openBody(60_000)) {
            Awaitility.await("the first body admitted").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(20)).until(() -> admission.inFlight() >= 60_000);
            try (Socket second = openBody(10_000)) {
                Answer answer = readAnswer(second.getInputStream());
                assertThat(answer.status).isEqualTo(503);
                assertThat(answer.head.toLowerCase()).contains("retry-after: 1")
                        .contains("content-type: application/problem+json");
                assertThat(answer.body).contains("65536");
            }
        }
        // Answered (here: the connection closed), the first body gives its bytes back, and the next one fits.
        Awaitility.await("the budget free again").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                .until(() -> admission.inFlight() == 0);
        Api.ingest(Payloads.array(Payloads.success("openai", "gpt-4o-mini", "dep-admitted", Instant.now())))
                .statusCode(200);
    }

    @Test
    void a_body_that_does_not_arrive_in_time_is_a_408_and_its_connection_closed() throws Exception {
        try (Socket slow = openBody(5_000)) {
            Answer answer = readAnswer(slow.getInputStream());
            assertThat(answer.status).isEqualTo(408);
            assertThat(answer.body).contains("body did not arrive within");
            assertThat(slow.getInputStream().read()).as("closed after the answer").isEqualTo(-1);
        }
    }

    @Test
    void clients_trickling_their_bodies_leave_the_workers_to_everyone_else() throws Exception {
        // More slow bodies than worker threads (12): each small enough for the budget, none finished.
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 16; i++) {
                slow.add(openBody(2_000));
            }
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            String batch = Payloads.array(Payloads.success("openai", "gpt-4o-mini", "dep-beside-slow", Instant.now()));
            // Far under the 3 s body timeout that would free blocked workers: the answer must not wait for it.
            HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(root + "api/v1/calls"))
                    .timeout(Duration.ofMillis(2_500)).header("Authorization", "Bearer " + Api.KEY)
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(batch))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        } finally {
            for (Socket s : slow) {
                s.close();
            }
        }
    }

    @Test
    void reads_past_their_limit_are_a_503_with_retry_after_and_leave_the_connections_to_ingest() throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpRequest stats = HttpRequest.newBuilder(URI.create(root + "api/v1/calls/stats"))
                .timeout(Duration.ofSeconds(60)).build();
        CompletableFuture<HttpResponse<String>> first;
        try (Connection lock = dataSource.getConnection()) {
            // The first read waits on the database, holding the one place reads have.
            lock.setAutoCommit(false);
            try (Statement st = lock.createStatement()) {
                st.execute("lock table llm_calls in access exclusive mode");
            }
            first = http.sendAsync(stats, HttpResponse.BodyHandlers.ofString());
            Awaitility.await("the first read waiting on the lock").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(20)).until(() -> waitingReads() > 0);
            HttpResponse<String> second = http.send(stats, HttpResponse.BodyHandlers.ofString());
            assertThat(second.statusCode()).as(second.body()).isEqualTo(503);
            assertThat(second.headers().firstValue("retry-after")).contains("1");
            assertThat(second.body()).contains("reads are being answered");
            lock.commit();
        }
        assertThat(first.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(http.send(stats, HttpResponse.BodyHandlers.ofString()).statusCode()).as("the place given back")
                .isEqualTo(200);
    }

    /**
     * Health, metrics, OPTIONS and (without a read key) reads take no key, and none of them takes a body: a body sent
     * there is refused before it is read, so that callers without a key can neither hold the bytes in flight that
     * ingest needs nor make this server buffer what they send.
     */
    @Test
    void a_body_sent_where_no_key_is_needed_is_refused_unread_and_holds_no_budget() throws Exception {
        for (String request : List.of("OPTIONS /api/v1/calls", "POST /q/health/live", "PUT /q/metrics",
                "GET /api/v1/failures")) {
            try (Socket anonymous = openBody(request, null, 60_000)) {
                Answer answer = readAnswer(anonymous.getInputStream());
                assertThat(answer.status).as(request).isEqualTo(413);
                assertThat(answer.head.toLowerCase()).as(request).contains("content-type: application/problem+json");
                assertThat(admission.inFlight()).as(request + " holds no budget").isZero();
                Api.ingest(Payloads.array(Payloads.success("openai", "gpt-4o-mini", "dep-beside-anonymous",
                        Instant.now()))).statusCode(200);
            }
        }
    }

    /**
     * A body refused once admitted (a form, 415; a chunked body past its limit, 413) gives its bytes back with its
     * answer. The answer replaced the handler that gives them back, so that they stayed reserved until the body
     * timeout, and a few refused forms answered the next batches 503.
     */
    @Test
    void a_body_refused_after_it_was_admitted_gives_its_bytes_back_with_the_answer() throws Exception {
        try (Socket form = socket()) {
            form.getOutputStream().write(("POST /api/v1/calls HTTP/1.1\r\nHost: " + root.getHost()
                    + "\r\nAuthorization: Bearer " + Api.KEY + "\r\nContent-Type: application/x-www-form-urlencoded"
                    + "\r\nContent-Length: 60000\r\n\r\na=").getBytes(StandardCharsets.US_ASCII));
            assertThat(readAnswer(form.getInputStream()).status).isEqualTo(415);
            // Well within the body timeout (3 s), after which a periodic look released them anyway.
            Awaitility.await("the bytes given back").atMost(Duration.ofMillis(1_500))
                    .pollInterval(Duration.ofMillis(20)).until(() -> admission.inFlight() == 0);
        }
    }

    private long waitingReads() throws Exception {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                        + " and query ilike '%llm_calls%' and query not ilike '%lock table%'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** A POST to the ingest endpoint declaring {@code length} bytes, of which only the first is sent. */
    private Socket openBody(int length) throws IOException {
        return openBody("POST /api/v1/calls", Api.KEY, length);
    }

    /** {@code request} (method and path) with {@code key}, or none, declaring {@code length} bytes; one is sent. */
    private Socket openBody(String request, String key, int length) throws IOException {
        Socket socket = socket();
        OutputStream out = socket.getOutputStream();
        out.write((request + " HTTP/1.1\r\nHost: " + root.getHost()
                + (key == null ? "" : "\r\nAuthorization: Bearer " + key)
                + "\r\nContent-Type: application/json\r\nContent-Length: " + length + "\r\n\r\n[")
                .getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return socket;
    }

    private Socket socket() throws IOException {
        Socket socket = new Socket(root.getHost(), root.getPort());
        socket.setSoTimeout(60_000);
        return socket;
    }

    private record Answer(int status, String head, String body) {
    }

    private static Answer readAnswer(InputStream in) throws IOException {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        while (!raw.toString(StandardCharsets.ISO_8859_1).contains("\r\n\r\n")) {
            int b = in.read();
            assertThat(b).as("an answer").isNotNegative();
            raw.write(b);
        }
        String head = raw.toString(StandardCharsets.ISO_8859_1);
        int length = head.lines().filter(l -> l.toLowerCase().startsWith("content-length:"))
                .map(l -> Integer.parseInt(l.substring(15).trim())).findFirst().orElse(0);
        return new Answer(Integer.parseInt(head.substring(9, 12)), head,
                new String(in.readNBytes(length), StandardCharsets.UTF_8));
    }
}
