package io.faultline.correlate;

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

import java.util.List;
import java.util.UUID;

/** Read access to the correlation graph: incidents (clusters) with their episodes and edges. */
@Path("/api/v1/failures/correlations")
@Tag(name = "failures")
@Produces(MediaType.APPLICATION_JSON)
public class CorrelationResource {

    private final CorrelationQuery query;

    public CorrelationResource(CorrelationQuery query) {
        this.query = query;
    }

    @GET
    @Operation(summary = "List correlation clusters, most recently active first")
    public CorrelationQuery.Page list(@RestQuery String status, @RestQuery String type, @RestQuery String since,
            @RestQuery String minConfidence, @RestQuery String cursor,
            @RestQuery @DefaultValue("50") String limit, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of("status", "type", "since", "minConfidence", "limit", "cursor"));
        return query.list(CorrelationQuery.Filter.parse(status, type, since, minConfidence), cursor,
                Params.limit(limit, 50, 500));
    }

    @GET
    @Path("/{clusterId}")
    @Operation(summary = "One correlation cluster")
    public CorrelationView get(@RestPath String clusterId, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        UUID id = Params.uuid("clusterId", clusterId);
        // A cluster a merge absorbed: a redirect to the one that absorbed it (README, the API table).
        return query.byId(id).orElseThrow(() -> query.gone(id, ""));
    }
}
