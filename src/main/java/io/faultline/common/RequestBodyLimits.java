package io.faultline.common;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.call.IngestConfig;
import io.faultline.data.EmbeddingDriftConfig;
import io.faultline.signals.SignalsConfig;
import io.faultline.web.Problem;
import io.faultline.web.ProblemMappers;
import io.faultline.web.access.AccessRules;
import io.faultline.web.access.Role;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.quarkus.logging.Log;
import io.quarkus.vertx.http.runtime.RouteConstants;
import io.vertx.core.http.HttpVersion;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Refuses a request body larger than its endpoint's documented limit before a byte of it is buffered: a declared
 * {@code Content-Length} above the limit is answered at once with a 413 problem. The rest of the body is then read
 * and discarded (up to {@link #DRAIN_LIMIT}; beyond, the connection is closed), because a client that is still
 * sending when the server closes gets a connection reset instead of the answer, and would retry rather than split.
 * A chunked body is read here up to the endpoint's limit (Vert.x's body handler) and the endpoint reads that buffer;
 * one that passes the limit gets the same 413 problem, and the connection is closed.
 * {@code quarkus.http.limits.max-body-size} stays the hard backstop for every path: the largest of these limits.
 *
 * <ul>
 * <li>{@code /api/v1/signals/embeddings}: {@code faultline.embedding-drift.max-body-bytes} (32 MiB: 1000 vectors of
 * 1536 dimensions)</li>
 * <li>{@code /api/v1/signals/*}: {@code faultline.signals.max-body-bytes} (1 MiB)</li>
 * <li>everything else, {@code /api/v1/calls} and {@code /api/v1/classify} included:
 * {@code faultline.ingest.max-body-bytes} (10 MiB)</li>
 * <li>reads, OPTIONS, {@code /q/health} and {@code /q/metrics}: no body at all (413, unread, connection closed)</li>
 * </ul>
 */
@Singleton
public class RequestBodyLimits {

    /** The key Quarkus's body reader takes its limit from (see HttpServerCommonHandlers.enforceMaxBodySize). */
    static final String MAX_REQUEST_SIZE_KEY = "io.quarkus.max-request-size";

    /** Declared bodies up to this size are drained after the 413 (bandwidth only, no memory); larger ones cut. */
    static final long DRAIN_LIMIT = 64L * 1024 * 1024;

    private static final String EMBEDDINGS = "/api/v1/signals/embeddings";
    private static final String SIGNALS = "/api/v1/signals/";

    private final IngestConfig ingest;
    private final EmbeddingDriftConfig embeddings;
    private final SignalsConfig signals;
    private final ObjectMapper json;
    private final RequestAdmission admission;

    public RequestBodyLimits(IngestConfig ingest, EmbeddingDriftConfig embeddings, SignalsConfig signals,
            ObjectMapper json, RequestAdmission admission) {
        this.ingest = ingest;
        this.embeddings = embeddings;
        this.signals = signals;
        this.json = json;
        this.admission = admission;
    }

    void install(@Observes Router router) {
        // Before Quarkus's own check, which would answer a bare 413 without a body.
        router.route().order(RouteConstants.ROUTE_ORDER_UPLOAD_LIMIT - 1).handler(this::refuseDeclaredOversize);
        // After it, which sets its global limit for chunked bodies: the endpoint's own limit replaces it.
        router.route().order(RouteConstants.ROUTE_ORDER_UPLOAD_LIMIT + 1).handler(this::limitStreamedBody)
                .failureHandler(this::refuseStreamedOversize);
    }

    /** The body limit of a path, in bytes. */
    public long limitFor(String path) {
        if (path == null) {
            return ingest.maxBodyBytes();
        }
        if (path.equals(EMBEDDINGS) || path.startsWith(EMBEDDINGS + "/")) {
            return embeddings.maxBodyBytes();
        }
        if (path.startsWith(SIGNALS)) {
            return signals.maxBodyBytes();
        }
        return ingest.maxBodyBytes();
    }

    private void refuseDeclaredOversize(RoutingContext ctx) {
        String declared = ctx.request().headers().get(HttpHeaderNames.CONTENT_LENGTH);
        String path = ctx.normalizedPath();
        boolean chunked = declared == null
                && ctx.request().headers().contains(HttpHeaderNames.TRANSFER_ENCODING, "chunked", true);
        long length = -1;
        if (declared != null) {
            try {
                length = Long.parseLong(declared.trim());
            } catch (NumberFormatException e) {
                length = -1; // Vert.x itself refuses a malformed Content-Length
            }
        }
        if ((chunked || length > 0) && takesNoBody(ctx.request().method().name(), path)) {
            refuseAnyBody(ctx, path);
            return;
        }
        long limit = limitFor(path);
        long reserve = 0;
        if (declared != null) {
            if (length > limit) {
                refuse(ctx, path, length, limit);
                return;
            }
            reserve = Math.max(0, length);
        } else if (chunked) {
            reserve = limit; // as much as the endpoint takes: a chunked body says its size only at its end
        }
        if (admission.admit(ctx, reserve)) {
            ctx.next();
        }
    }

    /**
     * Probes, metrics, OPTIONS and reads: what may be called without a key (reads while no read key is set), and no
     * endpoint there reads a body. Admitted, a body sent there held the bytes in flight that ingest needs until its
     * timeout: callers without a key, trickling bodies to {@code OPTIONS /api/v1/calls}, could fill the budget and
     * have ingest answered 503.
     */
    static boolean takesNoBody(String method, String path) {
        Set<Role> allowed = AccessRules.allowed(method, path);
        return allowed.isEmpty() || AccessRules.isRead(allowed);
    }

    private void refuseAnyBody(RoutingContext ctx, String path) {
        Problem problem = new Problem("about:blank", "Payload too large", 413, ctx.request().method().name()
                + " " + path + " takes no body: send the request without one.", path,
                List.of(Map.of("field", "$", "message", "no body")));
        // Not read, not drained: the caller may have shown no key, and the connection is not kept for it. Closed from
        // an end handler of the context, which keeps the ones already added (a read's place is given back by one).
        ctx.addEndHandler(done -> ctx.request().connection().close());
        ctx.response().setStatusCode(413).putHeader(HttpHeaderNames.CONTENT_TYPE, Problem.MEDIA_TYPE)
                .putHeader(HttpHeaderNames.CONNECTION, "close").end(json(problem));
    }

    private void limitStreamedBody(RoutingContext ctx) {
        String declared = ctx.request().headers().get(HttpHeaderNames.CONTENT_LENGTH);
        long limit = limitFor(ctx.normalizedPath());
        if (declared == null) {
            ctx.put(MAX_REQUEST_SIZE_KEY, limit);
        }
        boolean chunked = declared == null
                && ctx.request().headers().contains(HttpHeaderNames.TRANSFER_ENCODING, "chunked", true);
        // HTTP/1.x only: over HTTP/2 (h2c) Quarkus REST pauses the request it reads, which fails once it has ended.
        boolean http1 = ctx.request().version() != HttpVersion.HTTP_2;
        boolean body = chunked || (declared != null && !declared.trim().equals("0"));
        // A form is refused unread: every endpoint reads JSON. Vert.x's body handler would decode multipart and
        // url-encoded bodies itself (a malformed multipart body was never answered), and Quarkus REST, whose
        // endpoints also take bodies without a JSON content type, parsed a form's bytes as JSON.
        String type = String.valueOf(ctx.request().getHeader(HttpHeaderNames.CONTENT_TYPE)).toLowerCase(Locale.ROOT);
        // Nor is a compressed body inflated: parsed as it came, a gzipped batch was a 400 "Illegal character (code
        // 31)" that named neither the encoding nor the fix, and inflating it would lift the limits above.
        String encoding = ctx.request().getHeader(HttpHeaderNames.CONTENT_ENCODING);
        if (body && encoding != null && !encoding.isBlank() && !encoding.trim().equalsIgnoreCase("identity")) {
            String path = ctx.normalizedPath();
            admission.answer(ctx, 415, "Unsupported Media Type", "A compressed body (Content-Encoding) is not read at "
                    + path + ": send the JSON uncompressed.", path, "an uncompressed body");
            return;
        }
        if (body && (type.startsWith("multipart/") || type.startsWith("application/x-www-form-urlencoded"))) {
            String path = ctx.normalizedPath();
            admission.answer(ctx, 415, "Unsupported Media Type", "A form body is not read at " + path
                    + ": send the JSON with Content-Type: application/json.", path, "a JSON body, not a form");
            return;
        }
        if (http1 && body) {
            // The body is read here, on the event loop, and the endpoint reads the buffer. Left to Quarkus REST, a
            // body over 10 KiB was read by a worker thread blocked on the socket: 205 authenticated connections
            // trickling their bodies took all 200 workers, and ingest, reads and readiness stopped answering. A
            // chunked body has no length to refuse up front: read up to the limit, never past it, one past it fails
            // into refuseStreamedOversize (left to Quarkus REST, it got a bare 413).
            BodyHandler.create(false).setBodyLimit(limit).handle(ctx);
            return;
        }
        ctx.next();
    }

    private void refuseStreamedOversize(RoutingContext ctx) {
        if (ctx.failure() != null && ProblemMappers.clientGone(ctx.failure())) {
            // The sender hung up while its body was read here (its timeout, or this server stopping): nobody reads
            // an answer, and it is no server error to log with a stack trace.
            Log.debugf("The client closed the connection during %s", LogText.of(ctx.normalizedPath()));
            return;
        }
        if (ctx.statusCode() != 413 || ctx.response().headWritten()) {
            ctx.next();
            return;
        }
        String path = ctx.normalizedPath();
        long limit = limitFor(path);
        // The client may still be sending: answer, then close (what is left of the body is not read).
        admission.answer(ctx, 413, "Payload too large", "The chunked body exceeds " + limit
                + " bytes, the most accepted at " + path + ": split the batch into smaller requests.", path,
                "at most " + limit + " bytes");
    }

    private void refuse(RoutingContext ctx, String path, long length, long limit) {
        // length > limit >= 0 here
        Problem problem = new Problem("about:blank", "Payload too large", 413, "The body has " + length
                + " bytes; at most " + limit + " are accepted at " + path + ": split the batch into smaller"
                + " requests.", path, List.of(Map.of("field", "$", "message", "at most " + limit + " bytes")));
        String body = json(problem);
        ctx.response().setStatusCode(413).putHeader(HttpHeaderNames.CONTENT_TYPE, Problem.MEDIA_TYPE);
        if (length <= DRAIN_LIMIT) {
            // Discard what the client is still sending, so that it reads this answer and the connection stays usable.
            ctx.request().handler(ignored -> {
            }).exceptionHandler(ignored -> {
            });
            ctx.request().resume();
            ctx.response().end(body);
        } else {
            ctx.response().putHeader(HttpHeaderNames.CONNECTION, "close")
                    .endHandler(v -> ctx.request().connection().close()).end(body);
        }
    }

    private String json(Problem problem) {
        try {
            return json.writeValueAsString(problem);
        } catch (JsonProcessingException e) {
            return "{\"title\":\"Payload too large\",\"status\":413}";
        }
    }
}
