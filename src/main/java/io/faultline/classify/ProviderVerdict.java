package io.faultline.classify;

import java.util.List;

/**
 * What kind of failure one failed call is, as one ordered decision over what {@code llm_calls} stores of it (its
 * status, LiteLLM's exception class and the stored, masked and cut message: the classifier reads the same text, as
 * {@code CallMapper} cuts it before anything judges the call). The classifier ({@link ProviderRules}) takes the first
 * step that matches, in Java ({@link #of}); the predictor, the causal chains and whatever else counts stored calls
 * read the same steps in the same order as one SQL {@code case} ({@link #SQL}), so that both answer alike for every
 * call: a 500 whose body did not parse is a malformed response, not an outage, for both; a context overflow or refused
 * content is that whatever status came with it; Gemini's RESOURCE_EXHAUSTED is a rate limit on a 500 too. Each step
 * keeps its Java check and its SQL side by side, over lower-cased ASCII only ({@link #lower}, SQL {@code translate}),
 * so that a database's locale cannot read a marker the Java check did not. {@code ProviderVerdictAgreementTest} runs
 * the wire answers through both.
 */
public enum ProviderVerdict {

    /** Refused credentials or a key LiteLLM refused: SECURITY unauthorized_model_access ({@link AccessRules}). */
    ACCESS_DENIED("access_denied"),
    /** LiteLLM refusing a budget of its own, also on a 429: COST budget_exceeded ({@link ProxyBudgetRules}). */
    BUDGET_REFUSED("budget_exceeded"),
    OVERLOADED("overloaded"),
    RATE_LIMIT("rate_limit"),
    TIMEOUT("timeout"),
    CONTEXT_OVERFLOW("context_overflow"),
    CONTENT_FILTERED("content_filtered"),
    MALFORMED_RESPONSE("malformed_response"),
    OUTAGE("outage"),
    /** None of the above: a client error of the caller's making, or a successful call. */
    NONE("none");

    private final String code;

    ProviderVerdict(String code) {
        this.code = code;
    }

    /** The verdict's code, as {@link #SQL} answers it (the failure type's code where it is one). */
    public String code() {
        return code;
    }

    /** The stored message lower-cased in ASCII only, in SQL (a constant: reading it initialises nothing). */
    static final String MESSAGE_SQL = "translate(coalesce(error_message, ''), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',"
            + " 'abcdefghijklmnopqrstuvwxyz')";
    static final String CONTEXT_WINDOW_CLASS = "ContextWindowExceededError";
    static final String CONTENT_POLICY_CLASS = "ContentPolicyViolationError";
    static final List<String> OVERFLOW_MARKERS = List.of("context_length_exceeded", "context window",
            "prompt is too long", "maximum context length", "exceeds the maximum number of tokens",
            "input token count", "too many tokens");
    static final List<String> MALFORMED_MARKERS = List.of("expecting value", "jsondecodeerror",
            "invalid json", "unterminated string", "extra data: line", "unable to parse", "malformed",
            "invalid response object", "failed to parse", "unexpected end of", "unable to get json response");
    /**
     * Python's json module: "Expecting property name enclosed in double quotes: line 1 column 299 (char 298)", 1 to
     * 60 characters (code points, as PostgreSQL counts them) up to the first colon.
     */
    static final String PYTHON_JSON_ERROR_SQL = MESSAGE_SQL
            + " ~ 'expecting [^:]{1,60}: line [0-9]+ column [0-9]+'";
    /** Words of LiteLLM refusing a key it cannot verify (no database) or an invalid one, on its ProxyException. */
    static final List<String> PROXY_KEY_WORDS = List.of("no connected db", "authentication error",
            "invalid proxy server token");
    static final List<String> ACCESS_CLASSES = List.of("AuthenticationError", "PermissionDeniedError");

    /** {@link #OVERFLOW_MARKERS} over the stored message. */
    static final String OVERFLOW_SQL = "(coalesce(error_class, '') = '" + CONTEXT_WINDOW_CLASS + "' or "
            + anyMarkerSql(OVERFLOW_MARKERS) + ")";
    /** {@link #MALFORMED_MARKERS} or Python's JSON error over the stored message. */
    static final String MALFORMED_SQL = "(" + anyMarkerSql(MALFORMED_MARKERS) + " or " + PYTHON_JSON_ERROR_SQL + ")";

    /**
     * The verdict over {@code llm_calls}' columns ({@code success, http_status, error_class, error_message}): a
     * {@code case} of the steps in order, answering {@link #code()}. Linear in the message (substring searches and
     * one bounded pattern). A successful call is {@code none}.
     */
    public static final String SQL = caseSql();

    /** Whether the stored call's verdict is this one, over {@code llm_calls}' columns. */
    public String sql() {
        return "(" + SQL + " = '" + code + "')";
    }

    /** The verdict on a failed call's status, LiteLLM exception class and (stored) message. */
    public static ProviderVerdict of(Integer httpStatus, String errorClass, String errorMessage) {
        int status = httpStatus == null ? 0 : httpStatus;
        String cls = errorClass == null ? "" : errorClass;
        String message = lower(errorMessage);
        if (status == 401 || status == 403 || ACCESS_CLASSES.contains(cls)
                || ProxyBudgetRules.PROXY_EXCEPTION.equals(cls) && containsAny(message, PROXY_KEY_WORDS)) {
            return ACCESS_DENIED;
        }
        if (ProxyBudgetRules.isBudgetRefusal(cls, message)) {
            return BUDGET_REFUSED;
        }
        if (Overload.matches(status, cls, message)) {
            return OVERLOADED;
        }
        if (RateLimit.matches(status, cls, message)) {
            return RATE_LIMIT;
        }
        if (Timeout.matches(status, cls, message)) {
            return TIMEOUT;
        }
        if (cls.equals(CONTEXT_WINDOW_CLASS) || containsAny(message, OVERFLOW_MARKERS)) {
            return CONTEXT_OVERFLOW;
        }
        if (cls.equals(CONTENT_POLICY_CLASS)) {
            return CONTENT_FILTERED;
        }
        if (containsAny(message, MALFORMED_MARKERS) || isPythonJsonError(message)) {
            return MALFORMED_RESPONSE;
        }
        if (Outage.matches(status, cls)) {
            return OUTAGE;
        }
        return NONE;
    }

    /** Whether a failed call's verdict is this one. */
    public boolean is(Integer httpStatus, String errorClass, String errorMessage) {
        return of(httpStatus, errorClass, errorMessage) == this;
    }

    private static String caseSql() {
        String status = "coalesce(http_status, 0)";
        String cls = "coalesce(error_class, '')";
        StringBuilder access = new StringBuilder("(" + status + " in (401, 403) or " + cls + " in (");
        for (int i = 0; i < ACCESS_CLASSES.size(); i++) {
            access.append(i == 0 ? "" : ", ").append('\'').append(ACCESS_CLASSES.get(i)).append('\'');
        }
        access.append(") or ").append(cls).append(" = '").append(ProxyBudgetRules.PROXY_EXCEPTION).append("' and (")
                .append(anyMarkerSql(PROXY_KEY_WORDS)).append("))");
        String[][] steps = {
                { "success", NONE.code },
                { access.toString(), ACCESS_DENIED.code },
                { ProxyBudgetRules.REFUSAL_SQL, BUDGET_REFUSED.code },
                { Overload.MATCH_SQL, OVERLOADED.code },
                { RateLimit.MATCH_SQL, RATE_LIMIT.code },
                { Timeout.MATCH_SQL, TIMEOUT.code },
                { OVERFLOW_SQL, CONTEXT_OVERFLOW.code },
                { cls + " = '" + CONTENT_POLICY_CLASS + "'", CONTENT_FILTERED.code },
                { MALFORMED_SQL, MALFORMED_RESPONSE.code },
                { Outage.MATCH_SQL, OUTAGE.code } };
        StringBuilder sql = new StringBuilder("(case");
        for (String[] step : steps) {
            sql.append(" when ").append(step[0]).append(" then '").append(step[1]).append('\'');
        }
        return sql.append(" else '").append(NONE.code).append("' end)").toString();
    }

    /** The message lower-cased in ASCII only, as {@link #MESSAGE_SQL} does; "" for none. */
    static String lower(String message) {
        if (message == null) {
            return "";
        }
        char[] chars = null;
        for (int i = 0; i < message.length(); i++) {
            char c = message.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                if (chars == null) {
                    chars = message.toCharArray();
                }
                chars[i] = (char) (c + ('a' - 'A'));
            }
        }
        return chars == null ? message : new String(chars);
    }

    /** {@code text.contains(marker)} for any of {@code markers}. */
    static boolean containsAny(String text, List<String> markers) {
        for (String marker : markers) {
            if (text.contains(marker)) {
                return true;
            }
        }
        return false;
    }

    /** {@code SQL text contains marker} for any of {@code markers}, over the lower-cased stored message. */
    static String anyMarkerSql(List<String> markers) {
        StringBuilder sql = new StringBuilder();
        for (String marker : markers) {
            if (marker.indexOf('\'') >= 0 || !marker.equals(lower(marker))) {
                throw new IllegalStateException("a marker with a quote or upper case: " + marker);
            }
            sql.append(sql.isEmpty() ? "" : " or ").append("strpos(").append(MESSAGE_SQL)
                    .append(", '").append(marker).append("') > 0");
        }
        return sql.toString();
    }

    /**
     * {@link #PYTHON_JSON_ERROR_SQL} in Java, without a pattern: after each "expecting ", the first colon lies 1 to
     * 60 code points on and opens ": line N column N". Linear: a colon further than 120 chars is past any match.
     */
    static boolean isPythonJsonError(String text) {
        String opening = "expecting ";
        int colon = -1;
        for (int at = text.indexOf(opening); at >= 0; at = text.indexOf(opening, at + 1)) {
            int from = at + opening.length();
            if (colon < from) {
                colon = text.indexOf(':', from);
                if (colon < 0) {
                    return false;
                }
            }
            if (colon == from || colon - from > 120 || text.codePointCount(from, colon) > 60) {
                continue;
            }
            int i = colon;
            if (!text.startsWith(": line ", i)) {
                continue;
            }
            i = digits(text, i + ": line ".length());
            if (i < 0 || !text.startsWith(" column ", i)) {
                continue;
            }
            if (digits(text, i + " column ".length()) >= 0) {
                return true;
            }
        }
        return false;
    }

    /** The index past a run of one or more ASCII digits at {@code from}, or -1. */
    private static int digits(String text, int from) {
        int i = from;
        while (i < text.length() && text.charAt(i) >= '0' && text.charAt(i) <= '9') {
            i++;
        }
        return i == from ? -1 : i;
    }
}
