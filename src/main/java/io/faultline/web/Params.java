package io.faultline.web;

import io.faultline.common.LogText;
import io.faultline.common.StorableTime;
import io.faultline.common.Redactor;
import jakarta.ws.rs.core.UriInfo;
import org.jboss.resteasy.reactive.server.core.CurrentRequestManager;
import org.jboss.resteasy.reactive.server.core.ResteasyReactiveRequestContext;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.UUID;

/** Query parameters that every read endpoint parses the same way, with a problem naming the parameter. */
public final class Params {

    private Params() {
    }

    /**
     * Whether a caller's name (an id, a model group, a deployment) can be stored and shown as it came: no control
     * character (NUL included), no lone UTF-16 surrogate, which UTF-8 cannot encode (the driver would store '?',
     * and two distinct names would become one), and no bidirectional control, which reorders how the name is shown
     * ("team\u202Ecba" reads as another name than the one stored: Trojan Source).
     */
    public static boolean plainText(String value) {
        for (int i = 0, n = value.length(); i < n; i++) {
            char c = value.charAt(i);
            if (Character.isISOControl(c) || LogText.isBidiControl(c)) {
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
     * Refuses a query parameter the endpoint does not take, naming it and the ones the endpoint takes, by the
     * request's method ("DELETE here takes only provider"): ignored, a misspelt or unsupported filter
     * ({@code ?deploymnet=}, {@code ranked?provider=}) answered with the whole unfiltered list, which an engineer on
     * call read as the filtered one. Not every such endpoint is a list (a DELETE, the call stats): the problem said
     * "this list takes" of each. An endpoint that takes none passes an empty list and says so.
     */
    public static void onlyKnown(UriInfo uri, List<String> known) {
        for (String name : uri.getQueryParameters().keySet()) {
            if (!known.contains(name)) {
                String shown = Redactor.mask(name, 64);
                ResteasyReactiveRequestContext request = CurrentRequestManager.get();
                String endpoint = request == null || request.getMethod() == null ? "this endpoint"
                        : request.getMethod() + " here";
                String takes = known.isEmpty() ? " takes no query parameters"
                        : " takes only " + String.join(", ", known);
                throw ApiProblem.badRequest(shown, "unknown query parameter " + shown + "; " + endpoint + takes);
            }
        }
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

    /**
     * A UUID in its canonical form (8-4-4-4-12 hex digits): {@link UUID#fromString} alone also takes "1-1-1-1-1",
     * which names another id than the one written.
     */
    public static UUID uuid(String field, String value) {
        if (value == null || value.length() != 36) {
            throw notUuid(field);
        }
        for (int i = 0; i < 36; i++) {
            char c = value.charAt(i);
            boolean dash = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash ? c != '-' : Character.digit(c, 16) < 0 || c > 'f') {
                throw notUuid(field);
            }
        }
        return UUID.fromString(value);
    }

    private static ApiProblem notUuid(String field) {
        return ApiProblem.badRequest(field, field + " must be a UUID such as 123e4567-e89b-12d3-a456-426614174000");
    }

    /**
     * A plain decimal number from 0 to 1 ("0.4", ".5", "1"), or null when absent: not Java's wider number syntax
     * ("0x1p-1", "1d", "NaN"), which {@link Double#parseDouble} also takes.
     */
    public static Double fraction(String field, String value) {
        if (value == null) {
            return null;
        }
        int dot = value.indexOf('.');
        boolean digits = !value.isEmpty() && value.length() <= 32 && value.lastIndexOf('.') == dot
                && value.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9')) && !value.equals(".");
        double number = digits ? Double.parseDouble(value) : Double.NaN;
        if (!(number >= 0 && number <= 1)) {
            throw ApiProblem.badRequest(field, field + " must be a number from 0 to 1");
        }
        return number;
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
            // A query's bare '+' arrives as a space: "10:00:00+02:00" sent unencoded reads "10:00:00 02:00".
            String plus = value.indexOf(' ') >= 0 ? "; a '+' of a time-zone offset must be sent encoded, as %2B" : "";
            throw ApiProblem.badRequest(field, field + " must be an ISO-8601 instant such as 2026-11-28T10:00:00Z"
                    + plus);
        }
        if (!StorableTime.contains(at)) {
            throw ApiProblem.badRequest(field, field + " must lie within " + StorableTime.RANGE);
        }
        return at;
    }
}
