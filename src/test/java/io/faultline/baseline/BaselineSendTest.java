package io.faultline.baseline;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The profiler's send on a raw socket server that plays the proxy: a connection closed without an answer (what a
 * proxy closing an idle keep-alive connection looks like to the client) is sent again on a fresh one; a timeout and
 * a proxy that never answers are not hidden.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BaselineSendTest {

    private ServerSocket server;
    private Thread acceptor;
    private final AtomicInteger connections = new AtomicInteger();

    @AfterEach
    void close() throws Exception {
        server.close();
        acceptor.join(10_000);
    }

    /** Accepts connections; the n-th (from 1) is answered 200 when answer(n) is true, else closed once read. */
    private URI serve(java.util.function.IntPredicate answer) throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        acceptor = new Thread(() -> {
            while (!server.isClosed()) {
                try (Socket socket = server.accept()) {
                    int n = connections.incrementAndGet();
                    readHead(socket.getInputStream());
                    if (answer.test(n)) {
                        OutputStream out = socket.getOutputStream();
                        out.write(("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
                                + "connection: close\r\n\r\n{}").getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                    }
                } catch (IOException e) {
                    return; // closed by the test
                }
            }
        });
        acceptor.setDaemon(true);
        acceptor.start();
        return URI.create("http://127.0.0.1:" + server.getLocalPort() + "/v1/chat/completions");
    }

    /** Reads up to the end of the request's head (the test's bodies are tiny and sent with it or right after). */
    private static void readHead(InputStream in) throws IOException {
        int state = 0;
        for (int b; state < 4 && (b = in.read()) >= 0; ) {
            state = (b == '\r' && state % 2 == 0) || (b == '\n' && state % 2 == 1) ? state + 1 : 0;
        }
    }

    private static HttpRequest post(URI uri, Duration timeout) {
        return HttpRequest.newBuilder(uri).timeout(timeout).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build();
    }

    private static HttpClient client() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    }

    @Test
    void a_connection_closed_without_an_answer_is_sent_again_on_a_fresh_one() throws Exception {
        URI uri = serve(n -> n > 1);
        BaselineProfiler.Sent sent = BaselineProfiler.send(client(), post(uri, Duration.ofSeconds(30)));
        assertThat(sent.response().statusCode()).isEqualTo(200);
        assertThat(new String(sent.response().body().readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("{}");
        assertThat(connections.get()).as("the closed connection and the fresh one").isEqualTo(2);
    }

    @Test
    void a_proxy_that_never_answers_fails_after_the_second_attempt() throws Exception {
        URI uri = serve(n -> false);
        assertThatThrownBy(() -> BaselineProfiler.send(client(), post(uri, Duration.ofSeconds(30))))
                .isInstanceOf(IOException.class).isNotInstanceOf(HttpTimeoutException.class);
        assertThat(connections.get()).as("one retry, not more").isEqualTo(2);
    }

    @Test
    void a_timeout_is_a_measurement_and_is_not_retried() throws Exception {
        // The server reads the request and holds the connection open without answering until the test ends.
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        java.util.List<Socket> held = new java.util.concurrent.CopyOnWriteArrayList<>();
        acceptor = new Thread(() -> {
            while (!server.isClosed()) {
                try {
                    Socket socket = server.accept();
                    connections.incrementAndGet();
                    held.add(socket);
                } catch (IOException e) {
                    return;
                }
            }
        });
        acceptor.setDaemon(true);
        acceptor.start();
        URI uri = URI.create("http://127.0.0.1:" + server.getLocalPort() + "/v1/chat/completions");
        try {
            assertThatThrownBy(() -> BaselineProfiler.send(client(), post(uri, Duration.ofMillis(300))))
                    .isInstanceOf(HttpTimeoutException.class);
            assertThat(connections.get()).isEqualTo(1);
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
    }
}
