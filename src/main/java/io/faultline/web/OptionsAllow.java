package io.faultline.web;

import io.vertx.core.http.impl.HttpServerRequestInternal;
import io.vertx.ext.web.RoutingContext;
import jakarta.inject.Singleton;
import jakarta.ws.rs.HttpMethod;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;
import org.jboss.resteasy.reactive.server.core.CurrentRequestManager;
import org.jboss.resteasy.reactive.server.core.ResteasyReactiveRequestContext;

import java.lang.annotation.Annotation;
import java.util.Set;
import java.util.TreeSet;

/**
 * The OPTIONS answer the framework gives itself, for resources that declare no OPTIONS method. Its Allow lists HEAD
 * for every resource, also one that takes no GET (POST-only /api/v1/calls), where HEAD is a 405, and every method of
 * the resource class, also those of other paths: it names the methods of the endpoints at its path, HEAD only beside
 * GET, as the 405's Allow does ({@link Routes#headOnlyBesideGet}), so that the two answers name the same methods.
 * And no endpoint method runs, so nothing gave the HTTP metrics the route's template: such an OPTIONS was counted
 * under {@link UnmatchedUriLabel#LABEL} with the requests that reached nothing; it gets the template of the endpoints
 * at its path, as their other methods do. An OPTIONS of a path no endpoint takes is the 404 problem a GET there is.
 */
@Singleton
public class OptionsAllow {

    /** The request context's local that Quarkus REST puts an endpoint's template in for the HTTP metrics. */
    static final String URL_PATH_TEMPLATE = "UrlPathTemplate";

    @ServerResponseFilter
    public void headOnlyWithGet(ContainerRequestContext request, ContainerResponseContext response) {
        if (!HttpMethod.OPTIONS.equals(request.getMethod())) {
            return;
        }
        Object allow = response.getHeaders().getFirst(HttpHeaders.ALLOW);
        if (allow == null) {
            return;
        }
        ResteasyReactiveRequestContext current = CurrentRequestManager.get();
        Set<String> routed = current == null ? Set.of()
                : Routes.endpoints(current.getDeployment(), current.getPathWithoutPrefix()).keySet();
        if (current != null && routed.isEmpty()) {
            // The framework answers an OPTIONS from the resource class its path began to match, whether or not an
            // endpoint takes the rest of it: /api/v1/failures/correlations/x/y/z listed GET, where a GET is a 404.
            response.getHeaders().remove(HttpHeaders.ALLOW);
            response.setStatus(404);
            response.setEntity(ProblemMappers.notFound(request.getUriInfo()), new Annotation[0],
                    MediaType.valueOf(Problem.MEDIA_TYPE));
            return;
        }
        labelWithTemplate();
        Set<String> methods = new TreeSet<>();
        for (String method : allow.toString().split(",")) {
            if (!method.isBlank()) {
                methods.add(method.trim());
            }
        }
        // The framework lists every method of the resource class, whatever the path takes: OPTIONS /api/v1/slos
        // listed the PUT and DELETE of /api/v1/slos/{modelGroup}, while a PUT there is a 405 naming GET.
        Set<String> allowed = new TreeSet<>(routed.isEmpty() ? methods : routed);
        allowed.add(HttpMethod.OPTIONS);
        allowed = Routes.headOnlyBesideGet(allowed);
        if (!allowed.equals(methods)) {
            response.getHeaders().putSingle(HttpHeaders.ALLOW, String.join(", ", allowed));
        }
    }

    /**
     * The HTTP metrics' uri label of this OPTIONS: the template of the endpoints at its path, when there are any. Set
     * where the framework sets an endpoint's ({@value #URL_PATH_TEMPLATE}, a local of the request's context, which
     * the binder reads before the metric's own template: that one is set once, to {@link UnmatchedUriLabel#LABEL}).
     */
    private static void labelWithTemplate() {
        ResteasyReactiveRequestContext current = CurrentRequestManager.get();
        if (current == null) {
            return;
        }
        String template = Routes.template(current.getDeployment(), current.getPathWithoutPrefix());
        RoutingContext routing = current.unwrap(RoutingContext.class);
        if (template != null && routing != null && routing.request() instanceof HttpServerRequestInternal request) {
            request.context().putLocal(URL_PATH_TEMPLATE, template);
        }
    }
}
