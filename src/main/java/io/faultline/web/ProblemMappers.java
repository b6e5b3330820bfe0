package io.faultline.web;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.exc.InvalidDefinitionException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import io.faultline.call.StorageException;
import io.faultline.common.DatabaseConfig;
import io.faultline.common.LogText;
import io.quarkus.logging.Log;
import io.vertx.core.http.HttpClosedException;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;
import org.jboss.resteasy.reactive.server.core.CurrentRequestManager;
import org.jboss.resteasy.reactive.server.core.ResteasyReactiveRequestContext;

import java.nio.channels.ClosedChannelException;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The one place where exceptions become HTTP answers: every error is {@code application/problem+json}. Client
 * mistakes get a 4xx saying what to fix; anything unexpected is a 500 that names no class and shows no stack.
 */
public class ProblemMappers {

    private final DatabaseConfig database;

    public ProblemMappers(DatabaseConfig database) {
        this.database = database;
    }

    @ServerExceptionMapper
    public Response apiProblem(ApiProblem problem, UriInfo uri) {
        if (problem.location() == null && problem.extensions().isEmpty()) {
            return respond(problem.status(), problem.title(), problem.getMessage(), uri, problem.fields());
        }
        // Extension members beside the standard ones (RFC 9457 section 3.2), as a map: nothing to register.
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", "about:blank");
        body.put("title", problem.title());
        body.put("status", problem.status());
        body.put("detail", LogText.escaped(problem.getMessage()));
        if (uri != null) {
            body.put("instance", LogText.escaped(uri.getPath()));
        }
        body.putAll(problem.extensions());
        Response.ResponseBuilder r = Response.status(problem.status()).type(Problem.MEDIA_TYPE).entity(body);
        if (problem.location() != null) {
            r.header("Location", problem.location());
        }
        return r.build();
    }

    @ServerExceptionMapper
    public Response validation(ConstraintViolationException e, UriInfo uri) {
        List<Map<String, Object>> fields = new ArrayList<>();
        for (ConstraintViolation<?> violation : e.getConstraintViolations()) {
            String path = violation.getPropertyPath().toString();
            // "list.arg0" style paths carry the method name first; the parameter is the last node.
            String field = path.contains(".") ? path.substring(path.lastIndexOf('.') + 1) : path;
            fields.add(Map.of("field", field, "message", violation.getMessage()));
        }
        return respond(400, "Invalid request", "One or more parameters are invalid", uri, fields);
    }

    @ServerExceptionMapper
    public Response json(JsonProcessingException e, UriInfo uri) {
        return apiProblem(JsonProblems.of(e), uri);
    }

    /**
     * A body bound to a record (e.g. a baseline run) whose value has the wrong type. Quarkus's built-in mapper for
     * this exception answers an empty 400 outside dev mode; this one names the field.
     */
    @ServerExceptionMapper
    public Response mismatchedInput(MismatchedInputException e, UriInfo uri) {
        return apiProblem(JsonProblems.of(e), uri);
    }

    /**
     * Reading a body into a record fails with a "definition" error when a field comes again after the record was
     * complete (duplicate keys): the client's mistake, though Quarkus's built-in mapper makes it an empty 500. Any
     * other definition error (e.g. while writing an answer) is a server bug and stays a 500.
     */
    @ServerExceptionMapper
    public Response invalidDefinition(InvalidDefinitionException e, UriInfo uri) {
        String message = e.getOriginalMessage() == null ? "" : e.getOriginalMessage();
        int open = message.indexOf('\'');
        int close = open < 0 ? -1 : message.indexOf('\'', open + 1);
        if (message.startsWith(REPEATED_CREATOR_PROPERTY) && close > open) {
            String field = message.substring(open + 1, close);
            String detail = field + " is given more than once; send each field once.";
            return respond(400, "Invalid request", detail, uri, List.of(Map.of("field", field, "message", detail)));
        }
        return unexpected(e, uri);
    }

    /** Jackson's wording (CreatorProperty._reportMissingSetter), the only sign that this is a repeated field. */
    private static final String REPEATED_CREATOR_PROPERTY = "No fallback setter/field defined for creator property";

    /**
     * A batch that could not be stored. The database refusing it for what it holds (SQLSTATE class 22 data
     * exception, 23 integrity constraint, 42 a statement it cannot run, 54 program limit, P0 a trigger's raise): 500,
     * because the same batch will fail the same way. Anything else (the database away, a deadlock, a timeout, a
     * state not named here): 503 with Retry-After, retry the same batch. The plugin tells the two apart: it halves a
     * batch answered 500 until the refused call is alone, and takes far more 503s before it gives up on one call (at
     * times of a full pool, 503s come and go at random).
     */
    @ServerExceptionMapper
    public Response storage(StorageException e, UriInfo uri) {
        boolean away = databaseAway(e);
        if (away) {
            // An outage answers every request until it ends: one line each, not a stack trace each.
            Log.warnf("Storage unavailable for %s: %s", LogText.of(uri.getPath()), rootMessage(e));
        } else {
            Log.errorf(e, "Storage failed for %s", LogText.of(uri.getPath()));
        }
        if (!away && refusedForWhatItHolds(e)) {
            return respond(500, "Storage failed", "The database refused the batch (logged); nothing was"
                    + " acknowledged. Sent again as it is, it will fail the same way.", uri, List.of());
        }
        return unavailable(e.detail() != null ? e.detail()
                : "The batch was not stored; nothing was acknowledged. Retry later.", uri);
    }

    /** SQLSTATE classes 22, 23, 42, 54 and P0: the same statement with the same rows fails again. */
    static boolean refusedForWhatItHolds(Throwable failure) {
        for (Throwable t : causes(failure)) {
            if (t instanceof SQLException sql && sql.getSQLState() != null && sql.getSQLState().length() == 5) {
                String cls = sql.getSQLState().substring(0, 2);
                if (cls.equals("22") || cls.equals("23") || cls.equals("42") || cls.equals("54")
                        || cls.equals("P0")) {
                    return true;
                }
            }
        }
        return false;
    }

    private Response unavailable(String detail, UriInfo uri) {
        return Response.fromResponse(respond(503, "Storage unavailable", detail, uri, List.of()))
                .header("Retry-After", String.valueOf(database.retryAfterSeconds())).build();
    }

    /**
     * The database is away, not the request at fault: not reachable or not yet migrated (SQLSTATE class 08
     * connection exception, 57P admin shutdown / cannot connect now, 53 insufficient resources such as too many
     * connections), no pooled connection within the acquisition timeout, or ingest waiting for the schema.
     */
    public static boolean databaseAway(Throwable failure) {
        for (Throwable t : causes(failure)) {
            if (t instanceof StorageException && t.getCause() == null) {
                return true;
            }
            if (t instanceof SQLException sql) {
                String state = sql.getSQLState();
                if (state != null && (state.startsWith("08") || state.startsWith("57P") || state.startsWith("53"))) {
                    return true;
                }
                // Agroal says "Acquisition timeout while waiting for new connection" or, with every connection in
                // use, "Sorry, acquisition timeout!": a full pool, which was answered 500.
                if (state == null && sql.getMessage() != null
                        && sql.getMessage().toLowerCase(Locale.ROOT).contains("acquisition timeout")) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * The sender closed the connection before its body was read: a timeout on its side, or this server stopping. No
     * server fault, and nothing was stored.
     */
    public static boolean clientGone(Throwable failure) {
        for (Throwable t : causes(failure)) {
            if (t instanceof HttpClosedException || t instanceof ClosedChannelException) {
                return true;
            }
        }
        return false;
    }

    /** The failure and its causes, outermost first, at most 32 (a cause that is its own cause ends the chain). */
    private static List<Throwable> causes(Throwable failure) {
        List<Throwable> chain = new java.util.ArrayList<>();
        for (Throwable t = failure; t != null && chain.size() < 32; t = t.getCause() == t ? null : t.getCause()) {
            chain.add(t);
        }
        return chain;
    }

    /** The failure's message and its root cause's, for a one-line log. */
    public static String rootMessage(Throwable failure) {
        Throwable root = failure;
        for (int depth = 0; root.getCause() != null && root.getCause() != root && depth < 32; depth++) {
            root = root.getCause();
        }
        return failure == root ? String.valueOf(failure.getMessage())
                : failure.getMessage() + ": " + root.getMessage();
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e, UriInfo uri) {
        int status = e.getResponse().getStatus();
        if (e.getCause() instanceof JsonProcessingException json) {
            // Quarkus's Jackson reader wraps what it does not map itself (parse errors, parser limits, values out of
            // range) into a bare 400; the cause says what to fix.
            return json(json, uri);
        }
        String title = Response.Status.fromStatusCode(status) == null ? "Error"
                : Response.Status.fromStatusCode(status).getReasonPhrase();
        String allowed = status == 405 ? allowedMethods(e.getResponse(), CurrentRequestManager.get()) : null;
        String detail = switch (status) {
            case 404 -> "No resource at " + uri.getPath();
            case 405 -> "Method not allowed on " + uri.getPath()
                    + (allowed == null ? "" : "; it takes " + allowed);
            case 406 -> "This resource answers application/json";
            case 415 -> "Send the body as application/json";
            default -> status >= 500 ? "The request could not be processed" : e.getMessage();
        };
        if (status >= 500) {
            Log.errorf(e, "Request failed: %s", LogText.of(uri.getPath()));
        }
        Response problem = respond(status, title, detail, uri, List.of());
        // RFC 9110 15.5.6: a 405 says in Allow which methods the resource takes.
        return allowed == null ? problem : Response.fromResponse(problem).header("Allow", allowed).build();
    }

    /**
     * The methods the resource at the request's path takes: those of the 405's own Allow header (set where the
     * application throws it), else those of the routes that match the path, as the framework answers OPTIONS (its
     * own 405 names none); null when neither says.
     */
    private static String allowedMethods(Response response, ResteasyReactiveRequestContext request) {
        Set<String> methods = new TreeSet<>(response.getAllowedMethods());
        if (methods.isEmpty() && request != null) {
            methods.addAll(Routes.endpoints(request.getDeployment(), request.getPathWithoutPrefix()).keySet());
            if (!methods.isEmpty()) {
                methods.add("OPTIONS");
                methods = Routes.headOnlyBesideGet(methods);
            }
        }
        return methods.isEmpty() ? null : String.join(", ", methods);
    }

    @ServerExceptionMapper
    public Response unexpected(Exception e, UriInfo uri) {
        if (databaseAway(e)) {
            // Any endpoint reading or writing the database while it is away: retry later, not a server bug.
            Log.warnf("Database unavailable for %s: %s", LogText.of(uri.getPath()), rootMessage(e));
            return unavailable("The database is unavailable; retry later.", uri);
        }
        if (clientGone(e)) {
            // Nobody is left to read the answer; a 4xx keeps it out of the server-error rate.
            Log.debugf("The client closed the connection during %s: %s", LogText.of(uri.getPath()), rootMessage(e));
            return respond(400, "Bad Request", "The connection closed before the request body was read.", uri,
                    List.of());
        }
        Log.errorf(e, "Unexpected error on %s", LogText.of(uri.getPath()));
        return respond(500, "Internal error", "The request could not be processed; the error was logged.", uri,
                List.of());
    }

    static Response respond(int status, String title, String detail, UriInfo uri, List<Map<String, Object>> fields) {
        Problem problem = new Problem("about:blank", title, status, detail, uri == null ? null : uri.getPath(), fields);
        return Response.status(status).type(Problem.MEDIA_TYPE).entity(problem).build();
    }

    /** The problem of a path that no endpoint takes, as the framework's 404 there is answered. */
    static Problem notFound(UriInfo uri) {
        return new Problem("about:blank", Response.Status.NOT_FOUND.getReasonPhrase(), 404,
                "No resource at " + uri.getPath(), uri.getPath(), List.of());
    }
}
