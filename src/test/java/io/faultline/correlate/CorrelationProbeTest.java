package io.faultline.correlate;

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
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static io.faultline.correlate.CorrelationTest.cluster;
import static io.faultline.correlate.CorrelationTest.clustersOf;
import static io.faultline.correlate.CorrelationTest.correlations;
import static io.faultline.correlate.CorrelationTest.dep;
import static io.faultline.correlate.CorrelationTest.episodeId;
import static io.faultline.correlate.CorrelationTest.ingest;
import static io.faultline.correlate.CorrelationTest.outage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.hamcrest.Matchers.hasItem;

/**
 * What an operator reads off a cluster beyond the scenarios of {@link CorrelationTest}: an upstream incident stays
 * upstream when its traffic fell back to a healthy deployment, and a closed cluster keeps its graph and takes
 * what arrives late. Each scenario
 * runs at its own test-clock time on deployments of its own.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CorrelationProbeTest {

    @Inject
    TestClock clock;

    @Inject
    FailureCorrelationEngine engine;

    @Inject
    CorrelateConfig config;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    /**
     * OpenAI and Gemini fail 20 s apart; three of OpenAI's failed requests fell back, each in its own trace, to an
     * Anthropic deployment that answered them well. No episode is on the fallback traffic, so nothing causal is in
     * the incident: it is upstream, with the temporal confidence, and a filter on {@code type=upstream} finds it.
     */
    @Test
    void an_upstream_incident_whose_traffic_fell_back_to_a_healthy_deployment_stays_upstream() {
        Instant t0 = Instant.parse("2029-05-03T03:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(2)));
        String oa = dep("oa");
        String ge = dep("ge");
        String an = dep("an-ok");
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String trace = UUID.randomUUID().toString();
            calls.add(outage("openai", "gpt-4o-mini", oa, t0.plusSeconds(i * 5)).set("trace_id", trace));
            calls.add(Payloads.success("anthropic", "claude-3-5-haiku", an, t0.plusSeconds(i * 5 + 2))
                    .set("trace_id", trace));
            calls.add(outage("gemini", "gemini-2.0-flash", ge, t0.plusSeconds(20 + i * 5)));
        }
        ingest(calls);
        String openai = episodeId(oa);
        String gemini = episodeId(ge);
        List<String> clusters = clustersOf(openai);
        assertThat(clusters).hasSize(1);
        assertThat(clustersOf(gemini)).isEqualTo(clusters);
        JsonPath c = cluster(clusters.get(0));
        assertThat(c.getList("nodes.failureId")).containsExactlyInAnyOrder(openai, gemini);
        double temporal = c.getDouble("evidence.temporal_confidence");
        assertThat(temporal).isGreaterThanOrEqualTo(config.minConfidence());
        assertThat(c.getString("type")).as("no causal edge links two members").isEqualTo("upstream");
        assertThat(c.getDouble("confidence")).as("the temporal confidence, not the fallback's 1 - 0.5^3")
                .isCloseTo(temporal, within(1e-3));
        correlations("type=upstream&since=" + t0).statusCode(200).body("items.clusterId", hasItem(clusters.get(0)));
    }

    /**
     * Faultline was away for half an hour and the plugin resends its spool: the outages' first calls arrive, form an
     * upstream cluster, and the close job finds it quiet (its member activity lies 28 minutes back) and closes it.
     * The spool's next batch continues the OpenAI outage's episode. The closed cluster keeps its edges, and the
     * incident stays one cluster, not a second one with the same episodes.
     */
    @Test
    void a_member_update_arriving_after_its_cluster_closed_leaves_one_cluster_with_its_edges() {
        Instant t0 = Instant.parse("2029-05-05T03:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(30)));
        String oa = dep("oa");
        String an = dep("an");
        String ge = dep("ge");
        ingest(threeProviderOutage(t0, oa, an, ge));
        String openai = episodeId(oa);
        List<String> clusters = clustersOf(openai);
        assertThat(clusters).hasSize(1);
        String id = clusters.get(0);
        JsonPath before = cluster(id);
        int edges = before.getList("edges").size();
        assertThat(edges).isPositive();
        closedWhenQuiet(id);

        clock.set(t0.plus(Duration.ofMinutes(31)));
        ingest(List.of(outage("openai", "gpt-4o-mini", oa, t0.plus(Duration.ofMinutes(2)))));
        assertThat(episodeId(oa)).isEqualTo(openai);

        JsonPath after = cluster(id);
        assertThat(after.getList("edges")).as("the closed cluster's edges").hasSize(edges);
        assertThat(after.getList("nodes.failureId")).isEqualTo(before.getList("nodes.failureId"));
        assertThat(clustersOf(openai)).as("one incident, one cluster").containsExactly(id);
        assertThat(after.getString("status")).as("reopened by its member's activity").isEqualTo("active");

        // Quiet again, it closes again; a direct step (as an isolated retry takes it) also keeps it one cluster.
        closedWhenQuiet(id);
        engine.correlateFailures(List.of(UUID.fromString(openai)));
        assertThat(clustersOf(openai)).containsExactly(id);
        assertThat(cluster(id).getList("edges")).hasSize(edges);
    }

    /**
     * Outages on four providers begin 290 s before one onset, at it, 130 s and 260 s after it: no pair lies within
     * the two minutes that let a pair link (each scores under 0.4). OpenAI, Mistral and Gemini start within 260 s,
     * one window, and score 0.75 * (1 - 0.5 * 260 / 300) = 0.43 as a group: one upstream cluster. Anthropic's onset
     * lies within the window before OpenAI's but 550 s before Gemini's: it is no part of an incident that started
     * within one window (nor of what the chance term estimates, onsets within the window of the first one).
     */
    @Test
    void a_group_of_providers_without_a_linking_pair_lies_within_one_window() {
        Instant t0 = Instant.parse("2029-05-07T03:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(10)));
        String an = dep("an");
        String oa = dep("oa");
        String mi = dep("mi");
        String ge = dep("ge");
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            calls.add(outage("anthropic", "claude-3-5-haiku", an, t0.minusSeconds(290).plusSeconds(i)));
            calls.add(outage("openai", "gpt-4o-mini", oa, t0.plusSeconds(i)));
            calls.add(outage("mistral", "mistral-small", mi, t0.plusSeconds(130 + i)));
            calls.add(outage("gemini", "gemini-2.0-flash", ge, t0.plusSeconds(260 + i)));
        }
        ingest(calls);
        List<String> clusters = clustersOf(episodeId(oa));
        assertThat(clusters).hasSize(1);
        JsonPath c = cluster(clusters.get(0));
        assertThat(c.getString("type")).isEqualTo("upstream");
        assertThat(c.getList("nodes.failureId")).containsExactlyInAnyOrder(episodeId(oa), episodeId(mi),
                episodeId(ge));
        List<Instant> onsets = c.getList("nodes.firstSeen", String.class).stream().map(Instant::parse).sorted()
                .toList();
        assertThat(Duration.between(onsets.get(0), onsets.get(onsets.size() - 1))).isLessThanOrEqualTo(
                config.window());
        assertThat(c.getDouble("confidence")).isCloseTo(0.75 * (1 - 0.5 * 260 / 300.0), within(0.01));
        assertThat(clustersOf(episodeId(an))).isEmpty();
    }

    /**
     * As above, the spool's first batch forms an upstream cluster that closes at once; the next batch brings a
     * fourth provider's outage that began 20 s after OpenAI's. It is the same incident, arrived late: the closed
     * cluster reopens and takes it, with the edges it was shown with and the new episode's own; no second cluster
     * of the incident opens beside it. Quiet again, it closes again.
     */
    @Test
    void a_late_episode_linking_to_the_members_of_a_closed_cluster_reopens_it() {
        Instant t0 = Instant.parse("2029-05-09T03:00:00Z");
        clock.set(t0.plus(Duration.ofMinutes(30)));
        String oa = dep("oa");
        String an = dep("an");
        String ge = dep("ge");
        ingest(threeProviderOutage(t0, oa, an, ge));
        String id = clustersOf(episodeId(oa)).get(0);
        JsonPath before = cluster(id);
        List<String> edgesBefore = edgeKeys(before);
        closedWhenQuiet(id);

        clock.set(t0.plus(Duration.ofMinutes(31)));
        String mi = dep("mi");
        ingest(List.of(outage("mistral", "mistral-small", mi, t0.plusSeconds(20)),
                outage("mistral", "mistral-small", mi, t0.plusSeconds(25))));
        String mistral = episodeId(mi);
        assertThat(clustersOf(mistral)).as("the incident's cluster, not one beside it").containsExactly(id);
        for (String member : before.getList("nodes.failureId", String.class)) {
            assertThat(clustersOf(member)).as("member %s", member).containsExactly(id);
        }

        JsonPath after = cluster(id);
        assertThat(after.getString("status")).isEqualTo("active");
        assertThat(after.getList("nodes.failureId", String.class)).containsAll(before.getList("nodes.failureId",
                String.class)).contains(mistral).hasSize(4);
        assertThat(edgeKeys(after)).as("the edges it was shown with, and the late episode's")
                .containsAll(edgesBefore).anyMatch(k -> k.contains(mistral));
        assertThat(after.getList("providers", String.class)).contains("mistral");

        closedWhenQuiet(id);
    }

    /**
     * Closes the quiet clusters as the scheduled close does, and the cluster is closed: by this call, or by the
     * scheduled close itself when it ran just before on the test clock (under load it did, and this call found
     * nothing left to close).
     */
    private void closedWhenQuiet(String id) {
        engine.closeQuiet();
        assertThat(cluster(id).getString("status")).as("cluster %s, quiet", id).isEqualTo("closed");
    }

    private static List<String> edgeKeys(JsonPath cluster) {
        List<String> keys = new ArrayList<>();
        int n = cluster.getList("edges").size();
        for (int i = 0; i < n; i++) {
            keys.add(cluster.getString("edges[" + i + "].from") + ">" + cluster.getString("edges[" + i + "].to")
                    + ":" + cluster.getString("edges[" + i + "].kind"));
        }
        return keys;
    }

    /** Outages at OpenAI, Anthropic and Gemini starting 0, 40 and 90 s after t0, three calls each. */
    private static List<Payloads> threeProviderOutage(Instant t0, String oa, String an, String ge) {
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            calls.add(outage("openai", "gpt-4o-mini", oa, t0.plusSeconds(i * 5)));
            calls.add(outage("anthropic", "claude-3-5-haiku", an, t0.plusSeconds(40 + i * 5)));
            calls.add(outage("gemini", "gemini-2.0-flash", ge, t0.plusSeconds(90 + i * 5)));
        }
        return calls;
    }
}
