package io.faultline.signals;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.common.Redactor;
import io.faultline.web.ApiProblem;
import io.faultline.web.Params;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestPath;
import org.jboss.resteasy.reactive.RestResponse;

import java.io.IOException;
import java.time.Clock;
import java.util.List;

/**
 * Registration of retrieval indexes: samples carried by calls count only for registered ones. An operator's write
 * (admin), deliberately outside {@code /signals}, which reporters may write.
 */
@Path("/api/v1/retrieval-indexes")
@Tag(name = "signals")
@Produces(MediaType.APPLICATION_JSON)
public class RetrievalIndexResource {

    private final RetrievalIndexes indexes;
    private final RetrievalTracker tracker;
    private final Clock clock;
    private final ObjectMapper json;

    public RetrievalIndexResource(RetrievalIndexes indexes, RetrievalTracker tracker, Clock clock, ObjectMapper json) {
        this.tracker = tracker;
        this.indexes = indexes;
        this.clock = clock;
        this.json = json;
    }

    @GET
    @Operation(summary = "Registered retrieval indexes")
    public List<RetrievalIndexes.RegisteredIndex> list(@Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return indexes.list();
    }

    @PUT
    @Path("/{name}")
    @Consumes(MediaType.WILDCARD)
    @Operation(summary = "Register a retrieval index, so that samples in call metadata count for it (idempotent)")
    @APIResponse(responseCode = "201", description = "Registered", content = @Content(mediaType = "application/json",
            schema = @Schema(implementation = RetrievalIndexes.RegisteredIndex.class)))
    @APIResponse(responseCode = "200", description = "Already registered", content = @Content(
            mediaType = "application/json", schema = @Schema(implementation = RetrievalIndexes.RegisteredIndex.class)))
    public RestResponse<RetrievalIndexes.RegisteredIndex> register(@RestPath String name, byte[] body,
            @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        String index = name(name);
        noSettings(body);
        boolean added;
        try {
            added = indexes.register(index, clock.instant());
        } catch (RetrievalIndexes.TooManyIndexes e) {
            throw new ApiProblem(409, "Too many retrieval indexes", e.getMessage());
        }
        RetrievalIndexes.RegisteredIndex view = indexes.list().stream().filter(i -> i.index().equals(index))
                .findFirst().orElseThrow();
        return added ? RestResponse.status(RestResponse.Status.CREATED, view) : RestResponse.ok(view);
    }

    @DELETE
    @Path("/{name}")
    @Operation(summary = "Unregister a retrieval index: samples in call metadata stop counting for it")
    public RestResponse<Void> delete(@RestPath String name, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        String index = registeredName(name);
        if (!indexes.delete(index)) {
            throw new ApiProblem(404, "Not found", "No retrieval index '" + index + "' is registered.");
        }
        tracker.forget(index);
        return RestResponse.noContent();
    }

    /**
     * The index name to register, under the rule the signal API and call metadata apply to it: registration took
     * names with surrounding blanks ("kb-1 ") that every retrieval and index report for them refused.
     */
    private static String name(String raw) {
        String problem = raw == null ? "name must not be blank" : SignalParser.nameProblem("name", raw);
        if (problem != null) {
            throw ApiProblem.badRequest("name", problem);
        }
        return raw;
    }

    /**
     * Refuses a body that says anything: a registration holds the name in the path and nothing else, and a body with
     * settings in it ({@code {"maxAge": "PT1H"}}) was read as a plain registration, its settings dropped in silence.
     * No body, blanks, or an empty JSON object (clients that always send one) say nothing, and pass. Read as tokens,
     * only as far as the first thing said.
     */
    private void noSettings(byte[] body) {
        if (body == null || body.length == 0) {
            return;
        }
        String refusal = "PUT /api/v1/retrieval-indexes/{name} takes no body: the name in the path is all a"
                + " registration holds. Send the request without a body.";
        try (JsonParser parser = json.createParser(body)) {
            JsonToken first = parser.nextToken();
            if (first == null) {
                return;
            }
            if (first == JsonToken.START_OBJECT) {
                JsonToken next = parser.nextToken();
                if (next == JsonToken.FIELD_NAME) {
                    String field = Redactor.mask(parser.currentName(), 64);
                    throw ApiProblem.badRequest(field, refusal + " (" + field + " is not a setting of an index.)");
                }
                if (next == JsonToken.END_OBJECT && parser.nextToken() == null) {
                    return;
                }
            }
        } catch (IOException e) {
            // not JSON: refused below like any other body
        }
        throw ApiProblem.badRequest("$", refusal);
    }

    /** The index name to unregister: also one registered before the rule above, such as "kb-1 ". */
    private static String registeredName(String raw) {
        if (raw == null || raw.isBlank()) {
            throw ApiProblem.badRequest("name", "The index name is blank.");
        }
        if (raw.length() > SignalParser.MAX_NAME_LENGTH) {
            throw ApiProblem.badRequest("name", "The index name is longer than " + SignalParser.MAX_NAME_LENGTH
                    + " characters.");
        }
        for (int i = 0; i < raw.length(); i++) {
            if (Character.isISOControl(raw.charAt(i))) {
                throw ApiProblem.badRequest("name", "The index name contains a control character.");
            }
        }
        return raw;
    }
}
