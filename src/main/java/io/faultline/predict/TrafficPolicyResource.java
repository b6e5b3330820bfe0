package io.faultline.predict;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.call.CallMapper;
import io.faultline.common.Redactor;
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

import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** The preemptive traffic policy LiteLLM's plugin applies, its history, and the operator's pins. */
@Path("/api/v1/traffic-policy")
@Tag(name = "traffic-policy")
@Produces(MediaType.APPLICATION_JSON)
public class TrafficPolicyResource {

    static final long MAX_BODY_BYTES = 16 * 1024;
    static final int MAX_REASON = 500;
    private static final Set<String> FIELDS = Set.of("keepShare", "provider", "reason", "until");
    /** As CallMapper stores a call's provider: LiteLLM's custom_llm_provider, trimmed and in lower case. */

    private final TrafficPolicy policy;
    private final ObjectMapper json;

    public TrafficPolicyResource(TrafficPolicy policy, ObjectMapper json) {
        this.policy = policy;
        this.json = json;
    }

    @GET
    @Operation(summary = "The policy: per deployment at risk the share of requests to keep; others keep all")
    public TrafficPolicy.Policy current(@Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        return policy.current();
    }

    @GET
    @Path("/actions")
    @Operation(summary = "Every change of the policy (predictor and operator), newest first")
    public TrafficPolicy.ActionPage actions(@RestQuery String provider, @RestQuery String deployment,
            @RestQuery String since, @RestQuery String cursor, @RestQuery @DefaultValue("50") String limit,
            @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of("provider", "deployment", "since", "limit", "cursor"));
        return policy.actions(provider == null ? null : provider(provider), deployment,
                Params.instant("since", since), cursor, Params.limit(limit, 50, 500));
    }

    @PUT
    @Path("/{deployment}")
    @Consumes({ MediaType.APPLICATION_JSON, MediaType.WILDCARD })
    @Operation(summary = "Pin a deployment's share: {keepShare: 0..1, provider?, reason?, until?}; 1.0 switches"
            + " preemption off for it. provider may be left out only when the deployment's calls came from one")
    public TrafficPolicy.Entry pin(@RestPath String deployment, byte[] body, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of());
        String d = deployment(deployment);
        JsonNode root = JsonBodies.read(json, body, MAX_BODY_BYTES);
        if (!root.isObject()) {
            throw ApiProblem.badRequest("$", "Expected a JSON object such as {\"keepShare\":1.0,\"reason\":\"...\"}");
        }
        for (Iterator<String> names = root.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw ApiProblem.badRequest(name, "Unknown field " + name
                        + "; expected keepShare, provider, reason, until");
            }
        }
        JsonNode share = root.get("keepShare");
        if (share == null || share.isNull()) {
            throw ApiProblem.badRequest("keepShare",
                    "keepShare is required: the share of requests to keep, from 0 to 1 (0.5 keeps half)");
        }
        if (!share.isNumber() || !(share.doubleValue() >= 0 && share.doubleValue() <= 1)) {
            throw ApiProblem.badRequest("keepShare", "keepShare must be a number from 0 to 1, the share of requests"
                    + " to keep (0.5 keeps half); got " + JsonBodies.shown(share));
        }
        JsonNode reasonNode = root.get("reason");
        // Plain text only: a lone surrogate was stored as '?' while the answer echoed it as sent, and a line break
        // forged a line of its own in the action's log entry.
        if (reasonNode != null && !reasonNode.isNull()
                && (!reasonNode.isTextual() || reasonNode.textValue().length() > MAX_REASON
                        || !Params.plainText(reasonNode.textValue()))) {
            throw ApiProblem.badRequest("reason", "reason must be a string of at most " + MAX_REASON
                    + " characters without control or bidirectional control characters or lone surrogates");
        }
        // Masked as other free text is: the policy goes to every proxy's plugin, the actions to every dashboard and
        // the log, and an operator's reason quoting the incident kept its key or e-mail as written.
        String reason = reasonNode == null || reasonNode.isNull() || reasonNode.textValue().isBlank()
                ? "pinned by an operator" : Redactor.mask(reasonNode.textValue(), MAX_REASON);
        JsonNode untilNode = root.get("until");
        Instant until = null;
        if (untilNode != null && !untilNode.isNull()) {
            if (!untilNode.isTextual()) {
                throw ApiProblem.badRequest("until", "until must be an ISO-8601 instant such as 2026-12-02T21:00:00Z");
            }
            until = Params.instant("until", untilNode.textValue());
        }
        JsonNode providerNode = root.get("provider");
        String provider = null;
        if (providerNode != null && !providerNode.isNull()) {
            if (!providerNode.isTextual()) {
                throw ApiProblem.badRequest("provider", "provider must be a string such as \"azure\"");
            }
            provider = provider(providerNode.textValue());
        }
        return policy.pin(provider, d, share.doubleValue(), reason, until);
    }

    @DELETE
    @Path("/{deployment}")
    @ResponseStatus(204)
    @Operation(summary = "Remove an operator's pin; the predictor decides for the deployment again")
    public void unpin(@RestPath String deployment, @RestQuery String provider, @Context UriInfo uri) {
        Params.onlyKnown(uri, List.of("provider"));
        String p = provider == null ? null : provider(provider);
        if (!policy.unpin(p, deployment(deployment))) {
            throw new ApiProblem(404, "Not found", "No pin for deployment " + deployment
                    + (p == null ? "" : " of provider " + p));
        }
    }

    /**
     * A provider as Faultline records a call's (CallMapper): trimmed, lower case, 1 to 40 of a-z, 0-9, '_', '.', '-'.
     * A plain loop, not a pattern: the text is the caller's.
     */
    static String provider(String raw) {
        String p = raw.strip().toLowerCase(Locale.ROOT);
        if (!CallMapper.isProviderLabel(p)) {
            throw ApiProblem.badRequest("provider", "provider must be 1 to " + CallMapper.MAX_PROVIDER_LABEL
                    + " characters of a-z, 0-9, '_', '.' and '-', as Faultline records a call's provider (openai,"
                    + " azure, vertex_ai, ...)");
        }
        return p;
    }

    private static String deployment(String deployment) {
        if (deployment == null || deployment.isBlank() || deployment.length() > 200 || !Params.plainText(deployment)) {
            throw ApiProblem.badRequest("deployment", "deployment must be 1 to 200 characters without control"
                    + " or bidirectional control characters (LiteLLM's model_info.id)");
        }
        return deployment;
    }
}
