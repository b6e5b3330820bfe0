package io.faultline.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.testing.Api;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What /q/openapi tells a client generator and Swagger UI: how to send the API key, and the status an operation
 * answers with when it succeeds.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class OpenApiDocumentTest {

    private static JsonNode document() throws IOException {
        String json = given().header("Authorization", "Bearer " + Api.KEY).queryParam("format", "json").when()
                .get("/q/openapi").then().statusCode(200).extract().asString();
        return new ObjectMapper().readTree(json);
    }

    /**
     * The document declared no security at all: Swagger UI had no "Authorize" button, so every write tried from it
     * was a 401, and a generated client had no way to send the key.
     */
    @Test
    void the_document_declares_the_bearer_key_and_which_operations_need_it() throws IOException {
        JsonNode doc = document();
        JsonNode scheme = doc.path("components").path("securitySchemes").path("apiKey");
        assertThat(scheme.path("type").asText()).isEqualTo("http");
        assertThat(scheme.path("scheme").asText()).isEqualTo("bearer");

        List<String> wrong = new ArrayList<>();
        int operations = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = doc.path("paths").fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> path = it.next();
            if (!path.getKey().startsWith("/api/")) {
                continue;
            }
            for (String method : List.of("get", "put", "post", "delete")) {
                JsonNode op = path.getValue().path(method);
                if (op.isMissingNode()) {
                    continue;
                }
                operations++;
                List<String> requirements = new ArrayList<>();
                op.path("security").forEach(r -> requirements.add(r.toString()));
                // A read is open while no read key is set ({}), a write never is.
                List<String> expected = method.equals("get") ? List.of("{\"apiKey\":[]}", "{}")
                        : List.of("{\"apiKey\":[]}");
                if (!requirements.equals(expected)) {
                    wrong.add(method.toUpperCase() + " " + path.getKey() + ": " + requirements);
                }
                if (!op.path("description").asText().contains("API key:")) {
                    wrong.add(method.toUpperCase() + " " + path.getKey() + " names no role: "
                            + op.path("description").asText());
                }
            }
        }
        assertThat(operations).isGreaterThan(30);
        assertThat(wrong).as("operations whose security is not declared as the role table has it").isEmpty();
        assertThat(doc.path("paths").path("/api/v1/slos/{modelGroup}").path("put").path("description").asText())
                .contains("API key: admin (FAULTLINE_ADMIN_API_KEY)");
        assertThat(doc.path("paths").path("/api/v1/calls").path("post").path("description").asText())
                .contains("API key: ingest (FAULTLINE_INGEST_API_KEY) or admin (FAULTLINE_ADMIN_API_KEY)");
    }

    /** Each answered 200 in the document while the endpoint answers 202 or 201. */
    @Test
    void the_document_gives_the_success_statuses_the_endpoints_answer_with() throws IOException {
        JsonNode paths = document().path("paths");
        assertThat(statuses(paths.path("/api/v1/baselines/runs").path("post"))).contains("202")
                .doesNotContain("200");
        assertThat(statuses(paths.path("/api/v1/signals/embeddings").path("post"))).contains("202", "200");
        assertThat(statuses(paths.path("/api/v1/retrieval-indexes/{name}").path("put"))).contains("201", "200");
    }

    private static List<String> statuses(JsonNode operation) {
        List<String> statuses = new ArrayList<>();
        operation.path("responses").fieldNames().forEachRemaining(statuses::add);
        return statuses;
    }
}
