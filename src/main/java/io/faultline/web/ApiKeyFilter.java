package io.faultline.web;

import io.quarkus.logging.Log;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Optional;

/**
 * Every request that is not a read ({@code GET}/{@code HEAD}/{@code OPTIONS}) under {@code /api/} needs
 * {@code Authorization: Bearer $FAULTLINE_API_KEY}. Without a configured key, writes are refused rather than open.
 */
@Singleton
public class ApiKeyFilter {

    private final byte[] key;

    public ApiKeyFilter(@ConfigProperty(name = "faultline.api-key") Optional<String> key) {
        this.key = key.filter(k -> !k.isBlank()).map(k -> k.getBytes(StandardCharsets.UTF_8)).orElse(null);
    }

    void warnWithoutKey(@Observes StartupEvent start) {
        if (key == null) {
            Log.warn("FAULTLINE_API_KEY is not set: every write request (ingest included) will be refused with 401");
        }
    }

    @ServerRequestFilter(preMatching = true)
    public Response authorize(ContainerRequestContext request) {
        String method = request.getMethod();
        if (method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS")
                || !request.getUriInfo().getPath().startsWith("/api/")) {
            return null;
        }
        String header = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        if (key == null) {
            return unauthorized(request, "This server has no FAULTLINE_API_KEY configured, so writes are disabled.");
        }
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return unauthorized(request, "Send 'Authorization: Bearer <FAULTLINE_API_KEY>'.");
        }
        byte[] presented = header.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        if (!MessageDigest.isEqual(presented, key)) {
            return unauthorized(request, "The API key is not valid.");
        }
        return null;
    }

    private static Response unauthorized(ContainerRequestContext request, String detail) {
        Problem problem = new Problem("about:blank", "Unauthorized", 401, detail, request.getUriInfo().getPath(),
                List.of());
        return Response.status(401).type(Problem.MEDIA_TYPE).header(HttpHeaders.WWW_AUTHENTICATE, "Bearer")
                .entity(problem).build();
    }
}
