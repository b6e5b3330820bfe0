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
import org.junit.jupiter.api.Timeout;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FormatRulesTest {

    private static final Instant AT = Instant.parse("2026-11-28T10:00:00Z");
    private static final String SCHEMA = """
            {"type": "object", "additionalProperties": false, "required": ["city", "population"],
             "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 0}}}""";

    private final ContentConfig content = ConfigMappings.defaults(ContentConfig.class);
    private final CallMapper mapper = new CallMapper(Payloads.JSON, content);
    private final FormatRules rules = new FormatRules(content, ConfigMappings.defaults(FormatConfig.class));

    private LlmCall call(String answer, String finish, boolean strict) throws Exception {
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-format", AT).answer(answer, finish);
        ObjectNode format = ((ObjectNode) payload.node().get("model_parameters")).putObject("response_format");
        format.put("type", "json_schema").putObject("json_schema").put("name", "city").put("strict", strict)
                .set("schema", Payloads.JSON.readTree(SCHEMA));
        return mapper.map(payload.node());
    }

    private LlmCall jsonMode(String answer) {
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-format", AT).answer(answer, "stop");
        ((ObjectNode) payload.node().get("model_parameters")).putObject("response_format").put("type", "json_object");
        return mapper.map(payload.node());
    }

    private static Map<String, Object> evidence(List<Failure> failures) {
        assertThat(failures).hasSize(1);
        assertThat(failures.get(0).type()).isEqualTo(QualityFailure.Type.FORMAT_NON_COMPLIANCE);
        return failures.get(0).evidence();
    }

    @Test
    void aValidAnswerComplies() throws Exception {
        assertThat(rules.apply(call("{\"city\": \"Paris\", \"population\": 2100000}", "stop", false))).isEmpty();
        assertThat(rules.apply(jsonMode("  {\"any\": [1, 2]}\n"))).isEmpty();
    }

    @Test
    void theSchemaNameInTheEvidenceIsTheCallersTextAndIsMaskedAndBounded() throws Exception {
        // OpenAI refuses a name beyond [a-zA-Z0-9_-]{1,64}; Anthropic and Gemini through LiteLLM take any string.
        Payloads payload = Payloads.success("anthropic", "claude", "dep-format", AT).answer("not json", "stop");
        ((ObjectNode) payload.node().get("model_parameters")).putObject("response_format").put("type", "json_schema")
                .putObject("json_schema").put("name", "invoice for jane.doe@example.com card 4111 1111 1111 1111 "
                        + "x".repeat(64 * 1024)).set("schema", Payloads.JSON.readTree(SCHEMA));

        Object name = evidence(rules.apply(mapper.map(payload.node()))).get("schema_name");

        assertThat(name).asString().startsWith("invoice for [email] card [number] x").hasSizeLessThanOrEqualTo(65)
                .doesNotContain("jane.doe", "1111");
    }

    @Test
    void schemaViolationsNamePathsAndKeywordsButNoValues() throws Exception {
        List<Failure> failures = rules.apply(call("{\"city\": \"Paris\", \"population\": \"2.1 million\","
                + " \"mayor_nickname\": 1}", "stop", false));
        Map<String, Object> evidence = evidence(failures);

        assertThat(evidence).containsEntry("reason", "schema_violation").containsEntry("requested_format", "json_schema")
                .containsEntry("schema_name", "city").containsEntry("schema_error_count", 2);
        assertThat(evidence.get("schema_errors").toString()).contains("population.type type")
                .contains("additionalProperties").doesNotContain("2.1 million").doesNotContain("mayor_nickname");
        assertThat(failures.get(0).severity()).isEqualTo(Severity.P3);
        assertThat(failures.get(0).detectionMethod()).isEqualTo("content.format.json_schema");
    }

    @Test
    void strictSchemasBreakWithHigherSeverity() throws Exception {
        List<Failure> failures = rules.apply(call("{\"city\": \"Paris\"}", "stop", true));

        assertThat(evidence(failures)).containsEntry("strict", true);
        assertThat(failures.get(0).severity()).isEqualTo(Severity.P2);
    }

    @Test
    void brokenTruncatedFencedEmptyAndNonObjectAnswers() throws Exception {
        assertThat(evidence(rules.apply(call("{\"city\": \"Paris\", \"population\": 21", "stop", false))))
                .containsEntry("reason", "not_json");
        assertThat(evidence(rules.apply(call("{\"city\": \"Paris\", \"population\": 2100000}", "length", false))))
                .containsEntry("reason", "truncated").containsEntry("finish_reason", "length");
        assertThat(evidence(rules.apply(call("```json\n{\"city\": \"Paris\", \"population\": 1}\n```", "stop",
                false)))).containsEntry("reason", "code_fence");
        assertThat(evidence(rules.apply(jsonMode("[1, 2, 3]")))).containsEntry("reason", "not_an_object");
        assertThat(evidence(rules.apply(jsonMode("Sure! Here is the JSON: {\"a\": 1}")))).containsEntry("reason",
                "not_json");
        assertThat(evidence(rules.apply(jsonMode("{\"a\": 1} {\"b\": 2}")))).containsEntry("reason", "not_json");
    }

    @Test
    void aTurnThatCallsFunctionsIsNotTheStructuredAnswer() throws Exception {
        // As LiteLLM 1.108 logs Claude's answer (recorded, streamed and not): a line of text before the tool_use
        // block is the message content beside the tool call. The schema is owed by the answer after the results.
        Payloads payload = Payloads.success("anthropic", "claude-sonnet-4-5", "dep-format", AT)
                .answer("I'll look up the weather first.", "tool_calls");
        ObjectNode parameters = (ObjectNode) payload.node().get("model_parameters");
        parameters.set("response_format", Payloads.JSON.readTree("""
                {"type": "json_schema", "json_schema": {"name": "city", "schema": %s}}""".formatted(SCHEMA)));
        parameters.putArray("tools").addObject().put("type", "function").putObject("function")
                .put("name", "get_weather").putObject("parameters").put("type", "object");
        ((ObjectNode) payload.node().at("/response/choices/0/message")).putArray("tool_calls").addObject()
                .put("id", "toolu_01").put("type", "function").putObject("function").put("name", "get_weather")
                .put("arguments", "{\"city\": \"Paris\"}");

        assertThat(rules.apply(mapper.map(payload.node()))).isEmpty();
    }

    @Test
    void aStructuredOutputRefusalIsContentFilteredNotAFormatFailure() throws Exception {
        // OpenAI's structured outputs: a model that declines for safety answers no JSON but a refusal, with
        // finish_reason "stop" (the schema was not broken: there is no output to hold to it).
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-format", AT).tokens(40, 12, 0, 0)
                .answer(null, "stop");
        ((ObjectNode) payload.node().at("/response/choices/0/message")).put("refusal",
                "I'm sorry, I cannot assist with that.");
        ((ObjectNode) payload.node().get("model_parameters")).set("response_format", Payloads.JSON.readTree("""
                {"type": "json_schema", "json_schema": {"name": "city", "strict": true, "schema": %s}}"""
                .formatted(SCHEMA)));
        LlmCall refused = mapper.map(payload.node());
        Map<String, String> classify = Map.of("faultline.classify.timeout", "PT60S",
                "faultline.classify.deployment-activity-window", "PT1H");
        ClassifyConfig classifyConfig = ConfigMappings.with(ClassifyConfig.class, classify);
        ProviderRules provider = new ProviderRules(new SeverityPolicy(classifyConfig), classifyConfig);

        assertThat(rules.apply(refused)).as("no format_non_compliance with reason 'empty'").isEmpty();
        assertThat(provider.apply(refused)).singleElement().satisfies(f -> {
            assertThat(f.type()).isEqualTo(ProviderFailure.Type.CONTENT_FILTERED);
            assertThat(f.evidence()).containsEntry("reason", "refusal").containsEntry("finish_reason", "stop")
                    .doesNotContainValue("I'm sorry, I cannot assist with that.");
        });
        // An answer that is really empty still breaks the requested format.
        assertThat(evidence(rules.apply(call("", "stop", true)))).containsEntry("reason", "empty");
    }

    @Test
    void nothingIsJudgedWithoutAStructuredRequestOrWhenSwitchedOff() throws Exception {
        assertThat(rules.apply(mapper.map(Payloads.success("openai", "gpt-4o", "d", AT).answer("not json", "stop")
                .node()))).isEmpty();
        ContentConfig off = ConfigMappings.with(ContentConfig.class,
                Map.of("faultline.content.disabled-types", "format_non_compliance"));
        FormatRules disabled = new FormatRules(off, ConfigMappings.defaults(FormatConfig.class));
        assertThat(disabled.apply(call("not json", "stop", false))).isEmpty();
        assertThat(rules.apply(call("not json", "stop", false))).hasSize(1);
    }

    @Test
    @Timeout(30) // a regression would connect and wait for an answer that never comes
    void aSchemaThatReferencesTheNetworkIsNeverFetched() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            String url = "http://127.0.0.1:" + listener.getLocalPort() + "/evil.json";
            Payloads payload = Payloads.success("openai", "gpt-4o", "dep-format", AT)
                    .answer("{\"a\": 1}", "stop");
            ObjectNode format = ((ObjectNode) payload.node().get("model_parameters")).putObject("response_format");
            format.put("type", "json_schema").putObject("json_schema").put("name", "remote")
                    .set("schema", Payloads.JSON.readTree("{\"$ref\": \"" + url + "\"}"));

            // The reference cannot be resolved without a fetch: the schema is treated as unusable, not fetched.
            assertThat(rules.apply(mapper.map(payload.node()))).isEmpty();
            // A fetch would have connected (synchronously) during apply; the backlog holds no connection.
            listener.setSoTimeout(1);
            assertThatThrownBy(listener::accept).isInstanceOf(SocketTimeoutException.class);
        }
    }
}
