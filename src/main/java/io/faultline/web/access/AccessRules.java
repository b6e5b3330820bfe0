package io.faultline.web.access;

import io.faultline.web.Routes;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * Which roles may call which operation: the one source of the role table (README "Access control", checked by
 * AccessControlTest against the OpenAPI document). Deny by default: anything not listed as open or as ingest is a
 * read (GET/HEAD) or an admin write (every other method), so a new endpoint is protected before anyone thinks of it.
 */
public final class AccessRules {

    /** Open to everyone: probes and Prometheus, and CORS preflights (which carry no data). */
    public static final Set<Role> OPEN = Set.of();
    private static final Set<Role> READERS = Set.copyOf(EnumSet.of(Role.READ, Role.ADMIN));
    private static final Set<Role> INGESTERS = Set.copyOf(EnumSet.of(Role.INGEST, Role.ADMIN));
    /** The plugin polls the traffic policy with its ingest key; read keys and admin keys may read it too. */
    private static final Set<Role> READERS_AND_INGESTERS = Set.copyOf(EnumSet.allOf(Role.class));
    private static final Set<Role> ADMINS = Set.of(Role.ADMIN);
    /**
     * What callers report, POSTed with the ingest key: calls (the plugin), classification, and the DATA signals
     * (retrieval scores, index freshness, pipeline runs, embedding samples). Listed one by one rather than as
     * {@code /signals/*}: a new endpoint there (e.g. registering an index, or "check now") is an operator's action
     * and stays admin-only until it is added here on purpose.
     */
    static final Set<String> INGEST_PATHS = Set.of("/api/v1/calls", "/api/v1/classify", "/api/v1/signals/retrieval",
            "/api/v1/signals/index", "/api/v1/signals/ingestion", "/api/v1/signals/embeddings");

    private AccessRules() {
    }

    /**
     * The roles any one of which is allowed to call {@code method} on {@code path}, or {@link #OPEN}. The path is
     * the normalised request path (or an OpenAPI path template: parameters never change the answer).
     */
    public static Set<Role> allowed(String method, String path) {
        String m = method.toUpperCase(Locale.ROOT);
        if (isProbeOrMetrics(path) || m.equals("OPTIONS")) {
            return OPEN;
        }
        // The endpoints answer a path with a trailing slash as the path without: so must the rules (the ingest key
        // got a 403 at /api/v1/signals/retrieval/, which the admin key could post to).
        String endpoint = path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        if (m.equals("GET") || m.equals("HEAD")) {
            return endpoint.equals("/api/v1/traffic-policy") || isPostOnlyIngest(endpoint)
                    ? READERS_AND_INGESTERS : READERS;
        }
        if (m.equals("POST") && INGEST_PATHS.contains(endpoint)) {
            return INGESTERS;
        }
        return ADMINS;
    }

    /**
     * {@link #allowed} for an operation the API publishes (an OpenAPI path template and one of its methods), without
     * the route table, which the OpenAPI document is built before: a published GET is a read (the traffic policy's
     * by the ingest role too), never the 405 of a POST-only ingest path.
     */
    public static Set<Role> allowedForOperation(String method, String template) {
        String m = method.toUpperCase(Locale.ROOT);
        if (m.equals("GET") || m.equals("HEAD")) {
            return template.equals("/api/v1/traffic-policy") ? READERS_AND_INGESTERS : READERS;
        }
        return allowed(m, template);
    }

    /**
     * An ingest path that takes only POST, as the route table says (not a list kept by hand, which a new POST-only
     * ingest path would be missing from). A GET or HEAD there is a 405 whatever the key (its Allow naming POST, as
     * OPTIONS does), so any key may ask and get that answer: the ingest key got a 403 "needs read role" instead, as
     * if there were something to read. /signals/embeddings is not one: it lists the spaces to readers.
     */
    static boolean isPostOnlyIngest(String endpoint) {
        return INGEST_PATHS.contains(endpoint) && Routes.methodsAt(endpoint).equals(Set.of("POST"));
    }

    /** Reads: the roles that stay open when no read key is configured. */
    public static boolean isRead(Set<Role> allowed) {
        return allowed.contains(Role.READ);
    }

    private static boolean isProbeOrMetrics(String path) {
        return under(path, "/q/health") || under(path, "/q/metrics");
    }

    private static boolean under(String path, String prefix) {
        return path.equals(prefix) || path.startsWith(prefix + "/");
    }
}
