package io.faultline.call;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.common.DatabaseStartup;
import io.faultline.web.ApiProblem;
import io.faultline.web.JsonBodies;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestHeader;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Ingest of LiteLLM call logs: the plugin's batches, or LiteLLM's own generic_api logger with json_array. */
@Path("/api/v1/calls")
@Tag(name = "calls")
public class CallResource {

    private final ObjectMapper json;
    private final CallMapper mapper;
    private final IngestService ingest;
    private final IngestMetrics metrics;
    private final IngestConfig config;
    private final DatabaseStartup database;
    private final Clock clock;

    public CallResource(ObjectMapper json, CallMapper mapper, IngestService ingest, IngestMetrics metrics,
            IngestConfig config, DatabaseStartup database, Clock clock) {
        this.database = database;
        this.clock = clock;
        this.json = json;
        this.mapper = mapper;
        this.ingest = ingest;
        this.metrics = metrics;
        this.config = config;
    }

    /**
     * One item the batch could not take, by its position in the array; {@code code} says what a sender may do about
     * it: only {@link #ENDS_IN_FUTURE} is worth sending again (once the clocks agree), the others never are.
     */
    public record Rejected(int index, String callId, String reason, String code) {

        /** A field is missing or malformed. */
        public static final String INVALID = "invalid";
        /** The item holds more JSON values than one call may (faultline.ingest.max-call-values). */
        public static final String TOO_MANY_VALUES = "too_many_values";
        /** The database refused the item on its own (a value it cannot store). */
        public static final String NOT_STORABLE = "not_storable";
        /** The call ends past this service's clock by more than faultline.ingest.max-clock-skew. */
        public static final String ENDS_IN_FUTURE = "ends_in_future";
    }

    /** Answered only after the accepted calls are committed. */
    public record IngestReceipt(int received, int accepted, int duplicates, List<Rejected> rejected, int failures,
            int episodesOpened) {
    }

    @POST
    @Consumes({ MediaType.APPLICATION_JSON, MediaType.WILDCARD })
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Ingest a JSON array of LiteLLM StandardLoggingPayload objects")
    public IngestReceipt ingest(@RestHeader("Content-Type") String contentType, byte[] body) {
        requireJson(contentType);
        if (!database.migrated()) {
            // Before the schema is migrated and the windows rebuilt, a stored call would miss them: not yet.
            throw new StorageException("the database is not ready yet (readiness: database-schema)", null);
        }
        Reading reading = new Reading();
        // Item by item: a call's tree is mapped and dropped before the next is read (the whole tree of a 10 MiB batch
        // of empty objects took 283 MB), and a batch over its item count is refused at the first item too many.
        JsonBodies.Batch batch = JsonBodies.readBatch(json, body, new JsonBodies.BatchLimits(config.maxBodyBytes(),
                false, config.maxBatchItems(), "faultline.ingest.max-batch-items", config.maxCallValues(),
                "faultline.ingest.max-call-values"), reading);
        if (batch.single() != null) {
            throw ApiProblem.badRequest("$", "Expected a JSON array of StandardLoggingPayload objects (LiteLLM"
                    + " generic_api with log_format: json_array), got "
                    + batch.single().getNodeType().name().toLowerCase());
        }
        List<LlmCall> valid = reading.valid;
        List<Integer> validIndex = reading.validIndex;
        List<Rejected> rejected = reading.rejected;
        int duplicatesInBatch = reading.duplicates;
        metrics.rejected(rejected.size());
        if (valid.isEmpty() && !rejected.isEmpty()) {
            throw allRejected(rejected);
        }
        IngestService.Stored stored = ingest.store(valid);
        if (!stored.refused().isEmpty()) {
            // Items the database refused on their own: rejected by their index, the rest of the batch is stored.
            for (IngestService.Refused refused : stored.refused()) {
                rejected.add(new Rejected(validIndex.get(refused.position()), refused.callId(), refused.reason(),
                        Rejected.NOT_STORABLE));
            }
            rejected.sort(Comparator.comparingInt(Rejected::index));
            metrics.rejected(stored.refused().size());
            if (rejected.size() == batch.size()) {
                throw allRejected(rejected);
            }
        }
        metrics.stored(stored);
        int duplicates = valid.size() - stored.inserted().size() - stored.refused().size() + duplicatesInBatch;
        metrics.duplicates(duplicates);
        return new IngestReceipt(batch.size(), stored.inserted().size(), duplicates, rejected,
                stored.failures().size(), stored.episodesOpened());
    }

    /**
     * A batch declared as another type than JSON is a 415, not read as JSON: both senders declare application/json
     * (LiteLLM's generic_api logger starts its headers from it, the plugin sets it), so a text/plain batch came from
     * something else, whose body was taken for JSON without a word. Without a declared type the body is read.
     */
    static void requireJson(String contentType) {
        if (contentType == null || contentType.isBlank()) {
            return;
        }
        int semicolon = contentType.indexOf(';');
        String type = (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).trim()
                .toLowerCase(Locale.ROOT);
        if (!type.equals(MediaType.APPLICATION_JSON) && !(type.startsWith("application/") && type.endsWith("+json"))) {
            throw new ApiProblem(415, "Unsupported Media Type", "A batch is JSON: send it with Content-Type:"
                    + " application/json (as LiteLLM's generic_api logger and the Faultline plugin do).",
                    List.of(Map.of("field", "Content-Type", "message", "must be application/json")));
        }
    }

    /** The items of one batch as they are read: the calls mapped, in order, and those rejected, by index. */
    private final class Reading implements JsonBodies.Items {

        final List<LlmCall> valid = new ArrayList<>();
        final List<Integer> validIndex = new ArrayList<>();
        final List<Rejected> rejected = new ArrayList<>();
        final Set<LlmCall.Attempt> seen = new HashSet<>();
        final Instant now = clock.instant();
        final Instant latest = now.plus(config.maxClockSkew());
        int duplicates;

        @Override
        public void item(int index, JsonNode item) {
            try {
                LlmCall call = mapper.map(item);
                if (call.endedAt().isAfter(latest)) {
                    rejected.add(new Rejected(index, idOf(item), endsInFuture(call, now), Rejected.ENDS_IN_FUTURE));
                    return;
                }
                if (seen.add(call.attemptKey())) {
                    valid.add(call);
                    validIndex.add(index);
                } else {
                    duplicates++;
                }
            } catch (InvalidPayloadException e) {
                rejected.add(new Rejected(index, idOf(item), e.getMessage(), Rejected.INVALID));
            }
        }

        @Override
        public void tooManyValues(int index, String reason) {
            rejected.add(new Rejected(index, null, "$: " + reason, Rejected.TOO_MANY_VALUES));
        }
    }

    /** Why a call may not end past this service's clock by more than the tolerated skew. */
    private String endsInFuture(LlmCall call, Instant now) {
        return "endTime: ends at " + call.endedAt() + ", more than " + config.maxClockSkew() + " after this service's"
                + " clock (" + now + "): check the sender's clock (tolerance: faultline.ingest.max-clock-skew)";
    }

    private static ApiProblem allRejected(List<Rejected> rejected) {
        return new ApiProblem(422, "No valid call in batch", "All " + rejected.size()
                + " items were rejected; see errors.", rejected.stream()
                .map(r -> Map.<String, Object>of("field", "[" + r.index() + "]", "index", r.index(), "message",
                        r.reason(), "code", r.code())).toList());
    }

    private static String idOf(JsonNode item) {
        JsonNode id = item == null ? null : item.hasNonNull("litellm_call_id") ? item.get("litellm_call_id")
                : item.get("id");
        return id != null && id.isTextual() && id.textValue().length() <= CallMapper.MAX_ID_LENGTH ? id.textValue()
                : null;
    }
}
