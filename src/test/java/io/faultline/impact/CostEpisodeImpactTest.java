package io.faultline.impact;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.cost.UsageWindows;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.path.json.config.JsonPathConfig;
import io.restassured.path.json.config.JsonPathConfig.NumberReturnType;
import jakarta.inject.Inject;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The COST episodes that are windows or totals are priced from their stored calls: a prompt-cache miss storm
 * detected on the real ingest path at the missed tokens over the baseline times (input price − cached-token price)
 * from each payload's model map, and a batch overrun at its actual cost minus the expected one.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CostEpisodeImpactTest {

    static final Offset<Double> CLOSE = Offset.offset(1e-9);
    static final double IN = 2.5e-6;
    static final double CACHED = 1.25e-6;

    @Inject
    TestClock clock;

    @Inject
    UsageWindows windows;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    private static void ingest(List<Payloads> calls) {
        for (int from = 0; from < calls.size(); from += 500) {
            Api.ingest(Payloads.array(calls.subList(from, Math.min(calls.size(), from + 500))
                    .toArray(Payloads[]::new))).statusCode(200);
        }
    }

    /** 100 calls of 1,000 prompt tokens, {@code cached} of them from the provider's prompt cache, one a second. */
    private static List<Payloads> window(String model, String keyHash, Instant start, long cached, boolean priced) {
        List<Payloads> out = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            Payloads p = Payloads.success("openai", model, model + "-dep", start.plusSeconds(i))
                    .tokens(1000, 10, 0, cached).set("cache_hit", false);
            if (priced) {
                p.set("model_map_information", Map.of("model_map_key", model, "model_map_value", Map.of(
                        "input_cost_per_token", IN, "output_cost_per_token", 1e-5,
                        "cache_read_input_token_cost", CACHED)));
            }
            ((ObjectNode) p.node().get("metadata")).put("user_api_key_hash", keyHash);
            out.add(p);
        }
        return out;
    }

    private static JsonPath impact(String failureId) {
        return given().when().get("/api/v1/failures/" + failureId + "/impact").then().statusCode(200).extract()
                .jsonPath().using(JsonPathConfig.jsonPathConfig().numberReturnType(NumberReturnType.DOUBLE));
    }

    private static String episode(String type, String deployment) {
        return Api.failures("type=" + type + "&deployment=" + deployment).extract().jsonPath()
                .getString("items[0].failureId");
    }

    @Test
    void a_prompt_cache_miss_storm_costs_the_tokens_missed_over_the_baseline_at_the_input_minus_cached_price() {
        Instant start = Instant.parse("2026-11-21T08:00:00Z");
        Instant storm = start.plus(Duration.ofMinutes(20));
        clock.set(start);
        String model = "cache-imp-" + UUID.randomUUID().toString().substring(0, 8);
        String key = UUID.randomUUID().toString().replace("-", "");
        List<Payloads> calls = new ArrayList<>();
        for (int w = 0; w < 4; w++) { // a 60% prompt-cache level
            calls.addAll(window(model, key, start.plus(Duration.ofMinutes(5L * w)), 600, true));
        }
        // The storm: 20% cached; 90 calls priced, 10 without a model map (unpriced).
        List<Payloads> stormCalls = window(model, key, storm, 200, true);
        for (int i = 90; i < 100; i++) {
            stormCalls.get(i).without("model_map_information");
        }
        calls.addAll(stormCalls);
        // The key also starts on a model it never used, uncached: not the key's storm, so not priced in it.
        calls.addAll(window(model + "-new", key, storm.plusSeconds(100), 0, true));
        ingest(calls);
        clock.set(storm.plus(Duration.ofMinutes(5)).plusSeconds(31));
        windows.tick();

        JsonPath a = impact(episode("cache_miss_storm", model));
        assertThat(a.getString("costImpact.cacheMissStorm.signal")).isEqualTo("prompt_cache");
        assertThat(a.getString("costImpact.cacheMissStorm.subject")).isEqualTo(model);
        assertThat(a.getDouble("costImpact.cacheMissStorm.baselineHitRatio")).isCloseTo(0.6, CLOSE);
        assertThat(a.getLong("costImpact.cacheMissStorm.calls")).isEqualTo(100);
        assertThat(a.getLong("costImpact.cacheMissStorm.volume")).isEqualTo(100_000);
        assertThat(a.getLong("costImpact.cacheMissStorm.hits")).isEqualTo(20_000);
        // 0.6 x 100,000 - 20,000 tokens missed over the baseline ...
        assertThat(a.getDouble("costImpact.cacheMissStorm.extraMisses")).isCloseTo(40_000, CLOSE);
        assertThat(a.getLong("costImpact.cacheMissStorm.unpricedCalls")).isEqualTo(10);
        // ... of which the 90 priced calls' 90 x 400 cost (2.5e-6 - 1.25e-6) each: 0.045 USD.
        double extra = 90 * 400 * (IN - CACHED);
        assertThat(a.getDouble("costImpact.cacheMissExtraCostUsd")).isCloseTo(extra, CLOSE);
        assertThat(a.getDouble("costImpact.totalUsd")).isCloseTo(extra, CLOSE);
        assertThat(a.getDouble("total.costUsd")).isCloseTo(extra, CLOSE);
        // The same storm seen by its API key (on this model) prices the same calls.
        JsonPath byKey = impact(episode("cache_miss_storm", "key:" + key.substring(0, 12)));
        assertThat(byKey.getString("costImpact.cacheMissStorm.scope")).isEqualTo("api_key");
        assertThat(byKey.getDouble("costImpact.cacheMissExtraCostUsd")).isCloseTo(extra, CLOSE);
    }

    @Test
    void a_batch_overrun_costs_its_actual_cost_minus_the_expected_cost() {
        Instant t0 = Instant.parse("2026-11-22T02:00:00Z");
        clock.set(t0);
        String batch = "imp-batch-" + UUID.randomUUID();
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"expectedCostUsd\": 5}").when().put("/api/v1/batches/" + batch).then().statusCode(200);
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 7; i++) { // 7 x 1.00 USD against 5.00 expected
            calls.add(Payloads.success("openai", "gpt-4o", "batch-dep", t0.plusSeconds(10L * i))
                    .set("response_cost", 1.0).metadata(Map.of("batch_id", batch)));
        }
        ingest(calls);

        JsonPath a = impact(episode("batch_cost_overrun", batch));
        assertThat(a.getString("costImpact.batchOverrun.batchId")).isEqualTo(batch);
        assertThat(a.getDouble("costImpact.batchOverrun.expectedCostUsd")).isCloseTo(5.0, CLOSE);
        assertThat(a.getString("costImpact.batchOverrun.expectedSource")).isEqualTo("api");
        assertThat(a.getDouble("costImpact.batchOverrun.actualCostUsd")).isCloseTo(7.0, CLOSE);
        assertThat(a.getLong("costImpact.batchOverrun.calls")).isEqualTo(7);
        assertThat(a.getDouble("costImpact.batchOverrunCostUsd")).isCloseTo(2.0, CLOSE);
        // The call that crossed is linked but was delivered: part of the actual cost, not wasted, counted once.
        assertThat(a.getDouble("costImpact.wastedCostUsd")).isZero();
        assertThat(a.getDouble("costImpact.totalUsd")).isCloseTo(2.0, CLOSE);
        assertThat(a.getDouble("costImpact.cacheMissExtraCostUsd")).isZero();
    }

    @Inject
    FailureImpactAssessor assessor;

    @Test
    void a_budget_alerts_crossing_answer_was_delivered_so_it_is_not_wasted() {
        Instant t0 = Instant.parse("2026-11-23T02:00:00Z");
        clock.set(t0);
        String team = "imp-budget-" + UUID.randomUUID();
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"period\": \"day\", \"amountUsd\": 2.5, \"warnAt\": [1.0]}").when()
                .put("/api/v1/budgets/team/" + team).then().statusCode(200);
        for (int i = 0; i < 3; i++) { // 3 x 1.00 USD, one at a time: the third crosses the budget
            Payloads p = Payloads.success("openai", "gpt-4o", "budget-dep", t0.plusSeconds(60L * i))
                    .set("response_cost", 1.0);
            ((ObjectNode) p.node().get("metadata")).put("user_api_key_team_id", team);
            ingest(List.of(p));
        }

        List<String> ids = Api.failures("type=budget_exceeded&deployment=team:" + team).statusCode(200).extract()
                .jsonPath().getList("items.failureId");
        assertThat(ids).as("the alert of the crossing").hasSize(1);
        for (String id : ids) {
            JsonPath a = impact(id);
            // The alert is about spend: the answer that crossed was delivered and billed once, as spend, not waste.
            assertThat(a.getLong("userImpact.affectedRequests")).isEqualTo(1);
            assertThat(a.getLong("userImpact.failedResponses")).isZero();
            assertThat(a.getDouble("costImpact.wastedCostUsd")).isZero();
            assertThat(a.getLong("costImpact.wastedTokens")).isZero();
            assertThat(a.getDouble("costImpact.totalUsd")).isZero();
            assertThat(a.getDouble("total.costUsd")).isZero();
            // and the one-query recomputation agrees with the fold
            Assessment full = assessor.recomputeEpisode(UUID.fromString(id)).orElseThrow();
            assertThat(full.costImpact().wastedCostUsd()).isZero();
            assertThat(full.costImpact().wastedTokens()).isZero();
        }
    }
}
