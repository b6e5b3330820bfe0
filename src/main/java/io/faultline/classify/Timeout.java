package io.faultline.classify;

import java.util.List;
import java.util.Set;

/**
 * What a failed call's timeout is, one step of {@link ProviderVerdict} (after overloads and rate limits), in Java and
 * SQL from the constants below. A 408, one of LiteLLM's (and its HTTP clients') timeout classes, or a message that
 * says the call timed out (a connection that timed out reaches the plugin as {@code APIConnectionError} with no
 * status). A slow successful call is the classifier's timeout too, by its latency: the predictor adds that on its own
 * ({@code latency_ms}).
 */
final class Timeout {

    /** The status of a request timeout. */
    static final int STATUS = 408;
    /** LiteLLM's and its clients' exception classes of a timeout. */
    static final List<String> CLASSES = List.of("Timeout", "APITimeoutError", "ReadTimeout", "TimeoutError");
    private static final Set<String> CLASS_SET = Set.copyOf(CLASSES);
    /** Words of a timeout in the message, lower case. */
    static final List<String> WORDS = List.of("timed out", "request timeout");

    /** The step over {@code llm_calls}' columns, linear. */
    static final String MATCH_SQL = sql();

    private Timeout() {
    }

    /** The step over a failed call's status, class and ASCII lower-cased message ({@link ProviderVerdict#lower}). */
    static boolean matches(int status, String errorClass, String message) {
        return status == STATUS || CLASS_SET.contains(errorClass) || ProviderVerdict.containsAny(message, WORDS);
    }

    private static String sql() {
        StringBuilder sql = new StringBuilder("(coalesce(http_status, 0) = " + STATUS
                + " or coalesce(error_class, '') in (");
        for (int i = 0; i < CLASSES.size(); i++) {
            sql.append(i == 0 ? "" : ", ").append('\'').append(CLASSES.get(i)).append('\'');
        }
        sql.append(')');
        for (String word : WORDS) {
            sql.append(" or strpos(").append(ProviderVerdict.MESSAGE_SQL).append(", '").append(word).append("') > 0");
        }
        return sql.append(')').toString();
    }
}
