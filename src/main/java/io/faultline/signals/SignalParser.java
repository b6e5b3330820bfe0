package io.faultline.signals;

import com.fasterxml.jackson.databind.JsonNode;
import io.faultline.common.Redactor;
import io.faultline.common.StorableTime;
import io.faultline.web.Params;
import jakarta.inject.Singleton;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Strict reading of the three signal shapes: required fields present and typed, no unknown fields (a snake_case
 * {@code top_score} is a typo the client should hear about, not a silently missing score), times not in the future.
 */
@Singleton
public class SignalParser {

    static final int MAX_NAME_LENGTH = 200;
    static final int MAX_ERROR_LENGTH = 300;
    /** The indexes one pipeline run may name as fed by it: a pipeline feeding more is split by the caller. */
    static final int MAX_INDEXES = 50;
    private static final Duration MAX_DURATION = Duration.ofDays(366);
    private static final int SAFE_NAME_LENGTH = 60;
    /** Longer than any ISO-8601 instant or duration a client means; longer text is refused before it is parsed. */
    private static final int MAX_TIME_LENGTH = 64;

    private static final Set<String> RETRIEVAL_FIELDS = Set.of("signalId", "index", "at", "topScore", "meanScore",
            "hits", "k");
    private static final Set<String> INDEX_FIELDS = Set.of("signalId", "index", "lastUpdatedAt", "at", "maxAge",
            "heartbeatTimeout");
    private static final Set<String> INGESTION_FIELDS = Set.of("signalId", "pipeline", "runId", "status",
            "startedAt", "finishedAt", "error", "expectedEvery", "indexes");

    static final double MAX_SCORE = 1e9;

    private final SignalsConfig config;

    public SignalParser(SignalsConfig config) {
        this.config = config;
    }

    public Signal.Retrieval retrieval(JsonNode node, Instant now) {
        object(node, RETRIEVAL_FIELDS);
        String signalId = name(node, "signalId");
        String index = name(node, "index");
        Instant at = optionalInstant(node, "at", now);
        notFuture("at", at, now);
        double topScore = score(node, "topScore");
        Double meanScore = node.hasNonNull("meanScore") ? score(node, "meanScore") : null;
        if (meanScore != null && meanScore > topScore) {
            throw new InvalidSignalException("meanScore", "meanScore (" + meanScore + ") cannot exceed topScore ("
                    + topScore + ")");
        }
        Integer hits = optionalCount(node, "hits", 0);
        Integer k = optionalCount(node, "k", 1);
        if (hits != null && k != null && hits > k) {
            throw new InvalidSignalException("hits", "hits (" + hits + ") cannot exceed k (" + k + ")");
        }
        return new Signal.Retrieval(Signal.Retrieval.API, signalId, index, at, topScore, meanScore, hits, k);
    }

    public Signal.IndexReport index(JsonNode node, Instant now) {
        object(node, INDEX_FIELDS);
        String signalId = name(node, "signalId");
        String index = name(node, "index");
        Instant lastUpdatedAt = requiredInstant(node, "lastUpdatedAt");
        Instant at = optionalInstant(node, "at", now);
        notFuture("at", at, now);
        if (lastUpdatedAt.isAfter(at.plus(config.maxClockSkew()))) {
            throw new InvalidSignalException("lastUpdatedAt", "lastUpdatedAt (" + lastUpdatedAt
                    + ") lies after the report's time (" + at + ")");
        }
        return new Signal.IndexReport(signalId, index, lastUpdatedAt, at, optionalDuration(node, "maxAge"),
                optionalDuration(node, "heartbeatTimeout"));
    }

    public Signal.IngestionRun ingestion(JsonNode node, Instant now) {
        object(node, INGESTION_FIELDS);
        String signalId = name(node, "signalId");
        String pipeline = name(node, "pipeline");
        String runId = name(node, "runId");
        String status = text(node, "status", true);
        if (!status.equals("succeeded") && !status.equals("failed")) {
            throw new InvalidSignalException("status", "status must be \"succeeded\" or \"failed\", got \""
                    + Redactor.mask(status, 40) + "\"");
        }
        Instant startedAt = requiredInstant(node, "startedAt");
        notFuture("startedAt", startedAt, now);
        Instant finishedAt = optionalInstant(node, "finishedAt", null);
        if (finishedAt != null) {
            notFuture("finishedAt", finishedAt, now);
            if (finishedAt.isBefore(startedAt)) {
                throw new InvalidSignalException("finishedAt", "finishedAt (" + finishedAt + ") lies before startedAt ("
                        + startedAt + ")");
            }
        }
        String error = text(node, "error", false);
        return new Signal.IngestionRun(signalId, pipeline, runId, status.equals("failed"), startedAt, finishedAt,
                error == null ? null : Redactor.mask(error, MAX_ERROR_LENGTH), optionalDuration(node, "expectedEvery"),
                names(node, "indexes", MAX_INDEXES));
    }

    /** An optional array of names (each as {@link #name}), at most {@code max}, repeats dropped, order kept. */
    private static List<String> names(JsonNode node, String field, int max) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return List.of();
        }
        if (!value.isArray()) {
            throw new InvalidSignalException(field, field + " must be an array of names, got "
                    + value.getNodeType().name().toLowerCase());
        }
        if (value.size() > max) {
            throw new InvalidSignalException(field, field + " has " + value.size() + " entries; at most " + max
                    + " are accepted");
        }
        Set<String> names = new LinkedHashSet<>();
        for (int i = 0; i < value.size(); i++) {
            JsonNode item = value.get(i);
            String at = field + "[" + i + "]";
            if (!item.isTextual()) {
                throw new InvalidSignalException(at, at + " must be a string, got "
                        + item.getNodeType().name().toLowerCase());
            }
            names.add(checkedName(at, item.textValue()));
        }
        return List.copyOf(names);
    }

    private static void object(JsonNode node, Set<String> allowed) {
        if (node == null || !node.isObject()) {
            throw new InvalidSignalException("$", "Expected a JSON object, got "
                    + (node == null ? "nothing" : node.getNodeType().name().toLowerCase()));
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!allowed.contains(name)) {
                throw new InvalidSignalException(safeName(name), "Unknown field \"" + safeName(name)
                        + "\"; the fields are " + allowed.stream().sorted().toList());
            }
        }
    }

    /** A field name fit for an error message: cut first (it is the caller's), control characters shown as '?'. */
    private static String safeName(String name) {
        StringBuilder shown = new StringBuilder(Math.min(name.length(), SAFE_NAME_LENGTH + 1));
        for (int i = 0; i < name.length() && i <= SAFE_NAME_LENGTH; i++) {
            char c = name.charAt(i);
            shown.append(c < 0x20 || c == 0x7F ? '?' : c);
        }
        return Redactor.mask(shown.toString(), SAFE_NAME_LENGTH);
    }

    private static String text(JsonNode node, String field, boolean required) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            if (required) {
                throw new InvalidSignalException(field, field + " is required");
            }
            return null;
        }
        if (!value.isTextual()) {
            throw new InvalidSignalException(field, field + " must be a string, got "
                    + value.getNodeType().name().toLowerCase());
        }
        return value.textValue();
    }

    /** An id or a name: 1 to 200 characters, no control characters, no surrounding blanks. */
    private static String name(JsonNode node, String field) {
        return checkedName(field, text(node, field, true));
    }

    private static String checkedName(String field, String value) {
        String problem = nameProblem(field, value);
        if (problem != null) {
            throw new InvalidSignalException(field, problem);
        }
        return value;
    }

    /**
     * What is wrong with a name given in {@code field}, or null: one rule for every way an index or pipeline is
     * named (a signal, and registering an index), so that a name taken by one is taken by the other.
     */
    static String nameProblem(String field, String value) {
        if (value.codePoints().allMatch(SignalParser::blank)) {
            return field + " must not be blank";
        }
        if (value.length() > MAX_NAME_LENGTH) {
            return field + " is longer than " + MAX_NAME_LENGTH + " characters";
        }
        if (blank(value.codePointAt(0)) || blank(value.codePointBefore(value.length()))
                || !Params.plainText(value)) {
            return field + " must not contain control or bidirectional control characters, lone UTF-16 surrogates"
                    + " or surrounding blanks";
        }
        return null;
    }

    /**
     * Blank by Unicode's definition, not only Java's whitespace: a no-break space (U+00A0) or a zero-width space
     * (U+200B) alone looked like no name at all, or one padded with them like another name, yet was taken.
     */
    private static boolean blank(int codePoint) {
        return Character.isWhitespace(codePoint) || Character.isSpaceChar(codePoint)
                || Character.getType(codePoint) == Character.FORMAT;
    }

    private static Instant requiredInstant(JsonNode node, String field) {
        return instant(field, text(node, field, true));
    }

    private static Instant optionalInstant(JsonNode node, String field, Instant fallback) {
        String value = text(node, field, false);
        return value == null ? fallback : instant(field, value);
    }

    private static Instant instant(String field, String value) {
        try {
            if (value.length() > MAX_TIME_LENGTH) {
                throw new DateTimeParseException("too long", "", 0);
            }
            Instant at = Instant.parse(value);
            if (!StorableTime.contains(at)) {
                throw new InvalidSignalException(field, field + " must lie within " + StorableTime.RANGE);
            }
            return at;
        } catch (DateTimeParseException e) {
            throw new InvalidSignalException(field, field + " must be an ISO-8601 instant such as"
                    + " 2026-11-28T10:00:00Z");
        }
    }

    private void notFuture(String field, Instant value, Instant now) {
        if (value.isAfter(now.plus(config.maxClockSkew()))) {
            throw new InvalidSignalException(field, field + " (" + value + ") lies in the future; now is " + now
                    + ": check the sender's clock (tolerance: faultline.signals.max-clock-skew)",
                    SignalResource.Rejected.IN_FUTURE);
        }
    }

    private static Duration optionalDuration(JsonNode node, String field) {
        String value = text(node, field, false);
        if (value == null) {
            return null;
        }
        Duration duration;
        try {
            if (value.length() > MAX_TIME_LENGTH) {
                throw new DateTimeParseException("too long", "", 0);
            }
            duration = Duration.parse(value);
        } catch (DateTimeParseException e) {
            throw new InvalidSignalException(field, field + " must be an ISO-8601 duration such as PT24H or PT15M");
        }
        // Stored in whole seconds (a sub-second maxAge became 0, which the table refuses, failing the whole batch).
        if (duration.compareTo(Duration.ofSeconds(1)) < 0 || duration.compareTo(MAX_DURATION) > 0) {
            throw new InvalidSignalException(field, field + " must be at least 1 second and at most 366 days");
        }
        return duration;
    }

    /**
     * A number from 0 to {@link #MAX_SCORE}: relative drops are only meaningful for scores that do not cross zero, and
     * a window sums its scores (scores near the largest double summed to infinity in a drop's evidence). Rerankers
     * score 0 to 1, BM25 in the tens.
     */
    private static double score(JsonNode node, String field) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            throw new InvalidSignalException(field, field + " is required");
        }
        if (!value.isNumber()) {
            throw new InvalidSignalException(field, field + " must be a number, got "
                    + value.getNodeType().name().toLowerCase());
        }
        double score = value.doubleValue();
        if (!(score >= 0 && score <= MAX_SCORE)) {
            throw new InvalidSignalException(field, field + " must be a number from 0 to " + (long) MAX_SCORE);
        }
        return score;
    }

    private static Integer optionalCount(JsonNode node, String field, int min) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isIntegralNumber() || !value.canConvertToInt() || value.intValue() < min) {
            throw new InvalidSignalException(field, field + " must be an integer >= " + min);
        }
        return value.intValue();
    }
}
