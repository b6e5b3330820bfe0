package io.faultline.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.testing.Api;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every read the OpenAPI document publishes, each path parameter and each query parameter in turn given a hostile
 * value (not a UUID, far too long, NUL, an encoded lone surrogate, a byte that is not UTF-8, a number out of range, a
 * line break, a bidirectional control): a client's mistake is answered below 500, and an error as a problem.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class HostileParametersTest {

    private static final String PROBLEM = "application/problem+json";

    /** A read's path template and the query parameters it declares. */
    record Read(String template, List<String> query) {
    }

    /** The values, sent as written (percent-escapes included): each is one client mistake. */
    @ParameterizedTest
    @ValueSource(strings = { "not-a-uuid", "00000000-0000-0000-0000-00000000000g", "%00", "x%00y", "%ED%A0%80",
        "a%ED%B0%80b", "%FF", "%C3", "1e309", "-1", "99999999999999999999", "0x10", "NaN", "%0Aline", "%E2%80%AE",
        "%F0%9F%98%80", "..", "%2E%2E", "%25", "%20", "2031-13-45T25:61:00Z", "%3Bx%3D1" })
    void a_hostile_value_in_any_parameter_of_any_read_is_never_a_500(String value) throws IOException {
        List<String> failures = new ArrayList<>();
        for (Read read : reads()) {
            // Each path parameter in turn, the others a plain name.
            List<String> names = pathParameters(read.template());
            for (String name : names) {
                String path = read.template();
                for (String other : names) {
                    path = path.replace("{" + other + "}", other.equals(name) ? value : "plain");
                }
                check(path, failures);
            }
            String plain = read.template();
            for (String other : names) {
                plain = plain.replace("{" + other + "}", "plain");
            }
            for (String parameter : read.query()) {
                check(plain + "?" + parameter + "=" + value, failures);
            }
        }
        assertThat(failures).as("reads answering a client's mistake with a 5xx or a non-problem error").isEmpty();
    }

    /** Over-long values: a path parameter and a query value of 2000 characters. */
    @ParameterizedTest
    @ValueSource(ints = { 300, 2000 })
    void an_over_long_value_in_any_parameter_of_any_read_is_never_a_500(int length) throws IOException {
        a_hostile_value_in_any_parameter_of_any_read_is_never_a_500("a".repeat(length));
    }

    private static void check(String uri, List<String> failures) {
        Response response = given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).when()
                .get(uri).andReturn();
        int status = response.statusCode();
        String type = response.contentType() == null ? "" : response.contentType();
        if (status >= 500 || status >= 400 && !type.startsWith(PROBLEM)) {
            String shown = uri.length() > 160 ? uri.substring(0, 160) + "..." : uri;
            failures.add(status + " " + type + " GET " + shown);
        }
    }

    private static List<String> pathParameters(String template) {
        List<String> names = new ArrayList<>();
        for (int open = template.indexOf('{'); open >= 0; open = template.indexOf('{', open + 1)) {
            int close = template.indexOf('}', open);
            names.add(template.substring(open + 1, close));
        }
        return names;
    }

    /** The GET operations of the OpenAPI document under /api/, with their declared query parameters. */
    private static List<Read> reads() throws IOException {
        String json = given().header("Authorization", "Bearer " + Api.KEY).queryParam("format", "json").when()
                .get("/q/openapi").then().statusCode(200).extract().asString();
        JsonNode paths = new ObjectMapper().readTree(json).path("paths");
        List<Read> reads = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = paths.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> path = it.next();
            JsonNode get = path.getValue().path("get");
            if (get.isMissingNode() || !path.getKey().startsWith("/api/")) {
                continue;
            }
            List<String> query = new ArrayList<>();
            for (JsonNode parameter : get.path("parameters")) {
                if ("query".equals(parameter.path("in").asText())) {
                    query.add(parameter.path("name").asText());
                }
            }
            reads.add(new Read(path.getKey(), query));
        }
        assertThat(reads).as("the published reads").hasSizeGreaterThan(10);
        return reads;
    }
}
