package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The simulator honours JSON mode like a real model unless the answer was scripted. */
class JsonAnswersTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode request(String json) throws Exception {
        return JSON.readTree(json);
    }

    @Test
    void aSchemaGetsAMinimalValidInstance() throws Exception {
        JsonNode request = request("""
                {"messages": [{"role": "user", "content": "city?"}], "response_format": {"type": "json_schema",
                 "json_schema": {"name": "c", "schema": {"type": "object", "required": ["city", "population", "tags"],
                 "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 1},
                 "tags": {"type": "array", "minItems": 1, "items": {"enum": ["a", "b"]}},
                 "optional": {"type": "string"}}}}}}""");

        JsonNode answer = JSON.readTree(JsonAnswers.answer(request, Script.DEFAULT_CONTENT));

        assertThat(answer.get("city").asText()).isEqualTo("sample");
        assertThat(answer.get("population").asLong()).isEqualTo(1);
        assertThat(answer.get("tags").get(0).asText()).isEqualTo("a");
        assertThat(answer.has("optional")).isFalse();
    }

    @Test
    void jsonModeOrAPromptAskingForJsonGetsAnObject_scriptedContentIsKept() throws Exception {
        assertThat(JSON.readTree(JsonAnswers.answer(request("{\"response_format\": {\"type\": \"json_object\"}}"),
                Script.DEFAULT_CONTENT)).isObject()).isTrue();
        assertThat(JSON.readTree(JsonAnswers.answer(request(
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Reply with a JSON object.\"}]}"),
                Script.DEFAULT_CONTENT)).isObject()).isTrue();
        assertThat(JSON.readTree(JsonAnswers.answer(request(
                "{\"system\": \"Reply with a JSON object.\", \"messages\": [{\"role\": \"user\", \"content\": 1}]}"),
                Script.DEFAULT_CONTENT)).isObject()).as("Anthropic's system prompt").isTrue();
        assertThat(JsonAnswers.answer(request("{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}"),
                Script.DEFAULT_CONTENT)).isEqualTo(Script.DEFAULT_CONTENT);
        assertThat(JsonAnswers.answer(request("{\"response_format\": {\"type\": \"json_object\"}}"), "{broken"))
                .isEqualTo("{broken");
    }
}
