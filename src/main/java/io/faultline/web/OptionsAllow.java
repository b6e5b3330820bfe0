package io.faultline.web;

import jakarta.inject.Singleton;
import jakarta.ws.rs.HttpMethod;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.core.HttpHeaders;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;

import java.util.ArrayList;
import java.util.List;

/**
 * The framework's automatic OPTIONS answer lists HEAD for every resource, also one that takes no GET (POST-only
 * /api/v1/calls), where HEAD is a 405: its Allow keeps HEAD only beside GET, as the 405's Allow does
 * ({@link ProblemMappers}), so that the two answers name the same methods.
 */
@Singleton
public class OptionsAllow {

    @ServerResponseFilter
    public void headOnlyWithGet(ContainerRequestContext request, ContainerResponseContext response) {
        if (!HttpMethod.OPTIONS.equals(request.getMethod())) {
            return;
        }
        Object allow = response.getHeaders().getFirst(HttpHeaders.ALLOW);
        if (allow == null) {
            return;
        }
        List<String> methods = new ArrayList<>();
        for (String method : allow.toString().split(",")) {
            if (!method.isBlank()) {
                methods.add(method.trim());
            }
        }
        if (methods.contains(HttpMethod.HEAD) && !methods.contains(HttpMethod.GET)) {
            methods.remove(HttpMethod.HEAD);
            response.getHeaders().putSingle(HttpHeaders.ALLOW, String.join(", ", methods));
        }
    }
}
