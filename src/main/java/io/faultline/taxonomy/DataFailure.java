package io.faultline.taxonomy;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/** A failure of the retrieval or ingestion pipeline around the model. */
public record DataFailure(UUID failureId, Instant timestamp, Severity severity, String provider, String deployment,
        Type type, String detectionMethod, Map<String, Object> evidence, ImpactScope impactScope) implements Failure {

    /** The DATA subtypes. */
    public enum Type implements FailureType {
        EMBEDDING_DRIFT("embedding_drift"),
        RETRIEVAL_QUALITY_DROP("retrieval_quality_drop"),
        STALE_INDEX("stale_index"),
        INGESTION_FAILURE("ingestion_failure");

        private final String code;

        Type(String code) {
            this.code = code;
        }

        @Override
        public String code() {
            return code;
        }

        @Override
        public Category category() {
            return Category.DATA;
        }
    }

    @Override
    public Category category() {
        return Category.DATA;
    }
}
