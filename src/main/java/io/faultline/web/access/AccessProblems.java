package io.faultline.web.access;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.web.Problem;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.RoutingContext;
import jakarta.inject.Singleton;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/** The 401 and 403 answers of access control, as {@code application/problem+json} like every other error. */
@Singleton
public class AccessProblems {

    private final ObjectMapper json;
    private final ApiKeys keys;

    public AccessProblems(ObjectMapper json, ApiKeys keys) {
        this.json = json;
        this.keys = keys;
    }

    /** No key, or one that is not configured for any role. */
    void unauthorized(RoutingContext context) {
        String header = context.request().getHeader(HttpHeaders.AUTHORIZATION);
        Set<Role> allowed = allowed(context);
        String detail;
        if (header != null && !header.isBlank()) {
            detail = "The API key is not valid (send 'Authorization: Bearer <key>'; " + needs(allowed) + ").";
        } else if (!allowed.isEmpty() && allowed.stream().noneMatch(keys::configured)) {
            detail = "This server has no key configured for this operation (" + envs(allowed)
                    + "), so it is refused.";
        } else {
            detail = "Send 'Authorization: Bearer <key>'; " + needs(allowed) + ".";
        }
        context.response().putHeader("WWW-Authenticate", "Bearer");
        write(context, 401, "Unauthorized", detail);
    }

    /** A valid key of a role that may not call this operation. */
    void forbidden(RoutingContext context) {
        write(context, 403, "Forbidden", "The API key is valid but " + needs(allowed(context)) + ".");
    }

    /** The roles the operation needs, from the same rules the policy applied (also after a failed authentication). */
    private static Set<Role> allowed(RoutingContext context) {
        return AccessRules.allowed(context.request().method().name(), context.normalizedPath());
    }

    private static String needs(Set<Role> allowed) {
        List<Role> ordered = allowed.stream().sorted().toList();
        return "this operation needs a key of the " + ordered.stream().map(Role::label)
                .collect(Collectors.joining(" or ")) + " role (" + envs(allowed) + ")";
    }

    private static String envs(Set<Role> allowed) {
        return allowed.stream().sorted().map(Role::env).collect(Collectors.joining(" or "));
    }

    private void write(RoutingContext context, int status, String title, String detail) {
        if (context.response().ended()) {
            return;
        }
        String body;
        try {
            body = json.writeValueAsString(new Problem("about:blank", title, status, detail, context.normalizedPath(),
                    List.of()));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("A problem record always serialises", e);
        }
        context.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, Problem.MEDIA_TYPE).end(body);
    }
}
