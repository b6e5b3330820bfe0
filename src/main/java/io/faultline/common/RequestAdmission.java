package io.faultline.common;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.call.IngestConfig;
import io.faultline.web.Problem;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.quarkus.vertx.http.runtime.RouteConstants;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounds what requests may cost at once (README "Hostile input"), before a byte of a body is read:
 * <ul>
 * <li><b>Bytes in flight.</b> Each request with a body reserves its declared length (a chunked one its endpoint's
 * limit) until its answer is sent; a request that does not fit {@code faultline.ingest.max-bytes-in-flight} is
 * answered 503 with {@code Retry-After}, which the plugin waits out. A body larger than the whole budget is taken
 * when nothing else is in flight, so that the documented maximum always gets through.</li>
 * <li><b>Time to send the body.</b> A request whose body has not arrived whole within
 * {@code faultline.ingest.body-timeout} is answered 408 and its connection closed.</li>
 * <li><b>Reads at once.</b> At most {@code faultline.http.max-concurrent-reads} GETs under {@code /api/} are answered
 * at once, so that reads leave database connections to ingest; past it a 503 with {@code Retry-After}.</li>
 * </ul>
 * Bodies are admitted by {@link RequestBodyLimits} once known to be within their endpoint's limit.
 */
@Singleton
public class RequestAdmission {

    private final IngestConfig config;
    private final Vertx vertx;
    private final ObjectMapper json;
    private final AtomicLong inFlight = new AtomicLong();
    private final AtomicInteger reads = new AtomicInteger();
    private final int maxConcurrentReads;
    private final Counter busy;
    private final Counter slow;
    private final Counter busyReads;

    public RequestAdmission(IngestConfig config, Vertx vertx, ObjectMapper json, MeterRegistry registry,
            @ConfigProperty(name = "faultline.http.max-concurrent-reads", defaultValue = "8") int maxConcurrentReads) {
        if (maxConcurrentReads < 1) {
            throw new IllegalArgumentException("faultline.http.max-concurrent-reads must be at least 1");
        }
        this.config = config;
        this.vertx = vertx;
        this.json = json;
        this.maxConcurrentReads = maxConcurrentReads;
        this.busyReads = Counter.builder("faultline.http.requests.refused").tag("reason", "busy_reads")
                .description("Requests refused before they were read, by reason").register(registry);
        Gauge.builder("faultline.http.body.bytes.in.flight", inFlight, AtomicLong::get)
                .description("Declared bytes of the request bodies being received or processed").register(registry);
        this.busy = Counter.builder("faultline.http.requests.refused").tag("reason", "busy_bodies")
                .description("Requests refused before they were read, by reason").register(registry);
        this.slow = Counter.builder("faultline.http.requests.refused").tag("reason", "slow_body")
                .description("Requests refused before they were read, by reason").register(registry);
    }

    void install(@Observes Router router) {
        router.route().method(HttpMethod.GET).pathRegex("/api/.*").order(RouteConstants.ROUTE_ORDER_UPLOAD_LIMIT - 1)
                .handler(this::admitRead);
    }

    /** Reserves {@code bytes} for this request, or answers it; true when the caller goes on with it. */
    boolean admit(RoutingContext ctx, long bytes) {
        if (bytes <= 0) {
            return true;
        }
        long now = inFlight.addAndGet(bytes);
        if (now > config.maxBytesInFlight() && now != bytes) {
            inFlight.addAndGet(-bytes);
            busy.increment();
            String path = ctx.normalizedPath();
            answer(ctx, 503, "Busy", "Request bodies of " + (now - bytes) + " bytes are being processed, the most"
                    + " taken at once is " + config.maxBytesInFlight() + ": retry after the time given.", path);
            return false;
        }
        hold(ctx, () -> inFlight.addAndGet(-bytes), true);
        return true;
    }

    /**
     * Takes one of the {@code faultline.http.max-concurrent-reads} places of the API's reads, or answers 503 with
     * {@code Retry-After}: the reads share the connection pool with ingest, and 32 parallel dashboard reads took
     * every connection, so that ingest fell to a fraction and half of the reads failed for want of a connection.
     */
    void admitRead(RoutingContext ctx) {
        if (reads.incrementAndGet() > maxConcurrentReads) {
            reads.decrementAndGet();
            busyReads.increment();
            answer(ctx, 503, "Busy", maxConcurrentReads + " reads are being answered, the most at once (they share"
                    + " the database with ingest): retry after the time given.", ctx.normalizedPath());
            return;
        }
        hold(ctx, reads::decrementAndGet, false);
        ctx.next();
    }

    /**
     * Runs {@code release} once the answer is sent. A connection closed before it (a client that hung up) may end no
     * handler, so a periodic look releases too; for a body, it also answers one that is still not whole with a 408.
     */
    private void hold(RoutingContext ctx, Runnable release, boolean body) {
        AtomicBoolean held = new AtomicBoolean(true);
        long[] timer = new long[1];
        Runnable once = () -> {
            if (held.compareAndSet(true, false)) {
                release.run();
                vertx.cancelTimer(timer[0]);
            }
        };
        timer[0] = vertx.setPeriodic(config.bodyTimeout().toMillis(), id -> {
            if (ctx.response().ended() || ctx.response().closed()) {
                once.run();
            } else if (body && !ctx.request().isEnded()) {
                slow.increment();
                answer(ctx, 408, "Request timeout", "The body did not arrive within " + config.bodyTimeout()
                        + "; send it whole at once.", ctx.normalizedPath());
                once.run();
            }
            // else the request is in and still being answered: it keeps its place until its answer
        });
        ctx.addEndHandler(done -> once.run());
    }

    /** Bytes of request bodies admitted and not yet answered. */
    public long inFlight() {
        return inFlight.get();
    }

    private void answer(RoutingContext ctx, int status, String title, String detail, String path) {
        answer(ctx, status, title, detail, path, detail);
    }

    /**
     * Answers a request whose body is not read with a problem naming the body ({@code $}), then closes the connection,
     * as the client may still be sending; a 503 says when to retry.
     */
    void answer(RoutingContext ctx, int status, String title, String detail, String path, String bodyProblem) {
        if (ctx.response().headWritten()) {
            ctx.request().connection().close();
            return;
        }
        Problem problem = new Problem("about:blank", title, status, detail, path,
                List.of(Map.of("field", "$", "message", bodyProblem)));
        String body;
        try {
            body = json.writeValueAsString(problem);
        } catch (JsonProcessingException e) {
            body = "{}";
        }
        ctx.response().setStatusCode(status).putHeader(HttpHeaderNames.CONTENT_TYPE, Problem.MEDIA_TYPE)
                .putHeader(HttpHeaderNames.CONNECTION, "close");
        if (status == 503) {
            ctx.response().putHeader(HttpHeaderNames.RETRY_AFTER, "1");
        }
        // An end handler of the context, beside the one that gives an admitted body's bytes back: the response's own
        // end handler would replace it, and the bytes stayed reserved until the body timeout.
        ctx.addEndHandler(done -> ctx.request().connection().close());
        ctx.response().end(body);
    }
}
