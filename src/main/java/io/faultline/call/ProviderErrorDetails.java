package io.faultline.call;

/**
 * What a Google error body says past the part of the message Faultline stores: the quotas a
 * {@code RESOURCE_EXHAUSTED} violated ({@code google.rpc.QuotaFailure}'s {@code quotaId}) and how long to wait
 * ({@code google.rpc.RetryInfo}'s {@code retryDelay}). LiteLLM hands the Gemini and Vertex AI bodies over as the
 * exception's text; Gemini sends no {@code retry-after} header, and its per-minute and per-day quotas share one
 * message ("You exceeded your current quota"), so only the quota id tells a limit that clears in seconds from one
 * that clears the next day.
 * <p>
 * Caller-reachable text: the scan reads at most the first {@link #SCAN_LIMIT} characters, with {@code indexOf}
 * and bounded reads after each key, so it is linear in what it reads whatever the message holds.
 *
 * @param quotaId the violated quota (a per-day one when any is), or null
 * @param retryDelaySeconds the delay Google asks for, in seconds as it wrote them ({@code "26"}, {@code "0.5"}), or
 *        null
 */
public record ProviderErrorDetails(String quotaId, String retryDelaySeconds) {

    public static final ProviderErrorDetails NONE = new ProviderErrorDetails(null, null);
    /** Google's bodies are a few kilobytes; a quota id further in is not read. */
    static final int SCAN_LIMIT = 16 * 1024;
    private static final int MAX_ID = 120;
    private static final int MAX_SEPARATORS = 8;
    private static final int MAX_QUOTAS = 16;

    /** The details of an error message, or {@link #NONE}. */
    static ProviderErrorDetails read(String message) {
        if (message == null) {
            return NONE;
        }
        String text = message.length() > SCAN_LIMIT ? message.substring(0, SCAN_LIMIT) : message;
        if (text.indexOf("quotaId") < 0 && text.indexOf("retryDelay") < 0) {
            return NONE;
        }
        String quota = null;
        int from = 0;
        for (int n = 0; n < MAX_QUOTAS; n++) {
            int at = text.indexOf("quotaId", from);
            if (at < 0) {
                break;
            }
            from = at + "quotaId".length();
            String id = valueAfter(text, from, false);
            if (id != null && (quota == null || isPerDay(id) && !isPerDay(quota))) {
                quota = id;
            }
        }
        int at = text.indexOf("retryDelay");
        String delay = at < 0 ? null : valueAfter(text, at + "retryDelay".length(), true);
        return quota == null && delay == null ? NONE : new ProviderErrorDetails(quota, delay);
    }

    /** The longest status word read ({@code RESOURCE_EXHAUSTED} has 18 characters). */
    private static final int MAX_STATUS = 40;

    /**
     * Google's status word in an error body ({@code "status": "RESOURCE_EXHAUSTED"}), or null: upper-case letters and
     * underscores after a {@code status} key, read from the whole message as the quota id is (LiteLLM's prefixes and
     * Gemini's message put it near the 300th character, where the stored message is cut). Bounded as {@link #read}.
     */
    public static String googleStatus(String message) {
        if (message == null) {
            return null;
        }
        String text = message.length() > SCAN_LIMIT ? message.substring(0, SCAN_LIMIT) : message;
        int from = 0;
        for (int n = 0; n < MAX_QUOTAS; n++) {
            int at = text.indexOf("status", from);
            if (at < 0) {
                return null;
            }
            from = at + "status".length();
            String value = valueAfter(text, from, false);
            if (value != null && isStatusWord(value)) {
                return value;
            }
        }
        return null;
    }

    private static boolean isStatusWord(String value) {
        if (value.length() < 3 || value.length() > MAX_STATUS) {
            return false;
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (!(c >= 'A' && c <= 'Z' || c == '_')) {
                return false;
            }
        }
        return true;
    }

    /** Whether a quota id names a per-day quota ({@code GenerateRequestsPerDayPerProjectPerModel-FreeTier}). */
    public static boolean isPerDay(String quotaId) {
        return quotaId != null && quotaId.contains("PerDay");
    }

    /**
     * The value after a key: past a few quote, escape, colon and space characters, a run of identifier characters
     * (for a delay, digits and a dot followed by {@code s}). Null when there is none.
     */
    private static String valueAfter(String text, int from, boolean delay) {
        int i = from;
        int end = Math.min(text.length(), from + MAX_SEPARATORS);
        while (i < end && "\"\\: \t\r\n".indexOf(text.charAt(i)) >= 0) {
            i++;
        }
        if (i == from || i >= text.length()) {
            return null; // no separator: the word inside other text, not a key
        }
        int start = i;
        int limit = Math.min(text.length(), start + MAX_ID);
        while (i < limit && (delay ? isDelayChar(text.charAt(i)) : isIdChar(text.charAt(i)))) {
            i++;
        }
        if (i == start) {
            return null;
        }
        if (!delay) {
            return text.substring(start, i);
        }
        // Protobuf's Duration in JSON: seconds with up to nine decimals and an "s".
        return i < text.length() && text.charAt(i) == 's' && i - start <= 20 && text.charAt(start) != '.'
                ? text.substring(start, i) : null;
    }

    private static boolean isIdChar(char c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
                || c == '.' || c == '/';
    }

    private static boolean isDelayChar(char c) {
        return c >= '0' && c <= '9' || c == '.';
    }
}
