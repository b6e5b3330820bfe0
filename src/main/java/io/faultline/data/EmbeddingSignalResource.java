package io.faultline.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.faultline.common.StorableTime;
import io.faultline.signals.SignalResource;
import io.faultline.web.ApiProblem;
import io.faultline.web.JsonBodies;
import io.faultline.web.JsonProblems;
import io.faultline.web.Params;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
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
import org.jboss.resteasy.reactive.ResponseStatus;
import org.jboss.resteasy.reactive.RestPath;
import org.jboss.resteasy.reactive.RestResponse;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** Embedding vectors posted by applications, and the drift status of every space. */
@Path("/api/v1/signals/embeddings")
@Tag(name = "signals")
@Produces(MediaType.APPLICATION_JSON)
public class EmbeddingSignalResource {

    static final Pattern ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
    private static final Set<String> FIELDS = Set.of("signalId", "space", "at", "vectors");

    /**
     * What a post did.
     *
     * @param accepted   vectors stored (0 for a duplicate)
     * @param reference  of which went into the space's reference
     * @param referenceN the space's reference size now (of {@code referenceSize}); 0 for a duplicate
     */
    public record SignalReceipt(String signalId, String space, boolean duplicate, int accepted, int reference,
            int referenceN, int referenceSize) {
    }

    private final ObjectMapper json;
    private final EmbeddingStore store;
    private final EmbeddingDriftDetector detector;
    private final EmbeddingDriftConfig config;
    private final Clock clock;
    private final Counter received;

    public EmbeddingSignalResource(ObjectMapper json, EmbeddingStore store, EmbeddingDriftDetector detector,
            EmbeddingDriftConfig config, Clock clock, MeterRegistry registry) {
        this.json = json;
        this.store = store;
        this.detector = detector;
        this.config = config;
        this.clock = clock;
        this.received = Counter.builder("faultline.embedding.vectors").tag("source", "api")
                .description("Vectors stored for embedding drift").register(registry);
    }

    @POST
    @Consumes({ MediaType.APPLICATION_JSON, MediaType.WILDCARD })
    @Operation(summary = "Post embedding vectors of one space; idempotent on signalId")
    @APIResponse(responseCode = "202", description = "Accepted: the vectors are stored for the next check",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = SignalReceipt.class)))
    @APIResponse(responseCode = "200", description = "A signalId already received: nothing counted again",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = SignalReceipt.class)))
    public RestResponse<SignalReceipt> post(byte[] body, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        Instant now = clock.instant();
        EmbeddingStore.Signal signal;
        try (JsonParser parser = JsonBodies.parser(json, body, config.maxBodyBytes())) {
            signal = parse(parser, now);
        } catch (JsonProcessingException e) {
            throw JsonProblems.of(e);
        } catch (IOException e) {
            throw new ApiProblem(400, "Unreadable body", "The request body could not be read.");
        }
        EmbeddingStore.Stored stored;
        try {
            stored = store.store(signal, config.referenceSize(), config.maxSpaces(), now);
        } catch (EmbeddingStore.DimensionMismatch e) {
            throw unprocessable("vectors", e.getMessage() + "; post vectors of the space's model, or reset its"
                    + " reference (DELETE /api/v1/signals/embeddings/" + signal.space() + "/reference)");
        } catch (EmbeddingStore.SpaceLimit e) {
            String detail = "All " + config.maxSpaces() + " embedding spaces (faultline.embedding-drift.max-spaces)"
                    + " hold a complete reference, so space " + signal.space() + " cannot be opened: reset a space"
                    + " no longer used (DELETE /api/v1/signals/embeddings/{space}/reference) or raise the limit.";
            throw new ApiProblem(409, "Too many embedding spaces", detail, List.of(Map.of("field", "space",
                    "message", "no room for a new space")));
        }
        if (stored.duplicate()) {
            return RestResponse.ok(new SignalReceipt(signal.signalId(), signal.space(), true, 0, 0, 0,
                    config.referenceSize()));
        }
        received.increment(signal.vectors().size());
        return RestResponse.status(RestResponse.Status.ACCEPTED, new SignalReceipt(signal.signalId(), signal.space(),
                false, signal.vectors().size(), stored.reference(), stored.referenceN(), config.referenceSize()));
    }

    @GET
    @Operation(summary = "Drift status of every space")
    public List<EmbeddingDriftDetector.SpaceStatus> list(@Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return detector.statuses();
    }

    @GET
    @Path("/{space: .+}")
    @Operation(summary = "Drift status of one space: reference and window sizes, distance, threshold")
    public EmbeddingDriftDetector.SpaceStatus status(@RestPath String space, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return detector.status(space).orElseThrow(() -> notFound(space));
    }

    @DELETE
    @Path("/{space: .+}/reference")
    @ResponseStatus(204)
    @Operation(summary = "Reset a space: drop its reference and window; its next vectors make a new reference")
    public void reset(@RestPath String space, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        if (!detector.reset(space)) {
            throw notFound(space);
        }
    }

    @POST
    @Path("/checks")
    @Operation(summary = "Check every space now and raise drifts, unless a check ran within the interval (409)"
            + " or the database is away (503)")
    public List<EmbeddingDriftDetector.SpaceStatus> check(@Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        // The scheduled check's claim: a second check within the interval would raise every drift twice.
        // A claim the database failed, or a schema not yet migrated, is a 503 with Retry-After (checkAsked throws).
        return detector.checkAsked().orElseThrow(() -> {
            String last = detector.lastCheckStarted().map(at -> "The latest check started at " + at
                    + "; the next is due at " + at.plus(config.interval())).orElse("Another check is running");
            return new ApiProblem(409, "Checked within the interval", last + " (faultline.embedding-drift.interval"
                    + " is " + config.interval() + "). GET /api/v1/signals/embeddings has the latest results.");
        });
    }

    /**
     * Reads the body as it is parsed: the scalar fields into a small object, the vectors straight into floats, counted
     * as they come, so that a body past the limits is refused before it takes more memory than its vectors.
     */
    private EmbeddingStore.Signal parse(JsonParser parser, Instant now) throws IOException {
        JsonToken first = parser.nextToken();
        if (first != JsonToken.START_OBJECT) {
            throw ApiProblem.badRequest("$", "Expected a JSON object {signalId, space, at?, vectors}, got "
                    + kind(first));
        }
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        List<float[]> vectors = null;
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String name = parser.currentName();
            if (!FIELDS.contains(name)) {
                throw ApiProblem.badRequest(name, "unknown field '" + name + "'; expected signalId, space, at,"
                        + " vectors");
            }
            JsonToken value = parser.nextToken();
            if (name.equals("vectors")) {
                vectors = value == JsonToken.VALUE_NULL ? null : vectors(parser);
            } else if (value == JsonToken.VALUE_STRING || value == JsonToken.VALUE_NULL) {
                root.set(name, value == JsonToken.VALUE_NULL ? NullNode.getInstance() : TextNode.valueOf(
                        parser.getText()));
            } else {
                parser.skipChildren();
                root.putArray(name); // not a string: the field's check says what it must be
            }
        }
        String signalId = identifier(root, "signalId");
        String space = space(root);
        Instant at = now;
        JsonNode atNode = root.get("at");
        if (atNode != null && !atNode.isNull()) {
            if (!atNode.isTextual()) {
                throw ApiProblem.badRequest("at", "at must be an ISO-8601 instant such as 2026-11-28T10:00:00Z");
            }
            try {
                at = Instant.parse(atNode.textValue());
            } catch (DateTimeParseException e) {
                throw ApiProblem.badRequest("at", "at must be an ISO-8601 instant such as 2026-11-28T10:00:00Z");
            }
            if (!StorableTime.contains(at)) {
                throw unprocessable("at", "at must lie within " + StorableTime.RANGE);
            }
            if (at.isAfter(now.plus(config.maxClockSkew()))) {
                // Coded as a rejected signal's: the one refusal worth sending again, once the clocks agree.
                String detail = "at lies more than " + config.maxClockSkew() + " in the future: check the sender's"
                        + " clock";
                throw new ApiProblem(422, "Invalid signal", detail, List.of(Map.of("field", "at", "message", detail,
                        "code", SignalResource.Rejected.IN_FUTURE)));
            }
        }
        if (vectors == null) {
            throw ApiProblem.badRequest("vectors", "vectors is required: an array of arrays of numbers");
        }
        return new EmbeddingStore.Signal("api", signalId, space, at, vectors);
    }

    private static String kind(JsonToken token) {
        if (token == null) {
            return "nothing";
        }
        return switch (token) {
            case START_ARRAY -> "array";
            case VALUE_STRING -> "string";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "number";
            case VALUE_TRUE, VALUE_FALSE -> "boolean";
            case VALUE_NULL -> "null";
            default -> token.name().toLowerCase();
        };
    }

    private static String identifier(JsonNode root, String field) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            throw ApiProblem.badRequest(field, field + " is required");
        }
        if (!node.isTextual() || !ID.matcher(node.textValue()).matches()) {
            throw ApiProblem.badRequest(field, field + " must be 1 to 128 characters of A-Z a-z 0-9 . _ : -");
        }
        return node.textValue();
    }

    /**
     * A space is named as LiteLLM's calls name theirs (the model group, such as {@code openai/text-embedding-3-small}),
     * so that an application can post into the space its proxy's embedding calls fill.
     */
    private static String space(JsonNode root) {
        JsonNode node = root.get("space");
        if (node == null || node.isNull()) {
            throw ApiProblem.badRequest("space", "space is required");
        }
        String space = node.isTextual() ? node.textValue() : "";
        if (space.isBlank() || space.length() > EmbeddingCallRule.MAX_SPACE_LENGTH || !space.strip().equals(space)
                || !Params.plainText(space)) {
            throw ApiProblem.badRequest("space", "space must be 1 to " + EmbeddingCallRule.MAX_SPACE_LENGTH
                    + " characters, without control or bidirectional control characters or surrounding spaces (a model"
                    + " group such as"
                    + " openai/text-embedding-3-small)");
        }
        if (!EmbeddingCallRule.addressable(space)) {
            throw ApiProblem.badRequest("space", "space is read and reset by its name in a URL path, so it cannot"
                    + " start or end with '/', hold '//', or have a '.' or '..' between slashes");
        }
        return space;
    }

    /** The vectors, read from the parser at the value of {@code vectors}. */
    private List<float[]> vectors(JsonParser parser) throws IOException {
        if (parser.currentToken() != JsonToken.START_ARRAY) {
            throw ApiProblem.badRequest("vectors", "vectors must be an array of arrays of numbers");
        }
        List<float[]> vectors = new ArrayList<>();
        float[] values = new float[Math.min(config.maxDimensions(), 1024)];
        int dimensions = -1;
        for (JsonToken token = parser.nextToken(); token != JsonToken.END_ARRAY; token = parser.nextToken()) {
            int i = vectors.size();
            String field = "vectors[" + i + "]";
            if (i == config.maxVectorsPerRequest()) {
                throw new ApiProblem(413, "Too many vectors", "The signal has more than " + i + " vectors; at most "
                        + i + " are accepted per request (faultline.embedding-drift.max-vectors-per-request).",
                        List.of(Map.of("field", "vectors", "message", "at most " + i)));
            }
            if (token != JsonToken.START_ARRAY) {
                throw ApiProblem.badRequest(field, field + " must be an array of numbers");
            }
            int n = 0;
            for (JsonToken value = parser.nextToken(); value != JsonToken.END_ARRAY; value = parser.nextToken()) {
                String at = field + "[" + n + "]";
                if (n == config.maxDimensions()) {
                    throw new ApiProblem(413, "Too many dimensions", field + " has more than " + n
                            + " dimensions; at most " + n + " are accepted (faultline.embedding-drift.max-dimensions).",
                            List.of(Map.of("field", field, "message", "at most " + n)));
                }
                if (!value.isNumeric()) {
                    throw ApiProblem.badRequest(at, at + " is not a number");
                }
                float f = parser.getFloatValue();
                if (!Float.isFinite(f)) {
                    throw unprocessable(at, at + " is not a finite 32-bit float");
                }
                if (n == values.length) {
                    values = Arrays.copyOf(values, Math.min(config.maxDimensions(), values.length * 2));
                }
                values[n++] = f;
            }
            if (n == 0) {
                throw unprocessable(field, field + " is empty");
            }
            if (dimensions < 0) {
                dimensions = n;
            } else if (n != dimensions) {
                throw unprocessable(field, field + " has " + n + " dimensions, vectors[0] has " + dimensions
                        + "; all vectors of a signal must have the same");
            }
            vectors.add(Arrays.copyOf(values, n));
        }
        if (vectors.isEmpty()) {
            throw unprocessable("vectors", "vectors is empty; send at least one vector");
        }
        return vectors;
    }

    private static ApiProblem unprocessable(String field, String detail) {
        return new ApiProblem(422, "Invalid signal", detail, List.of(Map.of("field", field, "message", detail)));
    }

    private static ApiProblem notFound(String space) {
        return new ApiProblem(404, "Not found", "No embedding space " + space);
    }
}
