package io.faultline.content;

import io.faultline.taxonomy.Severity;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.Min;

/** Thresholds of {@code format_non_compliance}: structured output that does not parse or validate. */
@ConfigMapping(prefix = "faultline.format")
public interface FormatConfig {

    /** Severity of an answer that breaks the requested format. */
    @WithDefault("P3")
    Severity severity();

    /**
     * Severity when the request asked for {@code strict} schema adherence: the provider promised to enforce the
     * schema, so a violation is its defect and every consumer of that output breaks.
     */
    @WithDefault("P2")
    Severity strictSeverity();

    /**
     * Whether JSON wrapped in a Markdown code fence counts as non-compliant. A strict JSON consumer cannot parse it,
     * so by default it does; the evidence then says {@code code_fence}.
     */
    @WithDefault("true")
    boolean fenceIsViolation();

    /** Compiled schemas kept, keyed by the schema's text: applications reuse a handful of schemas. */
    @WithDefault("256")
    @Min(1)
    int schemaCacheSize();

    /**
     * Answer characters this detector reads per call: a longer answer is not judged (as an answer cut by
     * {@code faultline.content.max-answer-chars} is not). Parsing and validation are linear, so this bounds the cost.
     */
    @WithDefault("65536")
    @Min(1)
    int maxAnswerChars();

    /**
     * Nesting depth of an answer that is still validated against a schema. A deeper one is reported as
     * {@code too_deep} without validation: a self-referencing schema ({@code $ref: "#"}) recurses once per level,
     * and structured output is rarely more than a dozen levels deep (OpenAI's strict mode allows 10).
     */
    @WithDefault("64")
    @Min(1)
    int maxAnswerDepth();

    /** Validation errors named in the evidence (paths and keywords, never values). */
    @WithDefault("3")
    @Min(0)
    int maxErrorsInEvidence();
}
