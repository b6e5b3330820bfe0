package io.faultline.common;

import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every bounded in-memory map is published as {@code faultline_memory_entries{map}} beside its cap, and the gauge
 * follows the map: a caller flooding one-off deployments under one key fills the per-deployment maps up to the
 * per-key cap (faultline.token-spike.max-keys-per-api-key, 200) and no further, which the gauges show.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
class BoundedStateMetricsTest {

    private static final List<String> MAPS = List.of("baseline.runs", "content.json-schemas", "content.tool-schemas",
            "correlate.base-rates", "cost.batches", "cost.batches.unexpected", "cost.budget-ledgers",
            "cost.token-histories",
            "cost.usage-windows.deployments", "cost.usage-windows.keys", "cost.usage-windows.models",
            "data.embedding-references", "detect.deployment-headroom", "detect.provider-meters",
            "episode.deployments-touched", "episode.waiting", "metrics.label-values", "predict.window-calls",
            "predict.window-deployments", "signals.retrieval-windows");

    @Inject
    BoundedStateMetrics metrics;

    @Test
    void every_bounded_map_is_a_gauge_that_stops_at_its_cap() {
        assertThat(metrics.names()).containsExactlyElementsOf(MAPS);
        String before = Metrics.scrape();
        for (String map : MAPS) {
            assertThat(Metrics.value(before, "faultline_memory_entries", "map", map)).as(map).isGreaterThanOrEqualTo(0);
        }
        double histories = Metrics.value(before, "faultline_memory_entries", "map", "cost.token-histories");
        double cap = Metrics.value(before, "faultline_memory_capacity", "map", "cost.token-histories");
        assertThat(cap).isEqualTo(1000);

        // 600 one-off deployments from one key: the key's 200 most recent stay, the rest are evicted.
        String key = UUID.randomUUID().toString().replace("-", "");
        Instant at = Instant.now();
        List<Payloads> flood = new ArrayList<>();
        for (int i = 0; i < 600; i++) {
            Payloads p = Payloads.success("openai", "gpt-4o-mini", "oneoff-" + key + "-" + i, at).tokens(100, 20, 0, 0);
            ((com.fasterxml.jackson.databind.node.ObjectNode) p.node().get("metadata")).put("user_api_key_hash", key);
            flood.add(p);
        }
        Api.ingest(Payloads.array(flood.toArray(Payloads[]::new))).statusCode(200);

        String after = Metrics.scrape();
        double grown = Metrics.value(after, "faultline_memory_entries", "map", "cost.token-histories") - histories;
        assertThat(grown).isBetween(1.0, 200.0);
        for (String map : MAPS) {
            double capacity = Metrics.value(after, "faultline_memory_capacity", "map", map);
            if (!Double.isNaN(capacity)) {
                assertThat(Metrics.value(after, "faultline_memory_entries", "map", map)).as(map)
                        .isLessThanOrEqualTo(capacity);
            }
        }
    }
}
