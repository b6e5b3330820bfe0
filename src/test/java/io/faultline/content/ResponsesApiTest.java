package io.faultline.content;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.classify.ClassifyConfig;
import io.faultline.classify.ProviderRules;
import io.faultline.classify.SeverityPolicy;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ProviderFailure;
import io.faultline.taxonomy.QualityFailure;
import io.faultline.taxonomy.Severity;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.Payloads;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Calls to OpenAI's Responses API as LiteLLM 1.108 logs them (call_type {@code aresponses}, the provider's
 * {@code response} object with {@code output} items, {@code instructions} and {@code text.format} among the model
 * parameters; recorded from LiteLLM against the simulator) are judged like chat calls.
 */
class ResponsesApiTest {

    private static final Instant AT = Instant.parse("2026-12-07T10:00:00Z");

    private final ContentConfig config = ConfigMappings.defaults(ContentConfig.class);
    private final CallMapper mapper = new CallMapper(Payloads.JSON, config);
    private final ClassifyConfig classify = ConfigMappings.with(ClassifyConfig.class, Map.of(
            "faultline.classify.timeout", "PT60S", "faultline.classify.deployment-activity-window", "PT1H"));
    private final ProviderRules provider = new ProviderRules(new SeverityPolicy(classify), classify);
    private final FormatRules format = new FormatRules(config, ConfigMappings.defaults(FormatConfig.class));
    private final ToolCallRules tools = new ToolCallRules(config, ConfigMappings.defaults(FormatConfig.class));

    /**
     * A Responses API call: these output items, this status and incomplete reason, these model parameters (and 9
     * completion tokens, none for an empty output).
     */
    private LlmCall call(String status, String incompleteReason, String output, String parameters) throws Exception {
        long completion = output.equals("[]") ? 0 : 9;
        Payloads payload = Payloads.success("openai", "gpt-4o-mini", "dep-responses", AT).tokens(17, completion, 0, 0)
                .set("call_type", "aresponses");
        ObjectNode node = payload.node();
        node.set("response", Payloads.JSON.readTree("""
                {"id": "resp_1", "created_at": 1796608615, "error": null, "incomplete_details": %s,
                 "model": "gpt-4o-mini", "object": "response", "output": %s, "status": "%s",
                 "usage": {"completion_tokens": %d, "prompt_tokens": 17}}"""
                .formatted(incompleteReason == null ? "null" : "{\"reason\": \"" + incompleteReason + "\"}", output,
                        status, completion)));
        node.set("model_parameters", Payloads.JSON.readTree(parameters));
        node.putArray("messages").addObject().put("role", "user").put("content", "What is the capital of France?");
        return mapper.map(node);
    }

    private static String message(String... parts) {
        return "[{\"id\": \"msg_1\", \"type\": \"message\", \"role\": \"assistant\", \"status\": \"completed\","
                + " \"content\": [" + String.join(", ", parts) + "]}]";
    }

    private static String text(String text) {
        return "{\"type\": \"output_text\", \"text\": " + Payloads.JSON.valueToTree(text) + ", \"annotations\": []}";
    }

    @Test
    void the_output_text_instructions_and_format_are_read_as_a_chat_calls_would_be() throws Exception {
        LlmCall call = call("completed", null, "[{\"id\": \"rs_1\", \"type\": \"reasoning\", \"summary\": []}, "
                        + message(text("Paris"), text("is the capital.")).substring(1),
                """
                {"instructions": "Be brief.", "text": {"format": {"type": "json_schema", "name": "city",
                 "schema": {"type": "object", "required": ["c"]}, "strict": true}}}""");

        assertThat(call.finishReason()).isEqualTo("stop");
        assertThat(call.responseChars()).isEqualTo("Paris".length() + "is the capital.".length());
        assertThat(call.content().answer()).isEqualTo("Paris\nis the capital.");
        assertThat(call.content().messages()).extracting(CallContent.Message::role).containsExactly("system", "user");
        assertThat(call.content().textOf("system")).isEqualTo("Be brief.");
        assertThat(call.content().responseFormat()).satisfies(f -> {
            assertThat(f.type()).isEqualTo("json_schema");
            assertThat(f.name()).isEqualTo("city");
            assertThat(f.strict()).isTrue();
        });
        List<Failure> failures = format.apply(call);
        assertThat(failures).singleElement().satisfies(f -> {
            assertThat(f.type()).isEqualTo(QualityFailure.Type.FORMAT_NON_COMPLIANCE);
            assertThat(f.evidence()).containsEntry("reason", "not_json").containsEntry("schema_name", "city");
        });
        assertThat(provider.apply(call)).isEmpty();
    }

    @Test
    void an_incomplete_response_is_the_finish_reason_it_names() throws Exception {
        LlmCall filtered = call("incomplete", "content_filter", "[]", "{}");
        assertThat(provider.apply(filtered)).singleElement().satisfies(f -> {
            assertThat(f.type()).isEqualTo(ProviderFailure.Type.CONTENT_FILTERED);
            assertThat(f.evidence()).containsEntry("finish_reason", "content_filter");
        });
        assertThat(call("incomplete", "max_output_tokens", message(text("{\"c\": \"Par")), "{}").finishReason())
                .isEqualTo("length");
    }

    @Test
    void a_refusal_part_is_a_refusal_and_an_empty_output_is_an_empty_response() throws Exception {
        LlmCall refused = call("completed", null,
                message("{\"type\": \"refusal\", \"refusal\": \"I can't help with that.\"}"), "{}");
        assertThat(refused.content().refused()).isTrue();
        assertThat(provider.apply(refused)).singleElement().satisfies(f -> {
            assertThat(f.type()).isEqualTo(ProviderFailure.Type.CONTENT_FILTERED);
            assertThat(f.evidence()).containsEntry("reason", "refusal").doesNotContainValue("I can't help with that.");
        });

        assertThat(provider.apply(call("completed", null, "[]", "{}"))).singleElement().satisfies(f -> {
            assertThat(f.type()).isEqualTo(ProviderFailure.Type.MALFORMED_RESPONSE);
            assertThat(f.evidence()).containsEntry("reason", "empty_response");
        });
        // A background response not yet finished has nothing to judge.
        assertThat(provider.apply(call("queued", null, "[]", "{\"background\": true}"))).isEmpty();
        assertThat(provider.apply(call("in_progress", null, "[]", "{\"background\": true}"))).isEmpty();
    }

    @Test
    void function_call_items_are_tool_calls_against_the_flat_tools() throws Exception {
        String offered = """
                {"tools": [{"type": "function", "name": "get_weather", "strict": true,
                 "parameters": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}],
                 "tool_choice": {"type": "function", "name": "get_weather"}}""";
        LlmCall broken = call("completed", null, """
                [{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
                  "arguments": "{\\"city\\": \\"Par", "status": "completed"}]""", offered);

        assertThat(broken.finishReason()).isEqualTo("tool_calls");
        assertThat(provider.apply(broken)).isEmpty();
        assertThat(tools.apply(broken)).singleElement().satisfies(f -> assertThat(f.evidence())
                .containsEntry("reason", "not_json").containsEntry("tool", "get_weather")
                .containsEntry("tool_choice", "function").containsEntry("strict", true));

        LlmCall valid = call("completed", null, """
                [{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
                  "arguments": "{\\"city\\": \\"Paris\\"}", "status": "completed"}]""", offered);
        assertThat(tools.apply(valid)).isEmpty();
        assertThat(tools.apply(call("completed", null, message(text("It is sunny.")), offered)))
                .singleElement().satisfies(f -> assertThat(f.evidence()).containsEntry("reason", "tool_not_called"));
    }

    @Test
    void a_responses_function_tool_is_strict_unless_it_says_otherwise() throws Exception {
        // OpenAI's Responses API: a function tool's strict is "Default true" (chat's function tools default false).
        String schema = "\"parameters\": {\"type\": \"object\", \"required\": [\"city\"],"
                + " \"properties\": {\"city\": {\"type\": \"string\"}}}";
        String made = """
                [{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
                  "arguments": "{\\"town\\": \\"Paris\\"}", "status": "completed"}]""";
        String tool = "{\"tools\": [{\"type\": \"function\", \"name\": \"get_weather\", ";
        for (String strict : new String[] { "", "\"strict\": null, ", "\"strict\": true, " }) {
            LlmCall call = call("completed", null, made, tool + strict + schema + "}]}");
            assertThat(tools.apply(call)).as("strict written as '%s'", strict).singleElement()
                    .satisfies(f -> assertThat(f.evidence()).containsEntry("reason", "schema_violation")
                            .containsEntry("strict", true))
                    .satisfies(f -> assertThat(f.severity()).isEqualTo(Severity.P2));
        }
        LlmCall lax = call("completed", null, made, tool + "\"strict\": false, " + schema + "}]}");
        assertThat(tools.apply(lax)).singleElement().satisfies(f -> assertThat(f.evidence())
                .containsEntry("strict", false)).satisfies(f -> assertThat(f.severity()).isEqualTo(Severity.P3));
    }

    @Test
    void an_allowed_tools_choice_bounds_the_functions_and_may_require_one() throws Exception {
        // OpenAI's tool_choice {type: allowed_tools, mode, tools}: the model may call only the listed ones.
        String offered = """
                {"tools": [{"type": "function", "name": "get_weather", "strict": false,
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
                 {"type": "function", "name": "delete_account", "strict": false, "parameters": {"type": "object"}}],
                 "tool_choice": {"type": "allowed_tools", "mode": "required",
                  "tools": [{"type": "function", "name": "get_weather"}]}}""";
        assertThat(tools.apply(call("completed", null, """
                [{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
                  "arguments": "{}", "status": "completed"}]""", offered))).isEmpty();
        assertThat(tools.apply(call("completed", null, """
                [{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "delete_account",
                  "arguments": "{}", "status": "completed"}]""", offered))).singleElement()
                .satisfies(f -> assertThat(f.evidence()).containsEntry("reason", "unexpected_tool")
                        .containsEntry("tool_choice", "required"));
        assertThat(tools.apply(call("completed", null, message(text("It is sunny.")), offered))).singleElement()
                .satisfies(f -> assertThat(f.evidence()).containsEntry("reason", "tool_not_called"));
        // mode auto: a text answer is allowed.
        assertThat(tools.apply(call("completed", null, message(text("It is sunny.")),
                offered.replace("\"mode\": \"required\"", "\"mode\": \"auto\"")))).isEmpty();
        // Listing a built-in tool: the model may have used it instead, so no function call is owed.
        String withSearch = """
                {"tools": [{"type": "web_search"}, {"type": "function", "name": "get_weather", "strict": false,
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
                 "tool_choice": {"type": "allowed_tools", "mode": "required",
                  "tools": [{"type": "function", "name": "get_weather"}, {"type": "web_search"}]}}""";
        assertThat(tools.apply(call("completed", null, message(text("It is sunny.")), withSearch))).isEmpty();
    }

    @Test
    void a_built_in_tool_the_model_called_answers_a_required_tool_choice() throws Exception {
        // As LiteLLM 1.108 logs it (recorded): web search and a function offered, tool_choice required, and the
        // model searched (a web_search_call item, no function_call) before it answered. It called a tool.
        String offered = """
                {"tools": [{"type": "web_search"}, {"type": "function", "name": "get_weather",
                 "parameters": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}],
                 "tool_choice": "required"}""";
        LlmCall searched = call("completed", null, """
                [{"id": "ws_1", "action": {"type": "search", "queries": null, "query": "weather paris",
                  "sources": null}, "status": "completed", "type": "web_search_call"},
                 {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed", "phase": null,
                  "content": [{"type": "output_text", "text": "It is sunny in Paris today.", "annotations": [],
                  "logprobs": null}]}]""", offered);

        assertThat(tools.apply(searched)).isEmpty();
        // With function tools alone, a text answer still breaks the choice.
        assertThat(tools.apply(call("completed", null, message(text("It is sunny.")),
                offered.replace("{\"type\": \"web_search\"}, ", "")))).singleElement()
                .satisfies(f -> assertThat(f.evidence()).containsEntry("reason", "tool_not_called"));
    }

    @Test
    void a_tool_choice_naming_an_mcp_tool_is_not_a_function_the_answer_must_call() throws Exception {
        // Recorded through LiteLLM 1.108: the choice names a tool of a remote MCP server, which OpenAI calls
        // itself (an mcp_call item); the function offered beside it was rightly not called.
        String offered = """
                {"tools": [{"type": "mcp", "server_label": "deepwiki", "server_url": "https://mcp.deepwiki.com/mcp",
                 "require_approval": "never"}, {"type": "function", "name": "get_weather",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
                 "tool_choice": {"type": "mcp", "server_label": "deepwiki", "name": "ask_question"}}""";
        LlmCall answered = call("completed", null, """
                [{"id": "mcp_1", "type": "mcp_call", "server_label": "deepwiki", "name": "ask_question",
                  "arguments": "{\\"q\\": \\"x\\"}", "output": "answer", "error": null, "status": null},
                 {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
                  "content": [{"type": "output_text", "text": "It is sunny in Paris today.", "annotations": []}]}]""",
                offered);

        assertThat(tools.apply(answered)).isEmpty();
    }

    @Test
    void a_function_call_completed_before_the_token_limit_is_runnable() throws Exception {
        // Recorded through LiteLLM 1.108: the response stopped at max_output_tokens (finish reason length) after
        // the function_call item was complete; only a call the limit cut off is truncated.
        String offered = """
                {"tools": [{"type": "function", "name": "get_weather",
                 "parameters": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}],
                 "max_output_tokens": 64}""";
        String complete = """
                {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
                 "arguments": "{\\"city\\": \\"Paris\\"}", "status": "completed"}""";
        LlmCall stopped = call("incomplete", "max_output_tokens", "[" + complete + "]", offered);

        assertThat(stopped.finishReason()).isEqualTo("length");
        assertThat(tools.apply(stopped)).isEmpty();

        LlmCall cut = call("incomplete", "max_output_tokens", "[" + complete + """
                , {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "get_weather",
                 "arguments": "{\\"city\\": \\"Ro", "status": "incomplete"}]""", offered);
        assertThat(tools.apply(cut)).singleElement().satisfies(f -> assertThat(f.evidence())
                .containsEntry("reason", "truncated").containsEntry("tool_calls", 2)
                .containsEntry("invalid_tool_calls", 1));
    }

    @Test
    void other_calls_of_the_responses_api_are_not_judged_as_answers() throws Exception {
        Payloads deleted = Payloads.success("openai", "gpt-4o-mini", "dep-responses", AT)
                .set("call_type", "adelete_responses");
        deleted.node().set("response", Payloads.JSON.readTree(
                "{\"id\": \"resp_1\", \"object\": \"response.deleted\", \"deleted\": true}"));
        assertThat(provider.apply(mapper.map(deleted.node()))).isEmpty();
    }
}
