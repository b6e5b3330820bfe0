package io.faultline.classify;

import java.util.Locale;

/**
 * What a rate limit is, in one place: the classifier judges one call with {@link #of}, the predictor counts stored
 * calls with {@link #SQL}, both built from the constants below. A 429, LiteLLM's {@code RateLimitError} (its class
 * of a 429), or Gemini's {@code RESOURCE_EXHAUSTED} whatever class and status LiteLLM reported it with. An overload
 * ({@link Overload}) comes first: a call that is both is an overload. LiteLLM refusing a budget of its own is no
 * rate limit, also when it answers 429 ({@code budget_exceeded_status_code}): the classifier's budget_exceeded
 * ({@link ProxyBudgetRules#isBudgetRefusal(String, String)}).
 */
public final class RateLimit {

    /** The status of a rate limit. */
    static final int STATUS = 429;
    /** LiteLLM's exception class of a 429 (LITELLM_NOTES). */
    static final String ERROR_CLASS = "RateLimitError";
    /** Gemini's and Vertex AI's status word for a spent quota, in the message LiteLLM keeps. */
    static final String WORD = "resource_exhausted";

    /** The same rule over {@code llm_calls}' columns ({@code http_status, error_class, error_message}), linear. */
    public static final String SQL = "((coalesce(http_status, 0) = " + STATUS + " or coalesce(error_class, '') = '"
            + ERROR_CLASS + "' or strpos(lower(coalesce(error_message, '')), '" + WORD + "') > 0)"
            + " and not " + ProxyBudgetRules.REFUSAL_SQL + ")";

    private RateLimit() {
    }

    /** Whether a failed call's status, LiteLLM exception class and message say it was rate limited. */
    public static boolean of(Integer httpStatus, String errorClass, String errorMessage) {
        return (httpStatus != null && httpStatus == STATUS || ERROR_CLASS.equals(errorClass)
                || errorMessage != null && errorMessage.toLowerCase(Locale.ROOT).contains(WORD))
                && !ProxyBudgetRules.isBudgetRefusal(errorClass, errorMessage);
    }
}
