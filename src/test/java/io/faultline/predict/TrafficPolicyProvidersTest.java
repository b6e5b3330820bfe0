package io.faultline.predict;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsInAnyOrder;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/**
 * LiteLLM's model_info.id is each proxy operator's to choose: proxy A's OpenAI deployment and proxy B's Azure one may
 * both be called {@code primary}. The traffic policy is one for every proxy, so it is keyed on (provider, deployment):
 * what is predicted, failing or pinned under one provider never thins, holds or counts for the other's deployment.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TrafficPolicyProvidersTest {

    static final String PROBLEM = "application/problem+json";
    static final Offset<Double> CLOSE = Offset.offset(1e-6);

    @Inject
    TestClock clock;

    @Inject
    TrafficConfig config;

    @Inject
    TrafficPolicy policy;

    @Inject
    io.agroal.api.AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    /**
     * Two proxies: B's Azure {@code id} drains its token headroom, A's OpenAI {@code id} is healthy unless told to
     * fail; each has a second, healthy deployment in its own model group.
     */
    private final class TwoProxies {
        final String id = "primary-" + UUID.randomUUID();
        final String azureGroup = "tpp-az-" + UUID.randomUUID();
        final String openaiGroup = "tpp-oa-" + UUID.randomUUID();
        final String azureOther = "tpp-az-b-" + UUID.randomUUID();
        final String openaiOther = "tpp-oa-b-" + UUID.randomUUID();
        final Instant t0;
        long remaining = 90_000;
        int minute;
        /** Azure {@code id}'s calls a minute (the plugin thins a reduced deployment's). */
        int callsAzure = 10;
        /** How many of OpenAI {@code id}'s 10 calls a minute answer 429. */
        int failingOpenai;

        TwoProxies(Instant t0) {
            this.t0 = t0;
        }

        void minute(long drain) {
            Instant start = t0.plus(Duration.ofMinutes(minute++));
            List<Payloads> calls = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                remaining = Math.max(1, remaining - drain / 10);
                Instant at = start.plusSeconds(i * 6L);
                if (i < callsAzure) {
                    calls.add(reading(Payloads.success("azure", azureGroup, id, at).latency(0.5), remaining));
                }
                calls.add(reading(Payloads.success("azure", azureGroup, azureOther, at.plusSeconds(1)).latency(0.5),
                        100_000));
                calls.add(i < failingOpenai
                        ? Payloads.failure("openai", openaiGroup, id, at.plusSeconds(2), 429, "RateLimitError",
                                "Rate limit reached for tokens")
                        : reading(Payloads.success("openai", openaiGroup, id, at.plusSeconds(2)).latency(0.5),
                                100_000));
                calls.add(reading(Payloads.success("openai", openaiGroup, openaiOther, at.plusSeconds(3))
                        .latency(0.5), 100_000));
            }
            clock.set(start.plus(Duration.ofMinutes(1)));
            Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
            authorized().when().post("/api/v1/predictions/evaluate").then().log().ifValidationFails()
                    .statusCode(200).body("ran", equalTo(true));
        }

        private Payloads reading(Payloads p, long left) {
            return p.header("x-ratelimit-limit-tokens", "100000")
                    .header("x-ratelimit-remaining-tokens", String.valueOf(left))
                    .header("x-ratelimit-reset-tokens", "3h0m0s");
        }
    }

    @Test
    void a_failing_deployment_of_another_provider_under_the_same_id_does_not_hold_a_reduction() {
        TwoProxies proxies = new TwoProxies(Instant.parse("2032-03-01T10:00:00Z"));
        Map<String, Object> reduced = null;
        for (int m = 0; m < 12 && reduced == null; m++) {
            proxies.minute(5_000);
            reduced = entry(proxies.id, "azure");
        }
        assertThat(reduced).as("the Azure deployment's drain reduced it").isNotNull();
        assertThat(entries(proxies.id)).as("OpenAI's deployment of the same id keeps everything").hasSize(1);

        // Azure's limit resets and it is healthy; OpenAI's `primary`, in another proxy, answers 429 half the time.
        // That failure is OpenAI's: Azure's share comes back in steps all the same.
        proxies.remaining = 100_000;
        proxies.callsAzure = 2;
        proxies.failingOpenai = 5;
        boolean stepped = false;
        for (int m = 0; m < 8 && !stepped; m++) {
            proxies.minute(200);
            Map<String, Object> e = entry(proxies.id, "azure");
            stepped = e == null || ((Number) e.get("keepShare")).doubleValue() > config.keepShare() + 1e-6;
        }
        assertThat(stepped).as("Azure's share came back though OpenAI's deployment of the same id fails").isTrue();
        assertThat(entry(proxies.id, "openai")).as("the failing deployment was not reduced by Azure's entry")
                .isNull();
    }

    @Test
    void predictions_of_one_id_under_two_providers_are_two_entries_each_with_its_own_actions() throws Exception {
        Instant now = Instant.parse("2032-03-02T10:00:00Z");
        String id = "primary-" + UUID.randomUUID();
        PredictedFailure azure = prediction("azure", id, "tpp-w-az", 0.95, now);
        PredictedFailure openai = prediction("openai", id, "tpp-w-oa", 0.9, now);
        clock.set(now);
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            policy.apply(c, now, List.of(azure, openai), Map.of(
                    "tpp-w-az", java.util.Set.of(TrafficPolicy.key("azure", id), TrafficPolicy.key("azure", "az-b")),
                    "tpp-w-oa", java.util.Set.of(TrafficPolicy.key("openai", id), TrafficPolicy.key("openai", "oa-b"))),
                    new TrafficPolicy.Unhealthy(Map.of(), java.util.Set.of()));
            c.commit();
        }
        assertThat(entries(id)).extracting(e -> e.get("provider")).containsExactlyInAnyOrder("azure", "openai");
        assertThat(entry(id, "azure")).containsEntry("predictionId", azure.predictionId().toString());
        assertThat(entry(id, "openai")).containsEntry("predictionId", openai.predictionId().toString());
        given().when().get("/api/v1/traffic-policy/actions?deployment=" + id + "&provider=azure").then()
                .log().ifValidationFails().statusCode(200)
                .body("items.provider", containsInAnyOrder("azure"))
                .body("items.predictionId", containsInAnyOrder(azure.predictionId().toString()));
    }

    @Test
    void a_pin_names_its_provider_and_touches_no_other_providers_deployment_of_the_id() {
        clock.set(Instant.parse("2032-03-03T10:00:00Z"));
        String id = "primary-" + UUID.randomUUID();
        pin(id, "{\"keepShare\":0.0,\"provider\":\"azure\"}").statusCode(200)
                .body("provider", equalTo("azure")).body("deployment", equalTo(id));
        pin(id, "{\"keepShare\":0.5,\"provider\":\"OpenAI\"}").statusCode(200)
                .body("provider", equalTo("openai"));
        assertThat(entry(id, "azure")).containsEntry("keepShare", 0.0f);
        assertThat(entry(id, "openai")).containsEntry("keepShare", 0.5f);

        authorized().when().delete("/api/v1/traffic-policy/" + id + "?provider=azure").then()
                .log().ifValidationFails().statusCode(204);
        assertThat(entry(id, "azure")).as("Azure's pin removed").isNull();
        assertThat(entry(id, "openai")).as("OpenAI's pin stays").containsEntry("keepShare", 0.5f);
        // One pin of the id left: an old client's DELETE without a provider removes it.
        authorized().when().delete("/api/v1/traffic-policy/" + id).then().log().ifValidationFails().statusCode(204);
        assertThat(entries(id)).isEmpty();
    }

    @Test
    void a_pin_without_a_provider_takes_the_only_one_seen_and_is_refused_naming_the_candidates_when_several() {
        Instant at = Instant.parse("2032-03-04T10:00:00Z");
        clock.set(at.plusSeconds(60));
        String single = "single-" + UUID.randomUUID();
        String shared = "shared-" + UUID.randomUUID();
        Api.ingest(Payloads.array(Payloads.success("anthropic", "g", single, at),
                Payloads.success("openai", "g", shared, at), Payloads.success("azure", "g", shared, at)))
                .statusCode(200);

        pin(single, "{\"keepShare\":0.5}").statusCode(200).body("provider", equalTo("anthropic"));
        pin(shared, "{\"keepShare\":0.5}").statusCode(409).contentType(PROBLEM)
                .body("candidates", containsInAnyOrder("azure", "openai"))
                .body("detail", containsString("provider"));
        assertThat(entries(shared)).as("nothing pinned").isEmpty();

        String unseen = "unseen-" + UUID.randomUUID();
        pin(unseen, "{\"keepShare\":0.5}").statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("provider"));
        pin(unseen, "{\"keepShare\":0.5,\"provider\":\"a b\"}").statusCode(400).contentType(PROBLEM)
                .body("errors[0].field", equalTo("provider"));

        pin(shared, "{\"keepShare\":0.5,\"provider\":\"azure\"}").statusCode(200);
        pin(shared, "{\"keepShare\":0.5,\"provider\":\"openai\"}").statusCode(200);
        authorized().when().delete("/api/v1/traffic-policy/" + shared).then().log().ifValidationFails()
                .statusCode(409).contentType(PROBLEM).body("candidates", containsInAnyOrder("azure", "openai"));
        authorized().when().delete("/api/v1/traffic-policy/" + shared + "?provider=openai").then().statusCode(204);
        authorized().when().delete("/api/v1/traffic-policy/" + shared + "?provider=openai").then().statusCode(404)
                .contentType(PROBLEM);
        authorized().when().delete("/api/v1/traffic-policy/" + shared + "?provider=azure").then().statusCode(204);
        authorized().when().delete("/api/v1/traffic-policy/" + single).then().statusCode(204);
    }

    @Test
    void what_a_deployment_kept_is_its_own_providers_entry_never_another_providers_of_the_same_id() throws Exception {
        Instant t0 = Instant.parse("2032-03-05T10:00:00Z");
        clock.set(t0);
        String id = "primary-" + UUID.randomUUID();
        String azure = TrafficPolicy.key("azure", id);
        String openai = TrafficPolicy.key("openai", id);
        pin(id, "{\"keepShare\":0.2,\"provider\":\"azure\"}").statusCode(200);
        Map<String, java.util.Set<String>> groups = Map.of(
                "tpp-k-az", java.util.Set.of(azure, TrafficPolicy.key("azure", "tpp-k-az-b")),
                "tpp-k-oa", java.util.Set.of(openai, TrafficPolicy.key("openai", "tpp-k-oa-b")));
        try (Connection c = dataSource.getConnection()) {
            Map<String, TrafficPolicy.Kept> kept = policy.sharesInForce(c, t0, groups);
            assertThat(kept.get(azure).share()).as("Azure's pinned deployment").isCloseTo(0.2, CLOSE);
            assertThat(kept).as("OpenAI's deployment of the same id kept everything").doesNotContainKey(openai);
        } finally {
            authorized().when().delete("/api/v1/traffic-policy/" + id + "?provider=azure").then().statusCode(204);
        }
    }

    private static PredictedFailure prediction(String provider, String deployment, String group, double confidence,
            Instant now) {
        return new PredictedFailure(UUID.randomUUID(), "rate_limit", provider, deployment, group, confidence,
                confidence, "PT5M", now.plusSeconds(300), "reduce", Map.of(), now, now, "PT15M",
                now.plus(Duration.ofMinutes(15)), "active", null, null, null, null);
    }

    private static List<Map<String, Object>> entries(String deployment) {
        List<Map<String, Object>> all = given().when().get("/api/v1/traffic-policy").then().statusCode(200).extract()
                .jsonPath().getList("deployments");
        return all.stream().filter(e -> deployment.equals(e.get("deployment"))).toList();
    }

    private static Map<String, Object> entry(String deployment, String provider) {
        return entries(deployment).stream().filter(e -> provider.equals(e.get("provider"))).findFirst()
                .orElse(null);
    }

    private static io.restassured.specification.RequestSpecification authorized() {
        return given().header("Authorization", "Bearer " + Api.KEY);
    }

    private static ValidatableResponse pin(String deployment, String body) {
        return authorized().contentType("application/json").body(body).when()
                .put("/api/v1/traffic-policy/" + deployment).then().log().ifValidationFails();
    }
}
