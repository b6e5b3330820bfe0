package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Rough token arithmetic (about four characters a token) and the splitting of answers into stream deltas. */
final class Tokens {

    static final int DEFAULT_THINKING_TOKENS = 64;
    private static final int DELTA_CHARS = 12;

    private Tokens() {
    }

    static int of(String text) {
        return Math.max(1, (text.length() + 3) / 4);
    }

    /** Counts every string in the request except the model name, so prompts, system text and tools all weigh in. */
    static int prompt(JsonNode request) {
        return Math.max(1, (int) ((textChars(request) + 3) / 4));
    }

    static List<String> deltas(String text) {
        List<String> deltas = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String word : text.split("(?<= )")) {
            current.append(word);
            if (current.length() >= DELTA_CHARS) {
                deltas.add(current.toString());
                current.setLength(0);
            }
        }
        if (current.length() > 0 || deltas.isEmpty()) {
            deltas.add(current.toString());
        }
        return deltas;
    }

    private static long textChars(JsonNode node) {
        if (node.isTextual()) {
            return node.textValue().length();
        }
        long chars = 0;
        if (node.isObject()) {
            for (Map.Entry<String, JsonNode> field : node.properties()) {
                if (!field.getKey().equals("model")) {
                    chars += textChars(field.getValue());
                }
            }
        } else if (node.isArray()) {
            for (JsonNode item : node) {
                chars += textChars(item);
            }
        }
        return chars;
    }
}
