package io.faultline.episode;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/** An episode as the API shows it. */
public record FailureView(UUID failureId, String category, String type, String severity, String provider,
        String deployment, String detectionMethod, Map<String, Object> evidence, Map<String, Object> impactScope,
        Instant firstSeen, Instant lastSeen, long occurrences) {

    static FailureView of(FailureEvent e) {
        Map<String, Object> scope = new java.util.LinkedHashMap<>(e.impactScope);
        scope.put("affected_requests", e.affectedRequests);
        scope.put("affected_users", e.affectedUsers);
        return new FailureView(e.failureId, e.category, e.type, e.severity, e.provider, e.deployment,
                e.detectionMethod, e.evidence, scope, e.firstSeen, e.lastSeen, e.occurrences);
    }
}
