package io.faultline.content;

import com.fasterxml.jackson.databind.node.ArrayNode;
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

/** Function calls whose name or arguments the application cannot run are {@code format_non_compliance}. */
class ToolCallRulesTest {

    private static final Instant AT = Instant.parse("2026-12-07T10:00:00Z");
    private static final String WEATHER = """
            {"type": "object", "additionalProperties": false, "required": ["city", "unit"],
             "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}}}""";

    private final ContentConfig content = ConfigMappings.defaults(ContentConfig.class);
    private final CallMapper mapper = new CallMapper(Payloads.JSON, content);
    private final ToolCallRules rules = new ToolCallRules(content, ConfigMappings.defaults(FormatConfig.class));

    /** A chat call offering get_weather (and lookup_order without parameters) that answered these calls. */
    private Payloads offering(boolean strict, Object toolChoice, String finish, String... nameAndArguments)
            throws Exception {
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-tools", AT).answer(null, finish);
        ObjectNode parameters = (ObjectNode) payload.node().get("model_parameters");
        ArrayNode tools = parameters.putArray("tools");
        tools.addObject().put("type", "function").putObject("function").put("name", "get_weather")
                .put("strict", strict).set("parameters", Payloads.JSON.readTree(WEATHER));
        tools.addObject().put("type", "function").putObject("function").put("name", "lookup_order");
        if (toolChoice != null) {
            parameters.set("tool_choice", Payloads.JSON.valueToTree(toolChoice));
        }
        ObjectNode message = (ObjectNode) payload.node().at("/response/choices/0/message");
        if (nameAndArguments.length > 0) {
            ArrayNode calls = message.putArray("tool_calls");
            for (int i = 0; i < nameAndArguments.length; i += 2) {
                calls.addObject().put("id", "call_" + i).put("type", "function").putObject("function")
                        .put("name", nameAndArguments[i]).put("arguments", nameAndArguments[i + 1]);
            }
        }
        return payload;
    }

    private List<Failure> apply(Payloads payload) {
        return rules.apply(mapper.map(payload.node()));
    }

    private static Map<String, Object> evidence(List<Failure> failures) {
        assertThat(failures).hasSize(1);
        assertThat(failures.get(0).type()).isEqualTo(QualityFailure.Type.FORMAT_NON_COMPLIANCE);
        assertThat(failures.get(0).detectionMethod()).isEqualTo("content.format.tool_call");
        return failures.get(0).evidence();
    }

    @Test
    void calls_the_application_can_run_are_not_failures() throws Exception {
        assertThat(apply(offering(false, null, "tool_calls", "get_weather",
                "{\"city\": \"Paris\", \"unit\": \"celsius\"}"))).isEmpty();
        // A function without parameters gets "{}", or nothing at all from some providers.
        assertThat(apply(offering(false, "required", "tool_calls", "lookup_order", "{}", "lookup_order", "")))
                .isEmpty();
        // A text answer where the model was free to answer in text.
        Payloads text = offering(false, "auto", "stop");
        text.answer("It is sunny in Paris.", "stop");
        assertThat(apply(text)).isEmpty();
    }

    @Test
    void broken_arguments_are_named_by_reason_without_their_values() throws Exception {
        Map<String, Object> broken = evidence(apply(offering(false, null, "tool_calls", "get_weather",
                "{\"city\": \"Par")));
        assertThat(broken).containsEntry("reason", "not_json").containsEntry("tool", "get_weather")
                .containsEntry("arguments_chars", 13).containsEntry("tool_calls", 1).containsEntry("tools_offered", 2)
                .containsEntry("invalid_tool_calls", 1).containsEntry("strict", false);
        assertThat(evidence(apply(offering(false, null, "length", "get_weather", "{\"city\": \"Paris\""))))
                .containsEntry("reason", "truncated").containsEntry("finish_reason", "length");
        assertThat(evidence(apply(offering(false, null, "tool_calls", "get_weather", "[\"Paris\"]"))))
                .containsEntry("reason", "not_an_object");
        assertThat(evidence(apply(offering(false, null, "tool_calls", "get_weather",
                "```json\n{\"city\": \"Paris\", \"unit\": \"celsius\"}\n```")))).containsEntry("reason", "code_fence");

        List<Failure> schema = apply(offering(false, null, "tool_calls", "get_weather",
                "{\"city\": \"Paris\", \"unit\": \"kelvin\", \"secret_note\": \"jane.doe@example.com\"}"));
        Map<String, Object> evidence = evidence(schema);
        assertThat(evidence).containsEntry("reason", "schema_violation").containsEntry("schema_error_count", 2);
        assertThat(evidence.toString()).contains("unit.enum").contains("additionalProperties")
                .doesNotContain("kelvin").doesNotContain("secret_note").doesNotContain("jane.doe");
        assertThat(schema.get(0).severity()).isEqualTo(Severity.P3);
    }

    @Test
    void a_strict_function_broken_is_more_severe_and_every_bad_call_is_counted() throws Exception {
        List<Failure> failures = apply(offering(true, null, "tool_calls",
                "get_weather", "{\"city\": \"Paris\", \"unit\": \"celsius\"}",
                "get_weather", "{\"city\": \"Oslo\"}",
                "get_weather", "not json"));

        assertThat(evidence(failures)).containsEntry("reason", "schema_violation").containsEntry("strict", true)
                .containsEntry("tool_calls", 3).containsEntry("invalid_tool_calls", 2);
        assertThat(failures.get(0).severity()).isEqualTo(Severity.P2);
    }

    @Test
    void a_function_the_request_did_not_offer_is_unknown_unless_built_in_tools_were_offered() throws Exception {
        assertThat(evidence(apply(offering(false, null, "tool_calls", "delete_account", "{}"))))
                .containsEntry("reason", "unknown_tool").containsEntry("tool", "delete_account");

        // With a built-in tool offered as well, another name may be the provider's own: only JSON-ness is judged.
        Payloads builtIn = offering(false, null, "tool_calls", "web_search", "{\"query\": \"weather\"}");
        ((ArrayNode) builtIn.node().at("/model_parameters/tools")).addObject().put("type", "web_search_preview");
        assertThat(apply(builtIn)).isEmpty();
        Payloads brokenBuiltIn = offering(false, null, "tool_calls", "web_search", "{\"query\": ");
        ((ArrayNode) brokenBuiltIn.node().at("/model_parameters/tools")).addObject().put("type", "web_search_preview");
        assertThat(evidence(apply(brokenBuiltIn))).containsEntry("reason", "not_json");
    }

    @Test
    void the_search_litellm_adds_for_web_search_options_is_no_unknown_function() throws Exception {
        // Recorded through LiteLLM 1.108 against Anthropic: web_search_options becomes Anthropic's web_search server
        // tool, which is not among the logged tools, and its server_tool_use block is logged as a tool call.
        Payloads searched = offering(false, "required", "stop", "web_search", "{\"query\": \"weather paris\"}");
        ((ObjectNode) searched.node().get("model_parameters")).putObject("web_search_options")
                .put("search_context_size", "low");
        ((ObjectNode) searched.node().at("/response/choices/0/message")).put("content", "It is sunny in Paris.");

        assertThat(apply(searched)).isEmpty();
        // Without it, a function nobody offered is still unknown.
        assertThat(evidence(apply(offering(false, "required", "stop", "web_search", "{\"query\": \"x\"}"))))
                .containsEntry("reason", "unknown_tool");
    }

    @Test
    void the_tool_choice_is_held() throws Exception {
        Payloads text = offering(false, "required", "stop");
        text.answer("I would call the weather tool now.", "stop");
        assertThat(evidence(apply(text))).containsEntry("reason", "tool_not_called")
                .containsEntry("tool_choice", "required").doesNotContainKey("tool");

        Map<String, Object> named = Map.of("type", "function", "function", Map.of("name", "lookup_order"));
        assertThat(evidence(apply(offering(false, named, "tool_calls", "get_weather",
                "{\"city\": \"Paris\", \"unit\": \"celsius\"}")))).containsEntry("reason", "unexpected_tool")
                .containsEntry("tool_choice", "function").containsEntry("chosen_tool", "lookup_order");
        assertThat(evidence(apply(offering(false, "none", "tool_calls", "lookup_order", "{}"))))
                .containsEntry("reason", "unexpected_tool");
        // Chat's allowed_tools: only the listed functions may be called.
        Map<String, Object> allowed = Map.of("type", "allowed_tools", "allowed_tools", Map.of("mode", "auto",
                "tools", List.of(Map.of("type", "function", "function", Map.of("name", "lookup_order")))));
        assertThat(evidence(apply(offering(false, allowed, "tool_calls", "get_weather",
                "{\"city\": \"Paris\", \"unit\": \"celsius\"}")))).containsEntry("reason", "unexpected_tool")
                .containsEntry("tool_choice", "auto");
        assertThat(apply(offering(false, allowed, "tool_calls", "lookup_order", "{}"))).isEmpty();
        // Anthropic's own forms: {type: any} and {type: tool, name}.
        assertThat(evidence(apply(offering(false, Map.of("type", "tool", "name", "get_weather"), "tool_calls",
                "lookup_order", "{}")))).containsEntry("chosen_tool", "get_weather");
    }

    @Test
    void a_named_tool_choice_called_allows_other_offered_functions_beside_it() throws Exception {
        // Anthropic's tool_choice {type: tool} forces that tool, and unless disable_parallel_tool_use is set Claude
        // may use others in the same turn (Anthropic's tool-use docs, parallel tool use). As LiteLLM 1.108 logs it
        // (recorded): the choice in OpenAI's form, both calls among the tool_calls. Both are runnable.
        Map<String, Object> named = Map.of("type", "function", "function", Map.of("name", "get_weather"));
        assertThat(apply(offering(false, named, "tool_calls", "get_weather",
                "{\"city\": \"Paris\", \"unit\": \"celsius\"}", "lookup_order", "{}"))).isEmpty();
        // The named function not called at all: the other call is unexpected.
        assertThat(evidence(apply(offering(false, named, "tool_calls", "lookup_order", "{}"))))
                .containsEntry("reason", "unexpected_tool");
    }

    @Test
    void legacy_functions_and_function_call_are_held_like_tools() throws Exception {
        // As LiteLLM 1.108 logs a request with the deprecated functions and function_call, and OpenAI's answer to
        // it: message.function_call and finish_reason function_call (recorded).
        Payloads legacy = Payloads.success("openai", "gpt-4o", "dep-tools", AT).answer(null, "function_call");
        ObjectNode parameters = (ObjectNode) legacy.node().get("model_parameters");
        parameters.putArray("functions").addObject().put("name", "get_weather")
                .set("parameters", Payloads.JSON.readTree(WEATHER));
        parameters.putObject("function_call").put("name", "get_weather");
        ObjectNode called = ((ObjectNode) legacy.node().at("/response/choices/0/message")).putObject("function_call")
                .put("name", "get_weather").put("arguments", "{\"town\": \"Paris\"}");

        assertThat(evidence(apply(legacy))).containsEntry("reason", "schema_violation")
                .containsEntry("tool_choice", "function").containsEntry("chosen_tool", "get_weather")
                .containsEntry("tools_offered", 1);
        called.put("arguments", "{\"city\": \"Paris\", \"unit\": \"celsius\"}");
        assertThat(apply(legacy)).isEmpty();
        called.put("name", "delete_account");
        assertThat(evidence(apply(legacy))).containsEntry("reason", "unexpected_tool");

        parameters.put("function_call", "none");
        legacy.answer("It is sunny in Paris.", "stop");
        assertThat(apply(legacy)).isEmpty();
        parameters.putObject("function_call").put("name", "get_weather");
        assertThat(evidence(apply(legacy))).containsEntry("reason", "tool_not_called");
    }

    @Test
    void geminis_own_verdict_on_a_function_call_is_a_format_failure_not_an_empty_answer() throws Exception {
        ClassifyConfig classify = ConfigMappings.with(ClassifyConfig.class, Map.of("faultline.classify.timeout",
                "PT60S", "faultline.classify.deployment-activity-window", "PT1H"));
        ProviderRules provider = new ProviderRules(new SeverityPolicy(classify), classify);
        for (String reason : List.of("MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS")) {
            // As LiteLLM logs an unstreamed Gemini answer: finish_reason stop, no content, the native reason kept.
            Payloads payload = offering(false, null, "stop").tokens(12, 0, 0, 0);
            ((ObjectNode) payload.node().at("/response/choices/0")).putObject("provider_specific_fields")
                    .put("native_finish_reason", reason);
            LlmCall call = mapper.map(payload.node());

            assertThat(evidence(rules.apply(call))).as(reason)
                    .containsEntry("reason", reason.toLowerCase(java.util.Locale.ROOT))
                    .containsEntry("finish_reason", reason.toLowerCase(java.util.Locale.ROOT));
            assertThat(provider.apply(call)).as(reason).isEmpty();
        }
        // With function calls in the candidate LiteLLM logs finish_reason tool_calls (its _check_finish_reason
        // prefers the calls), the native reason kept beside it: Gemini stopped the turn all the same.
        for (String reason : List.of("TOO_MANY_TOOL_CALLS", "UNEXPECTED_TOOL_CALL")) {
            Payloads payload = offering(false, null, "tool_calls", "get_weather",
                    "{\"city\": \"Paris\", \"unit\": \"celsius\"}");
            ((ObjectNode) payload.node().at("/response/choices/0")).putObject("provider_specific_fields")
                    .put("native_finish_reason", reason);
            assertThat(evidence(rules.apply(mapper.map(payload.node())))).as(reason + " with calls")
                    .containsEntry("reason", reason.toLowerCase(java.util.Locale.ROOT));
        }
        // Gemini's ordinary STOP with calls is LiteLLM's tool_calls, and runnable.
        Payloads stopped = offering(false, null, "tool_calls", "get_weather",
                "{\"city\": \"Paris\", \"unit\": \"celsius\"}");
        ((ObjectNode) stopped.node().at("/response/choices/0")).putObject("provider_specific_fields")
                .put("native_finish_reason", "STOP");
        assertThat(rules.apply(mapper.map(stopped.node()))).isEmpty();
        // Streamed, LiteLLM drops the native reason: what is left is an empty answer.
        LlmCall streamed = mapper.map(offering(false, null, "stop").tokens(12, 0, 0, 0).node());
        assertThat(rules.apply(streamed)).isEmpty();
        assertThat(provider.apply(streamed)).singleElement().satisfies(f -> {
            assertThat(f.type()).isEqualTo(ProviderFailure.Type.MALFORMED_RESPONSE);
            assertThat(f.evidence()).containsEntry("reason", "empty_response");
        });
        // Gemini's MALFORMED_RESPONSE is the provider's.
        Payloads malformed = offering(false, null, "stop").tokens(12, 0, 0, 0);
        ((ObjectNode) malformed.node().at("/response/choices/0")).putObject("provider_specific_fields")
                .put("native_finish_reason", "MALFORMED_RESPONSE");
        assertThat(provider.apply(mapper.map(malformed.node()))).singleElement().satisfies(f -> {
            assertThat(f.type()).isEqualTo(ProviderFailure.Type.MALFORMED_RESPONSE);
            assertThat(f.evidence()).containsEntry("reason", "provider_malformed_response");
        });
    }

    @Test
    void hostile_arguments_and_names_are_bounded() throws Exception {
        String deep = "[".repeat(5000) + "]".repeat(5000);
        assertThat(evidence(apply(offering(false, null, "tool_calls", "get_weather", deep))))
                .containsKey("reason");
        String name = "card 4111 1111 1111 1111 " + "x".repeat(64 * 1024);
        Map<String, Object> evidence = evidence(apply(offering(false, null, "tool_calls", name, "{}")));
        assertThat(evidence.get("tool")).asString().hasSizeLessThanOrEqualTo(65).doesNotContain("1111");
        assertThat(evidence(apply(offering(false, null, "tool_calls", "get_weather",
                "{\"city\": \"\u0000\uD800\", \"unit\": \"celsius\"}")))).containsEntry("reason", "not_json");

        // More argument text than the detector reads: not judged, rather than judged on a prefix.
        String huge = "{\"city\": \"" + "x".repeat(content.maxAnswerChars()) + "\"";
        assertThat(apply(offering(false, null, "tool_calls", "get_weather", huge))).isEmpty();
    }
}
