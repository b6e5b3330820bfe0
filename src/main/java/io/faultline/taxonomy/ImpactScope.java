package io.faultline.taxonomy;

/**
 * Who and what a failure touched: the model group and deployment it hit, the request it came from and the
 * (hashed) user or team on whose behalf it was made. Episodes widen it into counts.
 */
public record ImpactScope(String model, String modelGroup, String callId, String userRef, String teamId) {
}
