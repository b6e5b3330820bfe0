package io.faultline.baseline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The versioned request mix of a baseline profile ({@code baseline/workload-v1.json}): short Q&A, long-context
 * summarisation, JSON-mode extraction, multilingual, a near-context-limit prompt, streamed and not.
 */
public final class Workload {

    public static final String RESOURCE = "baseline/workload-v1.json";

    /** One request of the mix. */
    public record Item(String kind, boolean stream, ObjectNode body) {
    }

    private final List<Item> slots;
    private final String version;

    private Workload(List<Item> slots, String version) {
        this.slots = slots;
        this.version = version;
    }

    public static Workload load(ObjectMapper json, int contextTokens) {
        try (InputStream in = Workload.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the build");
            }
            JsonNode root = json.readTree(in);
            List<Item> slots = new ArrayList<>(100);
            for (JsonNode item : root.path("items")) {
                Item built = build(json, item, contextTokens);
                for (int i = 0; i < item.path("weight").asInt(1); i++) {
                    slots.add(built);
                }
            }
            return new Workload(slots, "v" + root.path("version").asInt());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Item build(ObjectMapper json, JsonNode item, int contextTokens) {
        String context = item.path("context").asText("");
        if (item.has("context_repeat")) {
            context = context.repeat(item.get("context_repeat").asInt());
        } else if (item.has("context_fraction") && !context.isEmpty()) {
            // About four characters per token: fill the fraction of the window the workload asks for.
            int chars = (int) (contextTokens * item.get("context_fraction").asDouble() * 4);
            context = context.repeat(Math.max(1, chars / context.length()));
        }
        ObjectNode body = json.createObjectNode();
        body.put("max_tokens", item.path("max_tokens").asInt(64));
        boolean stream = item.path("stream").asBoolean(false);
        body.put("stream", stream);
        if (stream) {
            body.putObject("stream_options").put("include_usage", true);
        }
        if (item.has("response_format")) {
            body.set("response_format", item.get("response_format"));
        }
        ArrayNode messages = body.putArray("messages");
        for (JsonNode m : item.path("messages")) {
            messages.addObject().put("role", m.path("role").asText())
                    .put("content", m.path("content").asText().replace("{context}", context));
        }
        return new Item(item.path("kind").asText(), stream, body);
    }

    /** The request for the n-th call of a run: the mix repeats every 100 calls, interleaved by weight. */
    public Item item(int n) {
        // A stride coprime with 100 spreads each kind over the run instead of sending it in one block.
        return slots.get((int) ((n * 37L) % slots.size()));
    }

    public String version() {
        return version;
    }
}
