package io.faultline.predict;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * A failure predicted from leading indicators, as the API shows it and as a traffic policy reads it.
 * {@code estimatedTimeToFailure}, {@code horizon} and {@code leadTime} are ISO-8601 durations; {@code status} is
 * {@code active}, {@code hit}, {@code false_alarm} or {@code prevented} (README: "Accuracy").
 */
public record PredictedFailure(UUID predictionId, String predictedType, String provider, String deployment,
        String modelGroup, double confidence, double peakConfidence, String estimatedTimeToFailure,
        Instant estimatedFailureAt, String recommendedAction, Map<String, Object> indicators, Instant createdAt,
        Instant updatedAt, String horizon, Instant horizonEndsAt, String status, Instant resolvedAt,
        Instant failureOnset, String leadTime, Double keptShare) {
}
