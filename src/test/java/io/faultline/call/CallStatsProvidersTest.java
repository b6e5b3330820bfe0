package io.faultline.call;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * Provider names are the sender's ({@code custom_llm_provider}, any label-safe text): the answer lists at most
 * {@code max-providers} of them, those with the most calls, and says how many it left out; the totals count all.
 */
@QuarkusTest
@TestProfile(CallStatsProvidersTest.TwoProviders.class)
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CallStatsProvidersTest {

    public static class TwoProviders implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.calls.stats.max-providers", "2");
        }
    }

    private static final Instant AT = Instant.parse("2026-06-10T12:00:00Z");

    @Test
    void the_answer_lists_the_busiest_providers_up_to_the_cap_and_counts_the_rest_in_the_totals() {
        String tag = UUID.randomUUID().toString().substring(0, 8);
        ingest("busy-" + tag, 3);
        ingest("mid-" + tag, 2);
        ingest("rare-" + tag, 1);

        JsonPath stats = given().log().ifValidationFails().get("/api/v1/calls/stats?since=" + AT.minusSeconds(60)
                + "&until=" + AT.plusSeconds(3600)).then().log().ifValidationFails().statusCode(200).extract()
                .jsonPath();
        assertThat(stats.getList("providers.provider")).containsExactly("busy-" + tag, "mid-" + tag);
        assertThat(stats.getInt("providersOmitted")).isEqualTo(1);
        assertThat(stats.getLong("total")).isEqualTo(6);
    }

    private static void ingest(String provider, int calls) {
        StringBuilder array = new StringBuilder("[");
        for (int i = 0; i < calls; i++) {
            if (array.length() > 1) {
                array.append(',');
            }
            array.append(Payloads.success(provider, "m-1", "dep-" + provider, AT.plusSeconds(i)).node());
        }
        Api.ingest(array.append(']').toString()).statusCode(200).body("accepted", equalTo(calls));
    }
}
