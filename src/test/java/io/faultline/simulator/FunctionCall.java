package io.faultline.simulator;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A function call the simulated model answers with: the function's name and its arguments as JSON text, which may
 * be broken on purpose. OpenAI puts the text on the wire as it is; Anthropic and Gemini answer arguments as a JSON
 * object, so there the text must be one (except in Anthropic's stream, whose {@code input_json_delta} pieces are
 * text, and which is how a broken input reaches a client from Anthropic).
 */
public record FunctionCall(String name, String arguments) {

    @JsonCreator
    public FunctionCall(@JsonProperty("name") String name, @JsonProperty("arguments") String arguments) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("a function call needs a name");
        }
        this.name = name;
        this.arguments = arguments == null ? "{}" : arguments;
    }
}
