package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Base64;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The simulator's OpenAI embeddings endpoint: the real wire format, deterministic vectors, a scripted drift. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class EmbeddingsEndpointTest {

    private static ProviderSimulator sim;
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() {
        sim = ProviderSimulator.start(0);
    }

    @AfterAll
    static void stop() {
        sim.close();
    }

    @Test
    void answers_one_unit_vector_per_input_in_openais_wire_format() throws Exception {
        HttpResponse<String> response = post("/emb/v1/embeddings",
                "{\"model\":\"text-embedding-3-small\",\"input\":[\"alpha\",\"beta\",\"gamma\"]}");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("x-ratelimit-remaining-requests")).isPresent();
        JsonNode body = Json.MAPPER.readTree(response.body());
        assertThat(body.path("object").asText()).isEqualTo("list");
        assertThat(body.path("model").asText()).isEqualTo("text-embedding-3-small");
        assertThat(body.path("data")).hasSize(3);
        for (int i = 0; i < 3; i++) {
            JsonNode item = body.path("data").get(i);
            assertThat(item.path("object").asText()).isEqualTo("embedding");
            assertThat(item.path("index").asInt()).isEqualTo(i);
            assertThat(item.path("embedding")).hasSize(Embeddings.DEFAULT_DIMENSIONS);
            double norm = 0;
            for (JsonNode v : item.path("embedding")) {
                norm += v.doubleValue() * v.doubleValue();
            }
            assertThat(norm).isCloseTo(1.0, within(1e-5));
        }
        assertThat(body.path("usage").path("prompt_tokens").asInt()).isPositive();
        assertThat(body.path("usage").path("total_tokens").asInt())
                .isEqualTo(body.path("usage").path("prompt_tokens").asInt());

        // Deterministic: the same text gives the same vector, another text another one.
        JsonNode again = Json.MAPPER.readTree(post("/emb/v1/embeddings",
                "{\"model\":\"text-embedding-3-small\",\"input\":\"alpha\"}").body());
        assertThat(again.path("data").get(0).path("embedding")).isEqualTo(body.path("data").get(0).path("embedding"));
        assertThat(body.path("data").get(1).path("embedding")).isNotEqualTo(body.path("data").get(0).path("embedding"));
    }

    @Test
    void base64_encoding_carries_the_same_float32_values() throws Exception {
        String request = "{\"model\":\"m\",\"input\":[\"delta\"],\"dimensions\":8%s}";
        JsonNode floats = Json.MAPPER.readTree(post("/b64/v1/embeddings", request.formatted("")).body());
        JsonNode encoded = Json.MAPPER.readTree(post("/b64/v1/embeddings",
                request.formatted(",\"encoding_format\":\"base64\"")).body());
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(encoded.path("data").get(0).path("embedding")
                .asText())).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(bytes.remaining()).isEqualTo(8 * Float.BYTES);
        for (int i = 0; i < 8; i++) {
            assertThat(bytes.getFloat()).isEqualTo(floats.path("data").get(0).path("embedding").get(i).floatValue());
        }
    }

    @Test
    void a_scripted_shift_turns_the_mean_of_the_same_texts_by_that_angle() throws Exception {
        String inputs = "[" + String.join(",", java.util.stream.IntStream.range(0, 200)
                .mapToObj(i -> "\"text " + i + "\"").toList()) + "]";
        double[] before = mean(post("/drift/v1/embeddings", "{\"model\":\"m\",\"input\":" + inputs + "}"));
        sim.script("drift", Script.success().withEmbeddingShift(0.5));
        double[] after = mean(post("/drift/v1/embeddings", "{\"model\":\"m\",\"input\":" + inputs + "}"));
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < before.length; i++) {
            dot += before[i] * after[i];
            na += before[i] * before[i];
            nb += after[i] * after[i];
        }
        assertThat(Math.acos(dot / Math.sqrt(na * nb))).isCloseTo(0.5, within(0.05));
    }

    @Test
    void scripted_faults_answer_with_openais_error_envelope() throws Exception {
        sim.script("faulty", Script.faults(Fault.of(FaultKind.RATE_LIMIT, 1)));
        HttpResponse<String> response = post("/faulty/v1/embeddings", "{\"model\":\"m\",\"input\":\"x\"}");
        assertThat(response.statusCode()).isEqualTo(429);
        assertThat(Json.MAPPER.readTree(response.body()).path("error").path("code").asText())
                .isEqualTo("rate_limit_exceeded");
        assertThat(post("/faulty/v1/embeddings", "{\"model\":\"m\",\"input\":\"x\"}").statusCode()).isEqualTo(200);
    }

    private static double[] mean(HttpResponse<String> response) throws Exception {
        JsonNode data = Json.MAPPER.readTree(response.body()).path("data");
        double[] sum = new double[data.get(0).path("embedding").size()];
        for (JsonNode item : data) {
            for (int i = 0; i < sum.length; i++) {
                sum[i] += item.path("embedding").get(i).doubleValue();
            }
        }
        return sum;
    }

    private static HttpResponse<String> post(String path, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(sim.baseUrl() + path)).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
