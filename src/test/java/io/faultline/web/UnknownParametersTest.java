package io.faultline.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.testing.Api;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * Every operation the OpenAPI document publishes under /api/ refuses a query parameter it does not take, naming it:
 * ignored, a misspelt filter ({@code GET /api/v1/budgets?scop=team}) was answered with the unfiltered answer, and a
 * misspelt option of a write ({@code DELETE ...?force=true}) did what it would have done without it.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class UnknownParametersTest {

    private static final String PROBLEM = "application/problem+json";

    /**
     * Not swept: the ingest LiteLLM's generic_api logger posts to, at an endpoint URL the operator writes, and which
     * drops a batch it could not send; a query there changes nothing the service does, so a 400 would only lose calls.
     */
    private static final Set<String> UNCHECKED = Set.of("POST /api/v1/calls");

    @Test
    void every_operation_refuses_a_query_parameter_it_does_not_take_and_names_it() throws IOException {
        List<String> failures = new ArrayList<>();
        List<String> swept = new ArrayList<>();
        for (String operation : operations()) {
            if (UNCHECKED.contains(operation)) {
                continue;
            }
            swept.add(operation);
            String method = operation.substring(0, operation.indexOf(' '));
            String path = plain(operation.substring(method.length() + 1)) + "?bogusParam=1";
            RequestSpecification request = given().header("Authorization", "Bearer " + Api.KEY);
            if (method.equals("POST") || method.equals("PUT")) {
                // A read or a delete with a body is refused for it (413) before its query is looked at.
                request.contentType("application/json").body(body(operation));
            }
            Response response = request.when().request(method, path).andReturn();
            String type = response.contentType() == null ? "" : response.contentType();
            String detail = type.startsWith(PROBLEM) ? response.jsonPath().getString("detail") : null;
            if (response.statusCode() != 400 || detail == null || !detail.contains("bogusParam")) {
                failures.add(response.statusCode() + " " + type + " " + method + " " + path + ": " + detail);
            }
        }
        assertThat(swept).as("the operations swept").hasSizeGreaterThan(30);
        assertThat(failures).as("operations that did not refuse ?bogusParam=1 with a problem naming it").isEmpty();
    }

    @Test
    void an_endpoint_that_takes_no_parameter_says_so() {
        given().header("Authorization", "Bearer " + Api.KEY).when().get("/api/v1/budgets?scop=team").then()
                .log().ifValidationFails().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("scop"))
                .body("detail", equalTo("unknown query parameter scop; GET here takes no query parameters"));
        given().header("Authorization", "Bearer " + Api.KEY).when().get("/api/v1/traffic-policy").then()
                .log().ifValidationFails().statusCode(200);
    }

    /** A body the operation's declared type takes, so that only the query can be refused. */
    private static String body(String operation) {
        return operation.equals("POST /api/v1/baselines/runs")
                ? "{\"provider\":\"openai\",\"modelGroup\":\"unknown-params-sweep\",\"requests\":1}" : "{}";
    }

    private static String plain(String template) {
        StringBuilder path = new StringBuilder();
        int at = 0;
        for (int open = template.indexOf('{'); open >= 0; open = template.indexOf('{', at)) {
            path.append(template, at, open).append("plain");
            at = template.indexOf('}', open) + 1;
        }
        return path.append(template.substring(at)).toString();
    }

    /** The operations of the OpenAPI document under /api/, as "METHOD /path/{template}". */
    private static List<String> operations() throws IOException {
        String json = given().header("Authorization", "Bearer " + Api.KEY).queryParam("format", "json").when()
                .get("/q/openapi").then().statusCode(200).extract().asString();
        JsonNode paths = new ObjectMapper().readTree(json).path("paths");
        List<String> operations = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = paths.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> path = it.next();
            if (!path.getKey().startsWith("/api/")) {
                continue;
            }
            for (String method : List.of("get", "put", "post", "delete", "patch")) {
                if (path.getValue().has(method)) {
                    operations.add(method.toUpperCase() + " " + path.getKey());
                }
            }
        }
        return operations;
    }
}
