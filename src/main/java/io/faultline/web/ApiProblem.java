package io.faultline.web;

import java.util.List;
import java.util.Map;

/** A client-facing error: rendered as RFC 9457 problem details by {@link ProblemMappers}. */
public class ApiProblem extends RuntimeException {

    private final int status;
    private final String title;
    private final List<Map<String, Object>> fields;
    private final String location;
    private final Map<String, Object> extensions;

    public ApiProblem(int status, String title, String detail) {
        this(status, title, detail, List.of());
    }

    public ApiProblem(int status, String title, String detail, List<Map<String, Object>> fields) {
        this(status, title, detail, fields, null, Map.of());
    }

    private ApiProblem(int status, String title, String detail, List<Map<String, Object>> fields, String location,
            Map<String, Object> extensions) {
        super(detail);
        this.status = status;
        this.title = title;
        this.fields = fields;
        this.location = location;
        this.extensions = extensions;
    }

    /**
     * A resource that went somewhere else for good (a cluster a merge absorbed): {@code status} (a 3xx, or a 404 when
     * there is nowhere to send the client) with the {@code Location} (null for none) and the members naming where.
     */
    public static ApiProblem moved(int status, String title, String detail, String location,
            Map<String, Object> extensions) {
        return new ApiProblem(status, title, detail, List.of(), location, Map.copyOf(extensions));
    }

    /** A problem with RFC 9457 extension members (such as the {@code candidates} the client may choose from). */
    public static ApiProblem withMembers(int status, String title, String detail, Map<String, Object> extensions) {
        return new ApiProblem(status, title, detail, List.of(), null, Map.copyOf(extensions));
    }

    public static ApiProblem badRequest(String field, String detail) {
        return new ApiProblem(400, "Invalid request", detail, List.of(Map.of("field", field, "message", detail)));
    }

    public int status() {
        return status;
    }

    public String title() {
        return title;
    }

    public List<Map<String, Object>> fields() {
        return fields;
    }

    /** The {@code Location} header's value, or null. */
    public String location() {
        return location;
    }

    /** RFC 9457 extension members (such as {@code mergedInto}), empty for most problems. */
    public Map<String, Object> extensions() {
        return extensions;
    }
}
