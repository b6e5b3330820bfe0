package io.faultline.classify;

import io.faultline.taxonomy.Severity;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;
import java.util.Map;

/** Thresholds of the call classifier and the severity policy (README: "Severity policy"). */
@ConfigMapping(prefix = "faultline.classify")
public interface ClassifyConfig {

    /** A successful call slower than this is a PROVIDER timeout; LiteLLM's own timeouts arrive as errors. */
    @WithDefault("60s")
    @DurationMin(millis = 1)
    Duration timeout();

    /** Severity of a single occurrence, by failure type code. Types not listed are P3. */
    Map<String, Severity> baseSeverity();

    /** Severity once an episode reaches {@link #stormOccurrences()}, by type code. */
    Map<String, Severity> stormSeverity();

    /** Severity when every recently active deployment of the provider has an open episode of the type. */
    Map<String, Severity> providerWideSeverity();

    /** Occurrences within one episode that make it a storm. */
    @WithDefault("20")
    @Min(1)
    long stormOccurrences();

    /** Occurrences, summed over a provider's episodes of one type, before "provider-wide" can apply. */
    @WithDefault("10")
    @Min(1)
    long providerWideMinOccurrences();

    /** A deployment counts as active for "provider-wide" if it served a call within this window. */
    @WithDefault("1h")
    @DurationMin(millis = 1)
    Duration deploymentActivityWindow();
}
