package io.faultline.web;

import io.quarkus.resteasy.reactive.server.runtime.observability.ObservabilityHandler;
import org.jboss.resteasy.reactive.server.core.Deployment;
import org.jboss.resteasy.reactive.server.handlers.ClassRoutingHandler;
import org.jboss.resteasy.reactive.server.handlers.RestInitialHandler.InitialMatch;
import org.jboss.resteasy.reactive.server.mapping.RequestMapper;
import org.jboss.resteasy.reactive.server.mapping.RuntimeResource;
import org.jboss.resteasy.reactive.server.spi.ServerRestHandler;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The framework's own route table, the one REST routes a request by: which methods a path takes (the 405's Allow)
 * and its endpoint's template (the label of an OPTIONS the framework answers itself).
 */
public final class Routes {

    /** The table's class paths, built once per deployment from its own mappers. */
    private record ClassRoutes(Deployment deployment, RequestMapper<InitialMatch> mapper) {
    }

    private static volatile ClassRoutes classRoutes;

    private Routes() {
    }

    /**
     * The endpoints at {@code path} (the request path without the application's prefix), by method, as the framework
     * would route them; empty when none matches.
     */
    static Map<String, RuntimeResource> endpoints(Deployment deployment, String path) {
        Map<String, RuntimeResource> endpoints = new TreeMap<>();
        if (deployment == null || path == null) {
            return endpoints;
        }
        ClassRoutes routes = classRoutes;
        if (routes == null || routes.deployment() != deployment) {
            routes = new ClassRoutes(deployment, new RequestMapper<>(deployment.getClassMappers()));
            classRoutes = routes;
        }
        RequestMapper.RequestMatch<InitialMatch> match = routes.mapper().map(path);
        // Several class paths can match one path (/failures and /failures/correlations); the framework tries each in
        // turn, and so does this, a bounded number of times.
        for (int tried = 0; match != null && tried < 16; tried++) {
            String remaining = match.remaining == null || match.remaining.isEmpty() ? "/" : match.remaining;
            for (ServerRestHandler handler : match.value.handlers) {
                if (handler instanceof ClassRoutingHandler resources) {
                    resources.getMappers().forEach((method, mapper) -> {
                        RequestMapper.RequestMatch<RuntimeResource> endpoint = method == null ? null
                                : mapper.map(remaining);
                        if (endpoint != null) {
                            endpoints.putIfAbsent(method, endpoint.value);
                        }
                    });
                }
            }
            match = routes.mapper().continueMatching(path, match);
        }
        return endpoints;
    }

    /**
     * The endpoint template at {@code path} that the HTTP metrics label its requests with (its GET's, else another
     * method's); null when no endpoint matches.
     */
    static String template(Deployment deployment, String path) {
        Map<String, RuntimeResource> endpoints = endpoints(deployment, path);
        RuntimeResource get = endpoints.get("GET");
        for (RuntimeResource endpoint : get != null ? List.of(get) : endpoints.values()) {
            for (ServerRestHandler handler : endpoint.getHandlerChain()) {
                if (handler instanceof ObservabilityHandler observed && observed.getTemplatePath() != null) {
                    return observed.getTemplatePath();
                }
            }
        }
        return null;
    }
}
