package io.faultline.content;

import io.faultline.call.LlmCall;
import io.faultline.classify.CallFailures;
import io.faultline.common.Redactor;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.QualityFailure.Type;
import jakarta.inject.Singleton;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** QUALITY {@code format_non_compliance}: structured output was asked for and the answer is not it. */
@Singleton
public class FormatRules extends ContentRule implements io.faultline.common.BoundedState {

    /** Longest schema name kept in the evidence (masked): OpenAI's own limit. */
    static final int MAX_SCHEMA_NAME = 64;

    private final FormatConfig format;
    private final StructuredOutputValidator validator;

    public FormatRules(ContentConfig config, FormatConfig format) {
        super(config);
        this.format = format;
        this.validator = new StructuredOutputValidator(format);
    }

    @Override
    public List<Held> boundedMaps() {
        return List.of(new Held("content.json-schemas", Math.max(1, format.schemaCacheSize()), validator::cachedSchemas));
    }

    @Override
    protected List<Failure> detect(LlmCall call, CallContent content) {
        CallContent.ResponseFormat requested = content.responseFormat();
        if (!call.success() || requested == null || !requested.structured()
                || !config.detects(Type.FORMAT_NON_COMPLIANCE)) {
            return List.of();
        }
        if (content.refused()) {
            // The model declined (OpenAI's message.refusal): no output was made to hold to the schema. ProviderRules
            // types it content_filtered; as format_non_compliance it read "empty", which sends one to the parser.
            return List.of();
        }
        if (!content.tools().calls().isEmpty() || content.tools().unread()) {
            // The answer calls functions, with a line of text before them as Claude and Gemini write: the structured
            // answer is owed after their results, not in this turn. ToolCallRules judges the calls.
            return List.of();
        }
        if (!content.hasAnswer() && call.responseChars() > 0) {
            // A tool call answers instead of text: its arguments are checked by the tool's own schema, not this one.
            return List.of();
        }
        if (content.hasAnswer() && content.answer().length() < call.responseChars()
                && !"length".equals(call.finishReason())) {
            // Only a prefix was read: judging it would flag every long, valid answer.
            return List.of();
        }
        if (content.hasAnswer() && content.answer().length() > format.maxAnswerChars()) {
            // Over this detector's budget: not judged.
            return List.of();
        }
        Optional<StructuredOutputValidator.Violation> violation = validator.check(requested, content.answer(),
                call.finishReason());
        if (violation.isEmpty()) {
            return List.of();
        }
        StructuredOutputValidator.Violation v = violation.get();
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("requested_format", requested.type());
        // The caller names the schema: OpenAI holds it to 64 characters of [a-zA-Z0-9_-], other providers to nothing.
        CallFailures.putIfPresent(evidence, "schema_name", Redactor.mask(requested.name(), MAX_SCHEMA_NAME));
        evidence.put("strict", requested.strict());
        evidence.put("reason", v.reason().code());
        CallFailures.putIfPresent(evidence, "finish_reason", call.finishReason());
        if (!v.errors().isEmpty()) {
            evidence.put("schema_errors", v.errors());
            evidence.put("schema_error_count", v.errorCount());
        }
        if (v.skippedPatterns() > 0) {
            evidence.put("schema_patterns_skipped", v.skippedPatterns());
            evidence.put("note", "schema patterns that cannot run in linear time (backreferences, look-around, "
                    + "huge repetitions) were not applied");
        }
        if (v.reason() == StructuredOutputValidator.Reason.TOO_DEEP) {
            evidence.put("answer_depth_at_least", v.depth());
            evidence.put("max_answer_depth", format.maxAnswerDepth());
            evidence.put("note", "not validated against the schema: the answer is nested deeper than "
                    + "faultline.format.max-answer-depth");
        }
        evidence.put("answer_chars", call.responseChars());
        return List.of(CallFailures.of(Type.FORMAT_NON_COMPLIANCE, call, "content.format.json_schema",
                requested.strict() ? format.strictSeverity() : format.severity(), evidence));
    }
}
