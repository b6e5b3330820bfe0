package io.faultline.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.POJONode;
import com.fasterxml.jackson.databind.util.RawValue;

import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Writes a JSON tree the way a hostile client may: surrogates (lone ones included) as {@code \\uXXXX} escapes, raw
 * number literals that no Java number holds ({@code 1e999999}), and duplicate keys, none of which Jackson's own
 * writer produces.
 */
final class JsonText {

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private JsonText() {
    }

    static String write(JsonNode node, IdentityHashMap<JsonNode, List<Map.Entry<String, JsonNode>>> duplicates) {
        StringBuilder out = new StringBuilder(256);
        write(node, out, duplicates);
        return out.toString();
    }

    private static void write(JsonNode node, StringBuilder out,
            IdentityHashMap<JsonNode, List<Map.Entry<String, JsonNode>>> duplicates) {
        if (node.isObject()) {
            out.append('{');
            boolean first = true;
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> field = it.next();
                first = member(out, first, field.getKey(), field.getValue(), duplicates);
            }
            for (Map.Entry<String, JsonNode> extra : duplicates.getOrDefault(node, List.of())) {
                first = member(out, first, extra.getKey(), extra.getValue(), duplicates);
            }
            out.append('}');
        } else if (node.isArray()) {
            out.append('[');
            for (int i = 0; i < node.size(); i++) {
                if (i > 0) {
                    out.append(',');
                }
                write(node.get(i), out, duplicates);
            }
            out.append(']');
        } else if (node.isTextual()) {
            string(node.textValue(), out);
        } else if (node instanceof POJONode pojo && pojo.getPojo() instanceof RawValue raw) {
            out.append(raw.rawValue());
        } else {
            out.append(node.toString());
        }
    }

    private static boolean member(StringBuilder out, boolean first, String key, JsonNode value,
            IdentityHashMap<JsonNode, List<Map.Entry<String, JsonNode>>> duplicates) {
        if (!first) {
            out.append(',');
        }
        string(key, out);
        out.append(':');
        write(value, out, duplicates);
        return false;
    }

    static void string(String text, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20 || Character.isSurrogate(c)) {
                out.append("\\u").append(HEX[c >> 12 & 15]).append(HEX[c >> 8 & 15]).append(HEX[c >> 4 & 15])
                        .append(HEX[c & 15]);
            } else {
                out.append(c);
            }
        }
        out.append('"');
    }
}
