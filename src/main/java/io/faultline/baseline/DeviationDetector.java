package io.faultline.baseline;

import io.agroal.api.AgroalDataSource;
import io.faultline.classify.ProviderRules;
import io.faultline.common.ClusterJobs;
import io.faultline.common.MetricLabels;
import io.faultline.episode.FailureSink;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
import io.faultline.taxonomy.ProviderFailure;
import io.faultline.taxonomy.Severity;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code detect_deviation()}: compares the latency p95 of each provider and model group over the rolling window with
 * that group's baseline p95 (a profile if there is one, else the passive baseline learned from live traffic) and
 * raises a PROVIDER failure when it exceeds the configured factor. Baselines are per model group, so the window is
 * too: a provider's window mixed over its groups against one group's baseline flagged a slow model at its usual
 * latency, against a fast sibling's bar, and hid a fast model gone slow behind a slow sibling's (a probe).
 * Also learns the passive baselines.
 */
@Singleton
public class DeviationDetector {

    /** One comparison of a current value with its baseline. */
    public record Deviation(String provider, String modelGroup, String metric, double current, double baselineP95,
            double ratio, int samples, String baselineSource, boolean raised) {
    }

    /**
     * A call LiteLLM refused itself before calling any provider, over {@code llm_calls}' columns: stored under the
     * provider {@code litellm}, or a 401/403 of its proxy exception classes whatever provider it stamped (LiteLLM
     * 1.108 stamps the model group's provider on a virtual key it refused; as {@code
     * ProviderRules.isProxyKeyRefusal}). No call of a provider: the baselines leave it out of their windows.
     */
    public static final String PROXY_REFUSAL = "(provider = 'litellm' or coalesce(http_status in (401, 403), false)"
            + " and (coalesce(error_class, '') like '%ProxyException'"
            + " or coalesce(error_class, '') = 'ModelAccessDeniedHTTPException'))";

    /**
     * A failed call the provider side answers for: not a 4xx of the caller's making (a bad parameter, an unknown
     * model, a context overflow, refused content), which the error-rate alert leaves out too, nor LiteLLM's own
     * refusal ({@link #PROXY_REFUSAL}). The provider refusing our credentials (401/403), 408 and 429 count, and so
     * does a 4xx the classifier types malformed_response (the provider's answer did not parse:
     * {@link ProviderRules#MALFORMED_CLIENT_ERROR_SQL}). Without this a caller's bad requests, or its unknown virtual
     * key, raised a PROVIDER outage of a healthy provider. The SLO's failed responses use it too
     * ({@code SloRollup#SERVICE_FAILURE}).
     */
    public static final String PROVIDER_SIDE_FAILURE = "not success and (http_status is null"
            + " or http_status not between 400 and 499 or http_status in (401, 403, 408, 429) or "
            + ProviderRules.MALFORMED_CLIENT_ERROR_SQL + ") and not " + PROXY_REFUSAL;

    /** The least error rate a ratio is taken against. */
    static final double ERROR_RATE_FLOOR = 0.01;
    /** The scheduled jobs' names in {@code scheduled_job_runs} and on {@code faultline_scheduled_job_runs_total}. */
    static final String DEVIATION_JOB = "deviation-check";
    /** Missed checks judged after an outage, the newest ones: an hour at the default interval. */
    static final int MAX_CATCH_UP = 60;
    static final String LEARN_JOB = "passive-baselines";
    private static final Duration LEARN_EVERY = Duration.ofMinutes(15);

    private final AgroalDataSource dataSource;
    private final BaselineStore baselines;
    private final BaselineConfig config;
    private final Clock clock;
    private final FailureSink sink;
    private final MeterRegistry registry;
    private final Map<String, AtomicReference<Double>> ratios = new ConcurrentHashMap<>();

    private final ClusterJobs jobs;
    private final Duration deviationEvery;
    private final MetricLabels labels;

    public DeviationDetector(AgroalDataSource dataSource, BaselineStore baselines, BaselineConfig config, Clock clock,
            FailureSink sink, MeterRegistry registry, ClusterJobs jobs, MetricLabels labels) {
        this.jobs = jobs;
        this.labels = labels;
        this.deviationEvery = config.deviationEvery();
        this.dataSource = dataSource;
        this.baselines = baselines;
        this.config = config;
        this.clock = clock;
        this.sink = sink;
        this.registry = registry;
    }

    /**
     * Raising is cluster-wide (two replicas checking the same window would raise every deviation twice); the ratio
     * gauges are per replica, so every replica computes the window and only the one that claims the tick raises.
     */
    @Scheduled(every = "${faultline.baseline.deviation-every:60s}", delayed = "${faultline.baseline.deviation-every:60s}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void tick() {
        if (!jobs.ready()) {
            return; // the schema is not migrated yet (the database was away at start)
        }
        boolean claimed = jobs.claim(DEVIATION_JOB, deviationEvery);
        try {
            Instant now = clock.instant();
            if (claimed) {
                catchUp(now);
            }
            detectDeviation(now, claimed, true);
            if (claimed) {
                covered(now);
            }
        } catch (RuntimeException e) {
            Log.errorf(e, "Deviation check failed; it runs again in %s", deviationEvery);
        } finally {
            if (claimed) {
                jobs.finished(DEVIATION_JOB);
            }
        }
    }

    /** Cluster-wide: one passive baseline per quarter hour, whichever replica learns it. */
    @Scheduled(every = "15m", delayed = "2m", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void learnTick() {
        jobs.runOnce(LEARN_JOB, LEARN_EVERY, () -> {
            try {
                learnPassive(Duration.ofHours(1));
            } catch (RuntimeException e) {
                Log.errorf(e, "Passive baseline learning failed");
            }
        });
    }

    /** Compares the current window with the baselines now; raises failures for deviations past the floor. */
    public List<Deviation> detectDeviation() {
        return detectDeviation(clock.instant(), true, true);
    }

    /**
     * Judges the checks missed since the last successful one (at most {@link #MAX_CATCH_UP} of them), each on its own
     * window with the calls stored since and dated at its own time, as it would have run. A check that cannot read
     * the database fails and leaves the mark behind; the plugin delivers the outage's calls when the database is
     * back, and without this the deviations they show were raised only by the first check after it, all dated then:
     * several providers' deviations with one onset, a tight upstream incident of their own (a probe: two clusters
     * for one incident after a 90 s database outage, in two runs of two, never without the outage).
     */
    private void catchUp(Instant now) {
        Instant covered = coveredThrough();
        if (covered == null) {
            return;
        }
        rejudgeLate(covered);
        List<Instant> missed = new ArrayList<>();
        for (Instant slot = covered.plus(deviationEvery); slot.isBefore(now.minus(deviationEvery.dividedBy(2)));
                slot = slot.plus(deviationEvery)) {
            missed.add(slot);
        }
        if (missed.size() > MAX_CATCH_UP) {
            missed = missed.subList(missed.size() - MAX_CATCH_UP, missed.size());
        }
        for (Instant slot : missed) {
            detectDeviation(slot, true, false);
            // Judged and raised: a check that fails later in this tick must not leave it to be raised again.
            covered(slot);
        }
        if (!missed.isEmpty()) {
            Log.infof("Deviation checks: judged %d missed windows, %s to %s", missed.size(), missed.get(0),
                    missed.get(missed.size() - 1));
        }
    }

    /**
     * Judges again the checked windows that calls stored since the last check belong to (the proxy could not reach a
     * running Faultline and its plugin delivered them later): each such minute, at most {@link #MAX_CATCH_UP}, on
     * its window as it is now. A deviation is raised for a minute only where no episode of its fingerprint spans that
     * minute already, so a minute that was raised when it was checked is not raised twice.
     */
    private void rejudgeLate(Instant covered) {
        Instant earliest;
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select min(started_at) from llm_calls where received_at > ? and started_at < ?")) {
            st.setTimestamp(1, Timestamp.from(covered));
            st.setTimestamp(2, Timestamp.from(covered));
            try (ResultSet rs = st.executeQuery()) {
                Timestamp at = rs.next() ? rs.getTimestamp(1) : null;
                earliest = at == null ? null : at.toInstant();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not look for late calls", e);
        }
        if (earliest == null) {
            return;
        }
        // The checked minutes whose window [slot - window, slot) holds a late call: from the first after the
        // earliest one up to the last check, on the checks' own cadence (back from the last check).
        List<Instant> slots = new ArrayList<>();
        for (Instant slot = covered; slot.isAfter(earliest) && slots.size() < MAX_CATCH_UP;
                slot = slot.minus(deviationEvery)) {
            slots.add(0, slot);
        }
        int raised = 0;
        for (Instant slot : slots) {
            List<Failure> failures = new ArrayList<>();
            detectDeviation(slot, failures, false);
            failures.removeIf(f -> spanned(f, slot));
            sink.raise(failures);
            raised += failures.size();
        }
        if (raised > 0) {
            Log.infof("Deviation checks: %d deviations raised for %d minutes that late calls changed", raised,
                    slots.size());
        }
    }

    /** Whether an episode of the failure's fingerprint already spans {@code slot}. */
    private boolean spanned(Failure failure, Instant slot) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select 1 from failure_events where fingerprint = ? and first_seen <= ? and last_seen >= ? limit 1")) {
            st.setString(1, failure.fingerprint());
            st.setTimestamp(2, Timestamp.from(slot));
            st.setTimestamp(3, Timestamp.from(slot));
            try (ResultSet rs = st.executeQuery()) {
                return rs.next();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the deviation episodes", e);
        }
    }

    private Instant coveredThrough() {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select covered_through from scheduled_job_runs where job = ?")) {
            st.setString(1, DEVIATION_JOB);
            try (ResultSet rs = st.executeQuery()) {
                Timestamp at = rs.next() ? rs.getTimestamp(1) : null;
                return at == null ? null : at.toInstant();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read how far the deviation checks got", e);
        }
    }

    private void covered(Instant through) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "update scheduled_job_runs set covered_through = greatest(covered_through, ?) where job = ?")) {
            st.setTimestamp(1, Timestamp.from(through));
            st.setString(2, DEVIATION_JOB);
            st.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("could not record how far the deviation checks got", e);
        }
    }

    /**
     * The window ending at {@code now}. {@code raise}: hand the deviations past the floor to the sink; without, only
     * the ratio gauges move. {@code live}: the ratio gauges show this window (a missed one judged late does not).
     */
    private List<Deviation> detectDeviation(Instant now, boolean raise, boolean live) {
        List<Failure> failures = new ArrayList<>();
        List<Deviation> deviations = detectDeviation(now, failures, live);
        if (raise) {
            sink.raise(failures);
        }
        return deviations;
    }

    /** The window ending at {@code now}; the failures of the deviations past the floor go to {@code failures}. */
    private List<Deviation> detectDeviation(Instant now, List<Failure> failures, boolean live) {
        References latency = references("latency_ms");
        References errors = references("error_rate");
        List<Deviation> deviations = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select provider, model_group, count(*) filter (where success),"
                        + " percentile_disc(0.95) within group (order by latency_ms) filter (where success),"
                        + " count(*), count(*) filter (where " + PROVIDER_SIDE_FAILURE + ")"
                        + " from llm_calls where started_at >= ? and started_at < ? and not " + PROXY_REFUSAL
                        + " group by provider, model_group")) {
            st.setTimestamp(1, Timestamp.from(now.minus(config.deviationWindow())));
            st.setTimestamp(2, Timestamp.from(now));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    String provider = rs.getString(1);
                    String group = rs.getString(2);
                    BaselineStore.Baseline base = latency.of(provider, group);
                    if (base != null && base.p95() > 0 && rs.getInt(3) > 0) {
                        compare(provider, group, base, "latency_p95", rs.getDouble(4), base.p95(), rs.getInt(3),
                                now, live, deviations, failures);
                    }
                    BaselineStore.Baseline errorBase = errors.of(provider, group);
                    if (errorBase != null) {
                        // A 0% baseline would make any error infinitely deviant: the ratio is taken against at least
                        // ERROR_RATE_FLOOR, so a handful of errors in a quiet window does not page.
                        compare(provider, group, errorBase, "error_rate", rs.getDouble(6) / rs.getInt(5),
                                Math.max(errorBase.p95(), ERROR_RATE_FLOOR), rs.getInt(5), now, live, deviations,
                                failures);
                    }
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not compute the current window", e);
        }
        if (live) {
            // A scope without calls in this window shows no ratio: its last busy window's stayed on the dashboards
            // (and in any alert on it) for as long as the process lived.
            java.util.Set<AtomicReference<Double>> judged = java.util.Collections.newSetFromMap(
                    new java.util.IdentityHashMap<>());
            for (Deviation d : deviations) {
                judged.add(ratio(d.provider(), d.modelGroup(), d.metric()));
            }
            ratios.values().stream().filter(r -> !judged.contains(r)).forEach(r -> r.set(Double.NaN));
        }
        return deviations;
    }

    /** Compares the calls of {@code provider} and {@code group} (as the plugin stored them) with {@code base}. */
    private void compare(String provider, String group, BaselineStore.Baseline base, String metric, double current,
            double reference, int samples, Instant now, boolean live, List<Deviation> deviations,
            List<Failure> failures) {
        double ratio = current / reference;
        if (live) {
            ratio(provider, group, metric).set(ratio);
        }
        boolean raise = samples >= config.minSamples() && ratio > config.deviationFactor();
        deviations.add(new Deviation(provider, group, metric, current, reference, ratio, samples, base.source(),
                raise));
        if (raise) {
            failures.add(failure(provider, group, base, metric, current, reference, ratio, samples, now));
        }
    }

    /**
     * The newest baselines of a metric per provider and model group (not per deployment). Profiles are stored under
     * the normalised provider a run is locked on ({@code text-completion-openai} is {@code openai}), passive ones
     * under the provider the plugin stored the calls with; so a profile is looked up by the calls' normalised
     * provider, and a deliberate profile beats a passive one.
     */
    private record References(Map<String, BaselineStore.Baseline> profiles,
            Map<String, BaselineStore.Baseline> passive) {

        BaselineStore.Baseline of(String provider, String group) {
            BaselineStore.Baseline profile = profiles.get(scope(BaselineProfiler.normaliseProvider(provider), group));
            return profile != null ? profile : passive.get(scope(provider, group));
        }
    }

    private References references(String metric) {
        Map<String, BaselineStore.Baseline> profiles = new LinkedHashMap<>();
        Map<String, BaselineStore.Baseline> passive = new LinkedHashMap<>();
        for (BaselineStore.Baseline b : baselines.current(null, metric)) {
            if (b.deployment() != null) {
                continue;
            }
            boolean profile = "profile".equals(b.source());
            String scope = scope(profile ? BaselineProfiler.normaliseProvider(b.provider()) : b.provider(), b.model());
            (profile ? profiles : passive).merge(scope, b, (known, next) -> next.measuredAt().isAfter(
                    known.measuredAt()) ? next : known);
        }
        return new References(profiles, passive);
    }

    /** A provider and model group as one key (a call without a model group is a group of its own). */
    private static String scope(String provider, String modelGroup) {
        return provider + "\u0000" + (modelGroup == null ? "" : modelGroup);
    }

    private Failure failure(String provider, String group, BaselineStore.Baseline base, String metric,
            double current, double reference, double ratio, int samples, Instant now) {
        boolean latency = metric.equals("latency_p95");
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("metric", latency ? "latency_p95_ms" : "error_rate");
        if (group != null) {
            evidence.put("model_group", group);
        }
        evidence.put("current", Math.round(current * 1000) / 1000.0);
        evidence.put("baseline_p95", Math.round(reference * 1000) / 1000.0);
        evidence.put("ratio", Math.round(ratio * 100) / 100.0);
        evidence.put("factor", config.deviationFactor());
        evidence.put("window", config.deviationWindow().toString());
        evidence.put("samples", samples);
        evidence.put("baseline_source", base.source());
        evidence.put("baseline_measured_at", base.measuredAt().toString());
        // A latency deviation is the slow side of the provider's failures (the timeout type); an error-rate deviation
        // is a partial outage.
        return new ProviderFailure(UUID.randomUUID(), now, Severity.P3, provider, null,
                latency ? ProviderFailure.Type.TIMEOUT : ProviderFailure.Type.OUTAGE,
                latency ? "baseline.latency_deviation" : "baseline.error_rate_deviation", evidence,
                new ImpactScope(group, group, null, null, null));
    }

    /** The ratio gauge of a scope; keyed by capped label values, so hostile model group names share "other". */
    private AtomicReference<Double> ratio(String rawProvider, String modelGroup, String metric) {
        String provider = labels.value("provider", rawProvider);
        String group = labels.value("model_group", modelGroup);
        return ratios.computeIfAbsent(scope(provider, group) + "|" + metric, k -> {
            AtomicReference<Double> value = new AtomicReference<>(0.0);
            Gauge.builder("llm.baseline.deviation.ratio", value, AtomicReference::get)
                    .description("Current value over the baseline p95 (2 = twice the baseline)")
                    .tag("provider", provider).tag("model_group", group).tag("metric", metric).register(registry);
            return value;
        });
    }

    /**
     * Passive baselines from live traffic over the window, per provider and model group, above the sample floor. A
     * scope whose metric deviates now keeps the baseline it deviates from: a p95 moves once 5% of the hour is slow, so
     * learning from a regression made it the baseline and ended its deviation within one interval (a probe). So does a
     * scope whose window as a whole deviates from its reference by the deviation factor, raised or not: a regression
     * with thin traffic (each check under the sample floor, the hour above it), or one followed by a lull (no calls
     * "now"), was learnt as the baseline, and the same slowness raised nothing once traffic was back (a probe).
     */
    public int learnPassive(Duration window) {
        Instant now = clock.instant();
        List<String> latencyDeviating = new ArrayList<>();
        List<String> errorsDeviating = new ArrayList<>();
        for (Deviation d : detectDeviation(now, new ArrayList<>(), false)) {
            if (d.raised()) {
                String key = scope(d.provider(), d.modelGroup());
                (d.metric().equals("latency_p95") ? latencyDeviating : errorsDeviating).add(key);
            }
        }
        References latency = references("latency_ms");
        References errors = references("error_rate");
        // One scan of the window feeds both metrics: latency over successful calls, error rate over all calls.
        try (Connection c = dataSource.getConnection()) {
            List<Learnt> learnt = new ArrayList<>();
            try (PreparedStatement st = c.prepareStatement("select provider, model_group, metric.name, metric.p50,"
                    + " metric.p95, metric.p99, metric.mean, metric.n from (select provider, model_group,"
                    + " count(*) n, count(*) filter (where success) ok,"
                    + " count(*) filter (where " + PROVIDER_SIDE_FAILURE + ")::double precision / count(*) r,"
                    + " avg(latency_ms) filter (where success) m, percentile_disc(array[0.5, 0.95, 0.99])"
                    + " within group (order by latency_ms) filter (where success) q"
                    + " from llm_calls where started_at >= ? and started_at < ? and not " + PROXY_REFUSAL
                    + " group by provider, model_group) w"
                    + " cross join lateral (values ('latency_ms', q[1], q[2], q[3], m, ok),"
                    + " ('error_rate', r, r, r, r, n)) metric(name, p50, p95, p99, mean, n)"
                    + " where metric.n >= ? and metric.p50 is not null")) {
                st.setTimestamp(1, Timestamp.from(now.minus(window)));
                st.setTimestamp(2, Timestamp.from(now));
                st.setInt(3, config.minSamples());
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        String provider = rs.getString(1);
                        String group = rs.getString(2);
                        boolean isLatency = rs.getString(3).equals("latency_ms");
                        double p95 = rs.getDouble(5);
                        if ((isLatency ? latencyDeviating : errorsDeviating).contains(scope(provider, group))
                                || deviates(isLatency ? latency.of(provider, group) : errors.of(provider, group),
                                        p95, isLatency)) {
                            continue;
                        }
                        learnt.add(new Learnt(provider, group, rs.getString(3), rs.getDouble(4), p95,
                                rs.getDouble(6), rs.getDouble(7), rs.getInt(8)));
                    }
                }
            }
            if (learnt.isEmpty()) {
                return 0;
            }
            try (PreparedStatement st = c.prepareStatement("insert into provider_baselines (baseline_id, provider,"
                    + " model, deployment, metric_name, p50, p95, p99, mean, sample_size, source, measured_at)"
                    + " values (gen_random_uuid(), ?, ?, null, ?, ?, ?, ?, ?, ?, 'passive', ?)")) {
                for (Learnt row : learnt) {
                    st.setString(1, row.provider());
                    st.setString(2, row.group());
                    st.setString(3, row.metric());
                    st.setDouble(4, row.p50());
                    st.setDouble(5, row.p95());
                    st.setDouble(6, row.p99());
                    st.setDouble(7, row.mean());
                    st.setInt(8, row.samples());
                    st.setTimestamp(9, Timestamp.from(now));
                    st.addBatch();
                }
                return java.util.Arrays.stream(st.executeBatch()).sum();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not learn passive baselines", e);
        }
    }

    /** A passive baseline about to be stored. */
    private record Learnt(String provider, String group, String metric, double p50, double p95, double p99,
            double mean, int samples) {
    }

    /** Whether a window's p95 deviates from the reference as a check would judge it (no sample floor here). */
    private boolean deviates(BaselineStore.Baseline reference, double p95, boolean latency) {
        if (reference == null) {
            return false;
        }
        double bar = latency ? reference.p95() : Math.max(reference.p95(), ERROR_RATE_FLOOR);
        return bar > 0 && p95 / bar > config.deviationFactor();
    }
}
