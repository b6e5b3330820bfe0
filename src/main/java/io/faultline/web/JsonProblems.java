package io.faultline.web;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;

import java.util.List;
import java.util.Map;

/**
 * Turns a JSON error of a request body into a 400 problem that says what to fix: where the body stops being JSON, the
 * parser limit it exceeds, or the field whose value has the wrong type. Never a class name: Jackson's own messages
 * name the Java types a body is bound to.
 */
public final class JsonProblems {

    private JsonProblems() {
    }

    public static ApiProblem of(JsonProcessingException e) {
        if (e instanceof MismatchedInputException && e.getOriginalMessage() != null
                && e.getOriginalMessage().startsWith("Trailing token")) {
            String detail = "The body holds more than one JSON value; send exactly one.";
            return new ApiProblem(400, "Invalid request", detail, List.of(Map.of("field", "$", "message", detail)));
        }
        if (e instanceof UnrecognizedPropertyException unknown) {
            String field = path(unknown.getPath());
            List<String> known = unknown.getKnownPropertyIds() == null ? List.of()
                    : unknown.getKnownPropertyIds().stream().map(String::valueOf).sorted().toList();
            // A field of the body that comes again after the record was complete has nowhere to go either.
            String detail = known.contains(unknown.getPropertyName()) ? field + " is given more than once."
                    : field + " is not a field of this body" + (known.isEmpty() ? "." : "; the fields are "
                            + String.join(", ", known) + ".");
            return new ApiProblem(400, "Invalid request", detail, List.of(Map.of("field", field, "message", detail)));
        }
        if (e instanceof JsonMappingException mapping && !(e instanceof StreamConstraintsException)) {
            String field = path(mapping.getPath());
            String expected = e instanceof MismatchedInputException mismatch ? expected(mismatch.getTargetType())
                    : e.getCause() instanceof InputCoercionException ? "a number in range" : "a valid value";
            String detail = field.equals("$") ? "The body must be " + expected + "." : field + " must be " + expected
                    + ".";
            return new ApiProblem(400, "Invalid request", detail, List.of(Map.of("field", field, "message", detail)));
        }
        String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column "
                + e.getLocation().getColumnNr();
        if (e instanceof StreamConstraintsException) {
            return new ApiProblem(400, "Malformed JSON", "The body exceeds a JSON limit" + where + " (nesting deeper"
                    + " than 1000 levels, a number longer than 1000 digits, a string longer than 20 million"
                    + " characters or a key longer than " + StreamReadConstraints.defaults().getMaxNameLength()
                    + " characters).");
        }
        return new ApiProblem(400, "Malformed JSON", "The body is not valid JSON" + where + ": "
                + e.getOriginalMessage());
    }

    /** {@code modelGroup}, {@code vectors[3]}, {@code warnAt[0]}, or {@code $} for the body itself. */
    static String path(List<JsonMappingException.Reference> references) {
        StringBuilder out = new StringBuilder();
        for (JsonMappingException.Reference reference : references) {
            if (reference.getFieldName() != null) {
                out.append(out.isEmpty() ? "" : ".").append(reference.getFieldName());
            } else if (reference.getIndex() >= 0) {
                out.append('[').append(reference.getIndex()).append(']');
            }
        }
        return out.isEmpty() ? "$" : out.toString();
    }

    private static String expected(Class<?> type) {
        if (type == null) {
            return "a valid value";
        }
        if (type == String.class || type == Character.class || type == char.class || type.isEnum()) {
            return "a string";
        }
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class
                || type == Short.class || type == short.class) {
            return "an integer in range";
        }
        if (Number.class.isAssignableFrom(type) || type == double.class || type == float.class) {
            return "a number";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        if (type.isArray() || java.util.Collection.class.isAssignableFrom(type)) {
            return "an array";
        }
        return "a JSON object";
    }
}
