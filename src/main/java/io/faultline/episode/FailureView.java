package io.faultline.episode;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * An episode as the API shows it; {@code clusters} (the correlation clusters it belongs to) only when one episode is
 * read.
 */
public record FailureView(UUID failureId, String category, String type, String severity, String provider,
        String deployment, String detectionMethod, Map<String, Object> evidence, Map<String, Object> impactScope,
        Instant firstSeen, Instant lastSeen, long occurrences,
        @JsonInclude(JsonInclude.Include.NON_NULL) List<UUID> clusters) {

    FailureView withClusters(List<UUID> ids) {
        return new FailureView(failureId, category, type, severity, provider, deployment, detectionMethod, evidence,
                impactScope, firstSeen, lastSeen, occurrences, ids);
    }

    static FailureView of(FailureEvent e) {
        Map<String, Object> scope = new java.util.LinkedHashMap<>(e.impactScope);
        scope.put("affected_requests", e.affectedRequests);
        scope.put("affected_users", e.affectedUsers);
        return new FailureView(e.failureId, e.category, e.type, e.severity, e.provider, e.deployment,
                e.detectionMethod, e.evidence, scope, e.firstSeen, e.lastSeen, e.occurrences, null);
    }
}
