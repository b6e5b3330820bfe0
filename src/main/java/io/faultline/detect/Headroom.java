package io.faultline.detect;

import java.time.Duration;
import java.time.Instant;

/** One rate-limit reading from a response: how much is left, out of how much, and when the window resets. */
public record Headroom(LimitType type, long remaining, long limit, Duration resetsIn, Instant seenAt) {

    /** Remaining fraction of the limit, or -1 when the limit is unknown. */
    public double fraction() {
        return limit > 0 ? Math.max(0, Math.min(1, (double) remaining / limit)) : -1;
    }
}
