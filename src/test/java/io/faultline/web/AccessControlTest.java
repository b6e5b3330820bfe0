package io.faultline.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.testing.Metrics;
import io.faultline.testing.PostgresResource;
import io.faultline.web.access.AccessRules;
import io.faultline.web.access.Role;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;

/**
 * The role table, tested from the OpenAPI document itself: every operation the application publishes is called with
 * no key, with an invalid key, with the key of each role that may not call it (403) and of each role that may (not
 * 401/403: a minimal body may well be a 400, which is not an access decision). A new endpoint is covered the moment
 * it exists; its row in the README's table is generated from the same rules and the test fails while the README is
 * out of date (target/role-table.md holds the table to paste).
 */
@QuarkusTest
@TestProfile(AccessControlTest.ThreeRoles.class)
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class AccessControlTest {

    static final String ADMIN_NEW = "admin-key-new";
    static final String ADMIN_OLD = "admin-key-old";
    static final String INGEST = "ingest-key";
    static final String READ = "read-key";
    static final String PROBLEM = "application/problem+json";

    @io.quarkus.test.common.http.TestHTTPResource("/")
    java.net.URL root;

    /** All three roles configured, the admin one with two keys (a rotation under way), values as Secrets write them. */
    public static class ThreeRoles implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.auth.admin-keys", " " + ADMIN_NEW + " , " + ADMIN_OLD + "\n",
                    "faultline.auth.ingest-keys", INGEST + "\n", "faultline.auth.read-keys", "\t" + READ + "\r\n");
        }
    }

    /** One key per role; the admin role's is the new one of the two (the other is tested below). */
    static final Map<Role, String> KEYS = new EnumMap<>(Map.of(Role.ADMIN, ADMIN_NEW, Role.INGEST, INGEST,
            Role.READ, READ));

    record Operation(String method, String template, boolean hasBody) {
        String path() {
            // Any value will do: the access decision never depends on it (a 404 or 400 after it is not our concern).
            return template.replaceAll("\\{runId}|\\{[a-zA-Z]*Id}", UUID.randomUUID().toString())
                    .replaceAll("\\{[^}]+}", "x1");
        }
    }

    @Test
    void every_operation_in_the_openapi_document_answers_per_the_role_table() throws IOException {
        List<Operation> operations = operations();
        assertThat(operations).as("the OpenAPI document lists the API").hasSizeGreaterThan(30);
        List<String> failures = new ArrayList<>();
        for (Operation op : operations) {
            Set<Role> allowed = AccessRules.allowed(op.method(), op.template());
            assertThat(allowed).as(op + " is not open").isNotEmpty();
            check(failures, op, "no key", null, allowed.isEmpty() ? 0 : 401);
            check(failures, op, "an invalid key", "not-a-key", 401);
            for (Role role : Role.values()) {
                check(failures, op, role.label() + " key", KEYS.get(role), allowed.contains(role) ? 0 : 403);
            }
        }
        assertThat(failures).as("operations answering against the role table").isEmpty();
    }

    /**
     * A request answered before it reaches an endpoint (refused by the access policy, a declared body over the
     * limit) or reaching none is labelled {@code uri="/{unmatched}"}, not with its raw path: a client without a key
     * cannot put an e-mail address, or a new label value per request, into the HTTP metrics.
     */
    @Test
    void requests_that_reach_no_endpoint_share_one_uri_label_and_never_carry_the_callers_path() throws IOException {
        String tag = UUID.randomUUID().toString();
        given().when().post("/api/v1/budgets/user/alice-" + tag + "@example.com").then().statusCode(401);
        given().when().get("/api/v1/slos/secret-" + tag).then().statusCode(401);
        given().when().get("/probe-" + tag).then().statusCode(401);
        given().header("Authorization", "Bearer " + READ).when().get("/api/v1/nothing-" + tag).then().statusCode(404);
        assertThat(declaredOversize("/api/v1/calls-" + tag)).startsWith("HTTP/1.1 413");
        given().header("Authorization", "Bearer " + READ).when().get("/api/v1/failures/" + UUID.randomUUID())
                .then().statusCode(404);

        String scrape = answersRecorded(s -> refusedCount(s, "GET", "401") > 0 && refusedCount(s, "POST", "413") > 0
                && refusedCount(s, "GET", "404") > 0 && Metrics.valueOrZero(s, "http_server_requests_seconds_count",
                        "status", "404", "uri", "/api/v1/failures/{failureId}") >= 1);
        assertThat(scrape).as("no caller's path in a label").doesNotContain(tag);
        for (String method : new String[] { "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS" }) {
            assertThat(Metrics.valueOrZero(scrape, "http_server_requests_seconds_count", "method", method, "status",
                    "200", "uri", "/{unmatched}")).as("every answered %s reached an endpoint or a management route",
                    method).isZero();
        }
        for (String[] refused : new String[][] { { "GET", "401" }, { "POST", "413" }, { "GET", "404" } }) {
            assertThat(Metrics.valueOrZero(scrape, "http_server_requests_seconds_count", "method", refused[0],
                    "status", refused[1], "uri", "/{unmatched}")).as(String.join(" ", refused)).isPositive();
        }
        assertThat(Metrics.valueOrZero(scrape, "http_server_requests_seconds_count", "status", "404", "uri",
                "/api/v1/failures/{failureId}")).as("a routed request keeps its endpoint's template")
                .isGreaterThanOrEqualTo(1);
    }

    /**
     * The framework answers OPTIONS itself, with no endpoint method of its own: it was labelled {@code /{unmatched}},
     * so an OPTIONS of a real endpoint counted among the requests that reached none. It is labelled with the route's
     * template, as the other methods there are.
     */
    @Test
    void options_of_an_endpoint_is_labelled_with_its_route_template() throws IOException {
        given().when().options("/api/v1/calls").then().statusCode(200);
        given().when().options("/api/v1/failures/" + UUID.randomUUID()).then().statusCode(200);
        given().header("Authorization", "Bearer " + READ).when().get("/api/v1/slos/options-label").then()
                .statusCode(200);
        given().when().options("/api/v1/slos/options-label").then().statusCode(200);

        String scrape = answersRecorded(s -> optionsCount(s, "/api/v1/calls") >= 1
                && optionsCount(s, "/api/v1/failures/{failureId}") >= 1
                && !templates(s, "OPTIONS", "/api/v1/slos/").isEmpty());
        assertThat(Metrics.valueOrZero(scrape, "http_server_requests_seconds_count", "method", "OPTIONS", "status",
                "200", "uri", "/api/v1/calls")).isGreaterThanOrEqualTo(1);
        assertThat(Metrics.valueOrZero(scrape, "http_server_requests_seconds_count", "method", "OPTIONS", "status",
                "200", "uri", "/api/v1/failures/{failureId}")).isGreaterThanOrEqualTo(1);
        assertThat(Metrics.valueOrZero(scrape, "http_server_requests_seconds_count", "method", "OPTIONS", "status",
                "200", "uri", "/{unmatched}")).as("no answered OPTIONS left unlabelled").isZero();
        assertThat(scrape).as("the caller's model group stays out of the label").doesNotContain("options-label");
        Set<String> get = templates(scrape, "GET", "/api/v1/slos/");
        assertThat(get).as("GET of a model group's SLO has a template").isNotEmpty();
        assertThat(templates(scrape, "OPTIONS", "/api/v1/slos/")).as("OPTIONS there: the same template")
                .isEqualTo(get);
    }

    /**
     * A scrape that counts the answers {@code recorded} looks for. Vert.x counts a request in the HTTP metrics after it
     * has handed the answer to the connection: the client can read the answer and scrape before the request counts.
     */
    private static String answersRecorded(java.util.function.Predicate<String> recorded) {
        return Awaitility.await("the answered requests in the HTTP metrics").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(50)).until(Metrics::scrape, recorded);
    }

    private static double refusedCount(String scrape, String method, String status) {
        return Metrics.valueOrZero(scrape, "http_server_requests_seconds_count", "method", method, "status", status,
                "uri", "/{unmatched}");
    }

    private static double optionsCount(String scrape, String uri) {
        return Metrics.valueOrZero(scrape, "http_server_requests_seconds_count", "method", "OPTIONS", "status", "200",
                "uri", uri);
    }

    /** The uri labels of {@code method}'s answered requests starting with {@code prefix}. */
    private static Set<String> templates(String scrape, String method, String prefix) {
        Set<String> uris = new TreeSet<>();
        for (String line : scrape.split("\n")) {
            int at = line.indexOf("uri=\"" + prefix);
            if (line.startsWith("http_server_requests_seconds_count{") && line.contains("method=\"" + method + "\"")
                    && line.contains("status=\"200\"") && at >= 0) {
                uris.add(line.substring(at + 5, line.indexOf('"', at + 5)));
            }
        }
        return uris;
    }

    /** The status line of a POST declaring a body far over the limit (refused before it is read). */
    private String declaredOversize(String path) throws IOException {
        try (java.net.Socket socket = new java.net.Socket(root.getHost(), root.getPort())) {
            socket.setSoTimeout(30_000);
            socket.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: " + root.getHost()
                    + "\r\nAuthorization: Bearer " + ADMIN_NEW + "\r\nContent-Type: application/json"
                    + "\r\nContent-Length: 999999999\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            return new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
                    StandardCharsets.US_ASCII)).readLine();
        }
    }

    private void check(List<String> failures, Operation op, String who, String key, int expected) {
        Response response = request(key, op).request(op.method(), op.path());
        int status = response.statusCode();
        boolean ok = expected == 0 ? status != 401 && status != 403 : status == expected;
        if (ok && expected != 0) {
            ok = response.contentType().startsWith(PROBLEM) && response.jsonPath().getInt("status") == expected;
        }
        if (!ok) {
            failures.add(op.method() + " " + op.template() + " with " + who + ": " + status + " "
                    + response.contentType() + " (expected " + (expected == 0 ? "not 401/403" : expected) + ")");
        }
    }

    private static RequestSpecification request(String key, Operation op) {
        RequestSpecification spec = given().redirects().follow(false);
        if (key != null) {
            spec = spec.header("Authorization", "Bearer " + key);
        }
        return op.hasBody() ? spec.contentType("application/json").body("{}") : spec;
    }

    @Test
    void a_wrong_role_gets_a_403_problem_naming_the_role_needed_and_no_key_a_401_with_a_challenge() {
        given().header("Authorization", "Bearer " + INGEST).when().delete("/api/v1/budgets/team/x").then()
                .statusCode(403).contentType(PROBLEM).body("detail", containsString("admin role"))
                .body("detail", containsString("FAULTLINE_ADMIN_API_KEY"));
        given().header("Authorization", "Bearer " + INGEST).when().get("/api/v1/failures").then().statusCode(403)
                .contentType(PROBLEM).body("detail", containsString("read or admin role"));
        given().when().get("/api/v1/budgets").then().statusCode(401).contentType(PROBLEM)
                .header("WWW-Authenticate", "Bearer").body("detail", containsString("FAULTLINE_READ_API_KEY"));
        given().header("Authorization", "Basic " + READ).when().get("/api/v1/budgets").then().statusCode(401)
                .contentType(PROBLEM).body("detail", containsString("not valid"));
    }

    @Test
    void probes_and_metrics_stay_open_and_the_openapi_document_and_swagger_ui_follow_the_read_key() {
        given().when().get("/q/health/ready").then().statusCode(200);
        given().when().get("/q/health/live").then().statusCode(200);
        given().when().get("/q/metrics").then().statusCode(200);
        given().header("Authorization", "Bearer a-scraper-token-for-someone-else").when().get("/q/metrics").then()
                .statusCode(200);
        given().header("Authorization", "Bearer not-a-key").when().get("/api/v1/failures").then().statusCode(401)
                .body("detail", containsString("read or admin role"));
        given().when().get("/q/openapi").then().statusCode(401).contentType(PROBLEM);
        given().when().get("/q/openapi.json").then().statusCode(401);
        given().redirects().follow(false).when().get("/q/swagger-ui/").then().statusCode(401);
        given().redirects().follow(false).when().get("/q/swagger-ui").then().statusCode(401);
        given().header("Authorization", "Bearer " + INGEST).when().get("/q/openapi").then().statusCode(403);
        given().header("Authorization", "Bearer " + READ).when().get("/q/openapi").then().statusCode(200);
        given().header("Authorization", "Bearer " + READ).when().get("/q/swagger-ui/").then().statusCode(200);
    }

    /**
     * A path is an ingest path with or without a trailing slash, as the endpoints answer it: with one, the ingest key
     * got a 403 saying an admin key was needed, while the admin key's post was stored.
     */
    @Test
    void an_ingest_path_with_a_trailing_slash_takes_the_ingest_key() {
        String body = "{\"signalId\": \"slash-" + UUID.randomUUID() + "\", \"index\": \"kb-slash\", \"topScore\": 0.5}";
        given().header("Authorization", "Bearer " + INGEST).contentType("application/json").body(body).when()
                .post("/api/v1/signals/retrieval/").then().statusCode(200)
                .body("accepted", org.hamcrest.Matchers.is(1));
        given().header("Authorization", "Bearer " + INGEST).contentType("application/json").body("{}").when()
                .post("/api/v1/signals/embeddings/checks/").then().statusCode(403).contentType(PROBLEM);
    }

    /**
     * A POST-only ingest path (such as /api/v1/calls) takes no GET, so no HEAD either: asked by any key, both are the
     * 405 whose Allow names what OPTIONS lists. The ingest key got a 403 "needs read role" for HEAD and GET, as if they
     * existed there, while OPTIONS listed HEAD.
     */
    @Test
    void get_and_head_of_a_post_only_ingest_path_are_the_405_that_options_describes_for_every_key() {
        // What OPTIONS lists there (BadInputTest: an OPTIONS here would count in the /{unmatched} label above).
        Set<String> listed = Set.of("OPTIONS", "POST");
        for (String key : List.of(INGEST, READ, ADMIN_NEW)) {
            for (String method : List.of("HEAD", "GET")) {
                String allow = given().header("Authorization", "Bearer " + key).when().request(method,
                        "/api/v1/calls").then().log().ifValidationFails().statusCode(405).extract().header("Allow");
                assertThat(methods(allow)).as(method + " with " + key).isEqualTo(listed);
            }
        }
    }

    /**
     * Every ingest path the OpenAPI document publishes with POST and no GET is such a path: GET and HEAD there are the
     * 405 for every key, the paths read from the route table, not from a list kept beside it that a new POST-only
     * ingest path could be left out of. /signals/embeddings, which lists the spaces, stays a read.
     */
    @Test
    void every_published_post_only_ingest_path_answers_get_and_head_405_for_every_key() throws IOException {
        List<Operation> operations = operations();
        Set<String> read = new TreeSet<>();
        Set<String> postOnly = new TreeSet<>();
        for (Operation op : operations) {
            if (op.method().equals("GET")) {
                read.add(op.template());
            }
        }
        for (Operation op : operations) {
            if (op.method().equals("POST") && AccessRules.allowed("POST", op.template()).contains(Role.INGEST)
                    && !read.contains(op.template())) {
                postOnly.add(op.template());
            }
        }
        assertThat(postOnly).contains("/api/v1/calls", "/api/v1/classify", "/api/v1/signals/retrieval")
                .doesNotContain("/api/v1/signals/embeddings");
        for (String path : postOnly) {
            for (String key : List.of(INGEST, READ, ADMIN_NEW)) {
                for (String method : List.of("HEAD", "GET")) {
                    String allow = given().header("Authorization", "Bearer " + key).when().request(method, path)
                            .then().log().ifValidationFails().statusCode(405).extract().header("Allow");
                    assertThat(methods(allow)).as(method + " " + path + " with " + key)
                            .isEqualTo(Set.of("OPTIONS", "POST"));
                }
            }
        }
        assertThat(AccessRules.allowed("GET", "/api/v1/signals/embeddings")).doesNotContain(Role.INGEST);
    }

    /** Reads stay closed to the ingest key: of every GET the application publishes only the traffic policy is open. */
    @Test
    void no_published_read_but_the_traffic_policy_takes_the_ingest_key() throws IOException {
        for (Operation op : operations()) {
            if (op.method().equals("GET") && !op.template().equals("/api/v1/traffic-policy")) {
                assertThat(AccessRules.allowed("GET", op.template())).as(op.template()).doesNotContain(Role.INGEST);
                assertThat(AccessRules.allowed("HEAD", op.template())).as(op.template()).doesNotContain(Role.INGEST);
            }
        }
    }

    private static Set<String> methods(String allow) {
        assertThat(allow).as("Allow header").isNotNull();
        Set<String> methods = new TreeSet<>();
        for (String m : allow.split(",")) {
            methods.add(m.trim());
        }
        return methods;
    }

    @Test
    void the_plugin_polls_the_traffic_policy_with_its_ingest_key() {
        given().header("Authorization", "Bearer " + INGEST).when().get("/api/v1/traffic-policy").then()
                .statusCode(200);
    }

    @Test
    void both_admin_keys_of_a_rotation_and_the_legacy_key_work_and_trailing_whitespace_is_trimmed() {
        for (String key : List.of(ADMIN_NEW, ADMIN_OLD, "test-key", ADMIN_OLD + "\t")) {
            String id = "rotation-" + UUID.randomUUID();
            given().header("Authorization", "Bearer " + key).contentType("application/json")
                    .body("{\"amountUsd\": 5, \"period\": \"day\"}").when().put("/api/v1/budgets/team/" + id).then()
                    .statusCode(200);
            given().header("Authorization", "Bearer " + key).when().delete("/api/v1/budgets/team/" + id).then()
                    .statusCode(204);
        }
    }

    @Test
    void the_readme_role_table_is_the_one_the_rules_give() throws IOException {
        String table = roleTable(operations());
        Path out = Path.of("target", "role-table.md");
        Files.createDirectories(out.getParent());
        Files.writeString(out, table, StandardCharsets.UTF_8);
        String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8);
        String start = "<!-- role-table:start -->\n";
        String end = "<!-- role-table:end -->";
        int from = readme.indexOf(start);
        int to = readme.indexOf(end);
        assertThat(from).as("README has the role-table markers").isNotNegative();
        assertThat(readme.substring(from + start.length(), to))
                .as("README's role table is out of date: paste target/role-table.md between the markers")
                .isEqualTo(table);
    }

    /** The README's table: one row per operation, and the non-API paths the rules name. */
    static String roleTable(List<Operation> operations) {
        StringBuilder table = new StringBuilder("| Method | Path | Keys that may call it |\n|---|---|---|\n");
        Map<String, Operation> sorted = new TreeMap<>();
        for (Operation op : operations) {
            sorted.put(op.template() + " " + op.method(), op);
        }
        for (Operation op : sorted.values()) {
            table.append(row(op.method(), op.template(), AccessRules.allowed(op.method(), op.template())));
        }
        table.append(row("GET", "/q/openapi, /q/swagger-ui", AccessRules.allowed("GET", "/q/openapi")));
        table.append(row("GET", "/q/health/*, /q/metrics", AccessRules.allowed("GET", "/q/health/ready")));
        table.append(row("GET, HEAD", "any other path", AccessRules.allowed("GET", "/anything")));
        table.append(row("OPTIONS", "any path", AccessRules.allowed("OPTIONS", "/api/v1/calls")));
        table.append(row("any other", "any other path", AccessRules.allowed("PATCH", "/anything")));
        return table.toString();
    }

    private static String row(String method, String path, Set<Role> allowed) {
        String who = allowed.isEmpty() ? "anyone (no key)"
                : String.join(", ", allowed.stream().sorted().map(Role::label).toList());
        if (AccessRules.isRead(allowed)) {
            who += "; anyone while no read key is set";
        }
        return "| " + method + " | `" + path + "` | " + who + " |\n";
    }

    private static List<Operation> operations() throws IOException {
        String json = given().header("Authorization", "Bearer " + READ).queryParam("format", "json").when()
                .get("/q/openapi").then().statusCode(200).extract().asString();
        JsonNode paths = new ObjectMapper().readTree(json).path("paths");
        List<Operation> operations = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = paths.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> path = it.next();
            for (Iterator<Map.Entry<String, JsonNode>> ops = path.getValue().fields(); ops.hasNext();) {
                Map.Entry<String, JsonNode> op = ops.next();
                String method = op.getKey().toUpperCase(Locale.ROOT);
                if (List.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE").contains(method)) {
                    operations.add(new Operation(method, path.getKey(), op.getValue().has("requestBody")));
                }
            }
        }
        return operations;
    }
}
