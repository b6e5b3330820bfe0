package io.faultline.classify;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What an overload is, in one place: the classifier judges one call with {@link #of}, the predictor counts stored
 * calls with {@link #SQL}, both built from the constants below. Anthropic answers 529 {@code overloaded_error}
 * (LiteLLM: InternalServerError, the plugin keeps the 529); OpenAI 503 "That model is currently overloaded" or
 * {@code server_is_overloaded}; Gemini 503 UNAVAILABLE "The model is overloaded" (both LiteLLM classes of the 5xx).
 */
public final class Overload {

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

    /**
     * The same rule over {@code llm_calls}' columns ({@code http_status, error_class, error_message}): a
     * case-insensitive substring search, linear in the message.
     */
    public static final String SQL = sql();

    private Overload() {
    }

    /** Whether a failed call's status, LiteLLM exception class and message say the provider was overloaded. */
    public static boolean of(Integer httpStatus, String errorClass, String errorMessage) {
        int status = httpStatus == null ? 0 : httpStatus;
        String message = errorMessage == null ? "" : errorMessage.toLowerCase(Locale.ROOT);
        return status == STATUS || message.contains(ERROR_TYPE)
                || message.contains(WORD) && (status >= 500 || SERVER_CLASS_SET.contains(errorClass));
    }

    /** Whether a LiteLLM exception class is one of a server-side failure. */
    static boolean isServerClass(String errorClass) {
        return SERVER_CLASS_SET.contains(errorClass);
    }

    private static String sql() {
        String message = "lower(coalesce(error_message, ''))";
        StringBuilder classes = new StringBuilder();
        for (String c : SERVER_CLASSES) {
            classes.append(classes.length() == 0 ? "" : ", ").append('\'').append(c).append('\'');
        }
        return "(coalesce(http_status, 0) = " + STATUS + " or strpos(" + message + ", '" + ERROR_TYPE + "') > 0"
                + " or strpos(" + message + ", '" + WORD + "') > 0 and (coalesce(http_status, 0) >= 500"
                + " or coalesce(error_class, '') in (" + classes + ")))";
    }
}
