package io.faultline.simulator;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** A provider failure the simulator can play back, named in the admin JSON as in {@code rate_limit}. */
public enum FaultKind {
    RATE_LIMIT,
    INSUFFICIENT_QUOTA,
    SERVER_ERROR,
    UNAVAILABLE,
    OVERLOADED,
    CONTEXT_OVERFLOW,
    SAFETY_BLOCK,
    PROMPT_BLOCKED,
    UNAUTHORIZED,
    FORBIDDEN,
    MALFORMED,
    EMPTY,
    HANG,
    /** Gemini's own: a 200 whose candidate has no content and {@code finishReason} MALFORMED_FUNCTION_CALL. */
    MALFORMED_FUNCTION_CALL,
    /**
     * Anthropic's own: a stream that started (HTTP 200) and breaks off with an {@code event: error} of type
     * {@code overloaded_error}; an unstreamed call gets the 529 of {@link #OVERLOADED}.
     */
    STREAM_OVERLOADED;

    @JsonValue
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static FaultKind fromWireName(String wireName) {
        for (FaultKind kind : values()) {
            if (kind.wireName().equals(wireName)) {
                return kind;
            }
        }
        throw new IllegalArgumentException("unknown fault kind '" + wireName + "', expected one of "
                + Arrays.stream(values()).map(FaultKind::wireName).collect(Collectors.joining(", ")));
    }
}
