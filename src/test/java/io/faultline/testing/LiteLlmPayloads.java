package io.faultline.testing;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.UUID;

/**
 * Payloads recorded from LiteLLM 1.108.5 itself (src/test/resources/litellm-payloads, made by running the proxy's
 * failure path with the plugin's event builder; see the README there), given fresh ids, times and scope.
 */
public final class LiteLlmPayloads {

    private LiteLlmPayloads() {
    }

    /** The recorded payload as LiteLLM and the plugin sent it. */
    public static ObjectNode recorded(String name) {
        try (InputStream in = LiteLlmPayloads.class.getResourceAsStream("/litellm-payloads/" + name + ".json")) {
            if (in == null) {
                throw new IllegalStateException("no recorded payload " + name);
            }
            return (ObjectNode) Payloads.JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** LiteLLM refusing a team's call because the team's LiteLLM budget ran out, at {@code at}. */
    public static ObjectNode teamBudgetRefusal(String team, Instant at) {
        ObjectNode p = recorded("budget_refusal_team");
        String id = UUID.randomUUID().toString();
        p.put("id", id);
        p.put("litellm_call_id", id);
        p.put("trace_id", UUID.randomUUID().toString());
        double seconds = at.toEpochMilli() / 1000.0;
        p.put("startTime", seconds);
        p.put("endTime", seconds + 0.004);
        p.put("completionStartTime", seconds + 0.004);
        p.put("response_time", 0.004);
        ((ObjectNode) p.get("metadata")).put("user_api_key_team_id", team);
        String message = "Budget has been exceeded! Team=" + team + " Current cost: 1.5, Max budget: 1.0";
        p.put("error_str", message);
        ObjectNode error = (ObjectNode) p.get("error_information");
        error.put("error_message", message);
        error.put("error_budget_entity_id", team);
        return p;
    }
}
