package io.faultline.classify;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What a failed call's timeout is, in one place: the classifier judges one call with {@link #of}, the predictor
 * counts stored calls with {@link #SQL}, both built from the constants below. A 408, one of LiteLLM's (and its
 * HTTP clients') timeout classes, or a message that says the call timed out (a connection that timed out reaches the
 * plugin as {@code APIConnectionError} with no status). A slow successful call is the classifier's timeout too, by
 * its latency: the predictor adds that on its own ({@code latency_ms}). Overloads and rate limits come first.
 */
public final class Timeout {

    /** The status of a request timeout. */
    static final int STATUS = 408;
    /** LiteLLM's and its clients' exception classes of a timeout. */
    static final List<String> CLASSES = List.of("Timeout", "APITimeoutError", "ReadTimeout", "TimeoutError");
    private static final Set<String> CLASS_SET = Set.copyOf(CLASSES);
    /** Words of a timeout in the message, lower case. */
    static final List<String> WORDS = List.of("timed out", "request timeout");

    /** The same rule over {@code llm_calls}' columns ({@code http_status, error_class, error_message}), linear. */
    public static final String SQL = sql();

    private Timeout() {
    }

    /** Whether a failed call's status, LiteLLM exception class and message say it timed out. */
    public static boolean of(Integer httpStatus, String errorClass, String errorMessage) {
        if (httpStatus != null && httpStatus == STATUS || errorClass != null && CLASS_SET.contains(errorClass)) {
            return true;
        }
        if (errorMessage == null) {
            return false;
        }
        String message = errorMessage.toLowerCase(Locale.ROOT);
        for (String word : WORDS) {
            if (message.contains(word)) {
                return true;
            }
        }
        return false;
    }

    private static String sql() {
        StringBuilder sql = new StringBuilder("(coalesce(http_status, 0) = " + STATUS
                + " or coalesce(error_class, '') in (");
        for (int i = 0; i < CLASSES.size(); i++) {
            sql.append(i == 0 ? "" : ", ").append('\'').append(CLASSES.get(i)).append('\'');
        }
        sql.append(')');
        for (String word : WORDS) {
            sql.append(" or strpos(lower(coalesce(error_message, '')), '").append(word).append("') > 0");
        }
        return sql.append(')').toString();
    }
}
