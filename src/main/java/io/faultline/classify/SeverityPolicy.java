package io.faultline.classify;

import io.faultline.taxonomy.FailureType;
import io.faultline.taxonomy.Severity;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * The documented severity table: a base severity per type, raised when an episode becomes a storm and again when
 * it spans every active deployment of a provider. Severity of an open episode only ever rises.
 */
@ApplicationScoped
public class SeverityPolicy {

    private final ClassifyConfig config;

    public SeverityPolicy(ClassifyConfig config) {
        this.config = config;
    }

    public Severity base(FailureType type) {
        return config.baseSeverity().getOrDefault(type.code(), Severity.P3);
    }

    /** Severity of an episode of {@code occurrences} calls, before the provider-wide rule. */
    public Severity forEpisode(FailureType type, long occurrences) {
        Severity severity = base(type);
        if (occurrences >= config.stormOccurrences()) {
            severity = severity.max(config.stormSeverity().getOrDefault(type.code(), severity));
        }
        return severity;
    }

    /** Severity when the failure covers every active deployment of its provider, or null if the type has none. */
    public Severity providerWide(FailureType type) {
        return config.providerWideSeverity().get(type.code());
    }

    public java.time.Duration deploymentActivityWindow() {
        return config.deploymentActivityWindow();
    }

    public long providerWideMinOccurrences() {
        return config.providerWideMinOccurrences();
    }
}
