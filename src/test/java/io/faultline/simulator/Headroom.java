package io.faultline.simulator;

/** Rate-limit headroom as reported in one response's headers. */
record Headroom(long limitRequests, long remainingRequests, long limitTokens, long remainingTokens) {

    Headroom withoutTokens() {
        return new Headroom(limitRequests, remainingRequests, limitTokens, 0);
    }

    /** Time until the request budget is back to full, for limits that refill over a minute. */
    long requestsResetMillis() {
        return refillMillis(limitRequests, remainingRequests);
    }

    long tokensResetMillis() {
        return refillMillis(limitTokens, remainingTokens);
    }

    private static long refillMillis(long limit, long remaining) {
        return (limit - remaining) * 60_000 / limit;
    }
}
