package io.faultline.signals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * DATA signals that applications report: one object or a JSON array of them per request. A bad item is rejected by
 * index and never sinks the others; a batch of only bad items is a 422. Idempotent on {@code signalId}.
 */
@Path("/api/v1/signals")
@Tag(name = "signals")
public class SignalResource {

    /**
     * JSON values one signal may hold: the largest valid one (an ingestion run naming 50 indexes) holds about 60. Past
     * it an item is rejected by its index without being read into memory; a single object past it is a 413.
     */
    static final int MAX_SIGNAL_VALUES = 1000;

    private final ObjectMapper json;
    private final SignalParser parser;
    private final SignalService signals;
    private final SignalsConfig config;
    private final Clock clock;

    public SignalResource(ObjectMapper json, SignalParser parser, SignalService signals, SignalsConfig config,
            Clock clock) {
        this.json = json;
        this.parser = parser;
        this.signals = signals;
        this.config = config;
        this.clock = clock;
    }

    /**
     * One item the batch could not take, by its position in the array, with the field at fault; {@code code} says
     * what a sender may do about it, as a rejected call's does: only {@link #IN_FUTURE} is worth sending again (once
     * the clocks agree), the others never are.
     */
    public record Rejected(int index, String signalId, String field, String reason, String code) {

        /** A field is missing or malformed. */
        public static final String INVALID = "invalid";
        /** The item holds more JSON values than one signal may. */
        public static final String TOO_MANY_VALUES = "too_many_values";
        /** A time lies past this service's clock by more than faultline.signals.max-clock-skew. */
        public static final String IN_FUTURE = "in_future";
    }

    /** Answered after the new signals are committed and their failures raised. */
    public record SignalReceipt(int received, int accepted, int duplicates, List<Rejected> rejected, int failures) {
    }

    @POST
    @Path("/retrieval")
    @Consumes({ MediaType.APPLICATION_JSON, MediaType.WILDCARD })
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Report retrieval scores of an index (one object or an array)")
    public SignalReceipt retrieval(byte[] body, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return accept(body, parser::retrieval, signals::retrieval);
    }

    @POST
    @Path("/index")
    @Consumes({ MediaType.APPLICATION_JSON, MediaType.WILDCARD })
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Report an index's freshness; each report is also its heartbeat (one object or an array)")
    public SignalReceipt index(byte[] body, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return accept(body, parser::index, signals::index);
    }

    @POST
    @Path("/ingestion")
    @Consumes({ MediaType.APPLICATION_JSON, MediaType.WILDCARD })
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Report ingestion pipeline runs (one object or an array)")
    public SignalReceipt ingestion(byte[] body, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return accept(body, parser::ingestion, signals::ingestion);
    }

    private <T extends Signal> SignalReceipt accept(byte[] body, BiFunction<JsonNode, Instant, T> parse,
            Function<List<T>, SignalService.Outcome> apply) {
        Instant now = clock.instant();
        Reading<T> reading = new Reading<>(parse, now);
        // Item by item, and refused at the first item too many: read whole, a 1 MiB array of empty objects was a
        // 30 MB tree before its size could be checked.
        JsonBodies.Batch batch = JsonBodies.readBatch(json, body, new JsonBodies.BatchLimits(config.maxBodyBytes(),
                true, config.maxBatchItems(), "faultline.signals.max-batch-items", MAX_SIGNAL_VALUES, null), reading);
        JsonNode root = batch.single();
        if (root != null && root.isObject()) {
            T signal;
            try {
                signal = parse.apply(root, now);
            } catch (InvalidSignalException e) {
                throw new ApiProblem(400, "Invalid request", e.getMessage(), List.of(Map.of("field", e.field(),
                        "message", e.getMessage(), "code", e.code())));
            }
            SignalService.Outcome outcome = apply.apply(List.of(signal));
            return new SignalReceipt(1, outcome.accepted(), outcome.duplicates(), List.of(), outcome.failures());
        }
        if (root != null) {
            throw ApiProblem.badRequest("$", "Expected a JSON object or an array of them, got "
                    + root.getNodeType().name().toLowerCase());
        }
        if (batch.size() == 0) {
            throw ApiProblem.badRequest("$", "The array is empty; send at least one signal.");
        }
        List<T> valid = reading.valid;
        List<Rejected> rejected = reading.rejected;
        int duplicatesInBatch = reading.duplicates;
        if (valid.isEmpty() && duplicatesInBatch == 0) {
            throw new ApiProblem(422, "No valid signal in batch", "All " + rejected.size()
                    + " items were rejected; see errors.", rejected.stream().map(SignalResource::error).toList());
        }
        SignalService.Outcome outcome = apply.apply(valid);
        return new SignalReceipt(batch.size(), outcome.accepted(), outcome.duplicates() + duplicatesInBatch, rejected,
                outcome.failures());
    }

    /** The items of one batch as they are read: the signals parsed, in order, and those rejected, by index. */
    private static final class Reading<T extends Signal> implements JsonBodies.Items {

        final List<T> valid = new ArrayList<>();
        final List<Rejected> rejected = new ArrayList<>();
        final Set<String> seen = new HashSet<>();
        final BiFunction<JsonNode, Instant, T> parse;
        final Instant now;
        int duplicates;

        Reading(BiFunction<JsonNode, Instant, T> parse, Instant now) {
            this.parse = parse;
            this.now = now;
        }

        @Override
        public void item(int index, JsonNode item) {
            try {
                T signal = parse.apply(item, now);
                if (seen.add(signal.signalId())) {
                    valid.add(signal);
                } else {
                    duplicates++;
                }
            } catch (InvalidSignalException e) {
                rejected.add(new Rejected(index, idOf(item), e.field(), e.getMessage(), e.code()));
            }
        }

        @Override
        public void tooManyValues(int index, String reason) {
            rejected.add(new Rejected(index, null, "$", "The item " + reason + ".", Rejected.TOO_MANY_VALUES));
        }
    }

    private static Map<String, Object> error(Rejected r) {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("index", r.index());
        error.put("field", r.field());
        error.put("message", r.reason());
        error.put("code", r.code());
        return error;
    }

    private static String idOf(JsonNode item) {
        JsonNode id = item == null ? null : item.get("signalId");
        return id != null && id.isTextual() && id.textValue().length() <= SignalParser.MAX_NAME_LENGTH
                ? id.textValue() : null;
    }
}
