package io.faultline.common;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Masks secrets and personal data in text that ends up in evidence or stored error messages. Provider error
 * messages quote organisation ids, e-mail addresses and sometimes key prefixes; none of that may be stored raw.
 */
public final class Redactor {

    private static final Pattern EMAIL = Pattern.compile("[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}");
    // Provider key shapes: OpenAI sk-/sk-proj-, Anthropic sk-ant-, Google AIza, bearer tokens.
    private static final Pattern API_KEY = Pattern.compile(
            "(?i)\\b(sk-(?:ant-|proj-)?[A-Za-z0-9_-]{8,}|AIza[0-9A-Za-z_-]{20,}|Bearer\\s+[A-Za-z0-9._~+/=-]{8,})");
    private static final Pattern ORG_ID = Pattern.compile("\\borg-[A-Za-z0-9]{8,}");
    // Runs of 9+ digits (with separators) cover card, phone and account numbers without false hits on token counts.
    private static final Pattern LONG_DIGITS = Pattern.compile("\\b\\d(?:[ -]?\\d){8,}\\b");
    private static final Pattern IPV4 = Pattern.compile("\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b");

    private Redactor() {
    }

    /** Returns the text with secrets and PII replaced by typed placeholders, cut to {@code maxLength}. */
    public static String mask(String text, int maxLength) {
        if (text == null) {
            return null;
        }
        String masked = text;
        masked = replace(API_KEY, masked, "[secret]");
        masked = replace(EMAIL, masked, "[email]");
        masked = replace(ORG_ID, masked, "org-[masked]");
        masked = replace(IPV4, masked, "[ip]");
        masked = replace(LONG_DIGITS, masked, "[number]");
        if (masked.length() > maxLength) {
            masked = masked.substring(0, maxLength) + "…";
        }
        return masked;
    }

    private static String replace(Pattern pattern, String text, String placeholder) {
        Matcher matcher = pattern.matcher(text);
        return matcher.find() ? matcher.replaceAll(Matcher.quoteReplacement(placeholder)) : text;
    }
}
