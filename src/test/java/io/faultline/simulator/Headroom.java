package io.faultline.simulator;

/**
 * Rate-limit headroom as reported in one response's headers. With a refill rate the reset times are the true time
 * until the budget is full again; without one, the budget is taken to refill evenly over a minute.
 */
record Headroom(long limitRequests, long remainingRequests, long limitTokens, long remainingTokens,
                double refillRequestsPerSecond, double refillTokensPerSecond) {

    Headroom(long limitRequests, long remainingRequests, long limitTokens, long remainingTokens) {
        this(limitRequests, remainingRequests, limitTokens, remainingTokens, 0, 0);
    }

    Headroom withoutTokens() {
        return new Headroom(limitRequests, remainingRequests, limitTokens, 0, refillRequestsPerSecond,
                refillTokensPerSecond);
    }

    /** No request is left: the next one is refused with a 429 on the requests limit. */
    boolean requestsExhausted() {
        return remainingRequests == 0;
    }

    /** Time until the request budget is back to full. */
    long requestsResetMillis() {
        return refillMillis(limitRequests, remainingRequests, refillRequestsPerSecond);
    }

    long tokensResetMillis() {
        return refillMillis(limitTokens, remainingTokens, refillTokensPerSecond);
    }

    private static long refillMillis(long limit, long remaining, double perSecond) {
        if (perSecond > 0) {
            return (long) Math.ceil((limit - remaining) * 1000.0 / perSecond);
        }
        return (limit - remaining) * 60_000 / limit;
    }
}
