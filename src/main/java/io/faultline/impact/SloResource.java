package io.faultline.impact;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.web.ApiProblem;
import io.faultline.web.JsonBodies;
import io.faultline.web.Params;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.ResponseStatus;
import org.jboss.resteasy.reactive.RestPath;
import org.jboss.resteasy.reactive.RestQuery;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/** SLOs per model group: their error budget left and burn rates, and the operator's targets. */
@Path("/api/v1/slos")
@Tag(name = "slos")
@Produces(MediaType.APPLICATION_JSON)
public class SloResource {

    static final long MAX_BODY_BYTES = 4 * 1024;
    static final int MAX_GROUP = 200;
    private static final Set<String> FIELDS = Set.of("availabilityTarget", "period", "latencyTargetMs",
            "latencyQuantile");
    /** "30d", "12h", "90m": bounded and anchored, checked on at most 32 characters. */
    private static final Pattern SHORT_PERIOD = Pattern.compile("[0-9]{1,6}[mhd]");

    private final SloService slos;
    private final ObjectMapper json;

    public SloResource(SloService slos, ObjectMapper json) {
        this.slos = slos;
        this.json = json;
    }

    @GET
    @Operation(summary = "Every model group seen within its period or with an SLO: SLO, error budget left and burn"
            + " rates over 5m, 30m, 1h, 6h and 3d (and the same for its latency SLO, if any); least budget left first;"
            + " paged by nextCursor (later pages are evaluated at the first page's instant)")
    public SloService.SloList list(@RestQuery @DefaultValue("200") String limit, @RestQuery String cursor,
            @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of("limit", "cursor"));
        return slos.statuses(slos.now(), Params.limit(limit, 200, 1000), cursor);
    }

    @GET
    @Path("/{modelGroup: .+}")
    @Operation(summary = "One model group's SLO, error budget left and burn rates")
    public SloService.SloStatus one(@RestPath String modelGroup, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return slos.status(group(modelGroup), slos.now());
    }

    @PUT
    @Path("/{modelGroup: .+}")
    @Consumes({ MediaType.APPLICATION_JSON, MediaType.WILDCARD })
    @Operation(summary = "Set a model group's SLO: {availabilityTarget: 0.5..0.99999, period?: \"30d\" or ISO-8601,"
            + " latencyTargetMs?, latencyQuantile?}")
    public SloService.SloStatus put(@RestPath String modelGroup, byte[] body, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        String group = group(modelGroup);
        JsonNode root = JsonBodies.read(json, body, MAX_BODY_BYTES);
        if (!root.isObject()) {
            throw ApiProblem.badRequest("$", "Expected a JSON object such as {\"availabilityTarget\":0.995,"
                    + "\"period\":\"30d\"}");
        }
        for (Iterator<String> names = root.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw ApiProblem.badRequest(name.length() > 64 ? name.substring(0, 64) : name, "Unknown field;"
                        + " expected availabilityTarget, period, latencyTargetMs, latencyQuantile");
            }
        }
        JsonNode target = root.get("availabilityTarget");
        if (target == null || target.isNull()) {
            throw ApiProblem.badRequest("availabilityTarget", "availabilityTarget is required: the share of requests"
                    + " answered, from 0.5 to 0.99999 (e.g. 0.995 for 99.5%)");
        }
        if (!target.isNumber() || !(target.doubleValue() >= SloService.MIN_TARGET
                && target.doubleValue() <= SloService.MAX_TARGET)) {
            // A percentage (99.9) is the usual slip: say what to send instead of calling the field missing.
            String percent = target.isNumber() && target.doubleValue() > 1 && target.doubleValue() <= 100
                    ? "; " + target.decimalValue().stripTrailingZeros().toPlainString() + " reads as a percentage:"
                            + " send " + target.decimalValue().movePointLeft(2).stripTrailingZeros().toPlainString()
                    : "";
            throw ApiProblem.badRequest("availabilityTarget", "availabilityTarget must be a number from 0.5 to"
                    + " 0.99999, the share of requests answered (e.g. 0.995 for 99.5%)" + percent);
        }
        Duration period = period(root.get("period"), slos.longestPeriod());
        Double latency = optionalNumber(root, "latencyTargetMs");
        if (latency != null && !(latency >= LatencyBuckets.MIN_TARGET_MS && latency <= LatencyBuckets.MAX_TARGET_MS)) {
            throw ApiProblem.badRequest("latencyTargetMs", "latencyTargetMs must be from "
                    + (long) LatencyBuckets.MIN_TARGET_MS + " to " + (long) LatencyBuckets.MAX_TARGET_MS
                    + " (10 minutes); it is evaluated at the largest histogram edge not above it");
        }
        Double quantile = optionalNumber(root, "latencyQuantile");
        if (quantile != null && !(quantile > 0 && quantile < 1)) {
            throw ApiProblem.badRequest("latencyQuantile", "latencyQuantile must be between 0 and 1, e.g. 0.99");
        }
        if ((latency == null) != (quantile == null)) {
            throw ApiProblem.badRequest(latency == null ? "latencyTargetMs" : "latencyQuantile",
                    "latencyTargetMs and latencyQuantile go together (e.g. 99% of requests within 2000 ms)");
        }
        if (slos.put(group, target.doubleValue(), period, latency, quantile).isEmpty()) {
            throw new ApiProblem(409, "Too many SLOs", "The most SLOs this server stores is reached"
                    + " (faultline.slo.max-slos); delete one or raise the limit");
        }
        return slos.status(group, slos.now());
    }

    @DELETE
    @Path("/{modelGroup: .+}")
    @ResponseStatus(204)
    @Operation(summary = "Remove a model group's SLO; the configured default applies again")
    public void delete(@RestPath String modelGroup, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        if (!slos.delete(group(modelGroup))) {
            throw new ApiProblem(404, "Not found", "No SLO of its own for this model group; it has the default");
        }
    }

    private static Double optionalNumber(JsonNode root, String field) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isNumber()) {
            throw ApiProblem.badRequest(field, field + " must be a number");
        }
        return node.doubleValue();
    }

    /**
     * "30d" / "12h" / "90m" or ISO-8601 ("P30D", "PT720H"), from 1 hour to {@code longest} (90 days, or the rollup's
     * retention if shorter); null: the default period.
     */
    static Duration period(JsonNode node, Duration longest) {
        if (node == null || node.isNull()) {
            return null;
        }
        String detail = "period must be \"30d\", \"12h\", \"90m\" or ISO-8601 (e.g. \"P30D\"), from 1 hour to "
                + (longest.toHours() % 24 == 0 ? longest.toDays() + " days" : longest.toHours() + " hours")
                + " (the minutes the rollup keeps, faultline.slo.retention)";
        if (!node.isTextual() || node.textValue().length() > 32) {
            throw ApiProblem.badRequest("period", detail);
        }
        String text = node.textValue().trim();
        Duration period;
        if (SHORT_PERIOD.matcher(text).matches()) {
            long n = Long.parseLong(text.substring(0, text.length() - 1));
            period = switch (text.charAt(text.length() - 1)) {
                case 'd' -> Duration.ofDays(n);
                case 'h' -> Duration.ofHours(n);
                default -> Duration.ofMinutes(n);
            };
        } else {
            try {
                period = Duration.parse(text);
            } catch (DateTimeParseException e) {
                throw ApiProblem.badRequest("period", detail);
            }
        }
        if (period.compareTo(SloService.MIN_PERIOD) < 0 || period.compareTo(longest) > 0
                || period.toNanos() % 1_000_000_000L != 0) {
            throw ApiProblem.badRequest("period", detail);
        }
        return period;
    }

    private static String group(String modelGroup) {
        if (modelGroup == null || modelGroup.isBlank() || modelGroup.length() > MAX_GROUP
                || !Params.plainText(modelGroup)) {
            throw ApiProblem.badRequest("modelGroup", "modelGroup must be 1 to " + MAX_GROUP
                    + " characters without control or bidirectional control characters (LiteLLM's model_name)");
        }
        return modelGroup;
    }
}
