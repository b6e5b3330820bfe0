package io.faultline.impact;

import io.faultline.correlate.CorrelationQuery;
import io.faultline.web.ApiProblem;
import io.faultline.web.Params;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestPath;

import java.util.List;
import java.util.UUID;

/** The impact of one episode or one correlation cluster, assessed now (README: "Impact"). */
public final class SubjectImpactResource {

    private SubjectImpactResource() {
    }

    @Path("/api/v1/failures/{failureId}/impact")
    @Tag(name = "impact")
    @Produces(MediaType.APPLICATION_JSON)
    public static class Episode {

        private final FailureImpactAssessor assessor;

        public Episode(FailureImpactAssessor assessor) {
            this.assessor = assessor;
        }

        @GET
        @Operation(summary = "The episode's impact (users, cost, quality, error budget, total), assessed now")
        public Assessment get(@RestPath String failureId, @Context UriInfo uri) {
            Params.onlyKnown(uri, List.of());
            UUID id = Params.uuid("failureId", failureId);
            return assessor.assessEpisode(id).orElseThrow(() -> new ApiProblem(404, "Not found", "No episode " + id));
        }
    }

    @Path("/api/v1/failures/correlations/{clusterId}/impact")
    @Tag(name = "impact")
    @Produces(MediaType.APPLICATION_JSON)
    public static class Cluster {

        private final FailureImpactAssessor assessor;
        private final CorrelationQuery clusters;

        public Cluster(FailureImpactAssessor assessor, CorrelationQuery clusters) {
            this.assessor = assessor;
            this.clusters = clusters;
        }

        @GET
        @Operation(summary = "The correlation cluster's impact; requests its members share count once")
        public Assessment get(@RestPath String clusterId, @Context UriInfo uri) {
            Params.onlyKnown(uri, List.of());
            UUID id = Params.uuid("clusterId", clusterId);
            // A cluster a merge absorbed: a redirect to the impact of the one that absorbed it.
            return assessor.assessCluster(id).orElseThrow(() -> clusters.gone(id, "/impact"));
        }
    }
}
