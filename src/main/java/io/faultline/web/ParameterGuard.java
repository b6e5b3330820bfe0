package io.faultline.web;

import io.faultline.common.Redactor;
import jakarta.inject.Singleton;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.util.List;
import java.util.Map;

/**
 * Refuses a NUL character ({@code %00}) in the path or a query parameter with a 400 problem naming it: PostgreSQL
 * refuses NUL in text, so without this a filter such as {@code ?deployment=%00} reached the database and came back
 * as a 500. Bodies are not checked here: their text is stored with NUL replaced (see the ingest path). Also refuses
 * a parameter given twice with different values: no parameter of this API takes a list, so the second value would be
 * ignored without a word ({@code ?limit=10&limit=abc} answered as if valid).
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

    private static Response refuse(ContainerRequestContext request, String field, String detail, String message) {
        Problem problem = new Problem("about:blank", "Invalid request", 400, detail,
                request.getUriInfo().getPath().replace('\u0000', '?'),
                List.of(Map.of("field", field, "message", message)));
        return Response.status(400).type(Problem.MEDIA_TYPE).entity(problem).build();
    }
}
