package io.faultline.classify;

/**
 * What an outage is, in one place: the classifier judges one call with {@link #of}, the predictor counts stored calls
 * with {@link #SQL}. A failure on the server's side: a 5xx, or one of LiteLLM's server-side classes
 * ({@link Overload#SERVER_CLASSES}) whatever the status, also none (a connection refused or reset reaches the plugin
 * as {@code APIConnectionError} with no status). It comes after the other types, in the classifier's order: a
 * server-side failure that is an overload, a rate limit or a timeout ({@link Overload}, {@link RateLimit},
 * {@link Timeout}) is that, not an outage (a 503 "request timeout" is a timeout, a connection that timed out too).
 */
public final class Outage {

    /** The lowest status of a server-side failure. */
    static final int SERVER_STATUS = 500;

    /** The same rule over {@code llm_calls}' columns ({@code http_status, error_class, error_message}), linear. */
    public static final String SQL = sql();

    private Outage() {
    }

    /** Whether a failed call's status, LiteLLM exception class and message say the provider had an outage. */
    public static boolean of(Integer httpStatus, String errorClass, String errorMessage) {
        boolean serverSide = httpStatus != null && httpStatus >= SERVER_STATUS || Overload.isServerClass(errorClass);
        return serverSide && !Overload.of(httpStatus, errorClass, errorMessage)
                && !RateLimit.of(httpStatus, errorClass, errorMessage)
                && !Timeout.of(httpStatus, errorClass, errorMessage);
    }

    private static String sql() {
        StringBuilder classes = new StringBuilder();
        for (String c : Overload.SERVER_CLASSES) {
            classes.append(classes.length() == 0 ? "" : ", ").append('\'').append(c).append('\'');
        }
        return "((coalesce(http_status, 0) >= " + SERVER_STATUS + " or coalesce(error_class, '') in (" + classes
                + ")) and not " + Overload.SQL + " and not " + RateLimit.SQL + " and not " + Timeout.SQL + ")";
    }
}
