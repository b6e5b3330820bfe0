package io.faultline.web;

import java.time.Instant;
import java.time.format.DateTimeParseException;

/** Query parameters that every read endpoint parses the same way, with a problem naming the parameter. */
public final class Params {

    private Params() {
    }

    /** An ISO-8601 instant, or null when absent. */
    public static Instant instant(String field, String value) {
        if (value == null) {
            return null;
        }
        try {
            return Instant.parse(value);
        } catch (DateTimeParseException e) {
            throw ApiProblem.badRequest(field, field + " must be an ISO-8601 instant such as 2026-11-28T10:00:00Z");
        }
    }
}
