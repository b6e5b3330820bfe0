package io.faultline.content;

import io.faultline.taxonomy.Severity;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.util.List;

/**
 * Thresholds of {@code language_drift}. The cut-offs below were chosen from the prefix-length measurement in
 * {@code eval/RESULTS.md} (section "Language identification"): under them the identifier is too often wrong.
 */
@ConfigMapping(prefix = "faultline.language")
public interface LanguageConfig {

    /**
     * ISO 639-1 codes the identifier may answer with. Restricting it to the languages an application serves is
     * what makes short texts judgeable; a language outside the list is never reported.
     */
    @WithDefault("en,de,fr,es,it,pt,nl")
    List<String> languages();

    /** Letters (after code, URLs, numbers and markup are removed) an answer needs before it is judged. */
    @WithDefault("60")
    int minAnswerLetters();

    /** Letters the request's user text needs before its language is taken as the expected one. */
    @WithDefault("40")
    int minRequestLetters();

    /** Probability the identifier must give its top language, on each side, before the two are compared. */
    @WithDefault("0.90")
    double minConfidence();

    /**
     * When the user asks for a translation or names another language ("in German", "auf Deutsch"), an answer in
     * another language is what was asked for: such requests are skipped unless metadata sets the language.
     */
    @WithDefault("true")
    boolean skipTranslationRequests();

    /**
     * Share of calls whose language is judged, chosen by a hash of the call id (so a resend gets the same choice).
     * Identification is the dearest content check (~65 µs a call for the two sides); drift is a systematic failure
     * (a model or prompt change turns many answers), which a sample still shows as an episode within minutes. Set
     * 1.0 to judge every call; bench/RESULTS.md has the ingest figures of both.
     */
    @WithDefault("0.2")
    double sampleRate();

    /** Severity of one drifted answer; a storm of them is raised by the severity policy. */
    @WithDefault("P4")
    Severity severity();
}
