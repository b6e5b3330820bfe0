package io.faultline.data;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItems;

/**
 * A flood of never-seen space names must not evict the spaces that hold a complete reference: it evicted the least
 * recently seen space whatever it held, so 256 junk names (one vector each) wiped every real space's reference. A
 * new name now only evicts a space still collecting its reference (the one with the fewest vectors first), and when
 * every space holds a complete reference it is refused with a 409.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(EmbeddingSpaceLimitTest.FourSpaces.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class EmbeddingSpaceLimitTest {

    private static final String PROBLEM = "application/problem+json";

    /** Four spaces, references of three vectors: a real space is cheap to make. */
    public static class FourSpaces implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.embedding-drift.max-spaces", "4", "faultline.embedding-drift.reference-size",
                    "3");
        }
    }

    @Inject
    EmbeddingDriftDetector detector;

    @Inject
    AgroalDataSource dataSource;

    @Test
    void junk_names_evict_only_spaces_collecting_a_reference_and_are_refused_once_every_space_is_real()
            throws Exception {
        // The test classes of one run may share the database: start from no space, as the cap counts them all.
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("delete from embedding_spaces");
        }
        post("real-a", "a-ref", 3).statusCode(202).body("referenceN", equalTo(3));
        post("real-b", "b-ref", 3).statusCode(202).body("referenceN", equalTo(3));
        // A young space a little along its reference outlives junk of one vector.
        post("young", "young-ref", 2).statusCode(202);
        for (int i = 0; i < 20; i++) {
            post("junk-" + i, "junk-" + i, 1).statusCode(202);
        }
        for (String real : List.of("real-a", "real-b")) {
            given().get("/api/v1/signals/embeddings/" + real).then().statusCode(200).body("referenceN", equalTo(3));
        }
        given().get("/api/v1/signals/embeddings/young").then().statusCode(200).body("referenceN", equalTo(2));
        given().get("/api/v1/signals/embeddings").then().statusCode(200).body("size()", equalTo(4))
                .body("space", hasItems("real-a", "real-b", "young", "junk-19"));

        // Every space holds a complete reference: a new name has nothing it may evict.
        post("young", "young-done", 1).statusCode(202).body("referenceN", equalTo(3));
        post("junk-19", "junk-19-done", 2).statusCode(202).body("referenceN", equalTo(3));
        post("junk-20", "junk-20", 1).statusCode(409).contentType(PROBLEM)
                .body("errors[0].field", equalTo("space"))
                .body("detail", containsString("faultline.embedding-drift.max-spaces"));
        given().get("/api/v1/signals/embeddings/junk-20").then().statusCode(404);

        // Nor does a LiteLLM embedding call of a new model group open a fifth space; its vectors are counted dropped.
        double before = dropped();
        Payloads call = Payloads.success("openai", "junk-group", "dep-1", Instant.now()).set("call_type",
                "aembedding").set("response", Map.of("data", List.of(Map.of("embedding", new float[] { 1f }))));
        Api.ingest(Payloads.array(call)).statusCode(200);
        assertThat(detector.flush()).isZero();
        assertThat(dropped()).isEqualTo(before + 1);
        given().get("/api/v1/signals/embeddings/junk-group").then().statusCode(404);

        // A reset frees a place; the refused signal stored nothing, so its id is taken when sent again.
        given().header("Authorization", "Bearer " + Api.KEY).delete("/api/v1/signals/embeddings/junk-19/reference")
                .then().statusCode(204);
        post("junk-20", "junk-20", 1).statusCode(202).body("duplicate", equalTo(false));
    }

    @Test
    void two_new_spaces_posted_at_once_each_evict_their_own_space_and_neither_is_refused() throws Exception {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("delete from embedding_spaces");
        }
        for (int i = 0; i < 4; i++) {
            post("filler-" + i, "filler-" + i, 1).statusCode(202);
        }
        ExecutorService senders = Executors.newFixedThreadPool(2);
        try {
            Future<Integer> first;
            Future<Integer> second;
            try (Connection holder = dataSource.getConnection()) {
                // Holds the spaces the two may evict, so that both have opened their space and counted the spaces
                // before either evicts. Counted apart, both found one space too many and chose the same one to
                // evict; the second found it gone, evicted nothing and was refused with a 409 "every space holds a
                // complete reference" while three of the four held one vector.
                holder.setAutoCommit(false);
                try (Statement st = holder.createStatement()) {
                    st.execute("select space from embedding_spaces for update");
                }
                first = senders.submit(() -> post("racer-a", "racer-a", 1).extract().statusCode());
                second = senders.submit(() -> post("racer-b", "racer-b", 1).extract().statusCode());
                await().atMost(Duration.ofSeconds(30)).until(() -> waitingLocks() >= 2);
                holder.commit();
            }
            assertThat(List.of(first.get(30, TimeUnit.SECONDS), second.get(30, TimeUnit.SECONDS)))
                    .containsExactly(202, 202);
        } finally {
            senders.shutdownNow();
        }
        given().get("/api/v1/signals/embeddings").then().statusCode(200).body("size()", equalTo(4))
                .body("space", hasItems("racer-a", "racer-b"));
    }

    private long waitingLocks() throws Exception {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                var rs = st.executeQuery("select count(*) from pg_locks where not granted")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static double dropped() {
        return Metrics.valueOrZero(Metrics.scrape(), "faultline_embedding_vectors_dropped_total", "reason",
                "space_limit");
    }

    private static ValidatableResponse post(String space, String signalId, int vectors) {
        ObjectNode body = Payloads.JSON.createObjectNode().put("signalId", signalId).put("space", space);
        ArrayNode array = body.putArray("vectors");
        for (int i = 0; i < vectors; i++) {
            array.addArray().add(1f + i);
        }
        return given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY)
                .contentType(ContentType.JSON).body(body.toString()).post("/api/v1/signals/embeddings").then().log()
                .ifValidationFails();
    }
}
