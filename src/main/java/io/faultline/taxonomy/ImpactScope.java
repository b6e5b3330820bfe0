package io.faultline.taxonomy;

import java.time.Instant;

/**
 * Who and what a failure touched: the model group and deployment it hit, the request it came from and the
 * (hashed) user or team on whose behalf it was made. Episodes widen it into counts.
 *
 * <p>For a failure of one call, {@code traceId} and {@code callStartedAt} name the failed attempt itself (LiteLLM
 * gives every attempt of a request the same call id): the episode keeps them with the call, so that the correlation
 * engine walks a trace from the attempt without looking the attempt up among the stored calls. Null otherwise.
 */
public record ImpactScope(String model, String modelGroup, String callId, String userRef, String teamId,
        String traceId, Instant callStartedAt) {

    /** A scope without an attempt: signals, windows, or a call whose trace is not known. */
    public ImpactScope(String model, String modelGroup, String callId, String userRef, String teamId) {
        this(model, modelGroup, callId, userRef, teamId, null, null);
    }
}
