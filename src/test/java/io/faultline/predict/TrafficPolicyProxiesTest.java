package io.faultline.predict;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
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
import java.util.Set;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * A LiteLLM model group is one proxy's list of candidates: proxy A's {@code gpt-4o} and proxy B's {@code gpt-4o} are
 * two lists, each thinned by its own proxy's plugin. The predictor counts a group's deployments per proxy (the
 * plugin's {@code faultline.proxy_id}), so a deployment alone in its proxy's group is never taken as thinned because
 * another proxy has a group of the same name.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TrafficPolicyProxiesTest {

    static final Offset<Double> CLOSE = Offset.offset(1e-6);

    @Inject
    TestClock clock;

    @Inject
    TrafficConfig config;

    @Inject
    PredictionStore store;

    @Inject
    TrafficPolicy policy;

    @Inject
    io.agroal.api.AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    /** One deployment of a calling proxy's model group: its provider, id and the proxies that call it. */
    private record Member(String provider, String deployment, boolean draining, String... proxies) {
    }

    /**
     * Minutes of 10 calls on each member (spread over its proxies), the draining ones' token headroom falling by
     * 5,000 a minute, each minute followed by a tick; until {@code watched} is reduced (at most 12 minutes).
     */
    private Map<String, Object> drainUntilReduced(Instant t0, String group, Member watched, Member... others) {
        List<Member> members = new ArrayList<>(List.of(others));
        members.add(0, watched);
        long remaining = 90_000;
        Map<String, Object> reduced = null;
        for (int m = 0; m < 12 && reduced == null; m++) {
            Instant start = t0.plus(Duration.ofMinutes(m));
            List<Payloads> calls = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                remaining = Math.max(1, remaining - 500);
                Instant at = start.plusSeconds(i * 6L);
                for (int k = 0; k < members.size(); k++) {
                    Member d = members.get(k);
                    calls.add(Payloads.success(d.provider(), group, d.deployment(), at.plusSeconds(k)).latency(0.5)
                            .header("x-ratelimit-limit-tokens", "100000")
                            .header("x-ratelimit-remaining-tokens", String.valueOf(d.draining() ? remaining : 100_000))
                            .header("x-ratelimit-reset-tokens", "3h0m0s")
                            .proxy(d.proxies()[i % d.proxies().length]));
                }
            }
            clock.set(start.plus(Duration.ofMinutes(1)));
            Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
            given().header("Authorization", "Bearer " + Api.KEY).when().post("/api/v1/predictions/evaluate").then()
                    .log().ifValidationFails().statusCode(200).body("ran", equalTo(true));
            reduced = entry(watched.provider(), watched.deployment());
        }
        assertThat(reduced).as("the drain reduced %s", watched.deployment()).isNotNull();
        return reduced;
    }

    @Test
    void a_deployment_alone_in_its_proxys_group_keeps_everything_though_another_proxy_has_a_group_of_that_name() {
        // Proxy A's gpt-4o holds only OpenAI's `primary`; proxy B's gpt-4o holds only Azure's `x`. A's plugin never
        // thins `primary` (the only candidate of its list): thinning it would only move its failures onto users.
        String group = "gpt-4o-" + UUID.randomUUID();
        Member primary = new Member("openai", "primary-" + UUID.randomUUID(), true, "tpx-a-" + UUID.randomUUID());
        Member x = new Member("azure", "x-" + UUID.randomUUID(), false, "tpx-b-" + UUID.randomUUID());
        Map<String, Object> reduced = drainUntilReduced(Instant.parse("2032-05-01T10:00:00Z"), group, primary, x);

        assertThat(reduced).containsEntry("modelGroup", group).containsEntry("soleDeployment", true);
        UUID predictionId = UUID.fromString((String) reduced.get("predictionId"));
        assertThat(store.byId(predictionId).orElseThrow().keptShare()).as("what A's plugin kept of `primary`")
                .isCloseTo(1.0, CLOSE);
    }

    @Test
    void replicas_of_one_proxy_each_see_the_whole_group_so_a_deployment_beside_another_is_thinned() {
        // Two replicas of proxy A (two host names, one model list) call both deployments of the group: each
        // replica's list holds two candidates, so the plugin thins the one at risk in both.
        String group = "gpt-4o-" + UUID.randomUUID();
        String[] replicas = { "tpx-a1-" + UUID.randomUUID(), "tpx-a2-" + UUID.randomUUID() };
        Member primary = new Member("openai", "primary-" + UUID.randomUUID(), true, replicas);
        Member other = new Member("openai", "other-" + UUID.randomUUID(), false, replicas);
        Map<String, Object> reduced = drainUntilReduced(Instant.parse("2032-05-02T10:00:00Z"), group, primary, other);

        assertThat(reduced).containsEntry("soleDeployment", false);
        UUID predictionId = UUID.fromString((String) reduced.get("predictionId"));
        assertThat(store.byId(predictionId).orElseThrow().keptShare()).as("what the replicas kept of `primary`")
                .isCloseTo(config.keepShare(), CLOSE);
    }

    @Test
    void a_deployment_in_two_proxies_lists_is_credited_with_the_most_either_left_it() throws Exception {
        Instant t0 = Instant.parse("2032-05-03T10:00:00Z");
        clock.set(t0);
        String primary = "primary-" + UUID.randomUUID();
        String pinnedOther = "other-" + UUID.randomUUID();
        String k = TrafficPolicy.key("openai", primary);
        String other = TrafficPolicy.key("openai", pinnedOther);
        String free = TrafficPolicy.key("openai", "free-" + UUID.randomUUID());
        pin(primary, 0.2);
        pin(pinnedOther, 0.8);
        try (Connection c = dataSource.getConnection()) {
            // Alone in proxy A's list: A's plugin never thins it, whatever B's does.
            assertThat(policy.sharesInForce(c, t0, Map.of(WindowCache.list("a", "g"), Set.of(k),
                    WindowCache.list("b", "g"), Set.of(k, other))).get(k).share()).isCloseTo(1.0, CLOSE);
            // Beside an unpinned deployment in A's list (0.2 there) and beside one pinned at 0.8 in B's (0.25 there,
            // relative to the least at risk): at least the 0.25 B left it.
            assertThat(policy.sharesInForce(c, t0, Map.of(WindowCache.list("a", "g"), Set.of(k, free),
                    WindowCache.list("b", "g"), Set.of(k, other))).get(k).share()).isCloseTo(0.25, CLOSE);
            // The same two lists under one proxy's name are one list, as a setup of one proxy always counted them.
            assertThat(policy.sharesInForce(c, t0, Map.of(WindowCache.list(null, "g"), Set.of(k, other))).get(k)
                    .share()).isCloseTo(0.25, CLOSE);
        } finally {
            unpin(primary);
            unpin(pinnedOther);
        }
    }

    private static void pin(String deployment, double share) {
        given().header("Authorization", "Bearer " + Api.KEY).contentType("application/json")
                .body("{\"provider\":\"openai\",\"keepShare\":" + share + "}").when()
                .put("/api/v1/traffic-policy/" + deployment).then().log().ifValidationFails().statusCode(200);
    }

    private static void unpin(String deployment) {
        given().header("Authorization", "Bearer " + Api.KEY).when()
                .delete("/api/v1/traffic-policy/" + deployment + "?provider=openai").then().statusCode(204);
    }

    private static Map<String, Object> entry(String provider, String deployment) {
        List<Map<String, Object>> all = given().when().get("/api/v1/traffic-policy").then().statusCode(200).extract()
                .jsonPath().getList("deployments");
        return all.stream().filter(e -> deployment.equals(e.get("deployment")) && provider.equals(e.get("provider")))
                .findFirst().orElse(null);
    }
}
