package io.faultline.common;

import com.google.re2j.Matcher;
import com.google.re2j.Pattern;

/**
 * Masks secrets and personal data in text that ends up in evidence or stored error messages. Provider error
 * messages quote organisation ids, e-mail addresses and sometimes key prefixes; none of that may be stored raw.
 * Linear in the length of the output, whatever the input: the text is cut to a window just past {@code maxLength}
 * before any pattern reads it, and the patterns run on RE2/J, which does not backtrack.
 */
public final class Redactor {

    /**
     * Characters read past {@code maxLength}, so that a value crossing the cut is still recognised and masked: an
     * e-mail address (64 + 255 characters at most) and a key's prefix fit in it; a longer run of key characters is
     * masked by its beginning.
     */
    public static final int MARGIN = 320;

    // Local parts and domains in any script; the full-width at sign reads as one. U+FFFD stands for a NUL or a lone
    // surrogate (made storable before the patterns run), which must not split an address into a kept half.
    private static final Pattern EMAIL = Pattern.compile(
            "[\\p{L}\\p{N}._%+\\x{FFFD}-]+[@\\x{FF20}][\\p{L}\\p{N}.-]+\\.\\p{L}{2,}");
    // Provider and platform key shapes, as the PII detector knows them: OpenAI sk-/sk-proj-, Anthropic sk-ant-, Google
    // AIza, bearer tokens; AWS access key ids, Stripe, GitHub, GitLab, Slack and Hugging Face tokens, JWTs, PEM keys.
    private static final Pattern API_KEY = Pattern.compile(
            "(?i:\\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{8,}|AIza[0-9A-Za-z_-]{20,}|Bearer\\s+[A-Za-z0-9._~+/=-]{8,}))"
                    + "|\\b(?:AKIA|ASIA)[0-9A-Z]{16}|\\b[sr]k_(?:live|test)_[A-Za-z0-9]{8,}"
                    + "|\\bgh[pousr]_[A-Za-z0-9]{20,}|\\bgithub_pat_[A-Za-z0-9_]{20,}|\\bglpat-[A-Za-z0-9_-]{20,}"
                    + "|\\bxox[abprs]-[A-Za-z0-9-]{10,}|\\bhf_[A-Za-z0-9]{30,}"
                    + "|\\beyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}(?:\\.[A-Za-z0-9_-]*)?"
                    + "|-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----");
    private static final Pattern ORG_ID = Pattern.compile("\\borg-[A-Za-z0-9]{8,}");
    // Two letters, two check digits and 11-30 letters or digits, grouped by fours or not.
    private static final Pattern IBAN = Pattern.compile("\\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\\b");
    // Runs of 9+ digits of any script cover card, phone and account numbers without false hits on token counts. The
    // separators are those numbers are written with, and those that hide them from a reader: NUL and lone surrogates
    // (U+FFFD by then), zero-width and no-break spaces. A run glued to letters ("card4111…") counts too.
    private static final Pattern LONG_DIGITS = Pattern.compile("\\+?\\(?\\p{Nd}(?:[ ./()\\-\\x{00A0}\\x{2007}\\x{202F}"
            + "\\x{200B}-\\x{200D}\\x{2060}\\x{FEFF}\\x{FF0D}\\x{FFFD}]{0,3}\\p{Nd}){8,}");
    /** The fewest digits in a run that {@link #LONG_DIGITS} masks. */
    private static final int LONG_DIGITS_MIN = 9;
    private static final Pattern IPV4 = Pattern.compile("\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b");

    private Redactor() {
    }

    // A model's release date at the end of a digit run: 20250929, 2025-04-14 (how OpenAI, Anthropic and Google date
    // their snapshots).
    private static final Pattern RELEASE_DATE = Pattern.compile(
            "(?:^|[^0-9])((?:19|20)[0-9]{2}-?(?:0[1-9]|1[0-2])-?(?:0[1-9]|[12][0-9]|3[01]))$");

    /** Returns the text with secrets and PII replaced by typed placeholders, cut to {@code maxLength}. */
    public static String mask(String text, int maxLength) {
        return mask(text, maxLength, false);
    }

    /**
     * {@link #mask} for a model name the caller wrote (a call LiteLLM routed to no deployment): a version followed by
     * a release date ({@code claude-sonnet-4-5-20250929}, {@code gpt-4.1-2025-04-14}) is a model's name, not a phone
     * number, and stays; a run of 9 or more digits besides the date is masked as in any text.
     */
    public static String maskModelName(String text, int maxLength) {
        return mask(text, maxLength, true);
    }

    private static String mask(String text, int maxLength, boolean modelName) {
        if (text == null) {
            return null;
        }
        boolean cut = text.length() > maxLength;
        String masked = cut ? text.substring(0, (int) Math.min(text.length(), (long) maxLength + MARGIN)) : text;
        // Storable first: a NUL or a lone surrogate inside a value is then one U+FFFD the patterns read past.
        masked = storable(masked);
        masked = replace(API_KEY, masked, "[secret]");
        masked = replace(EMAIL, masked, "[email]");
        masked = replace(ORG_ID, masked, "org-[masked]");
        masked = replace(IPV4, masked, "[ip]");
        masked = replace(IBAN, masked, "[iban]");
        masked = modelName ? maskLongDigitsButDates(masked) : replace(LONG_DIGITS, masked, "[number]");
        if (masked.length() > maxLength) {
            masked = masked.substring(0, maxLength) + "…";
        } else if (cut) {
            masked = masked + "…";
        }
        return storable(masked);
    }

    /**
     * What is masked is stored: NUL (PostgreSQL refuses it in text and jsonb) and lone UTF-16 surrogates (a cut may
     * split a pair; UTF-8 cannot encode one) become U+FFFD. One pass; the same instance when there are none.
     */
    public static String storable(String text) {
        StringBuilder out = null;
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            boolean pair = Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(text.charAt(i + 1));
            boolean bad = c == 0 || (!pair && Character.isSurrogate(c));
            if (bad && out == null) {
                out = new StringBuilder(n).append(text, 0, i);
            }
            if (out != null) {
                out.append(bad ? '\uFFFD' : c);
                if (pair) {
                    out.append(text.charAt(i + 1));
                }
            }
            if (pair) {
                i++;
            }
        }
        return out == null ? text : out.toString();
    }

    /** Masks the digit runs that hold 9 or more digits once a release date at their end is set aside. */
    private static String maskLongDigitsButDates(String text) {
        Matcher matcher = LONG_DIGITS.matcher(text);
        StringBuilder out = null;
        int kept = 0;
        while (matcher.find()) {
            String run = matcher.group();
            Matcher date = RELEASE_DATE.matcher(run);
            int digits = date.find() ? digits(run, date.start(1)) : LONG_DIGITS_MIN;
            if (digits < LONG_DIGITS_MIN) {
                continue;
            }
            if (out == null) {
                out = new StringBuilder(text.length());
            }
            out.append(text, kept, matcher.start()).append("[number]");
            kept = matcher.end();
        }
        return out == null ? text : out.append(text, kept, text.length()).toString();
    }

    private static int digits(String text, int end) {
        int n = 0;
        for (int i = 0; i < end; i = text.offsetByCodePoints(i, 1)) {
            if (Character.isDigit(text.codePointAt(i))) {
                n++;
            }
        }
        return n;
    }

    private static String replace(Pattern pattern, String text, String placeholder) {
        // Placeholders hold no '$' or '\\', so they are inserted literally.
        Matcher matcher = pattern.matcher(text);
        return matcher.find() ? matcher.replaceAll(placeholder) : text;
    }
}
