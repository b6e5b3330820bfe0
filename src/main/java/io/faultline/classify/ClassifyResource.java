package io.faultline.classify;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.call.CallMapper;
import io.faultline.call.IngestConfig;
import io.faultline.call.InvalidPayloadException;
import io.faultline.taxonomy.Failure;
import io.faultline.web.ApiProblem;
import io.faultline.web.JsonBodies;
import io.faultline.web.Params;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.List;
import java.util.Map;

/** Dry run of the classifier: one payload in, the failures it would produce out, nothing stored. */
@Path("/api/v1/classify")
@Tag(name = "classify")
public class ClassifyResource {

    private final ObjectMapper json;
    private final CallMapper mapper;
    private final FailureClassifier classifier;
    private final IngestConfig limits;

    public ClassifyResource(ObjectMapper json, CallMapper mapper, FailureClassifier classifier, IngestConfig limits) {
        this.json = json;
        this.mapper = mapper;
        this.classifier = classifier;
        this.limits = limits;
    }

    /** A failure as one call shows it, before it is folded into an episode. */
    public record Classified(String category, String type, String severity, String provider, String deployment,
            String detectionMethod, Map<String, Object> evidence) {

        static Classified of(Failure f) {
            return new Classified(f.category().name(), f.type().code(), f.severity().name(), f.provider(),
                    f.deployment(), f.detectionMethod(), f.evidence());
        }
    }

    public record Classification(String callId, List<Classified> failures) {
    }

    @POST
    @Consumes({ MediaType.APPLICATION_JSON, MediaType.WILDCARD })
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Classify one StandardLoggingPayload without storing anything")
    public Classification classify(byte[] body, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        JsonNode payload = JsonBodies.readCall(json, body, limits.maxBodyBytes(), limits.maxCallValues(),
                "faultline.ingest.max-call-values");
        try {
            var call = mapper.map(payload);
            return new Classification(call.callId(),
                    classifier.classifyFailure(call).stream().map(Classified::of).toList());
        } catch (InvalidPayloadException e) {
            throw ApiProblem.badRequest(e.field(), e.getMessage());
        }
    }
}
