package io.faultline.classify;

/**
 * What a rate limit is, one step of {@link ProviderVerdict} (after an overload: a call that is both is an overload),
 * in Java and SQL from the constants below. A 429, LiteLLM's {@code RateLimitError} (its class of a 429), or Gemini's
 * {@code RESOURCE_EXHAUSTED} whatever class and status LiteLLM reported it with. LiteLLM refusing a budget of its own
 * is no rate limit, also when it answers 429 ({@code budget_exceeded_status_code}): an earlier step.
 */
final class RateLimit {

    /** The status of a rate limit. */
    static final int STATUS = 429;
    /** LiteLLM's exception class of a 429 (LITELLM_NOTES). */
    static final String ERROR_CLASS = "RateLimitError";
    /** Gemini's and Vertex AI's status word for a spent quota, in the message LiteLLM keeps. */
    static final String WORD = "resource_exhausted";

    /** The step over {@code llm_calls}' columns, linear. */
    static final String MATCH_SQL = "(coalesce(http_status, 0) = " + STATUS + " or coalesce(error_class, '') = '"
            + ERROR_CLASS + "' or strpos(" + ProviderVerdict.MESSAGE_SQL + ", '" + WORD + "') > 0)";

    private RateLimit() {
    }

    /** The step over a failed call's status, class and ASCII lower-cased message ({@link ProviderVerdict#lower}). */
    static boolean matches(int status, String errorClass, String message) {
        return status == STATUS || ERROR_CLASS.equals(errorClass) || message.contains(WORD);
    }
}
