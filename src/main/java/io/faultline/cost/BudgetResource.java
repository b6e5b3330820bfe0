package io.faultline.cost;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.web.ApiProblem;
import io.faultline.web.JsonBodies;
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
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.ResponseStatus;
import org.jboss.resteasy.reactive.RestPath;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/** Budgets per team, API key, user or model, and their spend in the current period. */
@Path("/api/v1/budgets")
@Tag(name = "budgets")
@Produces(MediaType.APPLICATION_JSON)
public class BudgetResource {

    static final long MAX_BODY_BYTES = 16 * 1024;
    private static final Set<String> FIELDS = Set.of("period", "amountUsd", "warnAt");

    private final ObjectMapper json;
    private final BudgetTracker budgets;

    public BudgetResource(ObjectMapper json, BudgetTracker budgets) {
        this.json = json;
        this.budgets = budgets;
    }

    @GET
    @Operation(summary = "All budgets with their spend and fraction used in the current period")
    public List<BudgetTracker.BudgetView> list(@Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return budgets.list();
    }

    @GET
    @Path("/{scope}/{id: .+}")
    @Operation(summary = "One budget with its spend in the current period")
    public BudgetTracker.BudgetView get(@RestPath String scope, @RestPath String id, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return budgets.get(scope(scope), id(id)).orElseThrow(() -> notFound(scope, id));
    }

    @PUT
    @Path("/{scope}/{id: .+}")
    @Consumes({ MediaType.APPLICATION_JSON, MediaType.WILDCARD })
    @Operation(summary = "Set a budget: {period: day|month, amountUsd, warnAt?}; idempotent")
    public BudgetTracker.BudgetView put(@RestPath String scope, @RestPath String id, byte[] body,
            @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        BudgetScope s = scope(scope);
        String budgetId = id(id);
        JsonNode root = JsonBodies.read(json, body, MAX_BODY_BYTES);
        if (!root.isObject()) {
            throw ApiProblem.badRequest("$", "Expected a JSON object such as {\"period\":\"month\",\"amountUsd\":100}");
        }
        for (Iterator<String> names = root.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw ApiProblem.badRequest(name, "Unknown field " + name + "; expected period, amountUsd, warnAt");
            }
        }
        JsonNode periodNode = root.get("period");
        Period period = periodNode != null && periodNode.isTextual() ? Period.parse(periodNode.textValue()) : null;
        if (period == null) {
            throw ApiProblem.badRequest("period", periodNode == null || periodNode.isNull()
                    ? "period is required: \"day\" or \"month\""
                    : "period must be \"day\" or \"month\"; got " + JsonBodies.shown(periodNode));
        }
        double amount = usd(root.get("amountUsd"), "amountUsd", "US dollars per period");
        List<Double> warnAt = null;
        JsonNode warn = root.get("warnAt");
        if (warn != null && !warn.isNull()) {
            if (!warn.isArray() || warn.isEmpty() || warn.size() > 10) {
                throw ApiProblem.badRequest("warnAt", "warnAt must be an array of 1 to 10 fractions, e.g. [0.8, 1.0]");
            }
            warnAt = new ArrayList<>();
            for (JsonNode f : warn) {
                double fraction = positive(f, "warnAt", "warnAt entries must be fractions above 0 and at most 10");
                if (fraction > 10) {
                    throw ApiProblem.badRequest("warnAt", "warnAt entries must be fractions above 0 and at most 10");
                }
                warnAt.add(fraction);
            }
        }
        return budgets.put(s, budgetId, period, amount, warnAt);
    }

    @DELETE
    @Path("/{scope}/{id: .+}")
    @ResponseStatus(204)
    @Operation(summary = "Remove a budget set through the API (a configured one with the same key takes over;"
            + " one only configured is a 409)")
    public void delete(@RestPath String scope, @RestPath String id, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        BudgetScope s = scope(scope);
        String budgetId = id(id);
        if (!budgets.delete(s, budgetId)) {
            if (budgets.isConfigured(s, budgetId)) {
                throw new ApiProblem(409, "Configured budget", "The budget " + s.code() + "/" + budgetId + " is set"
                        + " in faultline.cost.budgets: change or remove it there (a PUT only overrides it)");
            }
            throw notFound(scope, id);
        }
    }

    /**
     * A budget's or a batch's amount: spend is divided by it, so a denormal amount made every fraction infinite, and
     * an amount near the largest double made the alert's evidence disagree with itself.
     */
    static final double MIN_USD = 1e-6;
    static final double MAX_USD = 1e12;

    /** A required amount of US dollars ({@code what}: what it is, for the problem) within MIN_USD..MAX_USD. */
    static double usd(JsonNode node, String field, String what) {
        String range = "from 0.000001 to " + (long) MAX_USD;
        if (node == null || node.isNull()) {
            throw ApiProblem.badRequest(field, field + " is required: " + what + ", " + range);
        }
        if (!node.isNumber() || !(node.doubleValue() >= MIN_USD && node.doubleValue() <= MAX_USD)) {
            throw ApiProblem.badRequest(field, field + " must be a number of " + what + ", " + range + "; got "
                    + JsonBodies.shown(node));
        }
        return node.doubleValue();
    }

    private static double positive(JsonNode node, String field, String message) {
        if (node == null || !node.isNumber() || !(node.doubleValue() > 0) || Double.isInfinite(node.doubleValue())) {
            throw ApiProblem.badRequest(field, message);
        }
        return node.doubleValue();
    }

    static BudgetScope scope(String scope) {
        BudgetScope s = BudgetScope.parse(scope);
        if (s == null) {
            throw ApiProblem.badRequest("scope", "scope must be one of team, key, user, model");
        }
        return s;
    }

    static String id(String id) {
        if (id == null || id.isBlank() || id.length() > 200 || !Params.plainText(id)) {
            throw ApiProblem.badRequest("id", "id must be 1 to 200 characters without control or bidirectional control"
                    + " characters");
        }
        return id;
    }

    private static ApiProblem notFound(String scope, String id) {
        return new ApiProblem(404, "Not found", "No budget " + scope + "/" + id);
    }
}
