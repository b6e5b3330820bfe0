package io.faultline.content;

import com.optimaize.langdetect.DetectedLanguage;
import com.optimaize.langdetect.LanguageDetector;
import com.optimaize.langdetect.LanguageDetectorBuilder;
import com.optimaize.langdetect.ngram.NgramExtractors;
import com.optimaize.langdetect.profiles.LanguageProfile;
import com.optimaize.langdetect.profiles.LanguageProfileReader;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Identifies the language of a text among a configured set, in two steps. First the Unicode script of its letters:
 * cheap, and certain for the languages that are alone in their script among those configured (Greek, Hebrew, Thai,
 * Hindi in Devanagari, and Chinese, Japanese and Korean, told apart by Han against kana against hangul). Then, only
 * where a script holds several configured languages (Latin, Cyrillic, Arabic), the n-gram profiles of the optimaize
 * language-detector (the Cybozu langdetect algorithm, as Apache Tika uses it; profiles built from Wikipedia and
 * shipped in its jar), restricted to that script's languages.
 * <p>
 * Code, URLs, e-mail addresses, numbers and markup are removed first: they carry no language and skew the n-grams.
 * Thread-safe; deterministic (the library seeds its sampling with a fixed seed). The removal is a set of
 * hand-written scans, each linear in the text: a single 20,000-character token once held a thread for 50 s in the
 * backtracking e-mail pattern that stood here ({@code [^\s@]+@[^\s@]+\.\w+}), and RE2/J, linear too, costs 140 ms on
 * 64 KiB. The script count is one more linear pass.
 * <p>
 * Letters: a Han, kana or hangul character counts as {@link #CJK_LETTERS} letters in {@link #letters} (it stands for
 * a syllable or a word, not a sound), so that the length cut-offs mean about as much text in every script.
 */
public final class LanguageIdentifier {

    /** A language and the probability the identifier gives it; {@code byScript} when the script alone decided. */
    public record Guess(String language, double probability, int letters, boolean byScript) {

        public Guess(String language, double probability, int letters) {
            this(language, probability, letters, false);
        }
    }

    /** The scripts told apart; {@link #CJK} holds Han, kana and hangul, which decide among zh, ja and ko. */
    public enum Script {
        LATIN, CYRILLIC, GREEK, ARABIC, HEBREW, DEVANAGARI, THAI, CJK, OTHER
    }

    /** Letters a Han, kana or hangul character counts for. */
    public static final int CJK_LETTERS = 3;

    /** Kana share of Han plus kana from which a CJK text is Japanese: Chinese has none, Japanese prose a lot. */
    static final double KANA_SHARE_JAPANESE = 0.05;

    /** The languages supported, by script. The n-gram profile names are the codes, but for Chinese (Han alone). */
    static final Map<String, Script> SCRIPTS = Map.ofEntries(
            Map.entry("en", Script.LATIN), Map.entry("de", Script.LATIN), Map.entry("fr", Script.LATIN),
            Map.entry("es", Script.LATIN), Map.entry("it", Script.LATIN), Map.entry("pt", Script.LATIN),
            Map.entry("nl", Script.LATIN), Map.entry("pl", Script.LATIN), Map.entry("sv", Script.LATIN),
            Map.entry("tr", Script.LATIN), Map.entry("ro", Script.LATIN), Map.entry("cs", Script.LATIN),
            Map.entry("da", Script.LATIN), Map.entry("fi", Script.LATIN), Map.entry("hu", Script.LATIN),
            Map.entry("id", Script.LATIN), Map.entry("vi", Script.LATIN), Map.entry("no", Script.LATIN),
            Map.entry("ru", Script.CYRILLIC), Map.entry("uk", Script.CYRILLIC), Map.entry("bg", Script.CYRILLIC),
            Map.entry("el", Script.GREEK), Map.entry("ar", Script.ARABIC), Map.entry("fa", Script.ARABIC),
            Map.entry("ur", Script.ARABIC), Map.entry("he", Script.HEBREW), Map.entry("hi", Script.DEVANAGARI),
            Map.entry("mr", Script.DEVANAGARI), Map.entry("th", Script.THAI), Map.entry("zh", Script.CJK),
            Map.entry("ja", Script.CJK), Map.entry("ko", Script.CJK));

    private final List<String> languages;
    /** Per script: the one configured language it implies, or the detector among its several. */
    private final Map<Script, String> sole = new EnumMap<>(Script.class);
    private final Map<Script, LanguageDetector> detectors = new EnumMap<>(Script.class);
    private final boolean zh;
    private final boolean ja;
    private final boolean ko;

    public LanguageIdentifier(List<String> languages) {
        this(languages, DEFAULT_MIN_SCRIPT_SHARE);
    }

    /** Default of {@link LanguageConfig#minScriptShare()}. */
    public static final double DEFAULT_MIN_SCRIPT_SHARE = 0.7;

    private final double minScriptShare;

    /**
     * @param minScriptShare share of the letters the main script must hold before any verdict is confident (a web
     *                       page in Thai with English brand names is Thai; half Japanese, half English is neither)
     */
    /** Fails, naming the first one, when a configured language is not one this identifier knows. */
    public static void requireSupported(List<String> languages) {
        for (String code : languages) {
            if (!SCRIPTS.containsKey(code.trim().toLowerCase(Locale.ROOT))) {
                throw new IllegalArgumentException("faultline.language.languages: '" + code + "' is not supported;"
                        + " supported: " + new java.util.TreeSet<>(SCRIPTS.keySet()));
            }
        }
    }

    public LanguageIdentifier(List<String> languages, double minScriptShare) {
        this.minScriptShare = minScriptShare;
        this.languages = languages.stream().map(code -> code.trim().toLowerCase(Locale.ROOT)).distinct().toList();
        Map<Script, List<String>> byScript = new EnumMap<>(Script.class);
        for (String code : this.languages) {
            Script script = SCRIPTS.get(code);
            if (script == null) {
                throw new IllegalArgumentException("language '" + code + "' is not supported; supported: "
                        + new java.util.TreeSet<>(SCRIPTS.keySet()));
            }
            byScript.computeIfAbsent(script, s -> new ArrayList<>()).add(code);
        }
        zh = this.languages.contains("zh");
        ja = this.languages.contains("ja");
        ko = this.languages.contains("ko");
        try {
            for (Map.Entry<Script, List<String>> entry : byScript.entrySet()) {
                if (entry.getKey() == Script.CJK) {
                    continue;
                }
                if (entry.getValue().size() == 1) {
                    sole.put(entry.getKey(), entry.getValue().get(0));
                } else {
                    List<LanguageProfile> profiles = new LanguageProfileReader().read(entry.getValue());
                    detectors.put(entry.getKey(),
                            LanguageDetectorBuilder.create(NgramExtractors.standard()).withProfiles(profiles).build());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("language profiles " + this.languages + " not on the classpath", e);
        }
    }

    public List<String> languages() {
        return languages;
    }

    /**
     * Text with code, URLs, addresses, numbers and markup removed: what carries language. Each pass replaces what
     * the regular expression in its comment used to match by one space, in the same order.
     */
    public static String prose(String text) {
        String out = withoutFencedCode(text);
        out = withoutInlineCode(out);
        out = withoutLinks(out);
        out = withoutUrls(out);
        out = withoutEmails(out);
        return withoutNonLetters(out);
    }

    /** {@code (?s)```.*?(```|\z)}: from an opening fence to the next fence, or to the end. */
    static String withoutFencedCode(String text) {
        int open = text.indexOf("```");
        if (open < 0) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length());
        int from = 0;
        while (open >= 0) {
            int close = text.indexOf("```", open + 3);
            int end = close < 0 ? text.length() : close + 3;
            out.append(text, from, open).append(' ');
            from = end;
            open = end < text.length() ? text.indexOf("```", end) : -1;
        }
        return out.append(text, from, text.length()).toString();
    }

    /** {@code `[^`\n]*`}: a backtick span within one line. */
    static String withoutInlineCode(String text) {
        int tick = text.indexOf('`');
        if (tick < 0) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length());
        int from = 0;
        while (tick >= 0) {
            int end = tick + 1;
            while (end < text.length() && text.charAt(end) != '`' && text.charAt(end) != '\n') {
                end++;
            }
            if (end < text.length() && text.charAt(end) == '`') {
                out.append(text, from, tick).append(' ');
                from = end + 1;
                tick = text.indexOf('`', from);
            } else {
                // No closing tick on this line: the next tick, if any, lies beyond the line break.
                tick = end < text.length() ? text.indexOf('`', end) : -1;
            }
        }
        return out.append(text, from, text.length()).toString();
    }

    /**
     * {@code \[[^\[\]\n]*\]\([^)\s]*\)?}: a Markdown link with its text, which is mostly the title of what it
     * links to (an English source cited in a German answer), not the answer's words. One pass: the text's start is
     * the last '[' seen on the line, and the target's scan moves the pass on.
     */
    static String withoutLinks(String text) {
        int close = text.indexOf("](");
        if (close < 0) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length());
        int from = 0;
        int open = -1;
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (c == '[') {
                open = i;
            } else if (c == '\n') {
                open = -1;
            } else if (c == ']' && open >= from && i + 1 < n && text.charAt(i + 1) == '(') {
                int end = i + 2;
                while (end < n && text.charAt(end) != ')' && !isSpace(text.charAt(end))) {
                    end++;
                }
                if (end < n && text.charAt(end) == ')') {
                    end++;
                }
                out.append(text, from, open).append(' ');
                from = end;
                open = -1;
                i = end - 1;
            } else if (c == ']') {
                open = -1;
            }
        }
        return out.append(text, from, n).toString();
    }

    /** {@code \b(?:https?://|www\.)\S+}. */
    static String withoutUrls(String text) {
        StringBuilder out = null;
        int from = 0;
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if ((c != 'h' && c != 'w') || (i > 0 && isWordChar(text.charAt(i - 1)))) {
                continue;
            }
            int rest = text.startsWith("https://", i) ? i + 8 : text.startsWith("http://", i) ? i + 7
                    : text.startsWith("www.", i) ? i + 4 : -1;
            if (rest < 0 || rest >= n || isSpace(text.charAt(rest))) {
                continue;
            }
            int end = rest;
            while (end < n && !isSpace(text.charAt(end))) {
                end++;
            }
            if (out == null) {
                out = new StringBuilder(n);
            }
            out.append(text, from, i).append(' ');
            from = end;
            i = end - 1;
        }
        return out == null ? text : out.append(text, from, n).toString();
    }

    /**
     * {@code [^\s@]+@[^\s@]+\.\w+}: around each '@', the run of non-blank, non-'@' characters before it, and after
     * it up to the last dot that is followed by a word character. Every character is looked at from at most two
     * '@'s (the one before it and the one after it), so the scan is linear.
     */
    static String withoutEmails(String text) {
        int at = text.indexOf('@');
        if (at < 0) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length());
        int from = 0;
        int n = text.length();
        while (at >= 0) {
            int start = at;
            while (start > from && !isSpace(text.charAt(start - 1)) && text.charAt(start - 1) != '@') {
                start--;
            }
            int segmentEnd = at + 1;
            while (segmentEnd < n && !isSpace(text.charAt(segmentEnd)) && text.charAt(segmentEnd) != '@') {
                segmentEnd++;
            }
            int dot = -1;
            for (int d = segmentEnd - 2; d > at + 1; d--) {
                if (text.charAt(d) == '.' && isWordChar(text.charAt(d + 1))) {
                    dot = d;
                    break;
                }
            }
            if (start < at && dot > 0) {
                int end = dot + 1;
                while (end < n && isWordChar(text.charAt(end))) {
                    end++;
                }
                out.append(text, from, start).append(' ');
                from = end;
                at = end < n ? text.indexOf('@', end) : -1;
            } else {
                at = text.indexOf('@', at + 1);
            }
        }
        return out.append(text, from, n).toString();
    }

    /** {@code [\p{N}_#*>|=~^\[\]{}()<>\\/]+}: each run of digits and markup becomes one space. */
    static String withoutNonLetters(String text) {
        StringBuilder out = null;
        int n = text.length();
        int from = 0;
        int i = 0;
        while (i < n) {
            int cp = text.codePointAt(i);
            if (!isMarkupOrNumber(cp)) {
                i += Character.charCount(cp);
                continue;
            }
            int end = i;
            while (end < n && isMarkupOrNumber(text.codePointAt(end))) {
                end += Character.charCount(text.codePointAt(end));
            }
            if (out == null) {
                out = new StringBuilder(n);
            }
            out.append(text, from, i).append(' ');
            from = end;
            i = end;
        }
        return out == null ? text : out.append(text, from, n).toString();
    }

    private static boolean isMarkupOrNumber(int cp) {
        if (cp < 128) {
            return (cp >= '0' && cp <= '9') || "_#*>|=~^[]{}()<\\/".indexOf(cp) >= 0;
        }
        int type = Character.getType(cp);
        return type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER
                || type == Character.OTHER_NUMBER;
    }

    /** java.util.regex's {@code \s}: ASCII blanks only. */
    private static boolean isSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == 0x0B || c == '\f' || c == '\r';
    }

    /** java.util.regex's {@code \w}. */
    private static boolean isWordChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }

    /** Letters of {@code text}, a Han, kana or hangul character counting {@link #CJK_LETTERS}. */
    public static int letters(CharSequence text) {
        int letters = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < 0x80) {
                letters += ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ? 1 : 0;
            } else if (Character.isLetter(c)) {
                letters += isCjk(c) ? CJK_LETTERS : 1;
            }
        }
        return letters;
    }

    /** Han (BMP), kana or hangul: the ranges that matter for prose. */
    private static boolean isCjk(char c) {
        return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x3040 && c <= 0x30FF)
                || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x1100 && c <= 0x11FF) || (c >= 0x3130 && c <= 0x318F)
                || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x31F0 && c <= 0x31FF) || (c >= 0xFF66 && c <= 0xFF9D);
    }

    /** Letter counts of one text by script (CJK letters weighted), and within CJK by Han, kana and hangul. */
    static final class ScriptCounts {
        final int[] letters = new int[Script.values().length];
        int han;
        int kana;
        int hangul;
        int total;

        Script dominant() {
            Script best = Script.OTHER;
            int most = 0;
            for (Script script : Script.values()) {
                if (letters[script.ordinal()] > most) {
                    most = letters[script.ordinal()];
                    best = script;
                }
            }
            return best;
        }

        double share(Script script) {
            return total == 0 ? 0 : (double) letters[script.ordinal()] / total;
        }
    }

    /** One pass over {@code text}: the script of each letter (ASCII fast, then by Unicode block). */
    static ScriptCounts scripts(CharSequence text) {
        ScriptCounts counts = new ScriptCounts();
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            Script script;
            int weight = 1;
            if (c < 0x80) {
                if ((c | 0x20) < 'a' || (c | 0x20) > 'z') {
                    continue;
                }
                script = Script.LATIN;
            } else if (!Character.isLetter(c)) {
                continue;
            } else if (c < 0x0250 || (c >= 0x1E00 && c <= 0x1EFF)) {
                script = Script.LATIN;
            } else if (c >= 0x0370 && c <= 0x03FF || c >= 0x1F00 && c <= 0x1FFF) {
                script = Script.GREEK;
            } else if (c >= 0x0400 && c <= 0x052F) {
                script = Script.CYRILLIC;
            } else if (c >= 0x0590 && c <= 0x05FF || c >= 0xFB1D && c <= 0xFB4F) {
                script = Script.HEBREW;
            } else if (c >= 0x0600 && c <= 0x06FF || c >= 0x0750 && c <= 0x077F || c >= 0xFB50 && c <= 0xFDFF
                    || c >= 0xFE70 && c <= 0xFEFF) {
                script = Script.ARABIC;
            } else if (c >= 0x0900 && c <= 0x097F) {
                script = Script.DEVANAGARI;
            } else if (c >= 0x0E00 && c <= 0x0E7F) {
                script = Script.THAI;
            } else if (isCjk(c)) {
                script = Script.CJK;
                weight = CJK_LETTERS;
                if (c >= 0x3040 && c <= 0x30FF || c >= 0x31F0 && c <= 0x31FF || c >= 0xFF66 && c <= 0xFF9D) {
                    counts.kana++;
                } else if (c >= 0xAC00 && c <= 0xD7AF || c >= 0x1100 && c <= 0x11FF || c >= 0x3130 && c <= 0x318F) {
                    counts.hangul++;
                } else {
                    counts.han++;
                }
            } else {
                script = Script.OTHER;
            }
            counts.letters[script.ordinal()] += weight;
            counts.total += weight;
        }
        return counts;
    }

    /**
     * The most probable configured language of {@code text}, or empty when it has fewer than {@code minLetters}
     * letters or its main script holds none of the configured languages. When the main script holds at least
     * {@code minScriptShare} of the letters, the probability is 1 where the script alone names the language and the
     * n-gram identifier's otherwise; below that share it is the share times that figure, which keeps mixed-script
     * text under any sensible confidence threshold.
     */
    public Optional<Guess> identify(String text, int minLetters) {
        String prose = prose(text);
        ScriptCounts counts = scripts(prose);
        if (counts.total < minLetters || counts.total == 0) {
            return Optional.empty();
        }
        Script script = counts.dominant();
        double share = counts.share(script);
        double scriptConfidence = share >= minScriptShare ? 1.0 : share;
        String language = script == Script.CJK ? cjk(counts) : sole.get(script);
        if (language != null) {
            return Optional.of(new Guess(language, scriptConfidence, counts.total, true));
        }
        LanguageDetector detector = detectors.get(script);
        if (detector == null || !hasWords(prose, MIN_DISTINCT_WORDS)) {
            return Optional.empty();
        }
        List<DetectedLanguage> probabilities = detector.getProbabilities(prose);
        if (probabilities.isEmpty()) {
            return Optional.empty();
        }
        DetectedLanguage top = probabilities.get(0);
        return Optional.of(new Guess(top.getLocale().getLanguage(), top.getProbability() * scriptConfidence,
                counts.total, false));
    }

    /**
     * Distinct words below which the n-grams of a text say nothing of its language: 64 KiB of one token (a model
     * stuck on it) read as Dutch with probability 1, "zzz zzz ..." as another language again.
     */
    static final int MIN_DISTINCT_WORDS = 3;

    /** Whether {@code text} holds at least {@code wanted} distinct words (runs of letters). Linear. */
    static boolean hasWords(String text, int wanted) {
        String[] seen = new String[wanted];
        int distinct = 0;
        int n = text.length();
        int i = 0;
        while (i < n) {
            while (i < n && !Character.isLetter(text.charAt(i))) {
                i++;
            }
            int start = i;
            while (i < n && Character.isLetter(text.charAt(i))) {
                i++;
            }
            if (i == start) {
                break;
            }
            boolean known = false;
            for (int k = 0; k < distinct && !known; k++) {
                known = text.regionMatches(true, start, seen[k], 0, i - start) && seen[k].length() == i - start;
            }
            if (!known) {
                // Only the first few distinct words are kept, each once: the text is copied at most `wanted` times.
                seen[distinct++] = text.substring(start, i);
                if (distinct == wanted) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Hangul makes Korean, kana among Han makes Japanese, Han alone Chinese; null when that one is not configured. */
    private String cjk(ScriptCounts counts) {
        int cjk = counts.han + counts.kana + counts.hangul;
        if (counts.hangul * 2 >= cjk) {
            return ko ? "ko" : null;
        }
        if (counts.kana >= KANA_SHARE_JAPANESE * (counts.han + counts.kana)) {
            return ja ? "ja" : null;
        }
        return zh ? "zh" : null;
    }
}
