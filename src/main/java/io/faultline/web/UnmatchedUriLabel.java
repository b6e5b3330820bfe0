package io.faultline.web;

import io.quarkus.micrometer.runtime.binder.vertx.HttpRequestMetric;
import io.vertx.core.http.impl.HttpServerRequestInternal;
import io.vertx.ext.web.Router;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

import java.util.Set;

/**
 * Keeps caller-chosen paths out of the {@code uri} label of {@code http_server_requests_seconds}. Quarkus labels a
 * request with its endpoint's template once REST has routed it; a request answered before that (refused by the
 * access policy, a declared body over the limit, a busy read) or routed nowhere was labelled with its raw path. Any
 * client, without a key, could so put what it liked into a label (an e-mail address in a budget path, one value per
 * random path) until the binder's cap of URI values was reached, after which endpoints requested for the first time
 * got no series at all. Every request now starts with {@value #LABEL} as its fallback template, which REST's own
 * template replaces when an endpoint matches; Quarkus's management routes keep their fixed paths.
 */
@Singleton
public class UnmatchedUriLabel {

    /** The {@code uri} of requests that reached no endpoint. */
    public static final String LABEL = "/{unmatched}";

    /** Quarkus's own routes, which no REST template labels: they keep their path, a fixed set. */
    private static final Set<String> MANAGEMENT = Set.of("/q/metrics", "/q/health", "/q/health/live",
            "/q/health/ready", "/q/health/started", "/q/openapi", "/q/swagger-ui", "/q/swagger-ui/");

    void install(@Observes Router router) {
        router.route().order(Integer.MIN_VALUE).handler(ctx -> {
            if (ctx.request() instanceof HttpServerRequestInternal request
                    && request.metric() instanceof HttpRequestMetric metric) {
                String path = ctx.normalizedPath();
                if (path.startsWith("/q/swagger-ui/") && path.length() > "/q/swagger-ui/".length()) {
                    metric.setTemplatePath("/q/swagger-ui/{file}");
                } else if (!MANAGEMENT.contains(path)) {
                    metric.setTemplatePath(LABEL);
                }
            }
            ctx.next();
        });
    }
}
