package io.faultline.cost;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.restassured.path.json.JsonPath;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.hamcrest.Matchers.equalTo;

/** A realistic cost stream: successful calls of one team, one per minute, each ending half a second after start. */
final class CostCalls {

    static final Duration LATENCY = Duration.ofMillis(500);

    private CostCalls() {
    }

    static Payloads call(String team, double cost, Instant start) {
        Payloads p = Payloads.success("openai", "gpt-4o-mini", "dep-cost", start).latency(0.5)
                .set("response_cost", cost);
        ((ObjectNode) p.node().get("metadata")).put("user_api_key_team_id", team);
        return p;
    }

    static Payloads batchCall(String team, Map<String, Object> requesterMetadata, double cost, Instant start) {
        return call(team, cost, start).metadata(requesterMetadata);
    }

    /** Ingests {@code count} calls of {@code cost}, one a minute from {@code start}; returns the end of the last. */
    static Instant ingest(int count, Instant start, java.util.function.Function<Instant, Payloads> call) {
        List<Payloads> calls = new ArrayList<>();
        Instant at = start;
        for (int i = 0; i < count; i++) {
            calls.add(call.apply(at));
            at = at.plus(Duration.ofMinutes(1));
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200).body("accepted", equalTo(count));
        return at.minus(Duration.ofMinutes(1)).plus(LATENCY);
    }

    static JsonPath failures(String deployment) {
        return Api.failures("deployment=" + deployment).statusCode(200).extract().jsonPath();
    }
}
