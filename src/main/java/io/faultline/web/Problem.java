package io.faultline.web;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.faultline.common.LogText;
import io.quarkus.runtime.annotations.RegisterForReflection;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** RFC 9457 problem details; {@code errors} names the offending fields of a validation problem. */
// Written from exception mappers as a Response entity, which native-image analysis cannot see.
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record Problem(String type, String title, int status, String detail, String instance,
        List<Map<String, Object>> errors) {

    public static final String MEDIA_TYPE = "application/problem+json";

    /**
     * Every problem, wherever it is built: what it echoes of the request (a query value, a path, a name) is shown
     * with control characters, line separators and bidirectional controls escaped ({@link LogText#escaped}), so that
     * an echoed "\u202E" cannot reorder the detail a client or an operator reads.
     */
    public Problem {
        detail = LogText.escaped(detail);
        instance = LogText.escaped(instance);
        if (errors != null && !errors.isEmpty()) {
            List<Map<String, Object>> shown = new ArrayList<>(errors.size());
            for (Map<String, Object> error : errors) {
                Map<String, Object> copy = new LinkedHashMap<>(error);
                copy.replaceAll((key, value) -> value instanceof String text ? LogText.escaped(text) : value);
                shown.add(copy);
            }
            errors = List.copyOf(shown);
        }
    }
}
