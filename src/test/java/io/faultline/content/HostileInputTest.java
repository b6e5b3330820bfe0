package io.faultline.content;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.taxonomy.Failure;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.HostileSubjects;
import io.faultline.testing.HostileText;
import io.faultline.testing.Payloads;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator.ReplaceUnderscores;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Every detector, the mapper, the redactor and the signal parser on the hostile texts of {@link HostileText} at
 * 64 KiB, in every field they read. Linear code takes milliseconds here and quadratic code minutes, so the 2 s ceiling
 * (several hundred times the measured cost, see {@code bench/RESULTS.md}) cannot flake and catches any scan or pattern
 * that goes quadratic again.
 */
@DisplayNameGeneration(ReplaceUnderscores.class)
class HostileInputTest {

    private static final int SIZE = 64 * 1024;
    private static final Duration CEILING = Duration.ofSeconds(2);
    private static final Map<String, String> TEXTS = HostileText.all(SIZE);

    private static Stream<DynamicTest> subject(String name) {
        HostileSubjects.Subject subject = HostileSubjects.all().stream().filter(s -> s.name().equals(name))
                .findFirst().orElseThrow();
        return TEXTS.entrySet().stream().map(text -> DynamicTest.dynamicTest(text.getKey(), () -> {
            HostileSubjects.Prepared prepared = subject.prepare(HostileSubjects.Texts.everywhere(text.getValue()));
            assertTimeoutPreemptively(CEILING, prepared::run, () -> name + " on 64 KiB of " + text.getKey());
        }));
    }

    @Test
    void the_generators_make_64_KiB_of_each_hostile_text() {
        assertThat(TEXTS).hasSizeGreaterThanOrEqualTo(9);
        TEXTS.forEach((name, text) -> assertThat(HostileText.utf8Bytes(text)).as(name).isBetween(SIZE - 2, SIZE));
    }

    @TestFactory
    Stream<DynamicTest> the_mapper_reads_hostile_fields_within_the_ceiling() {
        return subject("mapper");
    }

    @TestFactory
    Stream<DynamicTest> injection_detection_finishes_within_the_ceiling() {
        return subject("injection");
    }

    @TestFactory
    Stream<DynamicTest> pii_detection_finishes_within_the_ceiling() {
        return subject("pii");
    }

    @TestFactory
    Stream<DynamicTest> format_checking_finishes_within_the_ceiling() {
        return subject("format");
    }

    @TestFactory
    Stream<DynamicTest> caller_schema_patterns_run_within_the_ceiling() {
        return subject("format, caller schema patterns");
    }

    @TestFactory
    Stream<DynamicTest> language_drift_detection_finishes_within_the_ceiling() {
        return subject("language");
    }

    @TestFactory
    Stream<DynamicTest> faithfulness_scoring_finishes_within_the_ceiling() {
        return subject("faithfulness");
    }

    @TestFactory
    Stream<DynamicTest> function_calls_with_hostile_names_arguments_and_schemas_are_judged_within_the_ceiling() {
        return subject("tool calls");
    }

    @TestFactory
    Stream<DynamicTest> provider_rules_read_hostile_error_messages_within_the_ceiling() {
        return subject("provider rules");
    }

    @TestFactory
    Stream<DynamicTest> the_redactor_masks_hostile_text_within_the_ceiling() {
        return subject("redactor");
    }

    @TestFactory
    Stream<DynamicTest> the_signal_parser_refuses_hostile_fields_within_the_ceiling() {
        return subject("signal parser");
    }

    // --- caller schemas: patterns on a linear engine, nesting bounded ---

    private final CallMapper mapper = new CallMapper(Payloads.JSON, ConfigMappings.defaults(ContentConfig.class));
    private final FormatRules format = new FormatRules(ConfigMappings.defaults(ContentConfig.class),
            ConfigMappings.defaults(FormatConfig.class));

    private List<Failure> check(ObjectNode schema, String answer) {
        Payloads p = Payloads.success("openai", "gpt-4o", "d", HostileSubjects.AT).answer(answer, "stop");
        ObjectNode format = ((ObjectNode) p.node().get("model_parameters")).putObject("response_format")
                .put("type", "json_schema");
        format.putObject("json_schema").put("name", "reply").set("schema", schema);
        LlmCall call = mapper.map(p.node());
        return assertTimeoutPreemptively(CEILING, () -> this.format.apply(call));
    }

    private static ObjectNode stringSchema(String pattern) {
        ObjectNode schema = Payloads.JSON.createObjectNode().put("type", "object");
        schema.putObject("properties").putObject("answer").put("type", "string").put("pattern", pattern);
        return schema;
    }

    @Test
    void a_catastrophic_caller_pattern_is_still_applied_in_linear_time() {
        // java.util.regex took 8 s for this pattern on a 36-character answer.
        ObjectNode schema = stringSchema("^(.*a){10}$");
        List<Failure> violated = check(schema, "{\"answer\": \"" + ".".repeat(36) + "\"}");
        assertThat(violated).hasSize(1);
        assertThat(violated.get(0).evidence()).containsEntry("reason", "schema_violation")
                .doesNotContainKey("schema_patterns_skipped");
        assertThat(violated.get(0).evidence().get("schema_errors").toString()).contains("pattern");
        assertThat(check(schema, "{\"answer\": \"" + "ba".repeat(10) + "\"}")).isEmpty();
        assertThat(check(schema, "{\"answer\": \"" + ".".repeat(60_000) + "\"}")).hasSize(1);
    }

    @Test
    void a_pattern_with_a_backreference_is_skipped_and_the_evidence_says_so() {
        ObjectNode schema = stringSchema("^(a+)\\1$");
        schema.put("required", Payloads.JSON.createArrayNode().add("answer").add("id"));
        List<Failure> violated = check(schema, "{\"answer\": \"" + "a".repeat(30) + "!\"}");
        assertThat(violated).hasSize(1);
        assertThat(violated.get(0).evidence()).containsEntry("schema_patterns_skipped", 1)
                .containsKey("note");
        // Only the missing "id" is reported: the skipped pattern accepts every string.
        assertThat(violated.get(0).evidence()).containsEntry("schema_error_count", 1);
    }

    @Test
    void a_pattern_that_would_compile_to_a_huge_program_is_skipped() {
        assertThat(StructuredOutputValidator.programSize("((a{1000}){1000}){1000}"))
                .isGreaterThan(StructuredOutputValidator.MAX_PATTERN_SIZE);
        assertThat(StructuredOutputValidator.programSize("^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$")).isLessThan(100);
        ObjectNode schema = stringSchema("((a{1000}){1000}){1000}");
        schema.put("required", Payloads.JSON.createArrayNode().add("id"));
        List<Failure> violated = check(schema, "{\"answer\": \"aaa\"}");
        assertThat(violated).hasSize(1);
        assertThat(violated.get(0).evidence()).containsEntry("schema_patterns_skipped", 1);
    }

    @Test
    void a_skipped_pattern_properties_key_selects_no_property() {
        ObjectNode schema = Payloads.JSON.createObjectNode().put("type", "object");
        schema.putObject("patternProperties").putObject("^(?=x)").put("type", "integer");
        schema.putObject("patternProperties").putObject("^n").put("type", "integer");
        assertThat(check(schema, "{\"xs\": \"not an integer\", \"n\": 1}")).isEmpty();
        assertThat(check(schema, "{\"n\": \"two\"}")).hasSize(1);
    }

    @Test
    void a_self_referencing_schema_with_a_deeply_nested_answer_is_reported_too_deep_without_validation() {
        ObjectNode schema = Payloads.JSON.createObjectNode();
        schema.putArray("type").add("array").add("integer");
        schema.putObject("items").put("$ref", "#");
        String deep = "[".repeat(900) + "]".repeat(900);
        List<Failure> failures = check(schema, deep);
        assertThat(failures).hasSize(1);
        assertThat(failures.get(0).evidence()).containsEntry("reason", "too_deep")
                .containsEntry("max_answer_depth", 64).containsEntry("answer_depth_at_least", 65);
        assertThat(failures.get(0).evidence().get("note").toString()).contains("max-answer-depth");
        // Within the bound the same schema is validated as before.
        assertThat(check(schema, "[".repeat(10) + "1" + "]".repeat(10))).isEmpty();
        assertThat(check(schema, "[[[\"x\"]]]")).hasSize(1);
    }
}
