package io.faultline.taxonomy;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/** An attack on, or a leak through, the LLM path. */
public record SecurityFailure(UUID failureId, Instant timestamp, Severity severity, String provider, String deployment,
        Type type, String detectionMethod, Map<String, Object> evidence, ImpactScope impactScope) implements Failure {

    /** The SECURITY subtypes. */
    public enum Type implements FailureType {
        PROMPT_INJECTION("prompt_injection"),
        PII_LEAKAGE("pii_leakage"),
        JAILBREAK_ATTEMPT("jailbreak_attempt"),
        UNAUTHORIZED_MODEL_ACCESS("unauthorized_model_access");

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
            return Category.SECURITY;
        }
    }

    @Override
    public Category category() {
        return Category.SECURITY;
    }
}
