package io.faultline.episode;

import io.faultline.correlate.CorrelationQuery;
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
import org.jboss.resteasy.reactive.RestPath;
import org.jboss.resteasy.reactive.RestQuery;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/** Read access to failure episodes. */
@Path("/api/v1/failures")
@Tag(name = "failures")
@Produces(MediaType.APPLICATION_JSON)
public class FailureResource {

    private static final List<String> LIST_PARAMETERS = List.of("category", "type", "provider", "deployment",
            "severity", "since", "until", "limit", "cursor");

    private final FailureQuery query;
    private final CorrelationQuery correlations;

    public FailureResource(FailureQuery query, CorrelationQuery correlations) {
        this.query = query;
        this.correlations = correlations;
    }

    @GET
    @Operation(summary = "List failure episodes, most recently active first")
    public FailureQuery.Page list(@RestQuery String category, @RestQuery String type, @RestQuery String provider,
            @RestQuery String deployment, @RestQuery String severity, @RestQuery String since,
            @RestQuery String until, @RestQuery String cursor, @RestQuery @DefaultValue("50") String limit,
            @Context UriInfo uri) {
        Params.onlyKnown(uri, LIST_PARAMETERS);
        return query.list(FailureQuery.Filter.parse(category, type, provider, deployment, severity, since, until),
                cursor, Params.limit(limit, 50, 500));
    }

    @GET
    @Path("/summary")
    @Operation(summary = "Episodes and occurrences per category and type")
    public List<FailureSummary.Row> summary(@RestQuery String since, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of("since"));
        Instant from = FailureQuery.Filter.parse(null, null, null, null, null, since, null).since();
        return FailureSummary.since(from == null ? Instant.EPOCH : from);
    }

    @GET
    @Path("/{failureId}")
    @Operation(summary = "One failure episode, with the correlation clusters it belongs to")
    public FailureView get(@RestPath String failureId, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        UUID id = Params.uuid("failureId", failureId);
        return query.byId(id).orElseThrow(() -> query.gone(id))
                .withClusters(correlations.clustersOf(id));
    }
}
