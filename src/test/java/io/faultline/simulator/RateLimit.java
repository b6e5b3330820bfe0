package io.faultline.simulator;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Rate-limit headroom a deployment reports, what each success drains (a null token drain: the call's tokens) and how
 * fast it refills (per second of the simulator's wall clock; 0: never). When requests or tokens reach 0 the deployment
 * answers its provider's 429 until the headroom refills or the script is replaced.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RateLimit(long limitRequests, long limitTokens, long remainingRequests, long remainingTokens,
                        long drainRequestsPerCall, Long drainTokensPerCall,
                        double refillRequestsPerSecond, double refillTokensPerSecond) {

    public RateLimit {
        if (limitRequests < 1 || limitTokens < 1) {
            throw new IllegalArgumentException("rateLimit limits must be >= 1");
        }
        if (remainingRequests < 0 || remainingTokens < 0 || drainRequestsPerCall < 0
                || (drainTokensPerCall != null && drainTokensPerCall < 0)) {
            throw new IllegalArgumentException("rateLimit remaining and drain values must not be negative");
        }
        if (!(refillRequestsPerSecond >= 0) || !(refillTokensPerSecond >= 0)
                || !Double.isFinite(refillRequestsPerSecond) || !Double.isFinite(refillTokensPerSecond)) {
            throw new IllegalArgumentException("rateLimit refill rates must be finite and not negative");
        }
    }

    public RateLimit(long limitRequests, long limitTokens, long remainingRequests, long remainingTokens,
                     long drainRequestsPerCall, Long drainTokensPerCall) {
        this(limitRequests, limitTokens, remainingRequests, remainingTokens, drainRequestsPerCall, drainTokensPerCall,
                0, 0);
    }

    @JsonCreator
    static RateLimit fromJson(@JsonProperty("limitRequests") Long limitRequests,
                              @JsonProperty("limitTokens") Long limitTokens,
                              @JsonProperty("remainingRequests") Long remainingRequests,
                              @JsonProperty("remainingTokens") Long remainingTokens,
                              @JsonProperty("drainRequestsPerCall") Long drainRequestsPerCall,
                              @JsonProperty("drainTokensPerCall") Long drainTokensPerCall,
                              @JsonProperty("refillRequestsPerSecond") Double refillRequestsPerSecond,
                              @JsonProperty("refillTokensPerSecond") Double refillTokensPerSecond) {
        if (limitRequests == null || limitTokens == null) {
            throw new IllegalArgumentException("rateLimit needs limitRequests and limitTokens");
        }
        return new RateLimit(limitRequests, limitTokens,
                remainingRequests == null ? limitRequests : remainingRequests,
                remainingTokens == null ? limitTokens : remainingTokens,
                drainRequestsPerCall == null ? 1 : drainRequestsPerCall,
                drainTokensPerCall,
                refillRequestsPerSecond == null ? 0 : refillRequestsPerSecond,
                refillTokensPerSecond == null ? 0 : refillTokensPerSecond);
    }

    /** Full headroom that drains by one request and by the call's tokens per success. */
    public static RateLimit of(long limitRequests, long limitTokens) {
        return new RateLimit(limitRequests, limitTokens, limitRequests, limitTokens, 1, null);
    }

    public RateLimit withRemaining(long remainingRequests, long remainingTokens) {
        return new RateLimit(limitRequests, limitTokens, remainingRequests, remainingTokens,
                drainRequestsPerCall, drainTokensPerCall, refillRequestsPerSecond, refillTokensPerSecond);
    }

    public RateLimit withDrainPerCall(long drainRequestsPerCall, long drainTokensPerCall) {
        return new RateLimit(limitRequests, limitTokens, remainingRequests, remainingTokens,
                drainRequestsPerCall, drainTokensPerCall, refillRequestsPerSecond, refillTokensPerSecond);
    }

    /** Headroom comes back at these rates per second of the simulator's clock, up to the limits. */
    public RateLimit withRefillPerSecond(double refillRequestsPerSecond, double refillTokensPerSecond) {
        return new RateLimit(limitRequests, limitTokens, remainingRequests, remainingTokens,
                drainRequestsPerCall, drainTokensPerCall, refillRequestsPerSecond, refillTokensPerSecond);
    }
}
