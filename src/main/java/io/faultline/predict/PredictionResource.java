package io.faultline.predict;

import io.faultline.web.ApiProblem;
import io.faultline.web.Params;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestPath;
import org.jboss.resteasy.reactive.RestQuery;

import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/** Failure predictions: the list, one prediction, an evaluation on demand, and the predictor's own accuracy. */
@Path("/api/v1/predictions")
@Tag(name = "predictions")
@Produces(MediaType.APPLICATION_JSON)
public class PredictionResource {

    private final PredictionStore store;
    private final FailurePredictor predictor;
    private final PredictionAccuracy accuracy;
    private final PredictConfig config;
    private final Clock clock;

    public PredictionResource(PredictionStore store, FailurePredictor predictor, PredictionAccuracy accuracy,
            PredictConfig config, Clock clock) {
        this.store = store;
        this.predictor = predictor;
        this.accuracy = accuracy;
        this.config = config;
        this.clock = clock;
    }

    @GET
    @Operation(summary = "List predictions (active by default), newest first")
    public PredictionStore.Page list(@RestQuery String status, @RestQuery String provider,
            @RestQuery String deployment, @RestQuery String type, @RestQuery String since, @RestQuery String cursor,
            @RestQuery @DefaultValue("50") String limit, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of("status", "provider", "deployment", "type", "since", "limit", "cursor"));
        return store.list(PredictionStore.Filter.parse(status, provider, deployment, type, since, config.types()),
                cursor, Params.limit(limit, 50, 500));
    }

    @GET
    @Path("/{predictionId}")
    @Operation(summary = "One prediction")
    public PredictedFailure get(@RestPath String predictionId, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        if ("evaluate".equals(predictionId)) {
            // The sibling POST /evaluate: a GET of it is the wrong method, not a malformed prediction id.
            throw new jakarta.ws.rs.NotAllowedException("POST");
        }
        UUID id = Params.uuid("predictionId", predictionId);
        return store.byId(id).orElseThrow(() -> new ApiProblem(404, "Not found", "No prediction " + id));
    }

    @POST
    @Path("/evaluate")
    @Operation(summary = "Evaluate the leading indicators now; answers the predictions made or renewed")
    public FailurePredictor.Evaluation evaluate(@Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return predictor.predictFailure();
    }

    @GET
    @Path("/accuracy")
    @Operation(summary = "Precision, recall and lead times per failure type")
    public PredictionAccuracy.Accuracy accuracy(@RestQuery String since, @RestQuery String until,
            @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of("since", "until"));
        Instant to = until == null ? clock.instant() : Params.instant("until", until);
        Instant from = since == null ? to.minus(config.accuracyWindow()) : Params.instant("since", since);
        if (!from.isBefore(to)) {
            throw ApiProblem.badRequest("since", "since must be before until");
        }
        return accuracy.compute(from, to, null);
    }
}
