package io.faultline.classify;

import io.faultline.call.LlmCall;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.FailureType;
import io.faultline.taxonomy.ImpactScope;
import io.faultline.taxonomy.Severity;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/** Builds a failure of one call with the evidence every call-level rule records. */
public final class CallFailures {

    private CallFailures() {
    }

    public static Failure of(FailureType type, LlmCall call, String detectionMethod, Severity severity,
            Map<String, Object> extraEvidence) {
        return of(type, call, call.provider(), call.deployment(), detectionMethod, severity, extraEvidence);
    }

    /** A failure attributed elsewhere than the call's own provider and deployment (e.g. to the proxy itself). */
    public static Failure of(FailureType type, LlmCall call, String provider, String deployment, String detectionMethod,
            Severity severity, Map<String, Object> extraEvidence) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("call_id", call.callId());
        evidence.put("model", call.model());
        if (call.httpStatus() != null) {
            evidence.put("http_status", call.httpStatus());
        }
        putIfPresent(evidence, "error_class", call.errorClass());
        putIfPresent(evidence, "error_code", call.errorCode());
        putIfPresent(evidence, "error_message", call.errorMessage());
        evidence.put("latency_ms", Math.round(call.latencyMs()));
        evidence.putAll(extraEvidence);
        ImpactScope scope = new ImpactScope(call.model(), call.modelGroup(), call.callId(), call.userRef(),
                call.teamId(), call.traceId(), call.startedAt());
        return Failure.of(type, UUID.randomUUID(), call.endedAt(), severity, provider, deployment, detectionMethod,
                evidence, scope);
    }

    public static void putIfPresent(Map<String, Object> map, String key, Object value) {
        if (value != null) {
            map.put(key, value);
        }
    }
}
