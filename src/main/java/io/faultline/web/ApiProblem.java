package io.faultline.web;

import java.util.List;
import java.util.Map;

/** A client-facing error: rendered as RFC 9457 problem details by {@link ProblemMappers}. */
public class ApiProblem extends RuntimeException {

    private final int status;
    private final String title;
    private final List<Map<String, Object>> fields;

    public ApiProblem(int status, String title, String detail) {
        this(status, title, detail, List.of());
    }

    public ApiProblem(int status, String title, String detail, List<Map<String, Object>> fields) {
        super(detail);
        this.status = status;
        this.title = title;
        this.fields = fields;
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
}
