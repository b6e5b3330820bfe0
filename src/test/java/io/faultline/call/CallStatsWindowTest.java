package io.faultline.call;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CallStatsWindowTest {

    private static final String PROBLEM = "application/problem+json";
    private static final Instant NOW = Instant.parse("2026-11-28T10:00:00Z");

    @Inject
    TestClock clock;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void without_since_only_the_last_24_hours_are_counted_and_the_window_is_in_the_answer() {
        String provider = provider();
        ingestAt(provider, NOW.minus(Duration.ofHours(1)), NOW.minus(Duration.ofHours(23)),
                NOW.minus(Duration.ofHours(25)), NOW.minus(Duration.ofDays(40)));
        clock.set(NOW);

        JsonPath stats = stats("").extract().jsonPath();
        assertThat(calls(stats, provider)).isEqualTo(2);
        assertThat(Instant.parse(stats.getString("since"))).isEqualTo(NOW.minus(Duration.ofHours(24)));
        assertThat(Instant.parse(stats.getString("until"))).isEqualTo(NOW);

        assertThat(calls(stats("?since=" + NOW.minus(Duration.ofDays(30))).extract().jsonPath(), provider))
                .isEqualTo(3);
        // A window in the past, bounded on both sides.
        assertThat(calls(stats("?since=" + NOW.minus(Duration.ofDays(41)) + "&until=" + NOW.minus(Duration.ofDays(
                30))).extract().jsonPath(), provider)).isEqualTo(1);
    }

    @Test
    void a_window_longer_than_31_days_is_a_problem_naming_since() {
        clock.set(NOW);
        problem("?since=" + NOW.minus(Duration.ofDays(31)).minusSeconds(1), "since")
                .body("detail", containsString("31 days"));
        stats("?since=" + NOW.minus(Duration.ofDays(31))).statusCode(200);
        problem("?since=2020-01-01T00:00:00Z&until=2020-03-01T00:00:00Z", "since");
    }

    @Test
    void bad_instants_and_an_empty_window_are_problems_naming_the_parameter() {
        clock.set(NOW);
        problem("?since=yesterday", "since");
        problem("?since=1700000000", "since");
        problem("?until=2026-13-01T00:00:00Z", "until");
        problem("?since=" + NOW + "&until=" + NOW, "since");
        problem("?since=" + NOW.plusSeconds(60), "since");
    }

    private void ingestAt(String provider, Instant... starts) {
        StringBuilder array = new StringBuilder("[");
        for (Instant start : starts) {
            if (array.length() > 1) {
                array.append(',');
            }
            array.append(Payloads.success(provider, "m-1", "dep-" + provider, start).node());
        }
        Api.ingest(array.append(']').toString()).statusCode(200).body("accepted", equalTo(starts.length));
    }

    private static long calls(JsonPath stats, String provider) {
        Object calls = stats.get("providers.find { it.provider == '" + provider + "' }.calls");
        return calls == null ? 0 : ((Number) calls).longValue();
    }

    private static io.restassured.response.ValidatableResponse stats(String query) {
        return given().log().ifValidationFails().get("/api/v1/calls/stats" + query).then().log().ifValidationFails()
                .statusCode(200);
    }

    private static io.restassured.response.ValidatableResponse problem(String query, String field) {
        return given().log().ifValidationFails().get("/api/v1/calls/stats" + query).then().log().ifValidationFails()
                .statusCode(400).contentType(PROBLEM).body("errors[0].field", equalTo(field));
    }

    private static String provider() {
        return "statsp" + UUID.randomUUID().toString().substring(0, 8);
    }
}
