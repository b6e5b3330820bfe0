package io.faultline.signals;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One validated DATA signal, as an application reported it (or as a call's metadata carried it). */
public sealed interface Signal {

    /** Kind as stored in {@code data_signals.kind}. */
    String kind();

    /** The client's idempotency key, unique per kind. */
    String signalId();

    /** The index or pipeline the signal is about. */
    String subject();

    /** When it happened: the failure time of what it raises. */
    Instant at();

    /** What is stored: the normalised fields, error text already masked. */
    Map<String, Object> payload();

    /** Retrieval scores of one query (or one aggregate the application computed) against one index. */
    record Retrieval(String kind, String signalId, String index, Instant at, double topScore, Double meanScore,
            Integer hits, Integer k) implements Signal {

        public static final String API = "retrieval";
        public static final String CALL = "retrieval_call";

        @Override
        public String subject() {
            return index;
        }

        @Override
        public Map<String, Object> payload() {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("index", index);
            p.put("at", at.toString());
            p.put("topScore", topScore);
            putIf(p, "meanScore", meanScore);
            putIf(p, "hits", hits);
            putIf(p, "k", k);
            return p;
        }
    }

    /** The freshness of one index; every report is also the index's heartbeat. */
    record IndexReport(String signalId, String index, Instant lastUpdatedAt, Instant at, Duration maxAge,
            Duration heartbeatTimeout) implements Signal {

        public static final String KIND = "index";

        @Override
        public String kind() {
            return KIND;
        }

        @Override
        public String subject() {
            return index;
        }

        @Override
        public Map<String, Object> payload() {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("index", index);
            p.put("lastUpdatedAt", lastUpdatedAt.toString());
            p.put("at", at.toString());
            putIf(p, "maxAge", maxAge);
            putIf(p, "heartbeatTimeout", heartbeatTimeout);
            return p;
        }
    }

    /**
     * One run of an ingestion pipeline; {@code expectedEvery} is the pipeline's schedule, when it has one, and
     * {@code indexes} the indexes it feeds, when the caller names them (empty otherwise).
     */
    record IngestionRun(String signalId, String pipeline, String runId, boolean failed, Instant startedAt,
            Instant finishedAt, String error, Duration expectedEvery, List<String> indexes) implements Signal {

        public static final String KIND = "ingestion";

        @Override
        public String kind() {
            return KIND;
        }

        @Override
        public String subject() {
            return pipeline;
        }

        /** The latest moment the run is known to have been alive. */
        @Override
        public Instant at() {
            return finishedAt != null ? finishedAt : startedAt;
        }

        public String status() {
            return failed ? "failed" : "succeeded";
        }

        @Override
        public Map<String, Object> payload() {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("pipeline", pipeline);
            p.put("runId", runId);
            p.put("status", status());
            p.put("startedAt", startedAt.toString());
            putIf(p, "finishedAt", finishedAt);
            putIf(p, "error", error);
            putIf(p, "expectedEvery", expectedEvery);
            if (!indexes.isEmpty()) {
                p.put("indexes", indexes);
            }
            return p;
        }
    }

    private static void putIf(Map<String, Object> map, String key, Object value) {
        if (value != null) {
            map.put(key, value instanceof Number || value instanceof String ? value : value.toString());
        }
    }
}
