package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/**
 * The function calls a deployment answers with: the scripted ones, or, when the request makes a call mandatory and
 * none is scripted, one call of the function it names (else its first) with the smallest arguments its schema
 * accepts, as a real model under a forced tool choice would. Reads the request as each provider's API words it.
 */
final class ToolAnswers {

    private ToolAnswers() {
    }

    static List<FunctionCall> calls(JsonNode request, Script script) {
        if (!script.toolCalls().isEmpty()) {
            return script.toolCalls();
        }
        String forced = forcedFunction(request);
        if (forced == null) {
            return List.of();
        }
        for (JsonNode function : functions(request)) {
            if (forced.isEmpty() || forced.equals(function.path("name").asText())) {
                JsonNode schema = parameters(function);
                return List.of(new FunctionCall(function.path("name").asText(),
                        Json.write(schema == null ? Json.object() : JsonAnswers.instance(schema, 0))));
            }
        }
        return List.of();
    }

    /** The text the output tokens are counted from: the calls' arguments, or the answer. */
    static String output(List<FunctionCall> calls, String answer) {
        if (calls.isEmpty()) {
            return answer;
        }
        StringBuilder out = new StringBuilder();
        calls.forEach(call -> out.append(call.name()).append(call.arguments()));
        return out.toString();
    }

    /**
     * The function a forced tool choice names, "" when any function must be called, null when the model may answer
     * in text: OpenAI {@code tool_choice}, Anthropic {@code tool_choice}, Gemini
     * {@code toolConfig.functionCallingConfig}.
     */
    private static String forcedFunction(JsonNode request) {
        // OpenAI's deprecated function_call names the function as tool_choice does; it has no "required".
        JsonNode legacy = request.path("function_call");
        if (!request.has("tool_choice") && legacy.path("name").isTextual()) {
            return legacy.get("name").textValue();
        }
        JsonNode choice = request.path("tool_choice");
        if (choice.isTextual()) {
            return "required".equals(choice.textValue()) ? "" : null;
        }
        if (choice.isObject()) {
            String type = choice.path("type").asText("");
            if ("function".equals(type)) {
                // Chat names it under function, the Responses API beside the type.
                return choice.path("function").path("name").asText(choice.path("name").asText(""));
            }
            if ("tool".equals(type)) {
                return choice.path("name").asText("");
            }
            return "any".equals(type) ? "" : null;
        }
        JsonNode config = request.path("toolConfig").path("functionCallingConfig");
        if ("ANY".equals(config.path("mode").asText())) {
            JsonNode names = config.has("allowedFunctionNames") ? config.get("allowedFunctionNames")
                    : config.path("allowed_function_names");
            return names.isArray() && names.size() == 1 ? names.get(0).asText() : "";
        }
        return null;
    }

    /**
     * The request's functions: OpenAI's {@code tools[].function} (or its deprecated {@code functions[]}),
     * Anthropic's {@code tools[]}, Gemini's {@code tools[].functionDeclarations[]}.
     */
    private static List<JsonNode> functions(JsonNode request) {
        List<JsonNode> out = new ArrayList<>();
        request.path("functions").forEach(out::add);
        for (JsonNode tool : request.path("tools")) {
            if (tool.path("function").isObject()) {
                out.add(tool.get("function"));
            } else if (tool.has("name")) {
                out.add(tool);
            }
            JsonNode declarations = tool.has("functionDeclarations") ? tool.get("functionDeclarations")
                    : tool.path("function_declarations");
            declarations.forEach(out::add);
        }
        return out;
    }

    private static JsonNode parameters(JsonNode function) {
        for (String key : List.of("parameters", "input_schema", "parametersJsonSchema", "parameters_json_schema")) {
            if (function.path(key).isObject()) {
                return function.get(key);
            }
        }
        return null;
    }
}
