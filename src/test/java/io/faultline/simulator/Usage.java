package io.faultline.simulator;

/** Token counts of one simulated call; answer and thinking tokens together are the output. */
record Usage(int promptTokens, int answerTokens, int thinkingTokens) {

    int outputTokens() {
        return answerTokens + thinkingTokens;
    }

    int totalTokens() {
        return promptTokens + outputTokens();
    }
}
