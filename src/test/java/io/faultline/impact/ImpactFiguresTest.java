package io.faultline.impact;

import io.agroal.api.AgroalDataSource;
import io.faultline.cost.UsageWindows;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.path.json.config.JsonPathConfig;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Impact figures an engineer on call compares with the bill: nothing counted twice. */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ImpactFiguresTest {

    @Inject
    TestClock clock;

    @Inject
    FailureImpactAssessor assessor;

    @Inject
    UsageWindows windows;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    private static JsonPath impact(String path) {
        return given().when().get(path).then().statusCode(200).extract().jsonPath()
                .using(JsonPathConfig.jsonPathConfig().numberReturnType(JsonPathConfig.NumberReturnType.DOUBLE));
    }

    @Test
    void a_token_spike_answer_costs_its_tokens_over_the_p99_not_its_whole_price_on_top() {
        Instant t0 = Instant.parse("2032-05-01T10:00:00Z");
        clock.set(t0);
        String dep = "spike-" + UUID.randomUUID().toString().substring(0, 8);
        // 200 answers of 500 tokens ($0.0005 each) make the deployment's p99; then one of 10,000 tokens for $0.01.
        List<Payloads> history = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            history.add(Payloads.success("openai", "spike-grp", dep, t0.plusSeconds(i)).tokens(400, 100, 0, 0)
                    .set("response_cost", 0.0005));
        }
        Api.ingest(Payloads.array(history.toArray(Payloads[]::new))).statusCode(200);
        Api.ingest(Payloads.array(Payloads.success("openai", "spike-grp", dep, t0.plusSeconds(300))
                .tokens(8000, 2000, 0, 0).set("response_cost", 0.01))).statusCode(200);
        String id = Api.failures("type=token_spike&deployment=" + dep).statusCode(200).extract().jsonPath()
                .getString("items[0].failureId");
        assertThat(id).isNotNull();

        JsonPath a = impact("/api/v1/failures/" + id + "/impact");
        // The answer was delivered and billed $0.01; what the spike cost is its tokens over the p99 of 500:
        // 0.01 x (1 - 500 / 10,000). Counting the whole $0.01 as wasted as well made the impact $0.0195, more than
        // the call was billed.
        assertThat(a.getDouble("costImpact.spikeExtraCostUsd")).isCloseTo(0.0095, within(1e-9));
        assertThat(a.getDouble("costImpact.wastedCostUsd")).isZero();
        assertThat(a.getDouble("costImpact.totalUsd")).isCloseTo(0.0095, within(1e-9));
        assertThat(a.getDouble("total.costUsd")).isCloseTo(0.0095, within(1e-9));
        // The one-query recomputation agrees with the fold.
        Assessment full = assessor.recomputeEpisode(UUID.fromString(id)).orElseThrow();
        assertThat(full.costImpact().wastedCostUsd()).isZero();
        assertThat(full.costImpact().totalUsd()).isCloseTo(0.0095, within(1e-9));
    }

    /**
     * A cluster of a token spike and a quality failure on one deployment: each answer is priced by the member that
     * flagged it. The spike's answer costs its tokens over the p99; the answer the quality episode flagged is wasted
     * whole. Priced by deployment alone, the quality answer counted as a spike answer: not wasted, and priced by its
     * tokens over the spike's p99 (none, at the p99), so its cost was lost from the impact.
     */
    @Test
    void a_clusters_quality_answer_on_its_spike_members_deployment_is_wasted_and_not_priced_as_a_spike()
            throws Exception {
        Instant t0 = Instant.parse("2032-05-03T10:00:00Z");
        clock.set(t0);
        String dep = "spike-q-" + UUID.randomUUID().toString().substring(0, 8);
        List<Payloads> history = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            history.add(Payloads.success("openai", "spike-grp", dep, t0.plusSeconds(i)).tokens(400, 100, 0, 0)
                    .set("response_cost", 0.0005));
        }
        Api.ingest(Payloads.array(history.toArray(Payloads[]::new))).statusCode(200);
        // The spike: 10,000 tokens for $0.01. Then an answer of 500 tokens (the p99) for $0.004 that breaks the JSON
        // its caller asked for: a quality failure, no spike.
        Api.ingest(Payloads.array(Payloads.success("openai", "spike-grp", dep, t0.plusSeconds(300))
                .tokens(8000, 2000, 0, 0).set("response_cost", 0.01))).statusCode(200);
        Api.ingest(Payloads.array(Payloads.success("openai", "spike-grp", dep, t0.plusSeconds(320))
                .tokens(400, 100, 0, 0).set("response_cost", 0.004)
                .set("model_parameters", Map.of("response_format", Map.of("type", "json_object")))
                .answer("Sure! The city is Paris.", "stop"))).statusCode(200);
        String spike = Api.failures("type=token_spike&deployment=" + dep).statusCode(200).extract().jsonPath()
                .getString("items[0].failureId");
        List<String> quality = Api.failures("category=QUALITY&deployment=" + dep).statusCode(200).extract()
                .jsonPath().getList("items.failureId");
        assertThat(spike).isNotNull();
        assertThat(quality).hasSize(1);
        UUID cluster = UUID.randomUUID();
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement st = c.prepareStatement("insert into correlation_clusters (cluster_id, type,"
                    + " status, strength, confidence, providers, evidence, first_seen, last_seen, last_activity,"
                    + " opened_at) values (?, 'mixed', 'active', 0.9, 0.9, '[\"openai\"]', '{}', ?, ?, ?, ?)")) {
                st.setObject(1, cluster);
                st.setTimestamp(2, Timestamp.from(t0.plusSeconds(300)));
                st.setTimestamp(3, Timestamp.from(t0.plusSeconds(321)));
                st.setTimestamp(4, Timestamp.from(t0.plusSeconds(321)));
                st.setTimestamp(5, Timestamp.from(t0.plusSeconds(300)));
                st.executeUpdate();
            }
            for (String member : List.of(spike, quality.get(0))) {
                try (PreparedStatement st = c.prepareStatement("insert into correlation_members (cluster_id,"
                        + " failure_id, joined_at) values (?, ?, ?)")) {
                    st.setObject(1, cluster);
                    st.setObject(2, UUID.fromString(member));
                    st.setTimestamp(3, Timestamp.from(t0.plusSeconds(321)));
                    st.executeUpdate();
                }
            }
        }

        JsonPath a = impact("/api/v1/failures/correlations/" + cluster + "/impact");
        assertThat(a.getLong("userImpact.affectedRequests")).isEqualTo(2);
        // The spike's answer: 0.01 x (1 - 500 / 10,000); the quality answer: its $0.004, wasted.
        assertThat(a.getDouble("costImpact.spikeExtraCostUsd")).isCloseTo(0.0095, within(1e-9));
        assertThat(a.getDouble("costImpact.wastedCostUsd")).isCloseTo(0.004, within(1e-9));
        assertThat(a.getLong("costImpact.wastedTokens")).isEqualTo(500);
        assertThat(a.getDouble("costImpact.totalUsd")).isCloseTo(0.0135, within(1e-9));
        // The one-query recomputation agrees with the fold.
        try (Connection c = dataSource.getConnection()) {
            Assessment full = assessor.assessFull(c, assessor.cluster(c, cluster));
            assertThat(full.costImpact().spikeExtraCostUsd()).isCloseTo(0.0095, within(1e-9));
            assertThat(full.costImpact().wastedCostUsd()).isCloseTo(0.004, within(1e-9));
        }
    }

    @Test
    void a_spike_answer_of_an_episode_priced_by_its_windows_is_not_also_wasted() {
        Instant start = Instant.parse("2032-05-02T01:00:00Z");
        String dep = "spike-w-" + UUID.randomUUID().toString().substring(0, 8);
        // An hour of twelve 5-minute windows of 20 answers x 1,000 tokens ($0.00012 each): the deployment's p99 of a
        // call is 1,000 tokens, of a window 20,000.
        clock.set(start.plus(Duration.ofMinutes(60)));
        List<Payloads> hour = new ArrayList<>();
        for (int w = 0; w < 13; w++) {
            for (int i = 0; i < 20; i++) {
                hour.add(Payloads.success("openai", "spike-grp", dep, start.plus(Duration.ofMinutes(5L * w))
                        .plusSeconds(i * 10L)).tokens(600, 400, 0, 0));
            }
        }
        Instant w13 = start.plus(Duration.ofMinutes(60));
        clock.set(w13.plus(Duration.ofMinutes(4)));
        for (int from = 0; from < hour.size(); from += 500) {
            Api.ingest(Payloads.array(hour.subList(from, Math.min(hour.size(), from + 500))
                    .toArray(Payloads[]::new))).statusCode(200);
        }
        // In the 13th window one answer of 30,000 tokens for $0.03: a spike of its own call (its episode links it) and
        // of its window (50,000 tokens), which the window check raises into the same episode when the window closes.
        Api.ingest(Payloads.array(Payloads.success("openai", "spike-grp", dep, w13.plusSeconds(205))
                .tokens(20_000, 10_000, 0, 0).set("response_cost", 0.03))).statusCode(200);
        clock.set(w13.plus(Duration.ofMinutes(5)).plusSeconds(31));
        windows.tick();
        var list = Api.failures("type=token_spike&deployment=" + dep).statusCode(200).extract().jsonPath();
        assertThat(list.getList("items")).hasSize(1);
        assertThat(list.getInt("items[0].evidence.p99_window_tokens")).isEqualTo(20_000);
        String id = list.getString("items[0].failureId");

        JsonPath a = impact("/api/v1/failures/" + id + "/impact");
        // Priced by its window: (20 x 0.00012 + 0.03) x (1 - 20,000 / 50,000). The linked $0.03 answer is in that
        // window: counting it as wasted as well counted it twice.
        double window = (20 * 0.00012 + 0.03) * (1 - 20_000 / 50_000.0);
        assertThat(a.getDouble("costImpact.spikeExtraCostUsd")).isCloseTo(window, within(1e-9));
        assertThat(a.getDouble("costImpact.wastedCostUsd")).isZero();
        assertThat(a.getDouble("costImpact.totalUsd")).isCloseTo(window, within(1e-9));
        Assessment full = assessor.recomputeEpisode(UUID.fromString(id)).orElseThrow();
        assertThat(full.costImpact().wastedCostUsd()).isZero();
    }
}
