package io.faultline.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.simulator.Script;
import io.faultline.stack.LiteLlmClient;
import io.faultline.stack.LocalStack;
import io.faultline.testing.Api;
import io.restassured.RestAssured;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Embedding calls through the real LiteLLM proxy (plugin included) into the simulator's OpenAI embeddings endpoint:
 * their vectors, as LiteLLM logs them in {@code response.data[].embedding}, build the model group's reference, and a
 * scripted turn of the vectors is raised as an embedding drift by the packaged Faultline.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EmbeddingDriftEndToEndIT {

    private static final String MODEL = "text-embedding-3-small";
    private static final int INPUTS_PER_CALL = 16;
    private static final ObjectMapper JSON = new ObjectMapper();

    private static LocalStack stack;
    private static int calls;

    @BeforeAll
    static void startStack() throws Exception {
        // A check every 3 s: an asked-for check within the interval of the last one is a 409 (it takes the
        // scheduled check's claim), so the scheduled checks keep the status fresh between those that run.
        stack = StackFixture.start("embeddings", Map.of("FAULTLINE_EMBEDDING_DRIFT_INTERVAL", "3s"));
    }

    @AfterAll
    static void stopStack() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    @Order(1)
    void vectors_of_embedding_calls_through_the_proxy_grow_the_model_groups_reference() throws Exception {
        embed(8);
        // The status shows the reference growing as calls arrive (vectors are written every few seconds).
        JsonNode partial = awaitStatus(s -> s.path("referenceN").asInt() == 8 * INPUTS_PER_CALL);
        assertThat(partial.path("state").asText()).isEqualTo("collecting_reference");
        assertThat(partial.path("dimensions").asInt()).isEqualTo(64);

        embed(24);
        JsonNode complete = awaitStatus(s -> s.path("referenceN").asInt() == 500);
        assertThat(complete.path("referenceSize").asInt()).isEqualTo(500);
        assertThat(Sql.count(stack, "select count(*) from llm_calls where model_group = '" + MODEL + "' and success"))
                .isEqualTo(32);
    }

    @Test
    @Order(2)
    void a_window_of_the_same_distribution_is_ok() throws Exception {
        embed(5);
        // 512 - 500 + 80 current vectors; the check is asked for until all of them arrived.
        JsonNode status = awaitCheck(s -> s.path("currentN").asInt() == 92);
        assertThat(status.path("state").asText()).isEqualTo("ok");
        assertThat(status.path("distance").asDouble()).isLessThan(status.path("threshold").asDouble());
        assertThat(driftEpisodes()).isEmpty();
    }

    @Test
    @Order(3)
    void a_scripted_turn_of_the_vectors_is_raised_as_embedding_drift() throws Exception {
        stack.simulator().script("openai", Script.success().withEmbeddingShift(0.6));
        embed(13);
        // 208 turned vectors: the window (newest 200) holds only them.
        JsonNode status = awaitCheck(s -> "drift".equals(s.path("state").asText()));
        assertThat(status.path("currentN").asInt()).isEqualTo(200);
        assertThat(status.path("distance").asDouble()).isGreaterThan(2 * status.path("threshold").asDouble());
        List<Map<String, Object>> episodes = driftEpisodes();
        assertThat(episodes).hasSize(1);
        assertThat(episodes.get(0)).containsEntry("category", "DATA").containsEntry("provider", "embeddings")
                .containsEntry("deployment", MODEL).containsEntry("severity", "P2");
        @SuppressWarnings("unchecked")
        Map<String, Object> evidence = (Map<String, Object>) episodes.get(0).get("evidence");
        assertThat(evidence).containsEntry("reference_n", 500).containsEntry("current_n", 200)
                .containsEntry("dimensions", 64);
    }

    /** Sends {@code n} embedding calls of 16 distinct texts each through the proxy. */
    private static void embed(int n) throws Exception {
        LiteLlmClient client = new LiteLlmClient(stack.litellmUrl(), LocalStack.MASTER_KEY);
        for (int i = 0; i < n; i++) {
            int call = calls++;
            List<String> input = new ArrayList<>();
            for (int j = 0; j < INPUTS_PER_CALL; j++) {
                input.add("document " + call + "-" + j + " about the quarterly report");
            }
            LiteLlmClient.Answer answer = client.embed(MODEL, input);
            assertThat(answer.status()).as(answer.body()).isEqualTo(200);
            JsonNode body = JSON.readTree(answer.body());
            assertThat(body.path("data")).hasSize(INPUTS_PER_CALL);
            assertThat(body.path("data").get(0).path("embedding")).hasSize(64);
        }
    }

    private interface Condition {
        boolean holds(JsonNode status);
    }

    private static JsonNode awaitStatus(Condition condition) {
        JsonNode[] last = new JsonNode[1];
        Awaitility.await("embedding status of " + MODEL).atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(500)).until(() -> {
                    var response = RestAssured.given().baseUri(stack.faultlineUrl())
                            .get("/api/v1/signals/embeddings/" + MODEL);
                    if (response.statusCode() != 200) {
                        return false;
                    }
                    last[0] = JSON.readTree(response.asString());
                    return condition.holds(last[0]);
                });
        return last[0];
    }

    /**
     * Asks for a check (it writes buffered vectors first) until the space's status meets the condition; while a
     * check ran within the interval (409), reads the status the latest check left.
     */
    private static JsonNode awaitCheck(Condition condition) {
        JsonNode[] last = new JsonNode[1];
        Awaitility.await("embedding drift check of " + MODEL).atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(500)).until(() -> {
                    var response = RestAssured.given().baseUri(stack.faultlineUrl())
                            .header("Authorization", "Bearer " + Api.KEY).post("/api/v1/signals/embeddings/checks");
                    if (response.statusCode() == 409) {
                        var status = RestAssured.given().baseUri(stack.faultlineUrl())
                                .get("/api/v1/signals/embeddings/" + MODEL);
                        if (status.statusCode() != 200) {
                            return false;
                        }
                        last[0] = JSON.readTree(status.asString());
                        return condition.holds(last[0]);
                    }
                    String body = response.then().statusCode(200).extract().asString();
                    for (JsonNode s : JSON.readTree(body)) {
                        if (MODEL.equals(s.path("space").asText())) {
                            last[0] = s;
                            return condition.holds(s);
                        }
                    }
                    return false;
                });
        return last[0];
    }

    private static List<Map<String, Object>> driftEpisodes() {
        return RestAssured.given().baseUri(stack.faultlineUrl())
                .get("/api/v1/failures?type=embedding_drift&deployment=" + MODEL).then().statusCode(200).extract()
                .jsonPath().getList("items");
    }
}
