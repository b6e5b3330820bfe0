package io.faultline.web;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.startsWith;

@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BadInputTest {

    private static final String PROBLEM = "application/problem+json";

    @Test
    void malformed_json_is_a_400_problem_that_says_where() {
        Api.ingest("[{\"id\": \"a\", ").statusCode(400).contentType(PROBLEM).body("title", equalTo("Malformed JSON"))
                .body("detail", containsString("line 1"));
    }

    @Test
    void two_json_values_run_together_are_a_400_problem_and_store_nothing() {
        Payloads a = Payloads.success("openai", "gpt-4o", "dep-run-together", Instant.now());
        Payloads b = Payloads.success("openai", "gpt-4o", "dep-run-together", Instant.now());
        // Two batches a sender joined without a separator: the second was dropped while the first was acknowledged.
        Api.ingest(Payloads.array(a) + Payloads.array(b)).statusCode(400).contentType(PROBLEM)
                .body("title", equalTo("Malformed JSON")).body("detail", containsString("more than one JSON value"));
        // Nothing of it was stored: the first batch sent alone is new.
        Api.ingest(Payloads.array(a)).statusCode(200).body("accepted", equalTo(1)).body("duplicates", equalTo(0));
        // The bodies read as a tree say the same.
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"period\": \"day\", \"amountUsd\": 1} {}").when()
                .put("/api/v1/budgets/team/run-together-" + UUID.randomUUID()).then().statusCode(400)
                .contentType(PROBLEM).body("detail", containsString("more than one JSON value"));
    }

    /**
     * A batch is JSON, and both of LiteLLM's senders say so (the generic_api logger's headers start from
     * Content-Type: application/json; the plugin sets it): a batch declared as text/plain, or as another type that is
     * not JSON, is a 415 problem naming the type to send, not read as JSON. Without a declared type it is read.
     */
    @Test
    void a_batch_declared_as_text_plain_is_a_415_problem_and_stores_nothing() {
        Payloads call = Payloads.success("openai", "gpt-4o", "dep-text-plain-" + UUID.randomUUID(), Instant.now());
        for (String type : List.of("text/plain", "text/plain; charset=utf-8", "application/xml")) {
            given().header("Authorization", "Bearer " + Api.KEY).contentType(type).body(Payloads.array(call)).when()
                    .post("/api/v1/calls").then().log().ifValidationFails().statusCode(415).contentType(PROBLEM)
                    .body("title", equalTo("Unsupported Media Type"))
                    .body("detail", containsString("application/json"));
        }
        given().header("Authorization", "Bearer " + Api.KEY).contentType("application/json; charset=utf-8")
                .body(Payloads.array(call)).when().post("/api/v1/calls").then().statusCode(200)
                .body("accepted", equalTo(1)).body("duplicates", equalTo(0));
    }

    @Test
    void a_body_that_is_not_an_array_is_a_400_problem_naming_the_expected_shape() {
        Api.ingest("{\"id\": \"x\"}").statusCode(400).contentType(PROBLEM)
                .body("detail", containsString("JSON array")).body("errors[0].field", equalTo("$"));
        Api.ingest("\"hello\"").statusCode(400).contentType(PROBLEM);
    }

    @Test
    void a_batch_of_only_wrong_types_is_a_422_problem_listing_each_item() {
        Payloads a = Payloads.success("openai", "m", "d", Instant.now()).set("startTime", "yesterday");
        Payloads b = Payloads.success("openai", "m", "d", Instant.now()).set("status", "maybe");
        Payloads c = Payloads.success("openai", "m", "d", Instant.now()).set("metadata", "not-an-object");
        Api.ingest(Payloads.array(a, b, c)).statusCode(422).contentType(PROBLEM).body("errors", hasSize(3))
                .body("errors[0].message", containsString("startTime")).body("errors[1].message",
                        containsString("status")).body("errors[2].message", containsString("metadata"))
                .body("errors.field", contains("[0]", "[1]", "[2]"));
    }

    @Test
    void an_oversized_body_is_a_413_problem() {
        String big = "[" + "\"x\",".repeat(3_000_000) + "\"x\"]"; // ~12 MB, over the 10 MiB default
        Api.ingest(big).statusCode(413).contentType(PROBLEM).body("detail", containsString("split"));
    }

    @Test
    void too_many_items_is_a_413_problem() {
        StringBuilder body = new StringBuilder("[");
        for (int i = 0; i < 1001; i++) {
            body.append(i == 0 ? "" : ",").append("{}");
        }
        // Refused at the 1001st item, unread past it: the detail names the limit, no longer the batch's count.
        Api.ingest(body.append("]").toString()).statusCode(413).contentType(PROBLEM)
                .body("detail", containsString("more than 1000 items"))
                .body("detail", containsString("faultline.ingest.max-batch-items"));
    }

    @Test
    void writes_without_or_with_a_wrong_key_are_401_problems_and_store_nothing() {
        String dep = "dep-" + UUID.randomUUID();
        String body = Payloads.array(Payloads.failure("openai", "m", dep, Instant.now(), 500, "InternalServerError",
                "x"));
        given().contentType(ContentType.JSON).body(body).when().post("/api/v1/calls").then().statusCode(401)
                .contentType(PROBLEM).header("WWW-Authenticate", "Bearer");
        given().header("Authorization", "Bearer wrong").contentType(ContentType.JSON).body(body).when()
                .post("/api/v1/calls").then().statusCode(401).contentType(PROBLEM);
        Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(0));
    }

    @Test
    void an_sql_injection_looking_model_name_is_stored_verbatim_and_harms_nothing() {
        String dep = "dep-" + UUID.randomUUID();
        String model = "gpt-4o'; DROP TABLE llm_calls; --";
        Api.ingest(Payloads.array(Payloads.failure("openai", model, dep, Instant.now(), 503,
                "ServiceUnavailableError", "unavailable"))).statusCode(200).body("accepted", equalTo(1));
        Api.failures("deployment=" + dep).statusCode(200).body("items[0].evidence.model", equalTo(model));
        Api.failures("provider=" + "openai'%20OR%201=1--").statusCode(200).body("items", hasSize(0));
    }

    @Test
    void unknown_filter_values_name_the_parameter() {
        Api.failures("category=WEATHER").statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("category"));
        Api.failures("type=gremlins").statusCode(400).body("errors[0].field", equalTo("type"));
        Api.failures("severity=P9").statusCode(400).body("errors[0].field", equalTo("severity"));
        Api.failures("since=yesterday").statusCode(400).body("errors[0].field", equalTo("since"));
        Api.failures("category=COST&type=rate_limit").statusCode(400).body("errors[0].field", equalTo("type"));
        Api.failures("limit=100000").statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("limit"));
        Api.failures("cursor=bogus").statusCode(400).body("errors[0].field", equalTo("cursor"));
    }

    /**
     * A value sent but out of range or of the wrong type was answered "keepShare is required" (and "amountUsd is
     * required", "expectedCostUsd is required", "period is required"), as if the field were missing.
     */
    @Test
    void a_value_sent_out_of_range_is_refused_for_its_value_not_called_missing() {
        String[][] cases = {
            { "/api/v1/traffic-policy/dep-range", "{\"keepShare\": 2}", "keepShare",
                "keepShare must be a number from 0 to 1, the share of requests to keep (0.5 keeps half); got 2" },
            { "/api/v1/traffic-policy/dep-range", "{\"reason\": \"x\"}", "keepShare",
                "keepShare is required: the share of requests to keep, from 0 to 1 (0.5 keeps half)" },
            { "/api/v1/budgets/team/range", "{\"period\": \"month\", \"amountUsd\": -1}", "amountUsd",
                "amountUsd must be a number of US dollars per period, from 0.000001 to 1000000000000; got -1" },
            { "/api/v1/budgets/team/range", "{\"period\": \"month\"}", "amountUsd",
                "amountUsd is required: US dollars per period, from 0.000001 to 1000000000000" },
            { "/api/v1/budgets/team/range", "{\"period\": \"fortnight\", \"amountUsd\": 5}", "period",
                "period must be \"day\" or \"month\"; got \"fortnight\"" },
            { "/api/v1/budgets/team/range", "{\"amountUsd\": 5}", "period",
                "period is required: \"day\" or \"month\"" },
            { "/api/v1/batches/range", "{\"expectedCostUsd\": \"12\"}", "expectedCostUsd",
                "expectedCostUsd must be a number of US dollars, from 0.000001 to 1000000000000; got \"12\"" },
        };
        for (String[] c : cases) {
            given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY)
                    .contentType("application/json").body(c[1]).when().put(c[0]).then().log().ifValidationFails()
                    .statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo(c[2]))
                    .body("detail", equalTo(c[3]));
        }
    }

    /** A value the filter does not know is refused with the values it takes: "unknown severity 'P9'" said neither. */
    @Test
    void an_unknown_filter_value_is_refused_with_the_values_the_filter_takes() {
        Api.failures("severity=P9").statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("severity"))
                .body("detail", equalTo("unknown severity 'P9'; severity is one of P1, P2, P3, P4"));
        Api.failures("category=WEATHER").statusCode(400).body("detail",
                equalTo("unknown category 'WEATHER'; category is one of PROVIDER, QUALITY, COST, SECURITY, DATA"));
        Api.failures("type=rate_limt").statusCode(400).body("errors[0].field", equalTo("type"))
                .body("detail", startsWith("unknown type 'rate_limt'; type is one of rate_limit, outage, "))
                .body("detail", containsString("pii_leakage"));
        // With a category the list is that category's types.
        Api.failures("category=provider&type=rate_limt").statusCode(400).body("detail", equalTo(
                "unknown type 'rate_limt'; a PROVIDER type is one of rate_limit, outage, overloaded, timeout, "
                        + "malformed_response, context_overflow, content_filtered"));
    }

    @Test
    void an_id_or_a_fraction_in_a_wider_syntax_than_documented_is_a_400_naming_it() {
        // UUID.fromString takes "1-1-1-1-1" (another id than the one written), Double.parseDouble "0x1p-1" and "1d".
        given().when().get("/api/v1/failures/1-1-1-1-1").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("failureId"));
        given().when().get("/api/v1/failures/correlations/1-1-1-1-1").then().statusCode(400)
                .body("errors[0].field", equalTo("clusterId"));
        given().when().get("/api/v1/predictions/00000001-0001-0001-0001-00000000000G").then().statusCode(400)
                .body("errors[0].field", equalTo("predictionId"));
        given().when().get("/api/v1/failures/" + UUID.randomUUID().toString().toUpperCase()).then().statusCode(404);
        for (String wide : List.of("0x1p-1", "1d", ".5f", "NaN", "1e-1", "+0.5", "0..5", ".")) {
            given().when().get("/api/v1/failures/correlations?minConfidence=" + wide).then().statusCode(400)
                    .contentType(PROBLEM).body("errors[0].field", equalTo("minConfidence"));
        }
        given().when().get("/api/v1/failures/correlations?minConfidence=.5").then().statusCode(200);
        given().when().get("/api/v1/failures/correlations?minConfidence=1").then().statusCode(200);
    }

    @Test
    void a_query_value_of_8_kib_gets_the_problem_naming_its_parameter_not_a_bare_414() {
        String value = "x".repeat(8192);
        Api.failures("since=" + value).statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("since"));
        given().when().get("/api/v1/failures/" + value).then().statusCode(400).contentType(PROBLEM);
    }

    @Test
    void a_page_size_that_is_not_an_integer_is_a_400_naming_limit_on_every_list() {
        for (String list : List.of("/api/v1/failures", "/api/v1/failures/correlations", "/api/v1/predictions",
                "/api/v1/traffic-policy/actions", "/api/v1/failures/ranked", "/api/v1/slos")) {
            for (String limit : List.of("abc", "1.5", "1e3", "NaN", "99999999999", "-1", "0", "%205")) {
                given().when().get(list + "?limit=" + limit).then().statusCode(400).contentType(PROBLEM)
                        .body("errors[0].field", equalTo("limit"))
                        .body("detail", containsString("limit must be an integer from 1 to"));
            }
            given().when().get(list + "?limit=7").then().statusCode(200);
            given().when().get(list + "?limit=").then().statusCode(200);
        }
    }

    @Test
    void a_parameter_given_twice_with_different_values_is_a_400_problem_naming_it() {
        Api.failures("limit=10&limit=abc").statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("limit")).body("detail", containsString("more than once"));
        Api.failures("since=2026-01-01T00:00:00Z&since=bad").statusCode(400).body("errors[0].field", equalTo("since"));
        Api.failures("limit=10&limit=10").statusCode(200);
    }

    @Test
    void unknown_paths_and_methods_are_problems_too() {
        given().when().get("/api/v1/nothing-here").then().statusCode(404).contentType(PROBLEM);
        given().header("Authorization", "Bearer " + Api.KEY).when().delete("/api/v1/failures").then()
                .statusCode(405).contentType(PROBLEM);
    }

    @Test
    void classify_reports_a_bad_field_as_a_400_problem() {
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body(Payloads.success("openai", "m", "d", Instant.now()).set("stream", "yes").node().toString())
                .when().post("/api/v1/classify").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("stream"));
    }

    @Test
    void a_bound_body_with_a_wrong_type_is_a_400_problem_naming_the_field_and_no_java_type() {
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"provider\": {\"a\": 1}, \"modelGroup\": \"gpt\"}").when().post("/api/v1/baselines/runs")
                .then().log().ifValidationFails().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("provider")).body("detail", equalTo("provider must be a string."))
                .body(not(containsString("java."))).body(not(containsString("io.faultline")));
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"provider\": \"openai\", \"modelGroup\": \"gpt\", \"requests\": 99999999999}").when()
                .post("/api/v1/baselines/runs").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("requests"));
    }

    /**
     * A run body is paid traffic: a value Jackson would bend into another (1.7 requests truncated to 1, a number
     * taken as a provider's name), a field it would drop unread (a misspelt {@code concurency}) or a model group
     * that cannot be stored as text (a lone surrogate) must be refused, naming the field, before any run starts.
     */
    @Test
    void a_run_body_that_jackson_would_coerce_or_drop_is_a_400_problem_naming_the_field() {
        String provider = "coerce" + Long.toHexString(System.nanoTime());
        // Each on its own provider and group: one refused body must not hide behind another's run (a 409).
        java.util.function.Function<String, String> run = p -> "{\"provider\": \"" + provider + p
                + "\", \"modelGroup\": \"gpt-" + provider + p + "\"";
        java.util.Map<String, String> bodies = new java.util.LinkedHashMap<>();
        bodies.put("requests", run.apply("a") + ", \"requests\": 1.7}");
        bodies.put("concurency", run.apply("b") + ", \"concurency\": 64}");
        bodies.put("provider", "{\"provider\": 123, \"modelGroup\": \"gpt-" + provider + "c\"}");
        bodies.put("modelGroup", run.apply("d").replace("\"gpt-", "\"gpt\\ud800-") + "}");
        java.util.Map<String, String> answers = new java.util.LinkedHashMap<>();
        bodies.forEach((field, body) -> {
            var answer = given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                    .body(body).when().post("/api/v1/baselines/runs").then().extract();
            answers.put(field, answer.statusCode() + " " + answer.contentType() + " "
                    + (answer.statusCode() == 400 ? answer.path("errors[0].field") : ""));
            assertThat(answer.asString()).doesNotContain("java.").doesNotContain("io.faultline");
        });
        assertThat(answers).containsExactly(java.util.Map.entry("requests", "400 " + PROBLEM + " requests"),
                java.util.Map.entry("concurency", "400 " + PROBLEM + " concurency"),
                java.util.Map.entry("provider", "400 " + PROBLEM + " provider"),
                java.util.Map.entry("modelGroup", "400 " + PROBLEM + " modelGroup"));
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body(bodies.get("concurency")).when().post("/api/v1/baselines/runs").then().statusCode(400)
                .body("detail", equalTo("concurency is not a field of this body; the fields are concurrency,"
                        + " modelGroup, provider, ratePerSecond, requests."));
    }

    /**
     * Text for a number in a run body: Jackson read {@code "requests": ""} as no value, a run of the default 1,000
     * paid requests, and {@code "concurrency": "4"} as 4. Both are refused, naming the field.
     */
    @Test
    void a_run_body_with_text_for_a_number_is_a_400_problem_naming_the_field() {
        String provider = "text" + Long.toHexString(System.nanoTime());
        java.util.Map<String, String> bodies = java.util.Map.of(
                "requests", "{\"provider\": \"" + provider + "a\", \"modelGroup\": \"g-" + provider
                        + "a\", \"requests\": \"\"}",
                "concurrency", "{\"provider\": \"" + provider + "b\", \"modelGroup\": \"g-" + provider
                        + "b\", \"requests\": 1, \"concurrency\": \"4\"}");
        java.util.Map<String, String> answers = new java.util.TreeMap<>();
        bodies.forEach((field, body) -> {
            var answer = given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                    .body(body).when().post("/api/v1/baselines/runs").then().extract();
            answers.put(field, answer.statusCode() + " " + answer.contentType() + " "
                    + (answer.statusCode() == 400 ? answer.path("errors[0].field") : ""));
        });
        assertThat(answers).containsExactly(java.util.Map.entry("concurrency", "400 " + PROBLEM + " concurrency"),
                java.util.Map.entry("requests", "400 " + PROBLEM + " requests"));
    }

    @Test
    void a_bound_body_of_the_wrong_shape_is_a_400_problem_about_the_body() {
        for (String body : new String[] { "0", "[{}, {}]", "\"text\"" }) {
            given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON).body(body).when()
                    .post("/api/v1/baselines/runs").then().log().ifValidationFails().statusCode(400)
                    .contentType(PROBLEM).body("errors[0].field", equalTo("$"))
                    .body("detail", equalTo("The body must be a JSON object."));
        }
    }

    @Test
    void a_bound_body_with_a_second_value_after_it_is_a_400_problem_not_a_run() {
        // A client that concatenated two bodies (or a proxy that glued a retry on) must not start a run from the
        // first and drop the rest unread, as the bodies read as trees do not (JsonBodies).
        String provider = "trail-" + UUID.randomUUID().toString().substring(0, 8);
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"provider\": \"" + provider + "\", \"modelGroup\": \"gpt\"} {\"requests\": 1}").when()
                .post("/api/v1/baselines/runs").then().log().ifValidationFails().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("$")).body("detail", containsString("more than one JSON value"))
                .body(not(containsString("io.faultline")));
    }

    @Test
    void nesting_past_the_parser_limit_is_a_400_problem_naming_the_limit() {
        String deep = "[".repeat(5_000) + "]".repeat(5_000);
        Api.ingest(deep).statusCode(400).contentType(PROBLEM).body("detail", containsString("nesting deeper"))
                .body(not(containsString("StreamReadConstraints")));
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"provider\": \"openai\", \"modelGroup\": \"gpt\", \"extra\": " + deep + "}").when()
                .post("/api/v1/baselines/runs").then().statusCode(400).contentType(PROBLEM)
                .body("detail", containsString("nesting deeper"));
    }

    @Test
    void a_key_past_the_parser_limit_is_a_400_problem_naming_that_limit() {
        // The detail listed nesting, numbers and strings only: a sender refused for a 50,001-character key was told
        // of three limits its body did not exceed.
        Api.ingest("[{\"" + "k".repeat(50_001) + "\": 1}]").statusCode(400).contentType(PROBLEM)
                .body("detail", containsString("a key longer than 50000 characters"));
    }

    @Test
    void a_nul_in_a_query_parameter_or_the_path_is_a_400_problem_naming_it() {
        given().urlEncodingEnabled(false).when().get("/api/v1/failures?deployment=a%00b").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("deployment"));
        given().urlEncodingEnabled(false).when().get("/api/v1/baselines?provider=%00").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("provider"));
        given().urlEncodingEnabled(false).when().get("/api/v1/signals/embeddings/space%00x").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("path"));
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"expectedCostUsd\": 1}").when().put("/api/v1/batches/job%00").then().statusCode(400)
                .contentType(PROBLEM);
    }

    @Test
    void a_percent_escape_that_is_not_utf_8_in_the_path_or_a_query_parameter_is_a_400_problem_naming_it() {
        // Decoded, %FF and %FE were both U+FFFD: two names registered as one, and deleting one deleted the other.
        for (String bad : new String[] {"kb%FF", "kb%FE", "kb%C3%28", "kb%ED%A0%80", "kb%E2%82"}) {
            given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).when()
                    .put("/api/v1/retrieval-indexes/" + bad).then().statusCode(400).contentType(PROBLEM)
                    .body("errors[0].field", equalTo("path"));
        }
        given().urlEncodingEnabled(false).when().get("/api/v1/failures?deployment=a%FFb").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("deployment"));
        given().urlEncodingEnabled(false).when().get("/api/v1/failures?deployment=x&d%FFe=1").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("query"));
        // Well-formed UTF-8, escaped or not, passes.
        given().urlEncodingEnabled(false).when().get("/api/v1/failures?deployment=caf%C3%A9-%F0%9F%98%80")
                .then().statusCode(200);
    }

    @Test
    void a_field_given_twice_in_a_bound_body_is_a_400_problem_naming_it() {
        // Once every field of the record has been read, Jackson builds it; a repeated field after that has nowhere
        // to go, which Quarkus's built-in mapper made an empty 500.
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"provider\": \"dupprov\", \"modelGroup\": \"gpt\", \"requests\": 3, \"concurrency\": 4,"
                        + " \"ratePerSecond\": 50.0, \"concurrency\": \"\"}")
                .when().post("/api/v1/baselines/runs").then().log().ifValidationFails().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("concurrency"));
        // The bodies read as a tree say the same of a repeated field, where they kept the last value.
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"period\": \"day\", \"amountUsd\": 1, \"amountUsd\": 1000000}").when()
                .put("/api/v1/budgets/team/dup-" + UUID.randomUUID()).then().statusCode(400).contentType(PROBLEM)
                .body("detail", containsString("Duplicate field 'amountUsd'"));
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"signalId\": \"a\", \"signalId\": \"b\", \"index\": \"kb\", \"topScore\": 0.5}").when()
                .post("/api/v1/signals/retrieval").then().statusCode(400).contentType(PROBLEM)
                .body("detail", containsString("Duplicate field 'signalId'"));
    }

    @Test
    void a_baseline_model_group_with_a_nul_is_a_400_problem_not_a_failed_insert() {
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"provider\": \"fuzzprov\", \"modelGroup\": \"gpt\\u0000x\"}").when()
                .post("/api/v1/baselines/runs").then().log().ifValidationFails().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("modelGroup"));
    }

    @Test
    void a_call_time_beyond_what_can_be_stored_is_rejected_by_its_index_and_the_prediction_tick_keeps_running() {
        // 1e13 is milliseconds sent as seconds (year 318857); 1.7e308 would have been stored as year 294247, where
        // the prediction window's epoch microseconds overflow a bigint and every tick failed from then on.
        oneSoundCallAndThreeWith("endTime", 1e13, "startTime", 1.7e308, "completionStartTime", 253402300800.0)
                .body("rejected[0].reason", containsString("endTime")).body("rejected[1].reason",
                        containsString("startTime")).body("rejected[2].reason", containsString("completionStartTime"))
                .body("rejected[0].reason", containsString("9999-12-31T23:59:59Z"));
        given().header("Authorization", "Bearer " + Api.KEY).when().post("/api/v1/predictions/evaluate").then()
                .statusCode(200);
    }

    @Test
    void token_counts_and_costs_beyond_any_real_call_are_rejected_by_index_as_their_sums_would_overflow() {
        // Each number was checked alone (finite, >= 0) while the stores sum them: two calls of 9e18 tokens overflowed
        // the bigint token sums of the usage windows, two of $1.7e308 the float8 cost sums of a budget period.
        oneSoundCallAndThreeWith("prompt_tokens", 9.3e18, "completion_tokens", 1_000_000_001, "response_cost",
                1.7e308).body("rejected[0].reason", containsString("prompt_tokens"))
                .body("rejected[1].reason", containsString("at most 1000000000 tokens"))
                .body("rejected[2].reason", containsString("response_cost"));
        for (String amount : new String[] { "4.9e-324", "1.8e308", "0" }) {
            given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                    .body("{\"period\": \"day\", \"amountUsd\": " + amount + "}").when()
                    .put("/api/v1/budgets/team/amount-" + UUID.randomUUID()).then().statusCode(400)
                    .contentType(PROBLEM).body("errors[0].field", equalTo("amountUsd"));
            given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                    .body("{\"expectedCostUsd\": " + amount + "}").when()
                    .put("/api/v1/batches/amount-" + UUID.randomUUID()).then().statusCode(400)
                    .contentType(PROBLEM).body("errors[0].field", equalTo("expectedCostUsd"));
        }
    }

    @Test
    void an_instant_beyond_what_can_be_stored_is_a_400_problem_naming_the_parameter() {
        for (String at : new String[] { "-5000-01-01T00:00:00Z", "+300000-01-01T00:00:00Z",
                "1969-12-31T23:59:59Z" }) {
            given().log().ifValidationFails().queryParam("since", at).when().get("/api/v1/failures").then()
                    .statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("since"))
                    .body("detail", containsString("9999-12-31T23:59:59Z"));
            given().queryParam("until", at).when().get("/api/v1/predictions/accuracy").then().statusCode(400)
                    .contentType(PROBLEM).body("errors[0].field", equalTo("until"));
        }
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"keepShare\": 0.5, \"until\": \"+300000-01-01T00:00:00Z\"}").when()
                .put("/api/v1/traffic-policy/dep-" + UUID.randomUUID()).then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("until"));
        // A cursor is the API's own, but a client can forge one.
        String forged = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(
                ("failures|-5000-01-01T00:00:00Z|" + UUID.randomUUID()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        Api.failures("cursor=" + forged).statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("cursor"));
    }

    /**
     * JAX-RS takes an unencoded ';' in the path for the start of a matrix parameter and strips the rest from the path
     * parameter: a pin of "dep;x" pinned "dep", a registration of "kb;x" registered "kb", and the embedding space
     * "sp;x" read "sp". Each is a 400 naming the parameter; sent as %3B the semicolon is part of the name.
     */
    @Test
    void an_unencoded_semicolon_in_a_named_path_is_a_400_never_the_name_before_it() {
        String dep = "dep-semi-" + UUID.randomUUID();
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"keepShare\": 0.5}").when().put("/api/v1/traffic-policy/" + dep + ";x").then()
                .statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("deployment"))
                .body("detail", equalTo(semicolonIn("deployment"))).body("errors[0].message", equalTo(SEMICOLON));
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).when()
                .delete("/api/v1/traffic-policy/" + dep + ";x").then().statusCode(400).contentType(PROBLEM)
                .body("detail", equalTo(semicolonIn("deployment")));
        assertThat(given().when().get("/api/v1/traffic-policy").then().statusCode(200).extract().jsonPath()
                .getList("deployments.deployment", String.class)).doesNotContain(dep);
        String index = "kb-semi-" + UUID.randomUUID();
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).when()
                .put("/api/v1/retrieval-indexes/" + index + ";x").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("name")).body("detail", equalTo(semicolonIn("name")));
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).when()
                .delete("/api/v1/retrieval-indexes/" + index + ";x").then().statusCode(400).contentType(PROBLEM)
                .body("detail", equalTo(semicolonIn("name")));
        assertThat(given().when().get("/api/v1/retrieval-indexes").then().statusCode(200).extract().jsonPath()
                .getList("index", String.class)).doesNotContain(index);
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).when()
                .put("/api/v1/retrieval-indexes/" + index + "%3Bx").then().statusCode(201)
                .body("index", equalTo(index + ";x"));
        given().urlEncodingEnabled(false).when().get("/api/v1/signals/embeddings/sp;x").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("space"))
                .body("detail", equalTo(semicolonIn("space")));
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).when()
                .delete("/api/v1/signals/embeddings/sp;x/reference").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("space")).body("detail", equalTo(semicolonIn("space")));
        for (String[] named : new String[][] { { "GET PUT DELETE", "/api/v1/slos/g;x", "modelGroup" },
                { "GET PUT DELETE", "/api/v1/budgets/team/t;x", "id" }, { "GET PUT", "/api/v1/batches/b;x", "id" } }) {
            for (String method : named[0].split(" ")) {
                var request = given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY);
                if (method.equals("PUT")) {
                    request.contentType(ContentType.JSON).body("{}");
                }
                request.when().request(method, named[1]).then()
                        .log().ifValidationFails().statusCode(400).contentType(PROBLEM)
                        .body("errors[0].field", equalTo(named[2])).body("detail", equalTo(semicolonIn(named[2])))
                        .body("errors[0].message", equalTo(SEMICOLON));
            }
        }
    }

    private static final String SEMICOLON = "must send ';' encoded, as %3B";

    private static String semicolonIn(String field) {
        return "A \";\" in " + field + " must be sent encoded, as %3B";
    }

    @Test
    void names_with_control_characters_or_lone_surrogates_are_400_problems_not_stored_mangled() {
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"availabilityTarget\": 0.99}").when().put("/api/v1/slos/a%0Ab").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("modelGroup"));
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"period\": \"day\", \"amountUsd\": 1}").when().put("/api/v1/budgets/team/a%0Ab").then()
                .statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("id"));
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"keepShare\": 0.5}").when().put("/api/v1/traffic-policy/a%0Ab").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("deployment"));
        for (String id : new String[] { "a%01b", "a%7Fb" }) {
            given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY)
                    .contentType(ContentType.JSON).body("{\"expectedCostUsd\": 1}").when()
                    .put("/api/v1/batches/" + id).then().statusCode(400).contentType(PROBLEM)
                    .body("errors[0].field", equalTo("id"));
        }
    }

    /**
     * Bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E/F) reorder how a name is shown, so "team\u202Ecba"
     * reads as another budget than the one stored (Trojan Source). Refused like control characters.
     */
    @Test
    void names_with_bidirectional_controls_are_400_problems_naming_the_field() {
        String[] controls = {"%E2%80%AE", "%E2%80%AA", "%E2%81%A6", "%E2%81%A9", "%E2%80%8E", "%E2%80%8F"};
        for (String bidi : controls) {
            given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY)
                    .contentType(ContentType.JSON).body("{\"period\": \"day\", \"amountUsd\": 10}").when()
                    .put("/api/v1/budgets/team/" + bidi + "abc").then().statusCode(400).contentType(PROBLEM)
                    .body("errors[0].field", equalTo("id"));
        }
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"availabilityTarget\": 0.99}").when().put("/api/v1/slos/a%E2%80%AEb").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("modelGroup"));
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"keepShare\": 0.5}").when().put("/api/v1/traffic-policy/a%E2%81%A6b").then()
                .statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("deployment"));
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"expectedCostUsd\": 1}").when().put("/api/v1/batches/a%E2%80%8Fb").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("id"));
        // Right-to-left text itself is a name like any other.
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"period\": \"day\", \"amountUsd\": 10}").when()
                .put("/api/v1/budgets/team/\u05e6\u05d5\u05d5\u05ea-" + UUID.randomUUID()).then().statusCode(200);
    }

    /** A value a problem echoes keeps its control and bidirectional characters out of the detail, escaped. */
    @Test
    void control_and_bidirectional_characters_echoed_in_a_problem_are_escaped() {
        given().urlEncodingEnabled(false).when().get("/api/v1/failures?type=%E2%80%AE").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("type"))
                .body("detail", not(containsString("\u202e"))).body("detail", containsString("\\u202e"))
                .body("errors[0].message", not(containsString("\u202e")));
        given().urlEncodingEnabled(false).when().get("/api/v1/failures?severity=a%0D%0Ab%E2%81%A6").then()
                .statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("severity"))
                .body("detail", containsString("a\\u000d\\u000ab\\u2066"));
        given().urlEncodingEnabled(false).when().get("/api/v1/nothing-here%E2%80%8F").then().statusCode(404)
                .contentType(PROBLEM).body("detail", not(containsString("\u200f")))
                .body("instance", not(containsString("\u200f")));
    }

    /**
     * JAX-RS strips matrix parameters from the path before matching, so "/failures;x=1" answered the whole list as if
     * filtered. The API takes none: a 400 naming the parameter, as a ';' in a name in the path already is.
     */
    @Test
    void a_matrix_parameter_on_an_api_path_is_a_400_problem_naming_it() {
        given().urlEncodingEnabled(false).when().get("/api/v1/failures;x=1").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("x")).body("detail", containsString("%3B"));
        given().urlEncodingEnabled(false).when().get("/api/v1/failures;severity=P1/correlations").then()
                .statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("severity"));
        given().urlEncodingEnabled(false).when().get("/api/v1/budgets;").then().statusCode(400)
                .contentType(PROBLEM);
        given().urlEncodingEnabled(false).header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"period\": \"day\", \"amountUsd\": 1}").when().put("/api/v1/budgets/team/t;x").then()
                .statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("id"));
    }

    @Test
    void an_unknown_baseline_metric_is_a_400_problem_listing_the_metrics() {
        given().when().get("/api/v1/baselines?metric=BOGUS").then().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("metric")).body("detail", containsString("latency_ms"));
        given().when().get("/api/v1/baselines?metric=error_rate:429").then().statusCode(200);
        given().when().get("/api/v1/baselines?metric=error_rate:no_answer").then().statusCode(200);
    }

    @Test
    void a_405_names_the_methods_the_resource_takes_in_allow_and_in_its_detail() {
        // RFC 9110 15.5.6: a 405 carries Allow. It had neither that nor the methods in its detail.
        given().header("Authorization", "Bearer " + Api.KEY).when().delete("/api/v1/failures").then()
                .log().ifValidationFails().statusCode(405).contentType(PROBLEM)
                .header("Allow", containsString("GET")).header("Allow", not(containsString("DELETE")))
                .body("detail", containsString("GET"));
        given().header("Authorization", "Bearer " + Api.KEY).when().get("/api/v1/calls").then()
                .log().ifValidationFails().statusCode(405).contentType(PROBLEM)
                .header("Allow", containsString("POST")).body("detail", containsString("POST"));
        given().when().get("/api/v1/predictions/evaluate").then().log().ifValidationFails().statusCode(405)
                .contentType(PROBLEM).header("Allow", containsString("POST")).body("detail", containsString("POST"));
    }

    /** OPTIONS lists HEAD only where GET is: on POST-only /api/v1/calls HEAD is a 405, whose Allow names the same. */
    @Test
    void options_names_the_methods_a_405_names() {
        String listed = given().when().options("/api/v1/calls").then().statusCode(200).extract().header("Allow");
        String allow = given().header("Authorization", "Bearer " + Api.KEY).when().head("/api/v1/calls").then()
                .statusCode(405).extract().header("Allow");
        assertThat(List.of(listed.split(", ?"))).containsExactlyInAnyOrder(allow.split(", ?"))
                .contains("POST").doesNotContain("GET", "HEAD");
        assertThat(given().when().options("/api/v1/failures").then().statusCode(200).extract().header("Allow"))
                .contains("GET").contains("HEAD");
    }

    /**
     * OPTIONS names the methods of its own path, as the 405 there does: the framework's answer listed every method of
     * the resource class, so OPTIONS /api/v1/slos listed PUT and DELETE, which only /api/v1/slos/{modelGroup} takes
     * (a PUT of /api/v1/slos is a 405 whose Allow names GET).
     */
    @Test
    void options_names_the_methods_of_its_own_path_not_of_the_whole_resource() {
        String listed = given().when().options("/api/v1/slos").then().statusCode(200).extract().header("Allow");
        String allow = given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON).body("{}")
                .when().put("/api/v1/slos").then().statusCode(405).extract().header("Allow");
        assertThat(List.of(listed.split(", ?"))).containsExactlyInAnyOrder(allow.split(", ?"))
                .contains("GET", "HEAD").doesNotContain("PUT", "DELETE");
    }

    /**
     * An OPTIONS of a path that no endpoint takes is the 404 problem a GET there is, under a resource's prefix too:
     * the framework answered such a path itself, 200 with the Allow of the resource class it began to match.
     */
    @Test
    void options_of_a_path_no_endpoint_takes_is_the_404_problem_a_get_there_is() {
        for (String path : List.of("/api/v1/failures/correlations/x/y/z", "/api/v1/predictions/x/y",
                "/api/v1/signals/retrieval/x", "/api/v1/traffic-policy/actions/x", "/api/v1/baselines/runs/x/y",
                "/api/v1/nothing-here")) {
            given().header("Authorization", "Bearer " + Api.KEY).when().get(path).then().log().ifValidationFails()
                    .statusCode(404).contentType(PROBLEM);
            given().header("Authorization", "Bearer " + Api.KEY).when().options(path).then().log().ifValidationFails()
                    .statusCode(404).contentType(PROBLEM).header("Allow", equalTo(null));
            given().when().options(path).then().log().ifValidationFails().statusCode(404).contentType(PROBLEM);
        }
    }

    @Test
    void a_get_of_a_post_only_action_is_a_405_problem_not_a_bad_id() {
        given().when().get("/api/v1/predictions/evaluate").then().statusCode(405).contentType(PROBLEM);
    }

    @Test
    void an_admin_body_over_its_limit_names_its_own_limit_not_the_ingest_setting() {
        String big = "{\"period\": \"day\", \"amountUsd\": 1, \"pad\": \"" + "x".repeat(20_000) + "\"}";
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON).body(big).when()
                .put("/api/v1/budgets/team/big-" + UUID.randomUUID()).then().statusCode(413).contentType(PROBLEM)
                .body("detail", containsString("the most this endpoint accepts"))
                .body("detail", not(containsString("faultline.ingest")));
    }

    /** A batch of a sound call and three that each set one field: the sound one is stored, the three rejected. */
    private static ValidatableResponse oneSoundCallAndThreeWith(Object... fieldsAndValues) {
        String dep = "dep-" + UUID.randomUUID();
        Instant now = Instant.now();
        Payloads[] calls = new Payloads[1 + fieldsAndValues.length / 2];
        calls[0] = Payloads.success("openai", "m", dep, now);
        for (int i = 0; i < fieldsAndValues.length; i += 2) {
            calls[1 + i / 2] = Payloads.success("openai", "m", dep, now).set((String) fieldsAndValues[i],
                    fieldsAndValues[i + 1]);
        }
        return Api.ingest(Payloads.array(calls)).statusCode(200).body("accepted", equalTo(1))
                .body("rejected.index", contains(1, 2, 3));
    }
}
