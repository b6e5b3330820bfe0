package io.faultline.impact;

import io.agroal.api.AgroalDataSource;
import io.faultline.web.ApiProblem;
import io.faultline.web.Params;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestQuery;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Failures ranked by total business impact (README: "Impact"). */
@Path("/api/v1/failures/ranked")
@Tag(name = "impact")
@Produces(MediaType.APPLICATION_JSON)
public class ImpactResource {

    /**
     * One ranked item: a pattern (episodes of one fingerprint), an episode or a cluster, with the total's terms.
     * {@code episodes}: the episodes its figures cover (a pattern's assessed episodes; a cluster's members when it was
     * assessed, at {@code assessedAt}); {@code episodesNow}: a cluster's members now, more when one joined since
     * (its figures count it from the next assessment; null for patterns and episodes).
     */
    public record Ranked(int rank, String kind, String id, String fingerprint, String provider, String category,
            String modelGroup, int episodes, Integer episodesNow, Instant assessedAt, Instant firstSeen,
            Instant lastSeen, long affectedRequests,
            long failedResponses, long affectedUsers, double totalUsd, double costUsd, double failedResponsesUsd,
            double usersUsd, double errorBudgetUsd) {
    }

    public record RankedList(Instant since, String group, List<Ranked> items) {
    }

    private final AgroalDataSource dataSource;
    private final Clock clock;

    public ImpactResource(AgroalDataSource dataSource, Clock clock) {
        this.dataSource = dataSource;
        this.clock = clock;
    }

    @GET
    @Operation(summary = "Failure patterns (or episodes) and clusters active since, by total business impact")
    public RankedList ranked(@RestQuery String since, @RestQuery @DefaultValue("pattern") String group,
            @RestQuery @DefaultValue("20") String limit, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of("since", "group", "limit"));
        return ranked(since, group, limit);
    }

    /** The ranked list for parameters already known to be this list's. */
    public RankedList ranked(String since, String group, String limit) {
        int rows = Params.limit(limit, 20, 500);
        Instant from = since == null ? clock.instant().minus(Duration.ofHours(24)) : Params.instant("since", since);
        if (!group.equals("pattern") && !group.equals("none")) {
            throw ApiProblem.badRequest("group", "group must be pattern (episodes of one fingerprint together) or none");
        }
        String episodes = group.equals("pattern")
                ? "select 'pattern' kind, fingerprint id, fingerprint, provider, category, model_group, episodes,"
                        + " null::int, null::timestamptz, first_seen, last_seen, affected_requests, failed_responses,"
                        + " affected_users, total_usd,"
                        + " cost_usd, failed_responses_usd, users_usd, error_budget_usd"
                        + " from impact_patterns(?, 'infinity')"
                : "select 'episode' kind, subject_id::text id, fingerprint, provider, category, model_group, 1,"
                        + " null::int, assessed_at, first_seen, last_seen, affected_requests, failed_responses,"
                        + " affected_users,"
                        + " total_impact_usd, (assessment -> 'total' ->> 'costUsd')::double precision,"
                        + " (assessment -> 'total' ->> 'failedResponsesUsd')::double precision,"
                        + " (assessment -> 'total' ->> 'usersUsd')::double precision,"
                        + " (assessment -> 'total' ->> 'errorBudgetUsd')::double precision"
                        + " from failure_impacts where subject_kind = 'episode' and last_seen >= ?";
        // A cluster's episodes are the members its assessment counted (an assessment stored before it said how many:
        // its members now), beside its members now: one that joined since is in its figures from the next assessment.
        String members = "(select count(*) from correlation_members m"
                + " where m.cluster_id = failure_impacts.subject_id)::int";
        String sql = "select * from (" + episodes + " union all select 'cluster', subject_id::text, null, provider,"
                + " category, model_group, coalesce((assessment ->> 'episodes')::int, " + members + "), " + members
                + ", assessed_at, first_seen, last_seen, affected_requests, failed_responses,"
                + " affected_users, total_impact_usd, (assessment -> 'total' ->> 'costUsd')::double precision,"
                + " (assessment -> 'total' ->> 'failedResponsesUsd')::double precision,"
                + " (assessment -> 'total' ->> 'usersUsd')::double precision,"
                + " (assessment -> 'total' ->> 'errorBudgetUsd')::double precision"
                + " from failure_impacts where subject_kind = 'cluster' and last_seen >= ?) ranked"
                // Ties (equal totals and last activity) in one order whatever the limit: by kind and id.
                + " order by 15 desc, 11 desc, 1, 2 limit ?";
        List<Ranked> items = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            st.setTimestamp(1, Timestamp.from(from));
            st.setTimestamp(2, Timestamp.from(from));
            st.setInt(3, rows);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    Timestamp assessed = rs.getTimestamp(9);
                    items.add(new Ranked(items.size() + 1, rs.getString(1), rs.getString(2), rs.getString(3),
                            rs.getString(4), rs.getString(5), rs.getString(6), rs.getInt(7),
                            rs.getObject(8, Integer.class), assessed == null ? null : assessed.toInstant(),
                            rs.getTimestamp(10).toInstant(), rs.getTimestamp(11).toInstant(), rs.getLong(12),
                            rs.getLong(13), rs.getLong(14), rs.getDouble(15), rs.getDouble(16), rs.getDouble(17),
                            rs.getDouble(18), rs.getDouble(19)));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not rank the failures", e);
        }
        return new RankedList(from, group, List.copyOf(items));
    }
}
