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
 */
public record CallContent(List<Message> messages, String answer, ResponseFormat responseFormat,
        String expectedLanguage, List<String> grounding, boolean truncated, List<float[]> embeddings,
        boolean refused) {

    public static final CallContent NONE = new CallContent(List.of(), null, null, null, List.of(), false, List.of(),
            false);

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
