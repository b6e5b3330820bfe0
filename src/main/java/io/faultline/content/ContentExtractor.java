package io.faultline.content;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.faultline.content.CallContent.Message;
import io.faultline.content.CallContent.ResponseFormat;
import io.faultline.content.CallContent.Tool;
import io.faultline.content.CallContent.ToolCall;
import io.faultline.content.CallContent.ToolUse;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Reads the request messages, the answer and the requested output format out of a {@code StandardLoggingPayload}
 * ({@code messages}, {@code response}, {@code model_parameters.response_format}, {@code metadata.requester_metadata})
 * into a bounded {@link CallContent}. Nothing here is stored; unexpected shapes yield less content, never an error,
 * because content is an input to detectors and not part of the payload's contract.
 */
public final class ContentExtractor {

    /**
     * Keys of {@code requester_metadata} that carry grounding documents, in the order they are read (the character
     * budget keeps the first ones). They are content and never stored.
     */
    public static final List<String> GROUNDING_KEYS = List.of("context", "documents", "grounding",
            "retrieved_context");
    /** Keys of {@code requester_metadata} that name the language the answer must be in. */
    public static final List<String> LANGUAGE_KEYS = List.of("language", "expected_language", "response_language");

    /**
     * Vectors read per embedding call: enough to follow the distribution, bounded for memory. The LiteLLM plugin
     * sends only the first these of a call's vectors whole (faultline_callback.py, _KEPT_VECTORS).
     */
    public static final int MAX_VECTORS = 16;
    public static final int MAX_DIMENSIONS = 4096;
    /** Function tools read per request: OpenAI's own limit. */
    public static final int MAX_TOOLS = 128;
    /** Function calls read per answer; an answer with more is not judged. */
    public static final int MAX_TOOL_CALLS = 64;

    private final int maxRequestChars;
    private final int maxAnswerChars;

    public ContentExtractor(int maxRequestChars, int maxAnswerChars) {
        this.maxRequestChars = maxRequestChars;
        this.maxAnswerChars = maxAnswerChars;
    }

    public CallContent extract(JsonNode payload) {
        Budget budget = new Budget(maxRequestChars);
        List<Message> messages = messages(payload.get("messages"), budget);
        JsonNode instructions = payload.path("model_parameters").path("instructions");
        if (instructions.isTextual() && !instructions.textValue().isEmpty()) {
            // The Responses API's system prompt: LiteLLM logs it among the parameters, not the messages.
            List<Message> withSystem = new ArrayList<>(messages.size() + 1);
            withSystem.add(new Message("system", budget.take(instructions.textValue())));
            withSystem.addAll(messages);
            messages = withSystem;
        }
        String answer = answer(payload.get("response"));
        boolean truncated = budget.truncated;
        if (answer != null && answer.length() > maxAnswerChars) {
            answer = answer.substring(0, maxAnswerChars);
            truncated = true;
        }
        JsonNode requester = payload.path("metadata").path("requester_metadata");
        List<String> grounding = grounding(requester, budget);
        return new CallContent(messages, answer, responseFormat(payload.path("model_parameters")),
                language(requester), grounding, truncated || budget.truncated, embeddings(payload.get("response")),
                answer == null && refused(payload.get("response")),
                tools(payload.path("model_parameters"), payload.get("response"), maxAnswerChars));
    }

    /**
     * The function tools offered ({@code tools}: chat's {@code {type: function, function: {name, parameters,
     * strict}}}, or the flat form of the Responses and Messages APIs with {@code parameters} or
     * {@code input_schema}; or the legacy {@code functions}), the {@code tool_choice} (or the legacy
     * {@code function_call}), and the first choice's {@code message.tool_calls} (or the legacy
     * {@code function_call}). Arguments are read up to {@code maxArgumentChars} in all; past that, or past
     * {@link #MAX_TOOL_CALLS} calls, the calls are marked unread.
     */
    static ToolUse tools(JsonNode parameters, JsonNode response, int maxArgumentChars) {
        List<Tool> declared = new ArrayList<>();
        boolean responses = response != null && isResponsesApi(response);
        JsonNode offered = parameters.path("tools");
        JsonNode choiceNode = parameters.path("tool_choice");
        if (!offered.isArray() && parameters.path("functions").isArray()) {
            // The deprecated functions and function_call, which OpenAI still answers (with message.function_call):
            // a function is a tool, and function_call's none, auto or {name} is the tool choice.
            offered = parameters.get("functions");
            choiceNode = parameters.path("function_call");
        }
        // LiteLLM turns web_search_options into the provider's own search tool, which it does not log among the
        // tools but logs the calls of (Anthropic's server_tool_use blocks are tool_calls named web_search).
        boolean exhaustive = offered.isArray() && !offered.isEmpty() && offered.size() <= MAX_TOOLS
                && !parameters.hasNonNull("web_search_options");
        for (JsonNode tool : offered.isArray() ? offered : List.<JsonNode>of()) {
            JsonNode function = tool.path("function").isObject() ? tool.get("function") : tool;
            String type = tool.path("type").asText("function");
            // Anthropic's client tools may say "custom"; OpenAI's custom tools take free text, not JSON arguments.
            boolean json = "function".equals(type) || "custom".equals(type) && tool.path("input_schema").isObject();
            if (!json || !function.path("name").isTextual()) {
                // A built-in tool (web search, code interpreter, MCP) or a free-text one: not checked as JSON.
                exhaustive = false;
                continue;
            }
            if (declared.size() < MAX_TOOLS) {
                JsonNode schema = function.path("parameters").isObject() ? function.get("parameters")
                        : function.path("input_schema").isObject() ? function.get("input_schema") : null;
                // The Responses API's function tools are strict unless they say otherwise; chat's are not.
                boolean strict = function.path("strict").isBoolean() ? function.get("strict").booleanValue()
                        : responses && function == tool && "function".equals(type);
                declared.add(new Tool(function.get("name").textValue(), schema, strict));
            }
        }
        String choice = "auto";
        String chosen = null;
        Set<String> allowed = null;
        if (choiceNode.isObject() && "allowed_tools".equals(choiceNode.path("type").asText())) {
            // OpenAI's allowed_tools: {mode, tools} (Responses), or the same under "allowed_tools" (chat). The model
            // may call only these; "required" makes a call of one of them mandatory.
            JsonNode spec = choiceNode.path("allowed_tools").isObject() ? choiceNode.get("allowed_tools") : choiceNode;
            choice = "required".equals(spec.path("mode").asText()) ? "required" : "auto";
            allowed = allowedFunctions(spec.path("tools"));
        } else if (choiceNode.isTextual()) {
            // OpenAI's none / auto / required; Anthropic's any is required.
            String text = choiceNode.textValue();
            choice = "any".equals(text) ? "required" : text;
        } else if (choiceNode.isObject()) {
            String type = choiceNode.path("type").asText("");
            JsonNode named = choiceNode.path("function").path("name").isTextual()
                    ? choiceNode.get("function").get("name") : choiceNode.path("name");
            // A choice naming an MCP, custom or built-in tool ({type: mcp, server_label, name}) names no function:
            // the provider calls it itself or answers no tool_calls for it, so no function call is owed.
            boolean function = type.isEmpty() || "function".equals(type) || "tool".equals(type);
            if (named.isTextual() && function) {
                choice = "function";
                chosen = named.textValue();
            } else if ("any".equals(type) || "required".equals(type)) {
                choice = "required";
            } else if ("none".equals(type)) {
                choice = "none";
            }
        }
        List<ToolCall> calls = new ArrayList<>();
        boolean unread = false;
        JsonNode message = response == null ? null : response.path("choices").path(0).path("message");
        JsonNode made = message == null ? null : message.path("tool_calls");
        if (message != null && (made == null || !made.isArray()) && message.path("function_call").isObject()) {
            made = JsonNodeFactory.instance.arrayNode().add(JsonNodeFactory.instance.objectNode()
                    .set("function", message.get("function_call")));
        }
        if (response != null && isResponsesApi(response)) {
            // The Responses API's function_call output items, as chat's tool calls.
            made = JsonNodeFactory.instance.arrayNode();
            for (JsonNode item : response.get("output")) {
                if ("function_call".equals(item.path("type").asText())) {
                    ((com.fasterxml.jackson.databind.node.ArrayNode) made).add(
                            JsonNodeFactory.instance.objectNode().set("function", item));
                }
            }
        }
        long chars = 0;
        for (JsonNode call : made != null && made.isArray() ? made : List.<JsonNode>of()) {
            JsonNode function = call.path("function");
            if (!function.isObject()) {
                continue;
            }
            JsonNode arguments = function.path("arguments");
            String text = arguments.isTextual() ? arguments.textValue()
                    : arguments.isMissingNode() || arguments.isNull() ? "" : arguments.toString();
            chars += text.length();
            if (calls.size() == MAX_TOOL_CALLS || chars > maxArgumentChars) {
                unread = true;
                break;
            }
            calls.add(new ToolCall(function.path("name").asText(""), text));
        }
        if (declared.isEmpty() && calls.isEmpty()) {
            return ToolUse.NONE;
        }
        return new ToolUse(declared, exhaustive, choice, chosen, allowed, calls, unread);
    }

    /**
     * The function names an {@code allowed_tools} choice lists ({@code {type: function, name}}, or chat's
     * {@code {type: function, function: {name}}}); null when it lists none, too many, or a tool that is not a
     * function (a built-in or MCP tool the model may call instead, which no function call check can see).
     */
    private static Set<String> allowedFunctions(JsonNode listed) {
        if (!listed.isArray() || listed.isEmpty() || listed.size() > MAX_TOOLS) {
            return null;
        }
        Set<String> names = new HashSet<>();
        for (JsonNode tool : listed) {
            JsonNode name = tool.path("function").path("name").isTextual() ? tool.get("function").get("name")
                    : tool.path("name");
            if (!"function".equals(tool.path("type").asText("function")) || !name.isTextual()) {
                return null;
            }
            names.add(name.textValue());
        }
        return names;
    }

    /**
     * Whether the first choice is a refusal: OpenAI's {@code message.refusal} holds text (it is null otherwise); in
     * the Responses API, a message's {@code refusal} part.
     */
    static boolean refused(JsonNode response) {
        if (response != null && isResponsesApi(response)) {
            for (JsonNode item : response.get("output")) {
                for (JsonNode part : "message".equals(item.path("type").asText()) ? item.path("content")
                        : List.<JsonNode>of()) {
                    if ("refusal".equals(part.path("type").asText()) && part.path("refusal").isTextual()
                            && !part.get("refusal").textValue().isBlank()) {
                        return true;
                    }
                }
            }
            return false;
        }
        JsonNode refusal = response == null ? null : response.path("choices").path(0).path("message").get("refusal");
        return refusal != null && refusal.isTextual() && !refusal.textValue().isBlank();
    }

    /** An answer of OpenAI's Responses API ({@code object: response} with {@code output} items). */
    static boolean isResponsesApi(JsonNode response) {
        return response.isObject() && response.path("output").isArray()
                && "response".equals(response.path("object").asText());
    }

    /**
     * Vectors an embedding call returned, at most {@link #MAX_VECTORS} of at most {@link #MAX_DIMENSIONS} finite
     * floats.
     */
    static List<float[]> embeddings(JsonNode response) {
        JsonNode data = response == null ? null : response.get("data");
        if (data == null || !data.isArray() || data.isEmpty()) {
            return List.of();
        }
        List<float[]> out = new ArrayList<>();
        for (JsonNode item : data) {
            JsonNode vector = item.get("embedding");
            if (vector == null || !vector.isArray() || vector.isEmpty() || vector.size() > MAX_DIMENSIONS) {
                continue;
            }
            float[] values = new float[vector.size()];
            for (int i = 0; i < values.length; i++) {
                JsonNode value = vector.get(i);
                // 1e39 is a finite JSON number but an infinite float: one such component made the space's mean
                // infinite and every later distance NaN, which never exceeds a threshold (the signals API refuses it).
                if (!value.isNumber() || !Float.isFinite(value.floatValue())) {
                    values = null;
                    break;
                }
                values[i] = value.floatValue();
            }
            if (values != null) {
                out.add(values);
            }
            if (out.size() == MAX_VECTORS) {
                break;
            }
        }
        return out;
    }

    private static List<Message> messages(JsonNode node, Budget budget) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (node.isTextual()) {
            // Text-completion calls log the prompt as a plain string.
            return List.of(new Message("user", budget.take(node.textValue())));
        }
        if (!node.isArray()) {
            return List.of();
        }
        List<Message> out = new ArrayList<>(node.size());
        for (JsonNode message : node) {
            if (!message.isObject()) {
                continue;
            }
            String role = message.path("role").isTextual()
                    ? message.get("role").textValue().toLowerCase(Locale.ROOT) : "user";
            String text = text(message.get("content"));
            out.add(new Message(role, budget.take(text)));
        }
        return out;
    }

    /** A message's content: a string, or the text parts of a list of parts (images and audio are skipped). */
    static String text(JsonNode content) {
        if (content == null || content.isNull()) {
            return "";
        }
        if (content.isTextual()) {
            return content.textValue();
        }
        if (content.isArray()) {
            StringBuilder out = new StringBuilder();
            for (JsonNode part : content) {
                String text = part.isTextual() ? part.textValue()
                        : part.path("text").isTextual() ? part.get("text").textValue() : null;
                if (text != null) {
                    if (!out.isEmpty()) {
                        out.append('\n');
                    }
                    out.append(text);
                }
            }
            return out.toString();
        }
        return "";
    }

    /** The first choice's text: chat {@code message.content}, or text-completion {@code text}. */
    static String answer(JsonNode response) {
        if (response == null || response.isNull()) {
            return null;
        }
        if (response.isTextual()) {
            return response.textValue().isEmpty() ? null : response.textValue();
        }
        if (isResponsesApi(response)) {
            // The output text of every message item, in order (reasoning and tool items carry none).
            StringBuilder out = new StringBuilder();
            for (JsonNode item : response.get("output")) {
                for (JsonNode part : "message".equals(item.path("type").asText()) ? item.path("content")
                        : List.<JsonNode>of()) {
                    if ("output_text".equals(part.path("type").asText()) && part.path("text").isTextual()) {
                        if (!out.isEmpty()) {
                            out.append('\n');
                        }
                        out.append(part.get("text").textValue());
                    }
                }
            }
            return out.isEmpty() ? null : out.toString();
        }
        JsonNode choices = response.path("choices");
        if (!choices.isArray() || choices.isEmpty()) {
            return null;
        }
        JsonNode first = choices.get(0);
        JsonNode content = first.path("message").get("content");
        String text = content != null ? text(content) : first.path("text").asText("");
        return text.isEmpty() ? null : text;
    }

    /**
     * Chat's {@code response_format} ({@code {type, json_schema: {name, schema, strict}}}), or the Responses API's
     * {@code text.format}, which holds the same fields flat.
     */
    static ResponseFormat responseFormat(JsonNode parameters) {
        JsonNode format = parameters.path("response_format");
        JsonNode flat = parameters.path("text").path("format");
        if (!format.isObject() && flat.isObject() && flat.path("type").isTextual()) {
            JsonNode schema = flat.get("schema");
            return new ResponseFormat(flat.get("type").textValue(),
                    flat.path("name").isTextual() ? flat.get("name").textValue() : null,
                    schema != null && schema.isObject() ? schema : null, flat.path("strict").asBoolean(false));
        }
        if (!format.isObject() || !format.path("type").isTextual()) {
            return null;
        }
        String type = format.get("type").textValue();
        JsonNode spec = format.path("json_schema");
        if (!spec.isObject()) {
            return new ResponseFormat(type, null, null, false);
        }
        JsonNode schema = spec.get("schema");
        return new ResponseFormat(type, spec.path("name").isTextual() ? spec.get("name").textValue() : null,
                schema != null && schema.isObject() ? schema : null, spec.path("strict").asBoolean(false));
    }

    private static String language(JsonNode requester) {
        for (String key : LANGUAGE_KEYS) {
            JsonNode value = requester.get(key);
            if (value != null && value.isTextual() && !value.textValue().isBlank()) {
                String code = value.textValue().trim().toLowerCase(Locale.ROOT);
                // "en", "en-US", "en_GB" all name English.
                int cut = code.indexOf('-') > 0 ? code.indexOf('-') : code.indexOf('_');
                return cut > 0 ? code.substring(0, cut) : code;
            }
        }
        return null;
    }

    private static List<String> grounding(JsonNode requester, Budget budget) {
        List<String> out = new ArrayList<>();
        for (String key : GROUNDING_KEYS) {
            JsonNode value = requester.get(key);
            if (value == null) {
                continue;
            }
            if (value.isArray()) {
                for (JsonNode document : value) {
                    addDocument(document, out, budget);
                }
            } else {
                addDocument(value, out, budget);
            }
        }
        return out;
    }

    /** A document is a string, or an object with {@code text}, {@code content} or {@code page_content}. */
    private static void addDocument(JsonNode document, List<String> out, Budget budget) {
        String text = document.isTextual() ? document.textValue() : null;
        if (document.isObject()) {
            for (String field : List.of("text", "content", "page_content")) {
                if (document.path(field).isTextual()) {
                    text = document.get(field).textValue();
                    break;
                }
            }
        }
        if (text != null && !text.isBlank()) {
            out.add(budget.take(text));
        }
    }

    /** The request-side character budget shared by messages and grounding documents. */
    private static final class Budget {
        private int left;
        private boolean truncated;

        Budget(int max) {
            this.left = max;
        }

        String take(String text) {
            if (text.length() <= left) {
                left -= text.length();
                return text;
            }
            truncated = true;
            String kept = text.substring(0, Math.max(0, left));
            left = 0;
            return kept;
        }
    }
}
