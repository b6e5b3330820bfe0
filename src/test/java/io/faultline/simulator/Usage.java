package io.faultline.simulator;

/**
 * Token counts of one simulated call; answer and thinking tokens together are the output; {@code cachedTokens} of the
 * prompt tokens were read from the provider's prompt cache.
 */
record Usage(int promptTokens, int answerTokens, int thinkingTokens, int cachedTokens) {

    Usage(int promptTokens, int answerTokens, int thinkingTokens) {
        this(promptTokens, answerTokens, thinkingTokens, 0);
    }

    int outputTokens() {
        return answerTokens + thinkingTokens;
    }

    int totalTokens() {
        return promptTokens + outputTokens();
    }
}
