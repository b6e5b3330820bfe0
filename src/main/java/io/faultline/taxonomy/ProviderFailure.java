package io.faultline.taxonomy;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/** A failure of the upstream provider or of the call to it. */
public record ProviderFailure(UUID failureId, Instant timestamp, Severity severity, String provider, String deployment,
        Type type, String detectionMethod, Map<String, Object> evidence, ImpactScope impactScope) implements Failure {

    /** The PROVIDER subtypes. */
    public enum Type implements FailureType {
        RATE_LIMIT("rate_limit"),
        OUTAGE("outage"),
        OVERLOADED("overloaded"),
        TIMEOUT("timeout"),
        MALFORMED_RESPONSE("malformed_response"),
        CONTEXT_OVERFLOW("context_overflow"),
        CONTENT_FILTERED("content_filtered");

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
            return Category.PROVIDER;
        }
    }

    @Override
    public Category category() {
        return Category.PROVIDER;
    }
}
