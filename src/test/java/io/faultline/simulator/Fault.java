package io.faultline.simulator;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Objects;

/** One entry of a deployment's fault queue: what goes wrong, for how many of the next requests. */
public record Fault(FaultKind kind, int count, long hangMs, long retryAfterSeconds) {

    public static final int UNTIL_RESET = -1;
    public static final long DEFAULT_HANG_MS = 60_000;
    public static final long DEFAULT_RETRY_AFTER_SECONDS = 20;

    public Fault {
        Objects.requireNonNull(kind, "fault kind is required");
        if (count != UNTIL_RESET && count < 1) {
            throw new IllegalArgumentException("fault count must be >= 1 or -1 (until reset), got " + count);
        }
        if (hangMs < 0 || retryAfterSeconds < 0) {
            throw new IllegalArgumentException("hangMs and retryAfterSeconds must not be negative");
        }
    }

    @JsonCreator
    static Fault fromJson(@JsonProperty("kind") FaultKind kind,
                          @JsonProperty("count") Integer count,
                          @JsonProperty("hangMs") Long hangMs,
                          @JsonProperty("retryAfterSeconds") Long retryAfterSeconds) {
        return new Fault(kind,
                count == null ? 1 : count,
                hangMs == null ? DEFAULT_HANG_MS : hangMs,
                retryAfterSeconds == null ? DEFAULT_RETRY_AFTER_SECONDS : retryAfterSeconds);
    }

    public static Fault of(FaultKind kind, int count) {
        return new Fault(kind, count, DEFAULT_HANG_MS, DEFAULT_RETRY_AFTER_SECONDS);
    }

    public static Fault untilReset(FaultKind kind) {
        return of(kind, UNTIL_RESET);
    }

    public Fault withHangMs(long hangMs) {
        return new Fault(kind, count, hangMs, retryAfterSeconds);
    }

    public Fault withRetryAfterSeconds(long retryAfterSeconds) {
        return new Fault(kind, count, hangMs, retryAfterSeconds);
    }
}
