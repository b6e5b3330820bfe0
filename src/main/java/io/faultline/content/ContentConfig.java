package io.faultline.content;

import io.faultline.taxonomy.FailureType;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.Min;

import java.util.Optional;
import java.util.Set;

/**
 * Switches and bounds shared by every content detector. Each detector's thresholds live in its own mapping
 * ({@code faultline.injection}, {@code faultline.pii}, {@code faultline.format}, {@code faultline.language},
 * {@code faultline.faithfulness}).
 */
@ConfigMapping(prefix = "faultline.content")
public interface ContentConfig {

    /** Master switch: with it off, no request or answer text is even read. */
    @WithDefault("true")
    boolean enabled();

    /**
     * Model groups whose calls content detection leaves alone; by default Faultline's own faithfulness judge
     * ({@code faultline.faithfulness.judge.model}). A judge's call carries a prompt Faultline wrote around the judged
     * call's context and answer, and a JSON verdict: that content was analysed on the judged call, and read as an
     * answer of its own it is unsupported by the context it quotes (a false hallucination on the judge's deployment).
     * Provider failures of those calls are still classified.
     */
    @WithDefault("${faultline.faithfulness.judge.model:faultline-judge}")
    Set<String> skippedModelGroups();

    /** Failure types (by code, e.g. {@code language_drift}) whose detection is switched off. */
    Optional<Set<String>> disabledTypes();

    /** Request text read per call (all messages together); the rest is not analysed and the evidence says so. */
    @WithDefault("131072")
    @Min(1)
    int maxRequestChars();

    /** Answer text read per call. */
    @WithDefault("65536")
    @Min(1)
    int maxAnswerChars();

    /** Whether the content detection of {@code type} runs. */
    default boolean detects(FailureType type) {
        return enabled() && disabledTypes().map(types -> !types.contains(type.code())).orElse(true);
    }
}
