package io.faultline.content;

import io.faultline.web.Params;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.List;

/** The optional LLM-as-judge faithfulness check, as an operator checks on it (README "Faithfulness judge"). */
@Path("/api/v1/faithfulness/judge")
@Tag(name = "content")
@Produces(MediaType.APPLICATION_JSON)
public class JudgeResource {

    private final FaithfulnessJudge judge;

    public JudgeResource(FaithfulnessJudge judge) {
        this.judge = judge;
    }

    @GET
    @Operation(summary = "Whether the faithfulness judge is on, its sample and daily caps, today's (UTC) judge calls"
            + " and spend across replicas, and the sampled calls waiting on this replica")
    public FaithfulnessJudge.Status status(@Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return judge.status();
    }
}
