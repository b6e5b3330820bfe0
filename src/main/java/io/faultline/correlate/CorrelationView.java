package io.faultline.correlate;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** A cluster as the API shows it: its episodes as nodes and its links as edges. */
public record CorrelationView(UUID clusterId, String type, String status, double strength, double confidence,
        List<String> providers, RootCandidate rootCandidate, Instant firstSeen, Instant lastSeen, Instant closedAt,
        Map<String, Object> evidence, List<Node> nodes, List<Edge> edges) {

    /** The earliest episode with no incoming causal edge, and the reasoning. */
    public record RootCandidate(UUID failureId, String reason) {
    }

    public record Node(UUID failureId, String category, String type, String provider, String deployment,
            String severity, Instant firstSeen, Instant lastSeen) {
    }

    /** {@code to} is null for a fallback to a deployment that has no episode (named in the evidence). */
    public record Edge(UUID from, UUID to, String kind, double confidence, Map<String, Object> evidence) {
    }
}
