package io.faultline.web;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.quarkus.runtime.annotations.RegisterForReflection;

import java.util.List;
import java.util.Map;

/** RFC 9457 problem details; {@code errors} names the offending fields of a validation problem. */
// Written from exception mappers as a Response entity, which native-image analysis cannot see.
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record Problem(String type, String title, int status, String detail, String instance,
        List<Map<String, Object>> errors) {

    public static final String MEDIA_TYPE = "application/problem+json";
}
