package io.faultline.signals;

import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.faultline.signals.SignalsApi.PROBLEM;
import static io.faultline.signals.SignalsApi.map;
import static io.faultline.signals.SignalsApi.post;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;

/** Strict input: every mistake is a 4xx problem naming the field; a batch rejects items, not itself. */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SignalsApiTest {

    private static Map<String, Object> retrieval(Object... overrides) {
        Map<String, Object> body = map("signalId", UUID.randomUUID().toString(), "index", "kb-api", "topScore", 0.8,
                "hits", 4, "k", 5);
        for (int i = 0; i < overrides.length; i += 2) {
            if (overrides[i + 1] == null) {
                body.remove((String) overrides[i]);
            } else {
                body.put((String) overrides[i], overrides[i + 1]);
            }
        }
        return body;
    }

    private static void rejected(String kind, Object body, String field, String message) {
        post(kind, body).statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo(field))
                .body("errors[0].message", containsString(message));
    }

    @Test
    void writes_without_the_api_key_are_a_401_problem() {
        for (String kind : List.of("retrieval", "index", "ingestion")) {
            given().contentType(ContentType.JSON).body(retrieval()).when().post("/api/v1/signals/" + kind).then()
                    .statusCode(401).contentType(PROBLEM);
        }
    }

    @Test
    void retrieval_fields_are_checked_by_name() {
        rejected("retrieval", retrieval("topScore", null), "topScore", "required");
        rejected("retrieval", retrieval("topScore", "0.8"), "topScore", "number");
        rejected("retrieval", retrieval("topScore", -0.1), "topScore", "from 0 to");
        rejected("retrieval", retrieval("index", ""), "index", "blank");
        rejected("retrieval", retrieval("index", "x".repeat(201)), "index", "200");
        rejected("retrieval", retrieval("signalId", 42), "signalId", "string");
        rejected("retrieval", retrieval("top_score", 0.8), "top_score", "Unknown field");
        rejected("retrieval", retrieval("hits", 2.5), "hits", "integer");
        rejected("retrieval", retrieval("hits", 6), "hits", "cannot exceed k");
        rejected("retrieval", retrieval("meanScore", 0.9), "meanScore", "cannot exceed topScore");
        rejected("retrieval", retrieval("at", "yesterday"), "at", "ISO-8601");
        rejected("retrieval", retrieval("at", Instant.now().plusSeconds(3600).toString()), "at", "future");
    }

    @Test
    void index_and_ingestion_fields_are_checked_by_name() {
        Map<String, Object> index = map("signalId", "i-1", "index", "kb-api", "lastUpdatedAt",
                Instant.now().toString());
        index.put("maxAge", "24h");
        rejected("index", index, "maxAge", "ISO-8601 duration");
        index.put("maxAge", "-PT1H");
        rejected("index", index, "maxAge", "at least 1 second");
        index.remove("maxAge");
        index.put("lastUpdatedAt", Instant.now().plusSeconds(7200).toString());
        rejected("index", index, "lastUpdatedAt", "after");
        index.remove("lastUpdatedAt");
        rejected("index", index, "lastUpdatedAt", "required");

        Map<String, Object> run = map("signalId", "r-1", "pipeline", "p-api", "runId", "1", "status", "ok",
                "startedAt", Instant.now().minusSeconds(60).toString());
        rejected("ingestion", run, "status", "\"succeeded\" or \"failed\"");
        run.put("status", "failed");
        run.put("finishedAt", Instant.now().minusSeconds(120).toString());
        rejected("ingestion", run, "finishedAt", "before startedAt");
        run.remove("finishedAt");
        run.put("expectedEvery", "PT0S");
        rejected("ingestion", run, "expectedEvery", "at least 1 second");
        run.remove("expectedEvery");
        run.put("error", Map.of("message", "boom"));
        rejected("ingestion", run, "error", "string");
        run.remove("error");
        run.put("indexes", "kb-main");
        rejected("ingestion", run, "indexes", "array");
        run.put("indexes", java.util.Collections.nCopies(51, "kb-main"));
        rejected("ingestion", run, "indexes", "at most 50");
        run.put("indexes", List.of("kb-main", 7));
        rejected("ingestion", run, "indexes[1]", "string");
        run.put("indexes", List.of("kb-main", " kb-faq"));
        rejected("ingestion", run, "indexes[1]", "surrounding blanks");
        run.put("indexes", List.of("x".repeat(201)));
        rejected("ingestion", run, "indexes[0]", "200");
    }

    @Test
    void an_ingestion_run_may_name_the_indexes_it_feeds_and_a_failed_one_shows_them() {
        String pipeline = "p-" + UUID.randomUUID();
        Map<String, Object> run = map("signalId", UUID.randomUUID().toString(), "pipeline", pipeline, "runId", "7",
                "status", "failed", "startedAt", Instant.now().minusSeconds(60).toString(), "indexes",
                List.of("kb-main", "kb-faq", "kb-main"));
        post("ingestion", run).statusCode(200).body("accepted", equalTo(1)).body("failures", equalTo(1));
        SignalsApi.failuresOf(pipeline).body("items", hasSize(1))
                .body("items[0].type", equalTo("ingestion_failure"));
        String id = SignalsApi.failuresOf(pipeline).extract().path("items[0].failureId");
        given().when().get("/api/v1/failures/" + id).then().statusCode(200)
                .body("evidence.indexes", equalTo(List.of("kb-main", "kb-faq")));
    }

    @Test
    void bodies_that_are_not_signals_are_400_problems() {
        post("retrieval", "{\"signalId\": ").statusCode(400).contentType(PROBLEM)
                .body("title", equalTo("Malformed JSON"));
        post("retrieval", "\"hello\"").statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("$"));
        post("retrieval", "[]").statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("$"));
        post("retrieval", "[42]").statusCode(422).contentType(PROBLEM).body("errors[0].field", equalTo("$"));
    }

    @Test
    void a_batch_rejects_bad_items_by_index_and_keeps_the_good_ones() {
        Map<String, Object> good = retrieval();
        Map<String, Object> bad = retrieval("topScore", "high");
        post("retrieval", List.of(good, bad, good)).statusCode(200)
                .body("received", equalTo(3)).body("accepted", equalTo(1)).body("duplicates", equalTo(1))
                .body("rejected", hasSize(1)).body("rejected[0].index", equalTo(1))
                .body("rejected[0].field", equalTo("topScore"))
                .body("rejected[0].signalId", equalTo(bad.get("signalId")));
    }

    /**
     * Like a call's, a rejected signal carries a stable {@code code}: {@code in_future} (a time past this service's
     * clock by more than the skew, the only one worth sending again once the clocks agree) or {@code invalid}. Before,
     * the item had no code and a sender could tell a clock ahead from a broken signal only by the message's words.
     */
    @Test
    void a_signal_dated_in_the_future_is_rejected_with_code_in_future_and_a_malformed_one_with_code_invalid() {
        Map<String, Object> future = retrieval("at", Instant.now().plusSeconds(3600).toString());
        post("retrieval", List.of(retrieval(), future, retrieval("topScore", "high"))).statusCode(200)
                .body("accepted", equalTo(1)).body("rejected", hasSize(2))
                .body("rejected[0].index", equalTo(1)).body("rejected[0].field", equalTo("at"))
                .body("rejected[0].code", equalTo("in_future"))
                .body("rejected[1].index", equalTo(2)).body("rejected[1].code", equalTo("invalid"));
        post("ingestion", List.of(map("signalId", UUID.randomUUID().toString(), "pipeline", "p-api", "runId", "1",
                "status", "failed", "startedAt", Instant.now().plusSeconds(3600).toString()))).statusCode(422)
                .contentType(PROBLEM).body("errors[0].field", equalTo("startedAt"))
                .body("errors[0].code", equalTo("in_future"));
        post("retrieval", future).statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo("at"))
                .body("errors[0].code", equalTo("in_future"));
        post("retrieval", List.of(Map.of("signalId", "x", "index", "kb-api", "topScore", 0.8,
                "k", List.of(java.util.Collections.nCopies(1001, 1))))).statusCode(422)
                .body("errors[0].code", equalTo("too_many_values"));
    }

    @Test
    void a_batch_of_only_bad_items_is_a_422_listing_each() {
        post("retrieval", List.of(retrieval("topScore", null), retrieval("index", 7))).statusCode(422)
                .contentType(PROBLEM).body("errors", hasSize(2)).body("errors[0].index", equalTo(0))
                .body("errors[0].field", equalTo("topScore")).body("errors[1].index", equalTo(1))
                .body("errors[1].field", equalTo("index"));
    }

    @Test
    void a_resent_signal_is_counted_as_a_duplicate() {
        Map<String, Object> sample = retrieval();
        post("retrieval", sample).statusCode(200).body("accepted", equalTo(1)).body("duplicates", equalTo(0));
        post("retrieval", sample).statusCode(200).body("accepted", equalTo(0)).body("duplicates", equalTo(1));
    }

    @Test
    void an_item_with_a_time_or_an_id_that_cannot_be_stored_is_rejected_by_index_and_the_rest_kept() {
        // Before: a time before 4713 BC failed the whole batch's insert (a 503 asking to retry the same batch), and
        // an id with a lone surrogate was stored as '?' and answered as a duplicate, its signal never applied.
        String good = "{\"signalId\": \"" + UUID.randomUUID() + "\", \"index\": \"kb-api\", \"topScore\": 0.8}";
        String ancient = "{\"signalId\": \"" + UUID.randomUUID() + "\", \"index\": \"kb-api\", \"topScore\": 0.8,"
                + " \"at\": \"-5000-01-01T00:00:00Z\"}";
        String surrogate = "{\"signalId\": \"fresh-" + UUID.randomUUID() + "\\ud800\", \"index\": \"kb-api\","
                + " \"topScore\": 0.8}";
        post("retrieval", "[" + good + ", " + ancient + ", " + surrogate + "]").statusCode(200)
                .body("accepted", equalTo(1)).body("duplicates", equalTo(0)).body("rejected", hasSize(2))
                .body("rejected[0].index", equalTo(1)).body("rejected[0].field", equalTo("at"))
                .body("rejected[1].index", equalTo(2)).body("rejected[1].field", equalTo("signalId"));
        String index = "{\"signalId\": \"" + UUID.randomUUID() + "\", \"index\": \"kb-api\","
                + " \"lastUpdatedAt\": \"-5000-01-01T00:00:00Z\"}";
        post("index", "[" + index + "]").statusCode(422).contentType(PROBLEM)
                .body("errors[0].field", equalTo("lastUpdatedAt"));
        // A sub-second maxAge was stored as 0 seconds, which the table refuses: the whole batch was a 503.
        post("index", List.of(map("signalId", UUID.randomUUID().toString(), "index", "kb-api", "lastUpdatedAt",
                Instant.now().toString(), "maxAge", "PT0.5S"))).statusCode(422).body("errors[0].field",
                equalTo("maxAge"));
        post("retrieval", List.of(retrieval("topScore", 1.7e308))).statusCode(422)
                .body("errors[0].field", equalTo("topScore"));
        post("embeddings", "{\"signalId\": \"e-" + UUID.randomUUID() + "\", \"space\": \"s\","
                + " \"at\": \"-999999999-01-01T00:00:00Z\", \"vectors\": [[0.1, 0.2]]}").statusCode(422)
                .contentType(PROBLEM).body("errors[0].field", equalTo("at"));
    }
}
