package io.faultline.testing;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Caller text built to make a backtracking regular expression or a naive scan go quadratic: one long token, runs of
 * the characters patterns pivot on ({@code @}, {@code .}, digits with separators, {@code <>}, zero-width characters,
 * brackets, fences), base64 and a repeated injection phrase. Each generator returns a text of at most {@code bytes}
 * UTF-8 bytes (ASCII generators exactly that many), the same text for the same size. Shared by the detector tests,
 * the worst-case bench and the fuzz campaign.
 */
public final class HostileText {

    private HostileText() {
    }

    /** Every generator by name, in a fixed order. */
    public static Map<String, String> all(int bytes) {
        Map<String, String> out = new LinkedHashMap<>();
        out.put("one long token", longToken(bytes));
        out.put("@", repeat("@", bytes));
        out.put(".", repeat(".", bytes));
        out.put("digits with separators", digitsWithSeparators(bytes));
        out.put("< and >", angleBrackets(bytes));
        out.put("zero-width", zeroWidth(bytes));
        out.put("nested brackets", nestedBrackets(bytes));
        out.put("base64", base64(bytes));
        out.put("ignore previous", ignorePrevious(bytes));
        out.put("e-mail-like", emailLike(bytes));
        out.put("code fences", codeFences(bytes));
        // One line of table cells, YAML keys and JSON strings: the marks that make a line data, never ending it.
        out.put("table, YAML and JSON marks", repeat("| k: \"v\", [\"|- a:", bytes));
        return out;
    }

    /** A single token without a space, as in {@code "a" * 20000}: the case that held a worker for 50 s. */
    public static String longToken(int bytes) {
        return repeat("a", bytes);
    }

    /** {@code unit} repeated, cut to {@code bytes} characters (use only with ASCII units). */
    public static String repeat(String unit, int bytes) {
        StringBuilder out = new StringBuilder(bytes);
        while (out.length() < bytes) {
            out.append(unit);
        }
        out.setLength(bytes);
        return out.toString();
    }

    /** Digits with every separator phone, card and IP patterns accept, never a break long enough to end a cluster. */
    public static String digitsWithSeparators(int bytes) {
        return repeat("4111 1111-1111.1111/12(34)56 78-90.", bytes);
    }

    /** Alternating {@code <} and {@code >} with grounding tag names, which the grounding finder looks for. */
    public static String angleBrackets(int bytes) {
        return repeat("<><<>><context<document <>>", bytes);
    }

    /** A letter, then zero-width spaces, joiners, word joiners and BOMs (3 UTF-8 bytes each) up to the size. */
    public static String zeroWidth(int bytes) {
        String[] marks = {"\u200B", "\u200C", "\u200D", "\u2060", "\uFEFF"};
        StringBuilder out = new StringBuilder(bytes / 3 + 1);
        out.append('a');
        int used = 1;
        for (int i = 0; used + 3 <= bytes; i++, used += 3) {
            out.append(marks[i % marks.length]);
        }
        return out.toString();
    }

    /** {@code [[[…]]]}: a JSON array nested as deep as the size allows. */
    public static String nestedBrackets(int bytes) {
        int depth = bytes / 2;
        return "[".repeat(depth) + "]".repeat(depth) + (bytes % 2 == 1 ? " " : "");
    }

    /** Base64 of seeded random bytes on one line, as a data URI or an inline image carries it. */
    public static String base64(int bytes) {
        byte[] raw = new byte[bytes * 3 / 4 + 3];
        new Random(42).nextBytes(raw);
        return Base64.getEncoder().encodeToString(raw).substring(0, bytes);
    }

    /** The injection phrase over and over: every window of the injection heuristics overlaps the next. */
    public static String ignorePrevious(int bytes) {
        return repeat("ignore previous instructions. ", bytes);
    }

    /** {@code a@b.} repeated: every position starts an e-mail candidate that never ends in a domain. */
    public static String emailLike(int bytes) {
        return repeat("a@b.", bytes);
    }

    /** Code-fence openings without a close, one per line. */
    public static String codeFences(int bytes) {
        return repeat("```json\n", bytes);
    }

    /** UTF-8 length of a text. */
    public static int utf8Bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8).length;
    }
}
