package io.faultline.episode;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.startsWith;

/** The read APIs an engineer on call pages through: what they refuse, and how they read the time they are given. */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FailureReadApiTest {

    static final String PROBLEM = "application/problem+json";

    @Inject
    TestClock clock;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    private static String outageOn(String deployment, Instant at) {
        Api.ingest(Payloads.array(Payloads.failure("openai", "read-grp", deployment, at, 503,
                "ServiceUnavailableError", "Service Unavailable"))).statusCode(200);
        return Api.failures("deployment=" + deployment).statusCode(200).body("items", hasSize(1)).extract()
                .jsonPath().getString("items[0].failureId");
    }

    @Test
    void a_misspelt_filter_is_a_400_naming_it_not_the_whole_unfiltered_list() {
        Instant t0 = Instant.parse("2032-04-01T10:00:00Z");
        clock.set(t0.plusSeconds(60));
        String dep = "read-" + UUID.randomUUID().toString().substring(0, 8);
        outageOn(dep, t0);
        outageOn(dep + "-other", t0);

        given().log().ifValidationFails().urlEncodingEnabled(false).when()
                .get("/api/v1/failures?deploymnet=" + dep).then().log().ifValidationFails().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("deploymnet"))
                .body("detail", containsString("deployment"));
        given().when().get("/api/v1/failures/summary?until=2032-04-01T09:00:00Z").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("until"));
        given().when().get("/api/v1/failures/correlations?until=2032-04-01T09:00:00Z").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("until"));
        given().when().get("/api/v1/failures/ranked?provider=openai").then().statusCode(400)
                .contentType(PROBLEM).body("errors[0].field", equalTo("provider"));
        // The parameters each list documents are still taken.
        Api.failures("deployment=" + dep + "&category=provider&type=outage&provider=openai&severity=p3&since="
                + t0 + "&until=" + t0.plusSeconds(1) + "&limit=5").statusCode(200).body("items", hasSize(1));
        Api.failures("limit=500&").statusCode(200);
        given().when().get("/api/v1/failures/summary?since=" + t0).then().statusCode(200);
        given().when().get("/api/v1/failures/correlations?status=all&type=upstream&since=" + t0
                + "&minConfidence=0.5&limit=5").then().statusCode(200);
        given().when().get("/api/v1/failures/ranked?since=" + t0 + "&group=none&limit=5").then().statusCode(200);
    }

    @Test
    void every_other_filtered_read_refuses_a_misspelt_parameter_too() {
        // Each answered 200 with everything it holds, as if the misspelt filter matched all: the list unfiltered,
        // the default window, the first page.
        String[][] cases = {
            { "/api/v1/predictions?deploymnet=x", "deploymnet", "deployment" },
            { "/api/v1/traffic-policy/actions?deploymnet=x", "deploymnet", "deployment" },
            { "/api/v1/baselines?provder=openai", "provder", "provider" },
            { "/api/v1/calls/stats?sinse=2032-04-01T00:00:00Z", "sinse", "since" },
            { "/api/v1/predictions/accuracy?untill=2032-04-01T00:00:00Z", "untill", "until" },
            { "/api/v1/slos?cusor=x", "cusor", "cursor" },
        };
        for (String[] c : cases) {
            given().log().ifValidationFails().when().get(c[0]).then().log().ifValidationFails().statusCode(400)
                    .contentType(PROBLEM).body("errors[0].field", equalTo(c[1]))
                    .body("detail", containsString(c[2]));
        }
        // The parameters each read documents are still taken.
        given().when().get("/api/v1/predictions?status=all&provider=openai&deployment=x&type=outage"
                + "&since=2032-04-01T00:00:00Z&limit=5").then().statusCode(200);
        given().when().get("/api/v1/traffic-policy/actions?deployment=x&since=2032-04-01T00:00:00Z&limit=5").then()
                .statusCode(200);
        given().when().get("/api/v1/baselines?provider=openai&metric=latency_ms").then().statusCode(200);
        given().when().get("/api/v1/calls/stats?since=2032-04-01T00:00:00Z&until=2032-04-01T01:00:00Z").then()
                .statusCode(200);
        given().when().get("/api/v1/predictions/accuracy?since=2032-04-01T00:00:00Z&until=2032-04-01T01:00:00Z")
                .then().statusCode(200);
        given().when().get("/api/v1/slos?limit=5").then().statusCode(200);
    }

    /**
     * An unknown parameter's problem says what the endpoint it was sent to takes, and names it by its method: every
     * such problem said "this list takes", also where no list is (a DELETE of a pin, the call stats, the accuracy).
     */
    @Test
    void an_unknown_parameter_names_what_its_endpoint_takes_not_a_list_where_there_is_none() {
        given().header("Authorization", "Bearer " + Api.KEY).when()
                .delete("/api/v1/traffic-policy/unknown-param-" + UUID.randomUUID() + "?force=true").then()
                .log().ifValidationFails().statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("force"))
                .body("detail", equalTo("unknown query parameter force; DELETE here takes only provider"));
        given().when().get("/api/v1/calls/stats?sinse=2032-04-01T00:00:00Z").then().log().ifValidationFails()
                .statusCode(400).contentType(PROBLEM)
                .body("detail", equalTo("unknown query parameter sinse; GET here takes only since, until"));
        given().when().get("/api/v1/failures?deploymnet=x").then().log().ifValidationFails().statusCode(400)
                .contentType(PROBLEM).body("detail", startsWith("unknown query parameter deploymnet; GET here takes"
                        + " only category, type, provider, deployment"));
    }

    @Test
    void an_offset_whose_plus_was_sent_unencoded_is_a_400_that_says_to_encode_it() {
        Instant t0 = Instant.parse("2032-04-02T10:00:00Z");
        clock.set(t0.plusSeconds(60));
        String dep = "read-" + UUID.randomUUID().toString().substring(0, 8);
        String id = outageOn(dep, t0);

        // curl '...?since=2032-04-02T11:59:00+02:00': the query's bare + arrives as a space.
        for (String list : new String[] { "/api/v1/failures?deployment=" + dep + "&", "/api/v1/failures/ranked?",
                "/api/v1/failures/correlations?", "/api/v1/failures/summary?" }) {
            given().log().ifValidationFails().urlEncodingEnabled(false).when()
                    .get(list + "since=2032-04-02T11:59:00+02:00").then().log().ifValidationFails().statusCode(400)
                    .contentType(PROBLEM).body("errors[0].field", equalTo("since"))
                    .body("detail", containsString("%2B"));
        }
        // Encoded, the offset is honoured: 11:59 at +02:00 is 09:59Z, before the episode.
        given().urlEncodingEnabled(false).when()
                .get("/api/v1/failures?deployment=" + dep + "&since=2032-04-02T11:59:00%2B02:00").then()
                .statusCode(200).body("items.failureId", org.hamcrest.Matchers.contains(id));
        given().urlEncodingEnabled(false).when()
                .get("/api/v1/failures?deployment=" + dep + "&since=2032-04-02T12:01:00%2B02:00").then()
                .statusCode(200).body("items", hasSize(0));
    }
}
