package io.faultline.classify;

/**
 * What an outage is, the last step of {@link ProviderVerdict}: a failure on the server's side, a 5xx or one of
 * LiteLLM's server-side classes ({@link Overload#SERVER_CLASSES}) whatever the status, also none (a connection refused
 * or reset reaches the plugin as {@code APIConnectionError} with no status), that no earlier step typed otherwise: an
 * overload, a rate limit or a timeout, and also a context overflow, refused content or an answer that did not parse
 * answered with a 5xx (a 500 "Expecting value: line 1 column 1" is a malformed response).
 */
final class Outage {

    /** The lowest status of a server-side failure. */
    static final int SERVER_STATUS = 500;

    /** The step over {@code llm_calls}' columns. */
    static final String MATCH_SQL = "(coalesce(http_status, 0) >= " + SERVER_STATUS + " or "
            + Overload.serverClassSql() + ")";

    private Outage() {
    }

    /** The step over a failed call's status and class. */
    static boolean matches(int status, String errorClass) {
        return status >= SERVER_STATUS || Overload.isServerClass(errorClass);
    }
}
