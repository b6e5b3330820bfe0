package io.faultline.taxonomy;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/** Spend or token use beyond what was budgeted or normal. */
public record CostFailure(UUID failureId, Instant timestamp, Severity severity, String provider, String deployment,
        Type type, String detectionMethod, Map<String, Object> evidence, ImpactScope impactScope) implements Failure {

    /** The COST subtypes. */
    public enum Type implements FailureType {
        BUDGET_EXCEEDED("budget_exceeded"),
        TOKEN_SPIKE("token_spike"),
        CACHE_MISS_STORM("cache_miss_storm"),
        BATCH_COST_OVERRUN("batch_cost_overrun");

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
            return Category.COST;
        }
    }

    @Override
    public Category category() {
        return Category.COST;
    }
}
