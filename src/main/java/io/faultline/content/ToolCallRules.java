package io.faultline.content;

import io.faultline.call.LlmCall;
import io.faultline.classify.CallFailures;
import io.faultline.classify.ProviderRules;
import io.faultline.common.Redactor;
import io.faultline.content.CallContent.Tool;
import io.faultline.content.CallContent.ToolCall;
import io.faultline.content.CallContent.ToolUse;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.QualityFailure.Type;
import io.faultline.taxonomy.Severity;
import jakarta.inject.Singleton;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * QUALITY {@code format_non_compliance} of function calling: the request offered functions and the answer's calls
 * of them are not what the application can run. Reasons, in the order they are checked:
 * <ul>
 * <li>{@code tool_not_called}: {@code tool_choice} made a call mandatory ({@code required} with function tools
 * alone offered or allowed, or a named function) and the model answered in text;</li>
 * <li>{@code unexpected_tool}: {@code tool_choice} named another function and it was not called, was
 * {@code none}, or was {@code allowed_tools} not listing the called function;</li>
 * <li>{@code unknown_tool}: a call of a function the request did not offer (judged only when every offered tool
 * is a function, so that built-in tools are never mistaken for it);</li>
 * <li>the arguments' own reasons: {@code truncated} (cut at the token limit), {@code not_json},
 * {@code code_fence}, {@code not_an_object}, {@code schema_violation} against the function's {@code parameters},
 * {@code too_deep}.</li>
 * </ul>
 * Before all of them, Gemini's own verdicts: {@code malformed_function_call}, {@code unexpected_tool_call},
 * {@code too_many_tool_calls} (its finish reasons, which LiteLLM keeps for unstreamed calls).
 * One failure per call, for its first bad function call; the evidence counts the others. It names the function
 * (masked, as the schema name of {@link FormatRules}) and the schema's paths and keywords, never an argument.
 */
@Singleton
public class ToolCallRules extends ContentRule implements io.faultline.common.BoundedState {

    private final FormatConfig format;
    private final StructuredOutputValidator validator;

    public ToolCallRules(ContentConfig config, FormatConfig format) {
        super(config);
        this.format = format;
        this.validator = new StructuredOutputValidator(format);
    }

    @Override
    public List<Held> boundedMaps() {
        return List.of(new Held("content.tool-schemas", Math.max(1, format.schemaCacheSize()),
                validator::cachedSchemas));
    }

    @Override
    protected List<Failure> detect(LlmCall call, CallContent content) {
        ToolUse tools = content.tools();
        if (!call.success() || !config.detects(Type.FORMAT_NON_COMPLIANCE)) {
            return List.of();
        }
        if (ProviderRules.isToolCallFinish(call.finishReason())) {
            // Gemini said so itself: the call it could not parse (or one no tool was offered for, or too many) is
            // not in the answer, so its finish reason is the whole evidence.
            return List.of(failure(call, false, evidence(call, tools, call.finishReason(), null, 0)));
        }
        if (tools == ToolUse.NONE || tools.unread() || content.refused()) {
            return List.of();
        }
        if (tools.calls().isEmpty()) {
            // A text answer cut at the token limit may have been on its way to the call: that is the limit's doing.
            // Under "required", a built-in, MCP or custom tool offered beside the functions is a tool too: the
            // model may have called it (OpenAI's web_search_call or mcp_call items), which is no function call.
            boolean functionOwed = "function".equals(tools.choice()) || tools.exhaustive() || tools.allowed() != null;
            if (tools.forced() && functionOwed && content.hasAnswer() && !"length".equals(call.finishReason())) {
                Map<String, Object> evidence = evidence(call, tools, "tool_not_called", null, 0);
                Tool chosen = tools.chosen() == null ? null : tools.byName().get(tools.chosen());
                return List.of(failure(call, strict(chosen), evidence));
            }
            return List.of();
        }
        Map<String, Object> first = null;
        boolean firstStrict = false;
        int invalid = 0;
        Map<String, Tool> declared = tools.byName();
        // A named choice is kept by a call of that function; Anthropic's forced tool may have others beside it.
        boolean chosenCalled = false;
        for (ToolCall made : tools.calls()) {
            chosenCalled |= made.name().equals(tools.chosen());
        }
        for (ToolCall made : tools.calls()) {
            Tool tool = declared.get(made.name());
            Map<String, Object> found = judge(call, tools, made, tool, chosenCalled);
            if (found != null) {
                invalid++;
                if (first == null) {
                    first = found;
                    firstStrict = strict(tool);
                }
            }
        }
        if (first == null) {
            return List.of();
        }
        first.put("invalid_tool_calls", invalid);
        return List.of(failure(call, firstStrict, first));
    }

    /** The evidence of one bad function call, or null when the application can run it. */
    private Map<String, Object> judge(LlmCall call, ToolUse tools, ToolCall made, Tool tool, boolean chosenCalled) {
        if ("none".equals(tools.choice()) || "function".equals(tools.choice()) && !chosenCalled
                || tools.allowed() != null && !tools.allowed().contains(made.name())) {
            return evidence(call, tools, "unexpected_tool", made, 0);
        }
        if (tool == null && tools.exhaustive()) {
            return evidence(call, tools, "unknown_tool", made, 0);
        }
        Optional<StructuredOutputValidator.Violation> violation = validator.checkArguments(
                tool == null ? null : tool.parameters(), made.arguments(), call.finishReason());
        if (violation.isEmpty()) {
            return null;
        }
        StructuredOutputValidator.Violation v = violation.get();
        Map<String, Object> evidence = evidence(call, tools, v.reason().code(), made, v.depth());
        if (!v.errors().isEmpty()) {
            evidence.put("schema_errors", v.errors());
            evidence.put("schema_error_count", v.errorCount());
        }
        if (v.skippedPatterns() > 0) {
            evidence.put("schema_patterns_skipped", v.skippedPatterns());
        }
        evidence.put("strict", strict(tool));
        return evidence;
    }

    private Map<String, Object> evidence(LlmCall call, ToolUse tools, String reason, ToolCall made, int depth) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("reason", reason);
        // Function names come from the caller (OpenAI holds them to 64 characters of [a-zA-Z0-9_-]).
        if (made != null) {
            evidence.put("tool", Redactor.mask(made.name(), FormatRules.MAX_SCHEMA_NAME));
            evidence.put("arguments_chars", made.arguments().length());
        }
        evidence.put("tool_choice", tools.choice());
        CallFailures.putIfPresent(evidence, "chosen_tool", tools.chosen() == null ? null
                : Redactor.mask(tools.chosen(), FormatRules.MAX_SCHEMA_NAME));
        evidence.put("tools_offered", tools.declared().size());
        evidence.put("tool_calls", tools.calls().size());
        CallFailures.putIfPresent(evidence, "finish_reason", call.finishReason());
        if (depth > 0) {
            evidence.put("arguments_depth_at_least", depth);
            evidence.put("max_answer_depth", format.maxAnswerDepth());
        }
        return evidence;
    }

    private Failure failure(LlmCall call, boolean strict, Map<String, Object> evidence) {
        Severity severity = strict ? format.strictSeverity() : format.severity();
        return CallFailures.of(Type.FORMAT_NON_COMPLIANCE, call, "content.format.tool_call", severity, evidence);
    }

    private static boolean strict(Tool tool) {
        return tool != null && tool.strict();
    }
}
