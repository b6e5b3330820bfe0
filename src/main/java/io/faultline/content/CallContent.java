package io.faultline.content;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/**
 * What was asked and answered in one call, held in memory while the call is classified and never stored. Texts are
 * bounded by {@link ContentExtractor} so that the content detectors' cost per call is bounded too.
 *
 * @param messages         the request's messages, text parts only, in order
 * @param answer           the answer's text (first choice), or null when the call produced none
 * @param responseFormat   the structured output the request asked for, or null
 * @param expectedLanguage an ISO 639-1 code the application set in metadata ({@code language}), or null
 * @param grounding        grounding documents the application passed in metadata ({@code context},
 *                         {@code documents}), in order; documents inside the messages are found by the detectors
 * @param truncated        true when a text was cut to its bound, so that detectors can say so in their evidence
 * @param embeddings       the vectors an embedding call returned ({@code response.data[].embedding}), bounded in
 *                         count and dimension; empty for other calls
 * @param refused          the model declined instead of answering: OpenAI's {@code message.refusal} (structured
 *                         outputs and safety refusals) is set and there is no answer; its text is not kept
 * @param tools            the functions the request offered, the tool choice it made and the calls the answer made
 */
public record CallContent(List<Message> messages, String answer, ResponseFormat responseFormat,
        String expectedLanguage, List<String> grounding, boolean truncated, List<float[]> embeddings,
        boolean refused, ToolUse tools) {

    public static final CallContent NONE = new CallContent(List.of(), null, null, null, List.of(), false, List.of(),
            false, ToolUse.NONE);

    public CallContent {
        tools = tools == null ? ToolUse.NONE : tools;
    }

    /** One request message: its role ({@code system}, {@code user}, {@code assistant}, {@code tool}) and text. */
    public record Message(String role, String text) {
    }

    /**
     * The {@code response_format} of the request: {@code json_object}, or {@code json_schema} with its schema.
     *
     * @param strict the schema's {@code strict} flag, as the request set it
     */
    public record ResponseFormat(String type, String name, JsonNode schema, boolean strict) {

        public boolean structured() {
            return "json_object".equals(type) || "json_schema".equals(type);
        }
    }

    /**
     * The request's function tools and the answer's calls of them (chat {@code tools} and {@code tool_choice} in
     * {@code model_parameters}, {@code message.tool_calls} of the first choice).
     *
     * @param declared   the function tools offered, in order (at most {@link ContentExtractor#MAX_TOOLS})
     * @param exhaustive every tool offered is one of {@code declared}: no built-in or MCP tool (nor LiteLLM's
     *                   search for {@code web_search_options}), none left unread, so that a call of another name is
     *                   a call of a tool that does not exist
     * @param choice     {@code auto} (also when unset), {@code none}, {@code required} (some tool must be called) or
     *                   {@code function} (the one named {@code chosen} must be)
     * @param calls      the answer's function calls, in order (at most {@link ContentExtractor#MAX_TOOL_CALLS})
     * @param unread     calls or argument characters past the extractor's bounds were not read: not judged
     */
    public record ToolUse(List<Tool> declared, boolean exhaustive, String choice, String chosen,
            java.util.Set<String> allowed, List<ToolCall> calls, boolean unread) {

        public static final ToolUse NONE = new ToolUse(List.of(), false, "auto", null, null, List.of(), false);

        /**
         * @param allowed the functions an {@code allowed_tools} choice lets the model call (null: every offered one,
         *                or the choice also allows tools that are not functions)
         */
        public ToolUse {
            declared = List.copyOf(declared);
            allowed = allowed == null ? null : java.util.Set.copyOf(allowed);
            calls = List.copyOf(calls);
        }

        /**
         * The declared functions by name (the first, if the request named two alike): a hash look-up, so that
         * caller-made names of 64 KiB that differ in their last character are not compared tool by tool per call.
         */
        public java.util.Map<String, Tool> byName() {
            java.util.Map<String, Tool> byName = new java.util.HashMap<>();
            for (Tool tool : declared) {
                byName.putIfAbsent(tool.name(), tool);
            }
            return byName;
        }

        /** The request made the model call a function: {@code required}, or one named function. */
        public boolean forced() {
            return "required".equals(choice) || "function".equals(choice);
        }
    }

    /**
     * One function tool of the request.
     *
     * @param parameters its parameters' JSON Schema, or null when it declares none
     * @param strict     OpenAI's {@code strict}: the provider promised arguments valid against the schema
     */
    public record Tool(String name, JsonNode parameters, boolean strict) {
    }

    /** One function call of the answer: the name the model called and its arguments as written (JSON text). */
    public record ToolCall(String name, String arguments) {
    }

    public boolean hasAnswer() {
        return answer != null && !answer.isBlank();
    }

    /** The text of the messages of one role, joined by blank lines ("" when there are none). */
    public String textOf(String role) {
        StringBuilder out = new StringBuilder();
        for (Message message : messages) {
            if (role.equals(message.role()) && !message.text().isEmpty()) {
                if (!out.isEmpty()) {
                    out.append("\n\n");
                }
                out.append(message.text());
            }
        }
        return out.toString();
    }

    /** Everything the caller sent (system, user, tool messages and earlier assistant turns), joined. */
    public String requestText() {
        StringBuilder out = new StringBuilder();
        for (Message message : messages) {
            if (!message.text().isEmpty()) {
                if (!out.isEmpty()) {
                    out.append("\n\n");
                }
                out.append(message.text());
            }
        }
        return out.toString();
    }

    /** The last user message: what this turn asked. */
    public String lastUserText() {
        for (int i = messages.size() - 1; i >= 0; i--) {
            if ("user".equals(messages.get(i).role())) {
                return messages.get(i).text();
            }
        }
        return "";
    }
}
