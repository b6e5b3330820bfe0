package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Iterator;
import java.util.Map;

/**
 * What an unscripted deployment answers when the request asks for JSON, as a real model in JSON mode would: a
 * minimal instance of the requested schema, or a small object. Scripted content is always answered as scripted, so
 * tests can still script broken JSON.
 */
final class JsonAnswers {

    private JsonAnswers() {
    }

    /** The answer for {@code scripted} content: itself, unless it is the default and the request asks for JSON. */
    static String answer(JsonNode request, String scripted) {
        if (!Script.DEFAULT_CONTENT.equals(scripted)) {
            return scripted;
        }
        JsonNode schema = requestedSchema(request);
        if (schema != null) {
            return Json.write(instance(schema, 0));
        }
        return wantsJson(request) ? Json.write(Json.object().put("answer", scripted)) : scripted;
    }

    /**
     * OpenAI {@code response_format.json_schema.schema} (its Responses API: {@code text.format.schema}), Gemini
     * {@code generationConfig.responseSchema}.
     */
    private static JsonNode requestedSchema(JsonNode request) {
        JsonNode openai = request.path("response_format").path("json_schema").path("schema");
        if (openai.isObject()) {
            return openai;
        }
        JsonNode responses = request.path("text").path("format").path("schema");
        if (responses.isObject()) {
            return responses;
        }
        JsonNode gemini = request.path("generationConfig").path("responseSchema");
        return gemini.isObject() ? gemini : null;
    }

    /** JSON mode of any of the three APIs, or instructions that ask for JSON (what Anthropic gets for json_object). */
    private static boolean wantsJson(JsonNode request) {
        if (request.path("response_format").path("type").asText("").startsWith("json")
                || request.path("text").path("format").path("type").asText("").startsWith("json")
                || "application/json".equals(request.path("generationConfig").path("responseMimeType").asText())) {
            return true;
        }
        // The instruction may sit in the system prompt: OpenAI's system message, Anthropic's `system`, Gemini's
        // `systemInstruction` (and Gemini's turns are `contents`).
        return (request.path("messages").toString() + request.path("system") + request.path("systemInstruction")
                + request.path("contents")).contains("JSON");
    }

    /** The smallest value the schema accepts, for the keywords structured-output schemas use. */
    static JsonNode instance(JsonNode schema, int depth) {
        if (schema.has("enum") && schema.get("enum").isArray() && !schema.get("enum").isEmpty()) {
            return schema.get("enum").get(0);
        }
        if (schema.has("const")) {
            return schema.get("const");
        }
        String type = schema.path("type").isArray() ? schema.path("type").path(0).asText()
                : schema.path("type").asText(schema.has("properties") ? "object" : "string");
        switch (type.toLowerCase(java.util.Locale.ROOT)) {
            case "object" -> {
                ObjectNode out = Json.object();
                JsonNode properties = schema.path("properties");
                JsonNode required = schema.path("required");
                if (depth < 8 && properties.isObject()) {
                    Iterator<Map.Entry<String, JsonNode>> fields = properties.fields();
                    while (fields.hasNext()) {
                        Map.Entry<String, JsonNode> field = fields.next();
                        boolean needed = !required.isArray() || required.toString().contains(
                                "\"" + field.getKey() + "\"");
                        if (needed) {
                            out.set(field.getKey(), instance(field.getValue(), depth + 1));
                        }
                    }
                }
                return out;
            }
            case "array" -> {
                ArrayNode out = Json.object().arrayNode();
                for (int i = 0; i < schema.path("minItems").asInt(0) && depth < 8; i++) {
                    out.add(instance(schema.path("items"), depth + 1));
                }
                return out;
            }
            case "integer" -> {
                return Json.object().numberNode(schema.path("minimum").asLong(0));
            }
            case "number" -> {
                return Json.object().numberNode(schema.path("minimum").asDouble(0));
            }
            case "boolean" -> {
                return Json.object().booleanNode(false);
            }
            case "null" -> {
                return Json.object().nullNode();
            }
            default -> {
                return Json.object().textNode("sample");
            }
        }
    }
}
