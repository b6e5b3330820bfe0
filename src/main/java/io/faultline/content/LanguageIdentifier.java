package io.faultline.content;

import com.optimaize.langdetect.DetectedLanguage;
import com.optimaize.langdetect.LanguageDetector;
import com.optimaize.langdetect.LanguageDetectorBuilder;
import com.optimaize.langdetect.ngram.NgramExtractors;
import com.optimaize.langdetect.profiles.LanguageProfile;
import com.optimaize.langdetect.profiles.LanguageProfileReader;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Identifies the language of a text among a configured few, with the n-gram profiles of the optimaize
 * language-detector (the Cybozu langdetect algorithm, as Apache Tika uses it). Code, URLs, e-mail addresses, numbers
 * and markup are removed first: they carry no language and skew the n-grams. Thread-safe; deterministic (the
 * library seeds its sampling with a fixed seed). The removal is a set of hand-written scans, each linear in the text:
 * a single 20,000-character token once held a thread for 50 s in the backtracking e-mail pattern that stood here
 * ({@code [^\s@]+@[^\s@]+\.\w+}), and RE2/J, linear too, costs 140 ms on 64 KiB.
 */
public final class LanguageIdentifier {

    /** A language and the probability the identifier gives it. */
    public record Guess(String language, double probability, int letters) {
    }

    private final LanguageDetector detector;
    private final List<String> languages;

    public LanguageIdentifier(List<String> languages) {
        this.languages = languages.stream().map(code -> code.trim().toLowerCase(Locale.ROOT)).distinct().toList();
        try {
            List<LanguageProfile> profiles = new LanguageProfileReader().read(this.languages);
            this.detector = LanguageDetectorBuilder.create(NgramExtractors.standard()).withProfiles(profiles).build();
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

    public static int letters(CharSequence text) {
        int letters = 0;
        for (int i = 0; i < text.length(); i++) {
            if (Character.isLetter(text.charAt(i))) {
                letters++;
            }
        }
        return letters;
    }

    /** The most probable configured language of {@code text}, or empty when it has fewer than {@code minLetters}. */
    public Optional<Guess> identify(String text, int minLetters) {
        String prose = prose(text);
        int letters = letters(prose);
        if (letters < minLetters) {
            return Optional.empty();
        }
        List<DetectedLanguage> probabilities = detector.getProbabilities(prose);
        if (probabilities.isEmpty()) {
            return Optional.empty();
        }
        DetectedLanguage top = probabilities.get(0);
        return Optional.of(new Guess(top.getLocale().getLanguage(), top.getProbability(), letters));
    }
}
