package io.faultline.web;

import io.quarkus.resteasy.reactive.server.runtime.ResteasyReactiveRecorder;
import io.quarkus.resteasy.reactive.server.runtime.observability.ObservabilityHandler;
import org.jboss.resteasy.reactive.server.core.Deployment;
import org.jboss.resteasy.reactive.server.handlers.ClassRoutingHandler;
import org.jboss.resteasy.reactive.server.handlers.RestInitialHandler.InitialMatch;
import org.jboss.resteasy.reactive.server.mapping.RequestMapper;
import org.jboss.resteasy.reactive.server.mapping.RuntimeResource;
import org.jboss.resteasy.reactive.server.spi.ServerRestHandler;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The framework's own route table, the one REST routes a request by: which methods a path takes (the 405's Allow,
 * the POST-only ingest paths of the access rules) and its endpoint's template (the label of an OPTIONS the framework
 * answers itself). Read from the table rather than kept by hand, a new endpoint is known to all of them at once.
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
     * The methods the application's endpoints at {@code path} take (GET, POST, ...: neither the HEAD nor the OPTIONS
     * the framework adds); empty when none matches, or before the application is deployed.
     */
    public static Set<String> methodsAt(String path) {
        Deployment deployment = ResteasyReactiveRecorder.getCurrentDeployment();
        String prefix = deployment == null || deployment.getPrefix() == null ? "" : deployment.getPrefix();
        String local = prefix.isEmpty() || prefix.equals("/") ? path
                : path.startsWith(prefix) ? path.substring(prefix.length()) : null;
        return new TreeSet<>(endpoints(deployment, local).keySet());
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

    /**
     * {@code methods} as an Allow header lists them, sorted: HEAD where GET is (the framework answers it with the
     * GET endpoint) and nowhere else (a HEAD where no GET is, on a POST-only path, is a 405). The one rule of the
     * 405's Allow and of the OPTIONS answer, so that the two name the same methods.
     */
    public static Set<String> headOnlyBesideGet(Collection<String> methods) {
        Set<String> allowed = new TreeSet<>(methods);
        if (allowed.contains("GET")) {
            allowed.add("HEAD");
        } else {
            allowed.remove("HEAD");
        }
        return allowed;
    }
}
