package io.faultline.web;

import io.faultline.common.StorableTime;

import java.time.Instant;
import java.time.format.DateTimeParseException;

/** Query parameters that every read endpoint parses the same way, with a problem naming the parameter. */
public final class Params {

    private Params() {
    }

    /**
     * Whether a caller's name (an id, a model group, a deployment) can be stored and shown as it came: no control
     * character (NUL included) and no lone UTF-16 surrogate, which UTF-8 cannot encode (the driver would store '?',
     * and two distinct names would become one).
     */
    public static boolean plainText(String value) {
        for (int i = 0, n = value.length(); i < n; i++) {
            char c = value.charAt(i);
            if (Character.isISOControl(c)) {
                return false;
            }
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(value.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    /**
     * A page size: a decimal integer from 1 to {@code max}; absent or empty, {@code defaultValue}. Read as text, not
     * as an {@code int} parameter, because JAX-RS answers a value that does not convert ("abc", "1.5", "1e3") with
     * a 404 that names nothing.
     */
    public static int limit(String value, int defaultValue, int max) {
        if (value == null || value.isEmpty()) {
            return defaultValue;
        }
        String problem = "limit must be an integer from 1 to " + max;
        if (value.length() > 10 || !value.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw ApiProblem.badRequest("limit", problem);
        }
        long n = Long.parseLong(value);
        if (n < 1 || n > max) {
            throw ApiProblem.badRequest("limit", problem);
        }
        return (int) n;
    }

    /** An ISO-8601 instant within {@link StorableTime}'s range, or null when absent. */
    public static Instant instant(String field, String value) {
        if (value == null) {
            return null;
        }
        Instant at;
        try {
            at = Instant.parse(value);
        } catch (DateTimeParseException e) {
            throw ApiProblem.badRequest(field, field + " must be an ISO-8601 instant such as 2026-11-28T10:00:00Z");
        }
        if (!StorableTime.contains(at)) {
            throw ApiProblem.badRequest(field, field + " must lie within " + StorableTime.RANGE);
        }
        return at;
    }
}
