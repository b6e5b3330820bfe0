package io.faultline.impact;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A replayed OpenAI outage of 4 requests through the ingest API: 2 answered by a pricier Anthropic fallback (one of
 * which breaks the asked-for JSON), 1 failed on both providers, 1 without fallback; the model group saw 996 good
 * requests in the two hours before and the fallback 10 good answers in the hour before.
 */
public final class ImpactTestData {

    // Prices per token as LiteLLM's model map gives them in each payload.
    static final double OA_IN = 1e-6;
    static final double OA_OUT = 2e-6;
    static final double AN_IN = 3e-6;
    static final double AN_OUT = 15e-6;

    private ImpactTestData() {
    }

    public record Incident(String suffix, String group, String primary, String fallback, Instant t0) {
    }

    /** The replay; see the class comment. The group saw 996 good requests in the 100 minutes before (within the test profile's 2 h rollup backfill). */
    public static Incident replay(Instant t0) {
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        String group = "imp-grp-" + suffix;
        String fbGroup = "imp-fb-" + suffix;
        String primary = "imp-oa-" + suffix;
        String fallback = "imp-an-" + suffix;
        List<Payloads> history = new ArrayList<>();
        for (int i = 0; i < 996; i++) {
            history.add(priced(Payloads.success("openai", group, primary, t0.minus(Duration.ofSeconds(6L * (i + 2)))),
                    OA_IN, OA_OUT));
        }
        for (int i = 0; i < 10; i++) {
            history.add(priced(Payloads.success("anthropic", fbGroup, fallback, t0.minusSeconds(3000 - i * 60L)),
                    AN_IN, AN_OUT));
        }
        for (int from = 0; from < history.size(); from += 500) {
            Api.ingest(Payloads.array(history.subList(from, Math.min(history.size(), from + 500))
                    .toArray(Payloads[]::new))).statusCode(200);
        }
        Map<String, Object> json = Map.of("response_format", Map.of("type", "json_object"));
        List<Payloads> calls = new ArrayList<>();
        String[] users = { "u1", "u2", "u1", "u3" };
        for (int r = 0; r < 4; r++) {
            String call = "imp-req-" + r + "-" + suffix;
            String trace = UUID.randomUUID().toString();
            Instant at = t0.plusSeconds(r * 20L);
            calls.add(request(priced(Payloads.failure("openai", group, primary, at, 503, "ServiceUnavailableError",
                    "Service Unavailable"), OA_IN, OA_OUT), call, trace, users[r])
                    .set("model_parameters", json));
            if (r < 2) {
                calls.add(request(priced(Payloads.success("anthropic", fbGroup, fallback, at.plusSeconds(2))
                        .tokens(100, 50, 0, 0).set("response_cost", 100 * AN_IN + 50 * AN_OUT), AN_IN, AN_OUT),
                        call, trace, users[r]).set("model_parameters", json)
                        .answer(r == 0 ? "{\"city\": \"Paris\"}" : "Sure! The city is Paris.", "stop"));
            } else if (r == 2) {
                calls.add(request(priced(Payloads.failure("anthropic", fbGroup, fallback, at.plusSeconds(2), 529,
                        "InternalServerError", "Overloaded"), AN_IN, AN_OUT), call, trace, users[r]));
            }
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        return new Incident(suffix, group, primary, fallback, t0);
    }

    static Payloads priced(Payloads p, double in, double out) {
        return p.set("model_map_information", Map.of("model_map_key", "m", "model_map_value",
                Map.of("input_cost_per_token", in, "output_cost_per_token", out)));
    }

    static Payloads request(Payloads p, String callId, String trace, String user) {
        return p.set("litellm_call_id", callId).set("id", "chatcmpl-" + callId + "-" + UUID.randomUUID())
                .set("trace_id", trace).user(user);
    }

}
