package io.faultline.content;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;

/**
 * Thresholds and bounds of the lexical faithfulness check ({@code low_faithfulness}, {@code hallucination}). Whether
 * each type runs at all is {@code faultline.content.disabled-types}. See {@link FaithfulnessScorer} for the method.
 */
@ConfigMapping(prefix = "faultline.faithfulness")
public interface FaithfulnessConfig {

    /**
     * {@code low_faithfulness} when the weighted share of the answer's content units found in the grounding (or the
     * question) is below this. 0.8 lets a real paraphrase leave a few connecting words unmatched.
     */
    @WithDefault("0.8")
    @DecimalMin("0")
    @DecimalMax("1")
    double lowFaithfulnessThreshold();

    /**
     * {@code hallucination} when the weighted support share is below this, whatever else the answer holds; and a
     * claim (sentence) whose own support share is below it is an unsupported claim.
     */
    @WithDefault("0.5")
    @DecimalMin("0")
    @DecimalMax("1")
    double hallucinationThreshold();

    /**
     * {@code hallucination} when unsupported claims make up at least this share of the answer's claims (they
     * dominate); fewer, but at least one, make {@code low_faithfulness}. A one-sentence answer whose sentence is
     * unsupported is a hallucination. 0.5 was chosen on the development part of the partial-support set (see
     * {@code eval/RESULTS.md}, "Faithfulness").
     */
    @WithDefault("0.5")
    @DecimalMin("0")
    @DecimalMax("1")
    double hallucinationClaimShare();

    /**
     * A claim is unsupported when at least this many of its name or number tokens appear nowhere in the grounding or
     * the question (and are not derived from grounded numbers). Counted per token: an invented two-word name counts
     * twice.
     */
    @WithDefault("2")
    @Min(0)
    int hallucinationMinUnsupportedEntities();

    /**
     * A claim is unsupported when at least this many of its numbers are contradicted: a year (or other number) the
     * grounding does not hold (nor derives), where the grounding states a different one of the same kind.
     */
    @WithDefault("1")
    @Min(0)
    int hallucinationMinContradictions();

    /** Answers with fewer content units than this get no verdict ("yes", "no", "Paris?" are not judged by words). */
    @WithDefault("1")
    @Min(1)
    int minAnswerUnits();

    /** Grounding text read per call, all documents and the question together; the rest is not indexed. */
    @WithDefault("65536")
    @Min(1)
    int maxContextChars();

    /** Answer text read per call; the rest is not judged and the evidence says so. */
    @WithDefault("8192")
    @Min(1)
    int maxAnswerChars();

    /** Weight of a number, date or year (the claims most often invented, and the easiest to check). */
    @WithDefault("3")
    @DecimalMin("0")
    double numberWeight();

    /** Weight of a capitalised name token that does not open a sentence. */
    @WithDefault("2")
    @DecimalMin("0")
    double entityWeight();

    /** Weight of any other content word (stopwords carry none). */
    @WithDefault("1")
    @DecimalMin("0")
    double wordWeight();
}
