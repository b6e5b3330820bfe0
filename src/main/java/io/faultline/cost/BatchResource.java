package io.faultline.cost;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.web.ApiProblem;
import io.faultline.web.Params;
import io.faultline.web.JsonBodies;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestPath;

import java.util.Iterator;
import java.util.List;

/** Batch jobs: their expected cost and what their tagged calls have spent. */
@Path("/api/v1/batches")
@Tag(name = "batches")
@Produces(MediaType.APPLICATION_JSON)
public class BatchResource {

    private final ObjectMapper json;
    private final BatchTracker batches;

    public BatchResource(ObjectMapper json, BatchTracker batches) {
        this.json = json;
        this.batches = batches;
    }

    @PUT
    @Path("/{id: .+}")
    @Consumes({ MediaType.APPLICATION_JSON, MediaType.WILDCARD })
    @Operation(summary = "Set a batch's expected cost: {expectedCostUsd}; idempotent, the only source of expectations")
    public BatchTracker.BatchView put(@RestPath String id, byte[] body, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        String batchId = id(id);
        JsonNode root = JsonBodies.read(json, body, BudgetResource.MAX_BODY_BYTES);
        if (!root.isObject()) {
            throw ApiProblem.badRequest("$", "Expected a JSON object such as {\"expectedCostUsd\": 12.5}");
        }
        for (Iterator<String> names = root.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!name.equals("expectedCostUsd")) {
                throw ApiProblem.badRequest(name, "Unknown field " + name + "; expected expectedCostUsd");
            }
        }
        double expected = BudgetResource.usd(root.get("expectedCostUsd"), "expectedCostUsd", "US dollars");
        return batches.put(batchId, expected);
    }

    @GET
    @Path("/{id: .+}")
    @Operation(summary = "A batch's expected cost, spend so far, ratio and the thresholds that fired")
    public BatchTracker.BatchView get(@RestPath String id, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return batches.get(id(id)).orElseThrow(() -> new ApiProblem(404, "Not found", "No batch " + id
                + ": no expected cost and no tagged calls"));
    }

    private static String id(String id) {
        if (id == null || id.isBlank() || id.length() > BatchTracker.MAX_ID_LENGTH) {
            throw ApiProblem.badRequest("id", "id must be 1 to " + BatchTracker.MAX_ID_LENGTH + " characters");
        }
        if (!Params.plainText(id)) {
            throw ApiProblem.badRequest("id", "id may hold no control or bidirectional control character and no lone"
                    + " surrogate");
        }
        return id;
    }
}
