package io.faultline.common;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.call.IngestConfig;
import io.faultline.web.Problem;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.vertx.core.Vertx;
import io.vertx.ext.web.RoutingContext;
import jakarta.inject.Singleton;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounds what request bodies may cost at once (README "Hostile input"), before a byte of a body is read:
 * <ul>
 * <li><b>Bytes in flight.</b> Each request with a body reserves its declared length (a chunked one its endpoint's
 * limit) until its answer is sent; a request that does not fit {@code faultline.ingest.max-bytes-in-flight} is
 * answered 503 with {@code Retry-After}, which the plugin waits out. A body larger than the whole budget is taken
 * when nothing else is in flight, so that the documented maximum always gets through.</li>
 * <li><b>Time to send the body.</b> A request whose body has not arrived whole within
 * {@code faultline.ingest.body-timeout} is answered 408 and its connection closed.</li>
 * </ul>
 * Called by {@link RequestBodyLimits} once a body is known to be within its endpoint's limit.
 */
@Singleton
public class BodyAdmission {

    private final IngestConfig config;
    private final Vertx vertx;
    private final ObjectMapper json;
    private final AtomicLong inFlight = new AtomicLong();
    private final Counter busy;
    private final Counter slow;

    public BodyAdmission(IngestConfig config, Vertx vertx, ObjectMapper json, MeterRegistry registry) {
        this.config = config;
        this.vertx = vertx;
        this.json = json;
        Gauge.builder("faultline.http.body.bytes.in.flight", inFlight, AtomicLong::get)
                .description("Declared bytes of the request bodies being received or processed").register(registry);
        this.busy = Counter.builder("faultline.http.body.refused").tag("reason", "busy")
                .description("Requests refused before their body was read").register(registry);
        this.slow = Counter.builder("faultline.http.body.refused").tag("reason", "slow")
                .description("Requests refused before their body was read").register(registry);
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
        // Given back once the answer is sent; a connection closed before it (a client that hung up) may end no
        // handler, so a periodic look gives it back too, and answers a body that is still not whole with a 408.
        AtomicBoolean held = new AtomicBoolean(true);
        long[] timer = new long[1];
        Runnable release = () -> {
            if (held.compareAndSet(true, false)) {
                inFlight.addAndGet(-bytes);
                vertx.cancelTimer(timer[0]);
            }
        };
        timer[0] = vertx.setPeriodic(config.bodyTimeout().toMillis(), id -> {
            if (ctx.response().ended() || ctx.response().closed()) {
                release.run();
            } else if (!ctx.request().isEnded()) {
                slow.increment();
                answer(ctx, 408, "Request timeout", "The body did not arrive within " + config.bodyTimeout()
                        + "; send it whole at once.", ctx.normalizedPath());
                release.run();
            }
            // else the body is in and still being processed: it keeps its bytes until its answer
        });
        ctx.addEndHandler(done -> release.run());
        return true;
    }

    /** Bytes of request bodies admitted and not yet answered. */
    public long inFlight() {
        return inFlight.get();
    }

    private void answer(RoutingContext ctx, int status, String title, String detail, String path) {
        if (ctx.response().headWritten()) {
            ctx.request().connection().close();
            return;
        }
        Problem problem = new Problem("about:blank", title, status, detail, path,
                List.of(Map.of("field", "$", "message", detail)));
        String body;
        try {
            body = json.writeValueAsString(problem);
        } catch (JsonProcessingException e) {
            body = "{}";
        }
        // The body is not read: answered at once, then the connection is closed, as the client may still be sending.
        ctx.response().setStatusCode(status).putHeader(HttpHeaderNames.CONTENT_TYPE, Problem.MEDIA_TYPE)
                .putHeader(HttpHeaderNames.CONNECTION, "close");
        if (status == 503) {
            ctx.response().putHeader(HttpHeaderNames.RETRY_AFTER, "1");
        }
        ctx.response().endHandler(v -> ctx.request().connection().close()).end(body);
    }
}
