package io.faultline.cost;

import io.faultline.taxonomy.Severity;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;

/** Thresholds of {@code token_spike}: one call, or a window of a deployment, far above its rolling p99. */
@ConfigMapping(prefix = "faultline.token-spike")
public interface TokenSpikeConfig {

    /** A call spikes when its tokens exceed the deployment's rolling p99 of calls by this factor. */
    @WithDefault("3.0")
    @DecimalMin(value = "0", inclusive = false)
    double callFactor();

    /** Recent calls per deployment the rolling p99 is taken over (a ring: the oldest call drops out). */
    @WithDefault("1024")
    @Min(1)
    int historyCalls();

    /**
     * A restart reads back each deployment's last {@code history-calls} calls started within this long (and the
     * deployments seen within it): a quiet deployment needs days to show {@code min-samples} calls, and a history of
     * hours only left it without per-call detection until it had made them again. Each deployment's read stops at
     * its history on the {@code (deployment, started_at)} index, so a longer horizon costs only the quiet ones.
     */
    @WithDefault("7d")
    @DurationMin(millis = 1)
    Duration historyHorizon();

    /** Calls a deployment must have shown before its p99 is trusted. */
    @WithDefault("200")
    @Min(1)
    int minSamples();

    /** A spike must also be at least this many tokens: tripling a 50-token p99 is no cost problem. */
    @WithDefault("1000")
    @Min(0)
    long minTokens();

    /** Length of the windows whose token totals are compared. */
    @WithDefault("5m")
    @DurationMin(millis = 1)
    Duration window();

    /** A window spikes when its total exceeds the rolling p99 of earlier windows by this factor. */
    @WithDefault("2.0")
    @DecimalMin(value = "0", inclusive = false)
    double windowFactor();

    /** Earlier windows kept per deployment (24 × 5 min = 2 h). */
    @WithDefault("24")
    @Min(1)
    int historyWindows();

    /** Earlier windows with traffic needed before a window is judged. */
    @WithDefault("6")
    @Min(1)
    int minWindows();

    /** Deployments followed at once; the least recently seen is evicted beyond this. */
    @WithDefault("1000")
    @Min(1)
    int maxKeys();

    /**
     * Of those, at most this many created by the calls of one LiteLLM key (its own oldest evicted beyond): a caller
     * inventing model names cannot push the other keys' deployments out. Also applies to the usage windows.
     */
    @WithDefault("200")
    @Min(1)
    int maxKeysPerApiKey();

    /** Severity of a spike. A storm of spiking calls is raised further by the severity policy. */
    @WithDefault("P3")
    Severity severity();
}
