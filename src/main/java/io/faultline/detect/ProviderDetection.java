package io.faultline.detect;

import io.faultline.call.LlmCall;
import io.faultline.common.MetricLabels;
import io.faultline.taxonomy.Category;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.SecurityFailure;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Routes every stored call to the detector of its provider and keeps the provider metrics: errors by type, latency,
 * rate-limit headroom and thinking tokens. Labels stay low-cardinality: provider, error type, limit type and model,
 * never a user, key or request id; provider and model names come from callers, so both are capped by
 * {@link MetricLabels} (then "other"). Live headroom is kept per deployment, in a bounded least-recently-seen map.
 */
@Startup
@Singleton
public class ProviderDetection implements io.faultline.common.BoundedState {

    private final List<ProviderFailureDetector> detectors;
    private final ProviderFailureDetector fallback = new GenericFailureDetector();
    private final MeterRegistry registry;
    private final DetectConfig config;
    private final MetricLabels labels;
    private final Map<String, Timer> latency = new ConcurrentHashMap<>();
    private final Map<String, Timer> latencyHistogram = new ConcurrentHashMap<>();
    private final Map<String, Counter> errors = new ConcurrentHashMap<>();
    private final Map<String, Counter> approaching = new ConcurrentHashMap<>();
    private final Map<String, Counter> late = new ConcurrentHashMap<>();
    private final Map<String, Counter> thinkingTokens = new ConcurrentHashMap<>();
    private final Map<String, Counter> thinkingCost = new ConcurrentHashMap<>();
    private final Map<String, HeadroomGauge> gauges = new ConcurrentHashMap<>();
    private final Clock clock;
    private final Map<String, DeploymentHeadroom> deployments;

    /** The latest readings of one deployment. */
    private record DeploymentHeadroom(String provider, Map<LimitType, Headroom> readings) {
    }

    /** What the headroom gauges of one (provider, limit type) show: the tightest fresh deployment. */
    private record HeadroomGauge(String provider, LimitType type) {
    }

    @Inject
    public ProviderDetection(Instance<ProviderFailureDetector> detectors, MeterRegistry registry, DetectConfig config,
            MetricLabels labels, Clock clock) {
        this(detectors.stream().toList(), registry, config, labels, clock);
    }

    ProviderDetection(List<ProviderFailureDetector> detectors, MeterRegistry registry, DetectConfig config,
            Clock clock) {
        this(detectors, registry, config, new MetricLabels(200), clock);
    }

    ProviderDetection(List<ProviderFailureDetector> detectors, MeterRegistry registry, DetectConfig config,
            MetricLabels labels, Clock clock) {
        this.clock = clock;
        this.detectors = detectors;
        this.registry = registry;
        this.config = config;
        this.labels = labels;
        int max = config.maxDeployments();
        this.deployments = java.util.Collections.synchronizedMap(new LinkedHashMap<>(64, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, DeploymentHeadroom> eldest) {
                return size() > max;
            }
        });
    }

    /** Deployments whose headroom is currently held in memory. */
    int trackedDeployments() {
        return deployments.size();
    }

    /** The headroom map, and the meter maps, capped through {@link MetricLabels} (no cap of their own). */
    @Override
    public List<Held> boundedMaps() {
        return List.of(new Held("detect.deployment-headroom", config.maxDeployments(), this::trackedDeployments),
                new Held("detect.provider-meters", 0, () -> latency.size() + latencyHistogram.size() + errors.size()
                        + approaching.size() + late.size() + thinkingTokens.size() + thinkingCost.size()
                        + gauges.size()));
    }

    public ProviderFailureDetector detectorFor(String provider) {
        for (ProviderFailureDetector detector : detectors) {
            if (detector.speaks(provider)) {
                return detector;
            }
        }
        return fallback;
    }

    /**
     * Updates the metrics from one newly stored call and the failures the classifier found in it; {@code now} is when
     * it was stored. A call that ended before {@link DetectConfig#liveMaxAge} is only counted as late.
     */
    public void observe(LlmCall call, List<Failure> failures, Instant now) {
        if ("litellm".equals(call.provider()) || refusedByProxy(failures)) {
            return; // refused by the proxy: no provider was called
        }
        ProviderFailureDetector detector = detectorFor(call.provider());
        // Every map below is keyed by label values, never by raw caller names: capped, they stay bounded.
        String provider = labels.value("provider", call.provider());
        if (call.endedAt().isBefore(now.minus(config.liveMaxAge()))) {
            late.computeIfAbsent(provider, p -> Counter.builder("llm.provider.late.calls")
                    .description("Calls left out of the live provider metrics: they ended more than"
                            + " faultline.detect.live-max-age before they were stored (backfills, late spools)")
                    .tag("provider", p).register(registry)).increment();
            return;
        }
        // A summary (this replica's quantiles) and a histogram (buckets that aggregate across replicas) are two
        // metric families: the Prometheus format cannot carry quantiles and buckets in one.
        long micros = Math.round(call.latencyMs() * 1000);
        latency.computeIfAbsent(provider, p -> Timer.builder("llm.provider.latency")
                .description("Latency of provider calls through LiteLLM, quantiles of this replica")
                .tag("provider", p).publishPercentiles(0.5, 0.95, 0.99).register(registry))
                .record(micros, TimeUnit.MICROSECONDS);
        latencyHistogram.computeIfAbsent(provider, p -> Timer.builder("llm.provider.call.duration")
                .description("Latency of provider calls through LiteLLM as histogram buckets; dashboards aggregate these")
                .tag("provider", p).publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(5))
                .maximumExpectedValue(Duration.ofMinutes(5)).register(registry))
                .record(micros, TimeUnit.MICROSECONDS);

        String detected = detector.errorType(call, classified(call, failures));
        if (detected != null) {
            String errorType = labels.value("error_type", detected);
            errors.computeIfAbsent(provider + "|" + errorType, k -> Counter.builder("llm.provider.errors")
                    .description("Failed or content-filtered provider calls, by the provider's error type")
                    .tag("provider", provider).tag("error_type", errorType).register(registry)).increment();
        }
        List<Headroom> readings = detector.headroom(call);
        if (!readings.isEmpty() && !call.endedAt().isBefore(now.minus(config.headroomMaxAge()))) {
            updateHeadroom(now, call, provider, readings);
        }
        if (call.reasoningTokens() > 0) {
            String model = labels.value("model", call.model());
            String key = provider + "|" + model;
            thinkingTokens.computeIfAbsent(key, k -> Counter.builder("llm.thinking.tokens")
                    .description("Reasoning / extended-thinking tokens billed as output").baseUnit("tokens")
                    .tag("provider", provider).tag("model", model).register(registry))
                    .increment(call.reasoningTokens());
            thinkingCost.computeIfAbsent(key, k -> Counter.builder("llm.thinking.cost.usd")
                    .description("Cost of reasoning / extended-thinking tokens in USD")
                    .tag("provider", provider).tag("model", model).register(registry))
                    .increment(call.thinkingCostUsd());
        }
    }

    /**
     * The proxy refused the call itself (a caller's key, a budget of its own): the classifier files it under provider
     * {@code litellm}, whichever provider LiteLLM stamped on the request it never sent.
     */
    private static boolean refusedByProxy(List<Failure> failures) {
        for (Failure failure : failures) {
            if ("litellm".equals(failure.provider())) {
                return true;
            }
        }
        return false;
    }

    /** The provider-level reading of the classifier's result, before the detector's dialect refines it. */
    private static String classified(LlmCall call, List<Failure> failures) {
        for (Failure failure : failures) {
            if (failure.category() == Category.PROVIDER) {
                return failure.type().code();
            }
            if (failure.type() == SecurityFailure.Type.UNAUTHORIZED_MODEL_ACCESS) {
                return "unauthorized";
            }
        }
        if (call.failed()) {
            return call.httpStatus() != null && call.httpStatus() >= 400 && call.httpStatus() < 500 ? "client_error"
                    : "other";
        }
        return null;
    }

    private void updateHeadroom(Instant now, LlmCall call, String provider, List<Headroom> readings) {
        Map<LimitType, Headroom> latest = new EnumMap<>(LimitType.class);
        for (Headroom h : readings) {
            latest.put(h.type(), h);
            if (h.fraction() >= 0 && h.fraction() < config.headroomWarning()) {
                approaching.computeIfAbsent(provider + "|" + h.type().label, k -> Counter
                        .builder("llm.provider.rate.limit.approaching")
                        .description("Responses whose remaining rate-limit fraction was below the warning threshold")
                        .tag("provider", provider).tag("limit_type", h.type().label).register(registry))
                        .increment();
            }
        }
        List<DeploymentHeadroom> sameProvider = new ArrayList<>();
        synchronized (deployments) {
            DeploymentHeadroom previous = deployments.get(call.deployment());
            Map<LimitType, Headroom> merged = previous == null ? new EnumMap<>(LimitType.class)
                    : new EnumMap<>(previous.readings());
            for (Headroom h : latest.values()) {
                // A late call's reading never replaces a newer one of the same limit.
                Headroom held = merged.get(h.type());
                if (held == null || !held.seenAt().isAfter(h.seenAt())) {
                    merged.put(h.type(), h);
                }
            }
            deployments.put(call.deployment(), new DeploymentHeadroom(provider, merged));
            for (DeploymentHeadroom d : deployments.values()) {
                if (d.provider().equals(provider)) {
                    sameProvider.add(d);
                }
            }
        }
        for (LimitType type : latest.keySet()) {
            gauge(provider, type);
        }
    }

    /**
     * The tightest reading of a provider's limit as of now, read when the gauges are scraped: a reading counts until
     * its limit resets (then the limit is full again, or unknown when the provider does not send it) and for at most
     * {@code faultline.detect.headroom-max-age}. Set when a call arrived instead, a 429's "0 remaining, resets in 12 s"
     * showed 0 for ten minutes once traffic moved to other deployments (a probe), and an old reading stayed forever
     * when no call with headers followed it. Null when no reading counts: the gauges show NaN, not a stale number.
     */
    private Headroom current(HeadroomGauge gauge) {
        Instant now = clock.instant();
        Instant freshSince = now.minus(config.headroomMaxAge());
        Headroom tightest = null;
        synchronized (deployments) {
            for (DeploymentHeadroom d : deployments.values()) {
                Headroom h = d.provider().equals(gauge.provider()) ? d.readings().get(gauge.type()) : null;
                if (h == null || !h.seenAt().isAfter(freshSince)) {
                    continue;
                }
                Duration resetsIn = h.resetsIn();
                if (resetsIn != null && !resetsIn.isZero() && !resetsIn.isNegative() && !now.isBefore(h.seenAt().plus(resetsIn))) {
                    if (h.limit() <= 0) {
                        continue;
                    }
                    h = new Headroom(h.type(), h.limit(), h.limit(), Duration.ZERO, h.seenAt().plus(resetsIn));
                }
                if (tightest == null || tighter(h, tightest)) {
                    tightest = h;
                }
            }
        }
        return tightest;
    }

    private static boolean tighter(Headroom a, Headroom b) {
        if (a.fraction() >= 0 && b.fraction() >= 0) {
            return a.fraction() < b.fraction();
        }
        return a.remaining() < b.remaining();
    }

    private HeadroomGauge gauge(String provider, LimitType type) {
        return gauges.computeIfAbsent(provider + "|" + type.label, k -> {
            HeadroomGauge g = new HeadroomGauge(provider, type);
            Gauge.builder("llm.provider.rate.limit.remaining", g, x -> {
                Headroom h = current(x);
                return h == null ? Double.NaN : h.remaining();
            })
                    .description("Remaining rate limit of the provider's tightest deployment (latest response)")
                    .tag("provider", provider).tag("limit_type", type.label).register(registry);
            Gauge.builder("llm.provider.rate.limit.remaining.ratio", g, x -> {
                Headroom h = current(x);
                return h == null ? Double.NaN : h.fraction();
            })
                    .description("Remaining fraction of the rate limit of the provider's tightest deployment;"
                            + " -1 when the provider does not send the limit")
                    .tag("provider", provider).tag("limit_type", type.label).register(registry);
            return g;
        });
    }
}
