package io.faultline.baseline;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;
import java.util.Optional;

/** Baseline profiling and deviation detection. */
@ConfigMapping(prefix = "faultline.baseline")
public interface BaselineConfig {

    /** The LiteLLM proxy that profiles are sent through. */
    @WithDefault("http://127.0.0.1:4000")
    String litellmUrl();

    /** The proxy key profiles use (LiteLLM's master key or a virtual key); from env only. */
    Optional<String> litellmKey();

    /** Requests per provider in a default profile. */
    @WithDefault("1000")
    @Min(1)
    int requests();

    /** Requests in flight at once during a profile. */
    @WithDefault("4")
    @Min(1)
    int concurrency();

    /**
     * Requests per second during a profile: 5/s (300 RPM) stays inside the lowest paid tiers of all three providers,
     * so a profile does not eat the quota live traffic needs.
     */
    @WithDefault("5")
    @DecimalMin(value = "0", inclusive = false)
    double ratePerSecond();

    /**
     * Requests sent before measuring and not recorded: the proxy's first call to a provider pays for lazy imports and
     * new connections, which is not the provider's latency.
     */
    @WithDefault("3")
    @Min(0)
    int warmupRequests();

    /** Timeout of one profiled request. */
    @WithDefault("60s")
    @DurationMin(millis = 1)
    Duration requestTimeout();

    /** Context window assumed for the near-context-limit prompt, in tokens. */
    @WithDefault("128000")
    @Min(1)
    int contextTokens();

    /** A current value above this multiple of the baseline p95 is a deviation. */
    @WithDefault("2.0")
    @DecimalMin(value = "0", inclusive = false)
    double deviationFactor();

    /** The rolling window the current values are computed over. */
    @WithDefault("5m")
    @DurationMin(millis = 1)
    Duration deviationWindow();

    /** Calls a window needs before a deviation can be raised, so that quiet deployments do not flap. */
    @WithDefault("20")
    @Min(1)
    int minSamples();

    /**
     * Baseline profiles running at once across all providers (and replicas): each one is paid traffic through the
     * proxy, and several at once would eat the quota live traffic needs. Beyond it a start is a 429.
     */
    @WithDefault("2")
    @Min(1)
    int maxConcurrentRuns();

    /**
     * Profiled requests per rolling 24 hours across all runs (a running run counts its total, a finished one what it
     * sent): 20,000 is twenty default profiles. A start that would exceed it is a 429 saying how much is left.
     */
    @WithDefault("20000")
    @Min(0)
    long maxRequestsPerDay();

    /**
     * How long a finished run's live state stays in memory after it ends; after that its status is read from the
     * database ({@code baseline_runs}), which keeps every run.
     */
    @WithDefault("1h")
    @DurationMin(millis = 1)
    Duration finishedRunRetention();

    /**
     * How often the current window is compared with the baselines ({@code DeviationDetector}'s schedule, which reads
     * the same key). Declared here so that the key belongs to this mapping: set as a system property it would
     * otherwise fail the start-up's check of the {@code faultline.baseline} prefix.
     */
    @WithDefault("60s")
    @DurationMin(millis = 1)
    Duration deviationEvery();
}
