package io.faultline.correlate;

import io.faultline.web.KeysetCursor;
import io.faultline.episode.FailureEvent;
import io.faultline.web.ApiProblem;
import io.faultline.web.Params;
import io.quarkus.panache.common.Parameters;
import io.quarkus.panache.common.Sort;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/** Filtered, cursor-paged reads of correlation clusters, most recently active first. */
@ApplicationScoped
public class CorrelationQuery {

    /** The name its cursors carry, so that another list's cursor is refused. */
    private static final String CURSOR_LIST = "correlations";

    private static final Set<String> STATUSES = Set.of("active", "closed", "all");
    private static final Set<String> TYPES = Set.of("upstream", "cascade", "mixed");

    /** One page; {@code nextCursor} is null on the last page. */
    public record Page(List<CorrelationView> items, String nextCursor) {
    }

    /** Parsed, validated filters; every value names its parameter when it is wrong. */
    public record Filter(String status, String type, Instant since, Double minConfidence) {

        public static Filter parse(String status, String type, String since, String minConfidence) {
            String s = status == null ? "active" : status.toLowerCase(Locale.ROOT);
            if (!STATUSES.contains(s)) {
                throw ApiProblem.badRequest("status", "status must be one of active, closed, all");
            }
            String t = type == null ? null : type.toLowerCase(Locale.ROOT);
            if (t != null && !TYPES.contains(t)) {
                throw ApiProblem.badRequest("type", "type must be one of upstream, cascade, mixed");
            }
            return new Filter(s, t, Params.instant("since", since), Params.fraction("minConfidence", minConfidence));
        }
    }

    @Transactional
    public Page list(Filter filter, String cursor, int limit) {
        StringBuilder where = new StringBuilder("1 = 1");
        Parameters params = new Parameters();
        if (!"all".equals(filter.status())) {
            where.append(" and status = :status");
            params.and("status", filter.status());
        }
        if (filter.type() != null) {
            where.append(" and type = :type");
            params.and("type", filter.type());
        }
        if (filter.since() != null) {
            where.append(" and lastSeen >= :since");
            params.and("since", filter.since());
        }
        if (filter.minConfidence() != null) {
            where.append(" and confidence >= :min");
            params.and("min", filter.minConfidence());
        }
        KeysetCursor after = KeysetCursor.decode(CURSOR_LIST, cursor);
        if (after != null) {
            where.append(" and (lastSeen < :cLast or (lastSeen = :cLast and clusterId < :cId))");
            params.and("cLast", after.at()).and("cId", after.id());
        }
        List<CorrelationCluster> rows = CorrelationCluster.<CorrelationCluster>find(where.toString(),
                Sort.descending("lastSeen", "clusterId"), params).page(0, limit + 1).list();
        List<CorrelationCluster> page = rows.subList(0, Math.min(rows.size(), limit));
        String next = rows.size() > limit
                ? new KeysetCursor(CURSOR_LIST, page.get(limit - 1).lastSeen, page.get(limit - 1).clusterId).encode()
                : null;
        return new Page(views(page), next);
    }

    @Transactional
    public Optional<CorrelationView> byId(UUID id) {
        return CorrelationCluster.<CorrelationCluster>findByIdOptional(id).map(c -> views(List.of(c)).get(0));
    }

    /**
     * Where a merge took the cluster: the cluster that absorbed it (directly or through later merges) and when; empty
     * for an id no merge absorbed (or whose record retention dropped with the calls).
     */
    public record Merge(UUID clusterId, UUID mergedInto, Instant mergedAt, boolean survivorKept) {
    }

    @Transactional
    public Optional<Merge> mergeOf(UUID id) {
        @SuppressWarnings("unchecked")
        List<Object[]> rows = FailureEvent.getEntityManager().createNativeQuery("select m.merged_into, m.merged_at,"
                + " exists (select 1 from correlation_clusters k where k.cluster_id = m.merged_into)"
                + " from correlation_merges m where m.cluster_id = ?1").setParameter(1, id).getResultList();
        return rows.stream().findFirst().map(r -> new Merge(id, (UUID) r[0], instant(r[1]), (Boolean) r[2]));
    }

    /**
     * The problem a read of a cluster that a merge absorbed answers: a permanent redirect (308) to {@code suffix} of
     * the cluster that absorbed it, naming it in {@code mergedInto}; a 404 naming it when retention has since dropped
     * that cluster too; else the plain 404 of an unknown cluster.
     */
    public ApiProblem gone(UUID id, String suffix) {
        return mergeOf(id).map(m -> {
            String detail = "Correlation cluster " + id + " was merged into " + m.mergedInto() + " at "
                    + m.mergedAt() + (m.survivorKept() ? "" : ", which retention has deleted since");
            Map<String, Object> where = Map.of("mergedInto", m.mergedInto().toString(), "mergedAt",
                    m.mergedAt().toString());
            // The title is the status's phrase (RFC 9457 4.2, type about:blank); what happened is in the detail.
            return m.survivorKept()
                    ? ApiProblem.moved(308, "Permanent Redirect", detail, "/api/v1/failures/correlations/"
                            + m.mergedInto() + suffix, where)
                    : ApiProblem.moved(404, "Not found", detail, null, where);
        }).orElseGet(() -> new ApiProblem(404, "Not found", "No correlation cluster " + id));
    }

    /** The clusters an episode belongs to, newest first. */
    @Transactional
    public List<UUID> clustersOf(UUID failureId) {
        return CorrelationCluster.containing(failureId);
    }

    private static List<CorrelationView> views(List<CorrelationCluster> clusters) {
        if (clusters.isEmpty()) {
            return List.of();
        }
        List<UUID> ids = clusters.stream().map(c -> c.clusterId).toList();
        Map<UUID, List<CorrelationView.Node>> nodes = new HashMap<>();
        @SuppressWarnings("unchecked")
        List<Object[]> members = FailureEvent.getEntityManager().createNativeQuery("select m.cluster_id,"
                + " e.failure_id, e.category, e.type, e.provider, e.deployment, e.severity, e.first_seen, e.last_seen"
                + " from correlation_members m join failure_events e on e.failure_id = m.failure_id"
                + " where m.cluster_id in (?1) order by e.first_seen, e.failure_id").setParameter(1, ids)
                .getResultList();
        for (Object[] r : members) {
            nodes.computeIfAbsent((UUID) r[0], k -> new ArrayList<>()).add(new CorrelationView.Node((UUID) r[1],
                    (String) r[2], (String) r[3], (String) r[4], (String) r[5], (String) r[6], instant(r[7]),
                    instant(r[8])));
        }
        Map<UUID, List<CorrelationView.Edge>> edges = new HashMap<>();
        for (CorrelationEdge e : CorrelationEdge.ofClusters(ids)) {
            edges.computeIfAbsent(e.clusterId, k -> new ArrayList<>()).add(new CorrelationView.Edge(e.fromFailureId,
                    e.toFailureId, e.kind, e.confidence, e.evidence));
        }
        List<CorrelationView> views = new ArrayList<>(clusters.size());
        for (CorrelationCluster c : clusters) {
            views.add(new CorrelationView(c.clusterId, c.type, c.status, c.strength, c.confidence, c.providers,
                    c.rootFailureId == null ? null : new CorrelationView.RootCandidate(c.rootFailureId, c.rootReason),
                    c.firstSeen, c.lastSeen, c.closedAt, c.evidence, nodes.getOrDefault(c.clusterId, List.of()),
                    edges.getOrDefault(c.clusterId, List.of())));
        }
        return views;
    }

    private static Instant instant(Object value) {
        if (value instanceof Instant i) {
            return i;
        }
        if (value instanceof java.sql.Timestamp t) {
            return t.toInstant();
        }
        if (value instanceof java.time.OffsetDateTime o) {
            return o.toInstant();
        }
        throw new IllegalStateException("unexpected timestamp type " + value.getClass().getSimpleName());
    }
}
