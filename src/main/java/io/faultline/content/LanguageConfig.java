package io.faultline.content;

import io.faultline.taxonomy.Severity;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;

import java.util.List;

/**
 * Thresholds of {@code language_drift}. The letter cut-offs below were first chosen from a prefix-length measurement;
 * {@code eval/RESULTS.md} (section "Language identification and language_drift") now measures them against
 * labelled sentences of every configured language, per question/answer language pair.
 */
@ConfigMapping(prefix = "faultline.language")
public interface LanguageConfig {

    /**
     * ISO 639-1 codes the identifier may answer with. Restricting it to the languages an application serves is
     * what makes short texts judgeable; a language outside the list is never reported. The script of the letters
     * decides first (ru/uk/bg are Cyrillic, zh/ja/ko Han, kana or hangul, ar/fa/ur Arabic, he, el, hi, th alone in
     * theirs); the n-gram profiles only choose among the languages of one script. Supported: en de fr es it pt nl
     * pl sv tr ro cs da fi hu id vi no ru uk bg el ar fa ur he hi mr th zh ja ko; others fail the start. Each more
     * Latin-script language costs every call whose Latin text the function words do not settle (about 1-1.5 µs of CPU
     * per call each on English traffic, bench/RESULTS.md), so the default holds eight of them; a language alone in
     * its script costs nothing.
     */
    @WithDefault("en,de,fr,es,it,pt,nl,pl,ru,uk,bg,zh,ja,ko,ar,fa,he,hi,el,th")
    List<String> languages();

    /**
     * Letters (after code, URLs, numbers and markup are removed) an answer needs before it is judged. A Han, kana or
     * hangul character counts three letters.
     */
    @WithDefault("60")
    @Min(1)
    int minAnswerLetters();

    /** Letters the request's user text needs before its language is taken as the expected one. */
    @WithDefault("40")
    @Min(1)
    int minRequestLetters();

    /**
     * Share of the letters the main Unicode script must hold for a confident verdict: a Thai page with a few English
     * brand names is Thai, half Japanese and half English is left alone.
     */
    @WithDefault("0.7")
    @DecimalMin("0")
    @DecimalMax("1")
    double minScriptShare();

    /** Probability the identifier must give its top language, on each side, before the two are compared. */
    @WithDefault("0.90")
    @DecimalMin("0")
    @DecimalMax("1")
    double minConfidence();

    /**
     * When the user asks for a translation or names another language ("in German", "auf Deutsch"), an answer in
     * another language is what was asked for: such requests are skipped unless metadata sets the language.
     */
    @WithDefault("true")
    boolean skipTranslationRequests();

    /**
     * Function words (the, und, les, …) each side needs, twice as many as any other language's, for the cheap
     * same-language test that spares the n-gram identifier (~65 µs a call) when request and answer are plainly in one
     * language. The test only ever concludes "no drift"; 0 switches it off.
     */
    @WithDefault("3")
    @Min(0)
    int shortcutFunctionWords();

    /**
     * Share of calls whose language is judged, chosen by a hash of the call id (so a resend gets the same choice).
     * Every call by default; lower it only if the identifier's cost shows on a very busy ingest.
     */
    @WithDefault("1.0")
    @DecimalMin("0")
    @DecimalMax("1")
    double sampleRate();

    /**
     * Characters of the answer, and of the user's text, read per call: the budget that bounds this detector's cost
     * whatever the caller sends. The n-gram identifier has settled long before it (a few hundred letters suffice);
     * the beginning of a longer text is judged.
     */
    @WithDefault("8192")
    @Min(1)
    int maxChars();

    /** Severity of one drifted answer; a storm of them is raised by the severity policy. */
    @WithDefault("P4")
    Severity severity();
}
