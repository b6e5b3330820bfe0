package io.faultline.signals;

import io.faultline.taxonomy.DataFailure;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
import io.faultline.taxonomy.Severity;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * DATA failures from signals. The episode identity is (DATA, type, provider, deployment): provider is always
 * {@code "pipeline"} (no model provider is at fault) and deployment is the index or pipeline name, so each index and
 * each pipeline has its own episodes.
 */
final class DataFailures {

    static final String PROVIDER = "pipeline";
    private static final ImpactScope NO_CALL = new ImpactScope(null, null, null, null, null);

    private DataFailures() {
    }

    static Failure of(DataFailure.Type type, Instant at, Severity severity, String subject, String detectionMethod,
            Map<String, Object> evidence, ImpactScope scope) {
        return Failure.of(type, UUID.randomUUID(), at, severity, PROVIDER, subject, detectionMethod, evidence,
                scope == null ? NO_CALL : scope);
    }

    static double round(double value) {
        return Double.isFinite(value) ? BigDecimal.valueOf(value).setScale(4, RoundingMode.HALF_UP).doubleValue()
                : value;
    }
}
