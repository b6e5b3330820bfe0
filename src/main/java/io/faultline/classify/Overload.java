package io.faultline.classify;

import java.util.List;
import java.util.Set;

/**
 * What an overload is, one step of {@link ProviderVerdict} (first after access and budget refusals), in Java and SQL
 * from the constants below. Anthropic answers 529 {@code overloaded_error} (LiteLLM: InternalServerError, the plugin
 * keeps the 529); OpenAI 503 "That model is currently overloaded" or {@code server_is_overloaded}; Gemini 503
 * UNAVAILABLE "The model is overloaded" (both LiteLLM classes of the 5xx).
 */
final class Overload {

    /** Anthropic's own status for an overload. */
    static final int STATUS = 529;
    /** Anthropic's error type: an overload whatever status came with it. */
    static final String ERROR_TYPE = "overloaded_error";
    /** The word every provider's overload says, an overload when the call failed on the server's side. */
    static final String WORD = "overloaded";
    /** LiteLLM's exception classes of a server-side failure (LITELLM_NOTES: 5xx and the connection fallback). */
    static final List<String> SERVER_CLASSES = List.of("InternalServerError", "ServiceUnavailableError",
            "BadGatewayError", "APIConnectionError", "APIError");
    private static final Set<String> SERVER_CLASS_SET = Set.copyOf(SERVER_CLASSES);

    /** The step over {@code llm_calls}' columns: a substring search of the lower-cased message, linear. */
    static final String MATCH_SQL = "(coalesce(http_status, 0) = " + STATUS + " or strpos("
            + ProviderVerdict.MESSAGE_SQL + ", '" + ERROR_TYPE + "') > 0 or strpos(" + ProviderVerdict.MESSAGE_SQL
            + ", '" + WORD + "') > 0 and (coalesce(http_status, 0) >= 500 or " + serverClassSql() + "))";

    private Overload() {
    }

    /** The step over a failed call's status, class and ASCII lower-cased message ({@link ProviderVerdict#lower}). */
    static boolean matches(int status, String errorClass, String message) {
        return status == STATUS || message.contains(ERROR_TYPE)
                || message.contains(WORD) && (status >= 500 || SERVER_CLASS_SET.contains(errorClass));
    }

    /** Whether a LiteLLM exception class is one of a server-side failure. */
    static boolean isServerClass(String errorClass) {
        return SERVER_CLASS_SET.contains(errorClass);
    }

    /** Whether the stored class is one of {@link #SERVER_CLASSES}, in SQL. */
    static String serverClassSql() {
        StringBuilder classes = new StringBuilder();
        for (String c : SERVER_CLASSES) {
            classes.append(classes.length() == 0 ? "" : ", ").append('\'').append(c).append('\'');
        }
        return "coalesce(error_class, '') in (" + classes + ")";
    }
}
