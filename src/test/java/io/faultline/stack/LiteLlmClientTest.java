package io.faultline.stack;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The client make run's demo and the end-to-end tests call LiteLLM with. It asked every request to upgrade to h2c
 * (java.net.http's default HTTP/2 over plain HTTP), which uvicorn refuses with "WARNING: Unsupported upgrade request"
 * in LiteLLM's log: 79 such lines in one make run, each before a request that had nothing wrong with it.
 */
class LiteLlmClientTest {

    @Test
    void it_calls_the_proxy_over_http_1_1_without_asking_for_an_upgrade() throws Exception {
        List<String> seen = new CopyOnWriteArrayList<>();
        HttpServer proxy = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        proxy.createContext("/", exchange -> {
            seen.add(exchange.getProtocol() + " upgrade=" + exchange.getRequestHeaders().getFirst("Upgrade"));
            byte[] body = "{}".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        proxy.start();
        try {
            LiteLlmClient client = new LiteLlmClient("http://127.0.0.1:" + proxy.getAddress().getPort(), "sk-test");
            assertThat(client.chat("gpt-4o-mini", "hello", false).status()).isEqualTo(200);
            assertThat(seen).containsExactly("HTTP/1.1 upgrade=null");
        } finally {
            proxy.stop(0);
        }
    }
}
