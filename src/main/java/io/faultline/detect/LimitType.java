package io.faultline.detect;

/** The rate-limit dimensions providers report; the label values of {@code limit_type}. */
public enum LimitType {
    REQUESTS("requests"), TOKENS("tokens"), INPUT_TOKENS("input_tokens"), OUTPUT_TOKENS("output_tokens");

    public final String label;

    LimitType(String label) {
        this.label = label;
    }
}
