package io.faultline.web;

import io.faultline.common.Redactor;
import io.vertx.core.http.HttpServerRequest;
import jakarta.inject.Singleton;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Refuses a NUL character ({@code %00}) in the path or a query parameter with a 400 problem naming it: PostgreSQL
 * refuses NUL in text, so without this a filter such as {@code ?deployment=%00} reached the database and came back
 * as a 500. Bodies are not checked here: their text is stored with NUL replaced (see the ingest path). Also refuses
 * a parameter given twice with different values: no parameter of this API takes a list, so the second value would be
 * ignored without a word ({@code ?limit=10&limit=abc} answered as if valid). And refuses a percent-escape that is not
 * UTF-8 ({@code %FF}, a cut sequence, an encoded surrogate): decoded, each became U+FFFD, so that two names such as
 * {@code kb%FF} and {@code kb%FE} named the same index.
 */
@Singleton
public class ParameterGuard {

    @ServerRequestFilter(preMatching = true)
    public Response refuseNul(ContainerRequestContext request) {
        String path = request.getUriInfo().getPath();
        if (path.indexOf('\u0000') >= 0) {
            return refuse(request, "path", "The path contains a NUL character (%00); no resource is named so.",
                    "must not contain a NUL character");
        }
        URI raw = request.getUriInfo().getRequestUri();
        if (!escapesAreUtf8(raw.getRawPath())) {
            return refuse(request, "path", "The path holds a percent-escape that is not UTF-8 (such as %FF);"
                    + " encode names as UTF-8.", "must be percent-encoded UTF-8");
        }
        String query = raw.getRawQuery();
        if (query != null && !escapesAreUtf8(query)) {
            for (String pair : query.split("&")) {
                int eq = pair.indexOf('=');
                if (!escapesAreUtf8(pair)) {
                    String name = parameterName(eq < 0 ? pair : pair.substring(0, eq));
                    return refuse(request, name, "Query parameter " + name + " holds a percent-escape that is not"
                            + " UTF-8 (such as %FF); encode it as UTF-8.", "must be percent-encoded UTF-8");
                }
            }
        }
        for (Map.Entry<String, List<String>> parameter : request.getUriInfo().getQueryParameters().entrySet()) {
            boolean nul = parameter.getKey().indexOf('\u0000') >= 0
                    || parameter.getValue().stream().anyMatch(v -> v != null && v.indexOf('\u0000') >= 0);
            if (nul) {
                String name = parameter.getKey().replace('\u0000', '?');
                return refuse(request, name, "Query parameter " + name + " contains a NUL character (%00).",
                        "must not contain a NUL character");
            }
            if (parameter.getValue().size() > 1 && parameter.getValue().stream().distinct().count() > 1) {
                // Every parameter of this API takes one value; the first would win and the others pass unread.
                String name = Redactor.mask(parameter.getKey(), 64);
                return refuse(request, name, "Query parameter " + name + " is given more than"
                        + " once with different values; give it once.", "must be given once");
            }
        }
        return null;
    }

    /**
     * Refuses a matrix parameter anywhere in an API path, naming it: JAX-RS strips {@code ;x=1} from a segment before
     * matching, so {@code /api/v1/failures;x=1} answered the whole list as if filtered, and {@code dep;x} named
     * {@code dep}. A ';' inside a path parameter's segment names that parameter (the resources check no ';' of their
     * own: this runs before each of them); elsewhere the problem names the matrix parameter. Run after matching,
     * which gives the path parameters; the path read as it came (the URI JAX-RS keeps has no matrix part).
     */
    @ServerRequestFilter
    public Response refuseMatrixParameters(ContainerRequestContext request, HttpServerRequest http) {
        String raw = http.path();
        if (raw == null || raw.indexOf(';') < 0 || !raw.startsWith("/api/")) {
            return null;
        }
        int semicolon = raw.indexOf(';');
        int start = raw.lastIndexOf('/', semicolon) + 1;
        int end = raw.indexOf('/', semicolon);
        String prefix = decode(raw.substring(start, semicolon));
        for (Map.Entry<String, List<String>> parameter : request.getUriInfo().getPathParameters().entrySet()) {
            for (String value : parameter.getValue()) {
                if (value != null && List.of(value.split("/", -1)).contains(prefix)) {
                    String field = parameter.getKey();
                    return refuse(request, field, "A \";\" in " + field + " must be sent encoded, as %3B",
                            "must send ';' encoded, as %3B");
                }
            }
        }
        String matrix = raw.substring(semicolon + 1, end < 0 ? raw.length() : end);
        int eq = matrix.indexOf('=');
        int next = matrix.indexOf(';');
        int cut = eq < 0 ? next : next < 0 ? eq : Math.min(eq, next);
        String name = Redactor.mask(decode(cut < 0 ? matrix : matrix.substring(0, cut)), 64);
        String field = name.isEmpty() ? "path" : name;
        return refuse(request, field, "The API takes no matrix parameters (;" + field + " in the path): send a"
                + " filter as a query parameter (?" + field + "=...), and a ';' in a name encoded, as %3B.",
                "matrix parameters are not taken");
    }

    /** A raw path piece decoded as the path is ('+' stays '+'), or as it came when it does not decode. */
    private static String decode(String raw) {
        try {
            return URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return raw;
        }
    }

    /** A raw parameter name as the problem names it: decoded where it can be, cut and masked. */
    private static String parameterName(String raw) {
        String name = "query";
        if (escapesAreUtf8(raw)) {
            try {
                name = URLDecoder.decode(raw, StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                name = raw; // a '%' without two hex digits after it
            }
        }
        return Redactor.mask(name.replace('\u0000', '?'), 64);
    }

    /** Whether the bytes the percent-escapes of {@code raw} stand for (other characters as they are) are UTF-8. */
    static boolean escapesAreUtf8(String raw) {
        if (raw == null || raw.indexOf('%') < 0) {
            return true;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
        for (int i = 0, n = raw.length(); i < n; i++) {
            char c = raw.charAt(i);
            int high = c == '%' && i + 2 < n ? Character.digit(raw.charAt(i + 1), 16) : -1;
            int low = high >= 0 ? Character.digit(raw.charAt(i + 2), 16) : -1;
            if (low >= 0) {
                bytes.write(high * 16 + low);
                i += 2;
            } else {
                byte[] plain = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                bytes.write(plain, 0, plain.length);
            }
        }
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes.toByteArray()));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    private static Response refuse(ContainerRequestContext request, String field, String detail, String message) {
        Problem problem = new Problem("about:blank", "Invalid request", 400, detail,
                request.getUriInfo().getPath().replace('\u0000', '?'),
                List.of(Map.of("field", field, "message", message)));
        return Response.status(400).type(Problem.MEDIA_TYPE).entity(problem).build();
    }
}
