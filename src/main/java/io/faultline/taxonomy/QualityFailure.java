package io.faultline.taxonomy;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/** An answer that arrived but is wrong, unfaithful or unusable. */
public record QualityFailure(UUID failureId, Instant timestamp, Severity severity, String provider, String deployment,
        Type type, String detectionMethod, Map<String, Object> evidence, ImpactScope impactScope) implements Failure {

    /** The QUALITY subtypes. */
    public enum Type implements FailureType {
        HALLUCINATION("hallucination"),
        LOW_FAITHFULNESS("low_faithfulness"),
        FORMAT_NON_COMPLIANCE("format_non_compliance"),
        LANGUAGE_DRIFT("language_drift");

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
            return Category.QUALITY;
        }
    }

    @Override
    public Category category() {
        return Category.QUALITY;
    }
}
