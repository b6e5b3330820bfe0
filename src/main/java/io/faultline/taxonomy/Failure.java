package io.faultline.taxonomy;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * One classified failure, as a classifier produced it from one call or signal. Episodes (rows of
 * {@code failure_events}) aggregate failures that share a {@link #fingerprint()}.
 */
public sealed interface Failure permits ProviderFailure, QualityFailure, CostFailure, SecurityFailure, DataFailure {

    UUID failureId();

    Instant timestamp();

    Severity severity();

    /** Provider family, e.g. openai, anthropic, gemini; "litellm" for the proxy's own refusals. */
    String provider();

    /** LiteLLM deployment (model_id), or null when the failure is not tied to one. */
    String deployment();

    FailureType type();

    Category category();

    /** Which rule saw it, e.g. {@code provider.status}, {@code provider.finish_reason}. */
    String detectionMethod();

    /** Masked facts that justify the classification; never raw prompts, answers or PII. */
    Map<String, Object> evidence();

    ImpactScope impactScope();

    /**
     * Category, type, provider and deployment: the identity of an episode. A failure tied to no deployment but judged
     * on one model group (a baseline deviation: baselines are per provider and group) is told apart by its group, so
     * two groups of a provider deviating at once are two episodes, not one that names the first group only.
     */
    default String fingerprint() {
        String group = impactScope() == null ? null : impactScope().modelGroup();
        String subject = deployment() != null ? deployment() : group != null ? "-|" + group : "-";
        return category() + "|" + type().code() + "|" + provider() + "|" + subject;
    }

    /** Builds the record of the type's category. */
    static Failure of(FailureType type, UUID id, Instant at, Severity severity, String provider, String deployment,
            String detectionMethod, Map<String, Object> evidence, ImpactScope scope) {
        if (type instanceof ProviderFailure.Type t) {
            return new ProviderFailure(id, at, severity, provider, deployment, t, detectionMethod, evidence, scope);
        } else if (type instanceof QualityFailure.Type t) {
            return new QualityFailure(id, at, severity, provider, deployment, t, detectionMethod, evidence, scope);
        } else if (type instanceof CostFailure.Type t) {
            return new CostFailure(id, at, severity, provider, deployment, t, detectionMethod, evidence, scope);
        } else if (type instanceof SecurityFailure.Type t) {
            return new SecurityFailure(id, at, severity, provider, deployment, t, detectionMethod, evidence, scope);
        } else if (type instanceof DataFailure.Type t) {
            return new DataFailure(id, at, severity, provider, deployment, t, detectionMethod, evidence, scope);
        }
        throw new IllegalArgumentException("unknown type " + type);
    }
}
