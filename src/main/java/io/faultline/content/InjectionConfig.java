package io.faultline.content;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;

import java.util.Set;

/**
 * Thresholds of the {@code prompt_injection} and {@code jailbreak_attempt} detector. A score is the noisy-OR of the
 * weights of the phrase signals a message matched and of the learned classifier's probability (0 to 1); a single weak
 * signal stays below the thresholds, a single strong one or two weak ones reach them, and so does the classifier alone
 * when it is confident (its heads are calibrated on out-of-fold training rows: DATA_CARD.md). Phrase signals defer
 * to the classifier ({@link #ruleAgreement()}). Either type is switched off through {@code faultline.content.disabled-types}.
 */
@ConfigMapping(prefix = "faultline.injection")
public interface InjectionConfig {

    /** Injection score at or above which a message is reported as {@code prompt_injection}. */
    @WithDefault("0.5")
    @DecimalMin("0")
    @DecimalMax("1")
    double injectionThreshold();

    /** Jailbreak score at or above which a message is reported as {@code jailbreak_attempt}. */
    @WithDefault("0.5")
    @DecimalMin("0")
    @DecimalMax("1")
    double jailbreakThreshold();

    /**
     * Score at or above which the failure's severity rises to P2: at 0.9 it takes one near-certain signal (DAN,
     * smuggled tag characters) or several independent ones agreeing.
     */
    @WithDefault("0.9")
    @DecimalMin("0")
    @DecimalMax("1")
    double highScore();

    /**
     * Characters of one message that are scanned. A longer message is scanned as its head and tail halves, since an
     * injected instruction usually opens or closes the text; the evidence says when the middle was skipped.
     */
    @WithDefault("8192")
    @Min(1)
    int maxScanChars();

    /**
     * Characters scanned per call, over the last user message and the tool results after it (each counted up to
     * {@link #maxScanChars()}): the messages past the budget are not scanned. Bounds the cost of a call that carries
     * hundreds of tool results.
     */
    @WithDefault("32768")
    @Min(1)
    int maxCallChars();

    /**
     * Characters the phrase patterns may read per call, summed over patterns: each pattern reads only the windows
     * around its anchors, so ordinary text uses a small part of it, but a text that carries every signal's anchors
     * throughout would have each of about 80 patterns read all of it (tens of milliseconds for 32 KiB). When it runs
     * out, the remaining signals are skipped and the evidence says {@code scan_truncated}. 131,072 is four full
     * passes over {@link #maxCallChars()}; the largest need of a row of the injection eval is in eval/RESULTS.md.
     */
    @WithDefault("131072")
    @Min(1)
    long maxPatternChars();

    /**
     * Whether the learned classifier (train/injection/DATA_CARD.md) scores each scanned message beside the phrase
     * rules; its probability and the rules' score are combined by noisy-OR and compared with the same thresholds. Off,
     * only the rules run (they catch 25 instead of 34 of deepset's 60 held-out injections, none of the held-out
     * planted instructions, and raise 5.7% of held-out security talk instead of 3.0%: eval/RESULTS.md).
     */
    @WithDefault("true")
    boolean modelEnabled();

    /**
     * The writing systems (Unicode script names) the classifier has seen benign text in: English and German chat,
     * and MT-Bench-X's and MGSM's translations (train/injection/DATA_CARD.md). A text whose letters are mostly in
     * another script is judged by the phrase rules alone, and the evidence says {@code model_skipped_script}: the
     * classifier has seen such a script only in attacks (CyberSecEval's translations), so its verdict there reads the
     * script, not the text (it flagged 38 of 40 benign Hindi web sentences: train/injection/DATA_CARD.md). Add a
     * script only with benign training text in it.
     */
    @WithDefault("LATIN,CYRILLIC,HAN,HIRAGANA,KATAKANA,THAI,BENGALI,TELUGU")
    Set<String> modelScripts();

    /**
     * With the classifier on, the phrase rules' score for a kind counts only when the classifier gives that kind at
     * least this probability: the phrases ("ignore previous instructions", "system prompt", "jailbreak") are also
     * what an article or a training question about prompt injection says, and the classifier, trained on security
     * talk as well, tells the two apart. Smuggling signals that no text about attacks carries (tag characters,
     * zero-width splits, bidi overrides, an instruction in base64, spaced letters) count regardless. 0 turns the
     * deferral off. Chosen on the training split (train/injection/DATA_CARD.md); its effect on the held-out security
     * talk and injections is in eval/RESULTS.md.
     */
    @WithDefault("0.02")
    @DecimalMin("0")
    @DecimalMax("1")
    double ruleAgreement();

    /** Base64 blobs decoded and scanned per message: bounds the work a message full of blobs can cause. */
    @WithDefault("4")
    @Min(0)
    int maxDecodedBlobs();

    /** Shortest run of base64 characters that is tried as an encoded payload (24 characters carry 18 bytes). */
    @WithDefault("24")
    @Min(1)
    int minBase64Chars();
}
