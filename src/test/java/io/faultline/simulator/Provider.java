package io.faultline.simulator;

/** The provider APIs the simulator speaks. */
enum Provider {
    OPENAI,
    ANTHROPIC,
    GEMINI
}
