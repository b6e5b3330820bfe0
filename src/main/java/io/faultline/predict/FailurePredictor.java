package io.faultline.predict;

import io.agroal.api.AgroalDataSource;
import io.faultline.baseline.BaselineProfiler;
import io.faultline.baseline.BaselineStore;
import io.faultline.common.AdvisoryLocks;
import io.faultline.common.ClusterJobs;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.logging.Log;
import io.quarkus.narayana.jta.QuarkusTransaction;
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
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * {@code predict_failure()}: every interval (one replica, through a PostgreSQL advisory lock) and on demand, reads
 * each deployment's rolling window of stored calls, records the failures that happened (the ground truth), resolves
 * the predictions whose horizon ended or whose failure came, and creates or renews one active prediction per
 * deployment and failure type whose leading indicators project a failure inside the horizon.
 */
@Singleton
public class FailurePredictor implements io.faultline.common.BoundedState {

    /** The advisory lock of the prediction tick ("FlPredic" in ASCII). */
    static final long LOCK_KEY = 0x466C_5072_6564_6963L;
    /** The tick's name in {@code scheduled_job_runs} and on {@code faultline_scheduled_job_runs_total}. */
    static final String JOB = "prediction";
    /** The two sources of a latency baseline's scope key (a profile beats a passive baseline). */
    private static final String PROFILE = "profile/";
    private static final String PASSIVE = "passive/";
    /**
     * The provider of the failures LiteLLM raised itself (CallMapper): bad keys, budgets, its own limits, models the
     * caller named. The proxy's decisions, not a deployment running into trouble: never predicted, reduced or scored.
     */
    static final String PROXY = "litellm";

    /** What one evaluation did. */
    public record Evaluation(Instant evaluatedAt, boolean ran, int deployments, int failuresObserved, int resolved,
            List<PredictedFailure> predictions) {
    }

    private final AgroalDataSource dataSource;
    private final PredictionStore store;
    private final BaselineStore baselines;
    private final PredictConfig config;
    private final Clock clock;
    private final PredictionMetrics metrics;
    private final TrafficPolicy trafficPolicy;
    private final Counter tickFailures;
    private final Timer tickTime;
    /** The window's calls, held between ticks and topped up with the calls received since (README: "Prediction"). */
    private final WindowCache windowCache = new WindowCache();

    private final ClusterJobs jobs;

    /** Sizes as of the last tick. The window's calls are bounded by the window (faultline.predict.window). */
    @Override
    public List<Held> boundedMaps() {
        return List.of(new Held("predict.window-deployments", 0, windowCache::publishedDeployments),
                new Held("predict.window-calls", 0, () -> (int) Math.min(Integer.MAX_VALUE,
                        windowCache.publishedCalls())));
    }

    public FailurePredictor(AgroalDataSource dataSource, PredictionStore store, BaselineStore baselines,
            PredictConfig config, Clock clock, PredictionMetrics metrics, TrafficPolicy trafficPolicy,
            MeterRegistry registry, ClusterJobs jobs) {
        this.jobs = jobs;
        this.dataSource = dataSource;
        this.store = store;
        this.baselines = baselines;
        this.config = config;
        this.clock = clock;
        this.metrics = metrics;
        this.trafficPolicy = trafficPolicy;
        this.tickFailures = Counter.builder("faultline.prediction.tick.failures")
                .description("Prediction ticks that failed").register(registry);
        this.tickTime = Timer.builder("faultline.prediction.tick.duration")
                .description("Time of one prediction tick that evaluated").register(registry);
    }

    @Scheduled(every = "{faultline.predict.interval}", delayed = "{faultline.predict.interval}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void tick() {
        if (!config.enabled()) {
            return;
        }
        // Cluster-wide: one replica evaluates per interval (the stored last run, then the advisory lock). The window
        // cache of a replica that takes the tick over tops up from its own mark (WindowCache), so alternating is safe.
        jobs.runOnce(JOB, intervalOf(config), () -> {
            try {
                Evaluation e = evaluate(true);
                if (e.ran()) {
                    metrics.refresh();
                }
            } catch (RuntimeException e) {
                tickFailures.increment();
                Log.errorf(e, "Prediction tick failed; it runs again at the next interval");
            }
        });
    }

    /** {@code predict_failure()} now: waits for a tick another replica is running, then evaluates. */
    public Evaluation predictFailure() {
        Evaluation e = evaluate(false);
        metrics.refresh();
        return e;
    }

    /**
     * One evaluation at the clock's now. Scheduled, it skips when another replica holds the lock or evaluated less
     * than half an interval ago (replicas' schedules run at different phases); on demand it waits for the lock.
     */
    Evaluation evaluate(boolean scheduled) {
        Instant now = clock.instant();
        Map<String, Double> reference = latencyBaselines();
        long started = System.nanoTime();
        Evaluation result = QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                if (scheduled ? !AdvisoryLocks.tryXact(c, LOCK_KEY) || !due(c, now) : !AdvisoryLocks.xact(c, LOCK_KEY)) {
                    return new Evaluation(now, false, 0, 0, 0, List.of());
                }
                markTick(c, now);
                return run(c, now, reference);
            } catch (SQLException e) {
                throw new IllegalStateException("prediction tick failed", e);
            }
        });
        if (result.ran()) {
            tickTime.record(Duration.ofNanos(System.nanoTime() - started));
        }
        return result;
    }

    private Evaluation run(Connection c, Instant now, Map<String, Double> reference) throws SQLException {
        long t0 = System.nanoTime();
        // The window ends on the whole second before now: the held calls are folded into one-second slices, and a
        // window whose ends fell inside a second would make the cache cut finer slices (and read everything again).
        Instant end = now.truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        Instant from = end.minus(config.window());
        List<DeploymentWindow> windows = new ArrayList<>();
        for (DeploymentWindow w : windowCache.read(c, from, end, config.bucket().toMillis(), config.timeoutClasses(),
                config.timeout().toMillis(), config.rereadOverlap(), config.fullReadEvery())) {
            // What LiteLLM raised itself names no deployment of a provider (a refused call's is "litellm:" + the model
            // its caller asked for): no prediction, no reduction (no such deployment in the router), and no failure
            // counted as the predictor's miss. Its provider level has no members here, so it is never evaluated.
            if (!PROXY.equals(w.provider())) {
                windows.add(w);
            }
        }
        long t1 = System.nanoTime();
        // The share of its traffic each deployment kept since the last tick (the plugin's thinning). Every window
        // read here is a deployment's, one named "*" too: the plugin sees it as a candidate of its group. The lists
        // the plugins thin are model groups of one proxy each (WindowCache.list): proxy A's gpt-4o holding only
        // `primary` leaves it alone however many deployments proxy B's gpt-4o holds. Members are provider-qualified
        // (TrafficPolicy.key): one id under two providers is two deployments, never one.
        Map<String, Set<String>> groups = new HashMap<>();
        for (DeploymentWindow w : windows) {
            for (String list : windowCache.listsOf(w)) {
                groups.computeIfAbsent(list, k -> new HashSet<>()).add(TrafficPolicy.key(w.provider(), w.deployment()));
            }
        }
        Map<String, TrafficPolicy.Kept> shares = trafficPolicy.sharesInForce(c, now, groups);
        Observation observation = observe(c, windows, now, shares);
        Map<String, Observed> open = observation.latest();
        long t2 = System.nanoTime();
        // The counterfactual before the resolution: the drain read by this tick came within the horizon of a
        // prediction whose horizon ends now, and resolved first it was never counted (judged a false alarm).
        counterfactual(c, windows, now, shares);
        long t3 = System.nanoTime();
        int resolved = resolve(c, now);
        long t4 = System.nanoTime();
        Indicators.Settings settings = Indicators.Settings.of(config);
        Map<String, Upsert> upserts = new LinkedHashMap<>();
        Instant quietSince = now.minus(config.quietPeriod());
        Indicators.Resets resets = windowCache::latestReset;
        // Deployments whose indicators still point at a failure that is already happening: no prediction (it would
        // be the same failure), but no step back to full traffic either (TrafficPolicy.apply). Keyed on
        // TrafficPolicy.key: another provider's deployment of the same id failing holds nothing of this one's.
        Set<String> failingAndWorse = new HashSet<>();
        Map<String, List<DeploymentWindow>> byProvider = new HashMap<>();
        for (DeploymentWindow w : windows) {
            byProvider.computeIfAbsent(w.provider(), k -> new ArrayList<>()).add(w);
            if (w.providerWide()) {
                // A deployment called "*" (the operator's choice): its predictions would be stored and listed as
                // its provider's provider-level ones, so it gets none of its own. Its failures are observed above,
                // and it is a member of its provider and model group below.
                continue;
            }
            for (Indicators.Candidate candidate : Indicators.evaluate(w, baselineOf(reference, w), settings, resets)) {
                if (!config.types().contains(candidate.type())) {
                    continue;
                }
                Observed recent = open.get(key(w.provider(), w.deployment(), candidate.type()));
                if (recent != null && !recent.lastSeen.isBefore(quietSince)) {
                    failingAndWorse.add(TrafficPolicy.key(w.provider(), w.deployment()));
                    continue; // failing now or just recovered: that is a failure, not a prediction
                }
                // One row per deployment and type; a name under two providers is two deployments (index V54).
                upserts.put(key(w.provider(), w.deployment(), candidate.type()), new Upsert(w, candidate));
            }
        }
        // The provider level: one active row per provider and type, never while half or more of its deployments are
        // failing with the type (then the provider is failing: a failure, not a prediction). One deployment failing
        // early does not stop it: the spread is then judged on the others, which the prediction is about (a hit
        // needs an onset after it).
        Map<String, Upsert> providerUpserts = new LinkedHashMap<>();
        for (DeploymentWindow pw : windowCache.providerWindows()) {
            // Every deployment of the provider, as the provider window counted them (one called "*" too).
            List<DeploymentWindow> members = byProvider.getOrDefault(pw.provider(), List.of());
            if (members.size() < 2) {
                continue;
            }
            Indicators.Resets latestOfMembers = (w, slot) -> latestReset(members, slot);
            java.util.function.Function<String, List<DeploymentWindow>> notFailing = type -> members.stream()
                    .filter(w -> {
                        Observed recent = open.get(key(w.provider(), w.deployment(), type));
                        return recent == null || recent.lastSeen.isBefore(quietSince);
                    }).toList();
            for (Indicators.Candidate candidate : Indicators.evaluateProvider(pw, members.size(), notFailing,
                    providerBaseline(reference, pw.provider()), settings, latestOfMembers)) {
                long failing = members.size() - notFailing.apply(candidate.type()).size();
                if (!config.types().contains(candidate.type()) || 2 * failing >= members.size()) {
                    continue;
                }
                providerUpserts.put(key(pw.provider(), pw.deployment(), candidate.type()), new Upsert(pw, candidate));
            }
        }
        long t5 = System.nanoTime();
        List<Upsert> pending = new ArrayList<>(upserts.values());
        List<UUID> made = new ArrayList<>(pending.size());
        for (int i = 0; i < pending.size(); i += 1000) { // 14 parameters a row; PostgreSQL takes 65,535
            made.addAll(upsert(c, pending.subList(i, Math.min(pending.size(), i + 1000)), now, false));
        }
        List<Upsert> pendingProviders = new ArrayList<>(providerUpserts.values());
        for (int i = 0; i < pendingProviders.size(); i += 1000) {
            made.addAll(upsert(c, pendingProviders.subList(i, Math.min(pendingProviders.size(), i + 1000)), now,
                    true));
        }
        List<PredictedFailure> predictions = made.isEmpty() ? List.of()
                : store.query(c, "select " + PredictionStore.selectColumns() + " from failure_predictions"
                        + " where prediction_id = any (?) order by confidence desc, prediction_id",
                        List.of(c.createArrayOf("uuid", made.toArray())));
        // Provider-level predictions warn and are scored, but move no traffic (README "Prediction", provider level).
        Map<String, Instant> lastFailed = lastFailingBuckets(windows);
        long t6 = System.nanoTime();
        trafficPolicy.apply(c, now, predictions, groups, new TrafficPolicy.Unhealthy(lastFailed, failingAndWorse));
        long t7 = System.nanoTime();
        Log.debugf("prediction tick phases (ms): window read %.1f, observe %.1f, counterfactual %.1f, resolve %.1f,"
                + " indicators %.1f, upserts %.1f, traffic policy %.1f", (t1 - t0) / 1e6, (t2 - t1) / 1e6,
                (t3 - t2) / 1e6, (t4 - t3) / 1e6, (t5 - t4) / 1e6, (t6 - t5) / 1e6, (t7 - t6) / 1e6);
        int observed = observation.touched();
        return new Evaluation(now, true, windows.size(), observed, resolved, predictions);
    }

    /**
     * When each deployment ({@link TrafficPolicy#key}) last had a failing bucket: calls failing with a predicted type
     * that make at least the failure share of the bucket's calls, however few (a reduced deployment gets a fifth of
     * its calls, too few for an observed failure's minimum; the share keeps a background of rare errors on a busy one
     * out).
     */
    private Map<String, Instant> lastFailingBuckets(List<DeploymentWindow> windows) {
        Map<String, Instant> last = new HashMap<>();
        for (DeploymentWindow w : windows) {
            for (DeploymentWindow.Bucket b : w.buckets()) {
                if (b == null || b.calls() == 0) {
                    continue;
                }
                for (int t = 0; t < DeploymentWindow.FAILURE_TYPES.length; t++) {
                    if (b.failed()[t] > 0 && config.types().contains(DeploymentWindow.FAILURE_TYPES[t])
                            && (double) b.failed()[t] / b.calls() >= config.failureShare()
                            && b.lastFailedAt()[t] != null) {
                        last.merge(TrafficPolicy.key(w.provider(), w.deployment()), b.lastFailedAt()[t],
                                (x, y) -> x.isAfter(y) ? x : y);
                    }
                }
            }
        }
        return last;
    }

    /** An observed failure (a run of failure buckets of one type on one deployment). */
    private static final class Observed {
        UUID id;
        String provider;
        String deployment;
        String type;
        Instant onset;
        Instant lastSeen;
        /** The onset as stored when the tick began (null for a failure this tick found). */
        Instant storedOnset;
        /** The failure that absorbed this one (late failing calls between them made them one), or null. */
        Observed absorbedInto;
        boolean fresh;
        boolean touched;
    }

    /** The latest failure of each deployment and type, and how many failures the tick found or changed. */
    private record Observation(Map<String, Observed> latest, int touched) {
    }

    /**
     * The ground truth: a bucket in which calls failing with a type are at least {@code failureMinCalls} and at least
     * {@code failureShare} of its calls is a failure bucket; buckets within the quiet period of each other are one
     * failure, whose onset is its first failing call. A new failure records the prediction that announced it.
     */
    private Observation observe(Connection c, List<DeploymentWindow> windows, Instant now,
            Map<String, TrafficPolicy.Kept> shares) throws SQLException {
        // Every failure a bucket of the window can belong to (its calls within the quiet period of the bucket's), per
        // deployment and type in onset order: not only the latest, since a spool delivers failing calls late.
        Map<String, List<Observed>> recorded = new HashMap<>();
        Instant since = now.minus(config.window()).minus(config.quietPeriod());
        try (PreparedStatement st = c.prepareStatement("select failure_id, provider, deployment, failure_type, onset,"
                + " last_seen from observed_failures where last_seen >= ? order by onset")) {
            st.setTimestamp(1, Timestamp.from(since));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    Observed o = new Observed();
                    o.id = rs.getObject(1, UUID.class);
                    o.provider = rs.getString(2);
                    o.deployment = rs.getString(3);
                    o.type = rs.getString(4);
                    o.onset = rs.getTimestamp(5).toInstant();
                    o.storedOnset = o.onset;
                    o.lastSeen = rs.getTimestamp(6).toInstant();
                    recorded.computeIfAbsent(key(o.provider, o.deployment, o.type), k -> new ArrayList<>()).add(o);
                }
            }
        }
        Set<Observed> changed = new java.util.LinkedHashSet<>();
        for (DeploymentWindow w : windows) {
            TrafficPolicy.Kept kept = shares.get(TrafficPolicy.key(w.provider(), w.deployment()));
            for (DeploymentWindow.Bucket b : w.buckets()) {
                if (b == null) {
                    continue;
                }
                for (int t = 0; t < DeploymentWindow.FAILURE_TYPES.length; t++) {
                    String type = DeploymentWindow.FAILURE_TYPES[t];
                    if (!config.types().contains(type) || b.failed()[t] == 0
                            || b.failed()[t] < minCalls(kept, b.firstFailedAt()[t])
                            || (double) b.failed()[t] / b.calls() < config.failureShare()) {
                        continue;
                    }
                    List<Observed> failures = recorded.computeIfAbsent(key(w.provider(), w.deployment(), type),
                            k -> new ArrayList<>());
                    Observed o = join(failures, b.firstFailedAt()[t], b.lastFailedAt()[t], changed);
                    if (o == null) {
                        o = new Observed();
                        o.id = UUID.randomUUID();
                        o.provider = w.provider();
                        o.deployment = w.deployment();
                        o.type = type;
                        o.onset = b.firstFailedAt()[t];
                        o.lastSeen = b.lastFailedAt()[t];
                        o.fresh = true;
                        o.touched = true;
                        failures.add(o);
                        failures.sort(java.util.Comparator.comparing((Observed f) -> f.onset));
                    }
                    if (o.touched) {
                        changed.add(o);
                    }
                }
            }
        }
        int touched = 0;
        for (Observed o : changed) {
            if (o.absorbedInto != null) {
                continue;
            }
            touched++;
            if (o.fresh) {
                insertObserved(c, o);
                o.fresh = false;
                latePrecedes(c, o, recorded.get(key(o.provider, o.deployment, o.type)), now);
            } else {
                try (PreparedStatement st = c.prepareStatement("update observed_failures set last_seen ="
                        + " greatest(last_seen, ?), onset = least(onset, ?) where failure_id = ?")) {
                    st.setTimestamp(1, Timestamp.from(o.lastSeen));
                    st.setTimestamp(2, Timestamp.from(o.onset));
                    st.setObject(3, o.id);
                    st.executeUpdate();
                }
                if (o.onset.isBefore(o.storedOnset)) {
                    announce(c, o);
                    hitsMovedTo(c, o, o.storedOnset, now);
                }
            }
            for (Observed a : changed) {
                if (a.absorbedInto == o && a.storedOnset != null) {
                    absorbed(c, a, o, now);
                }
            }
        }
        Map<String, Observed> latest = new HashMap<>();
        recorded.forEach((k, failures) -> failures.stream().max(java.util.Comparator.comparing(f -> f.lastSeen))
                .ifPresent(f -> latest.put(k, f)));
        return new Observation(latest, touched);
    }

    /**
     * The recorded failure that a failure bucket's calls (from {@code first} to {@code last}) belong to, changed to
     * hold them, or null when they begin a failure of their own: those within the quiet period after a failure's last
     * call or before its onset (delivered late, another proxy's spool: the failure began earlier than the tick saw).
     * When they lie within the quiet period of two or more, those are one failure: the earliest absorbs the others,
     * which leave {@code failures} (in onset order) for {@code changed}, naming it in {@code absorbedInto}.
     */
    private Observed join(List<Observed> failures, Instant first, Instant last, Set<Observed> changed) {
        Observed survivor = null;
        for (java.util.Iterator<Observed> it = failures.iterator(); it.hasNext();) {
            Observed o = it.next();
            if (first.isAfter(o.lastSeen.plus(config.quietPeriod()))
                    || last.plus(config.quietPeriod()).isBefore(o.onset)) {
                continue;
            }
            if (survivor == null) {
                survivor = o;
                continue;
            }
            // Joined through these calls: the later failure is the earlier one's continuation.
            it.remove();
            o.absorbedInto = survivor;
            o.touched = true;
            for (Observed f : changed) {
                if (f.absorbedInto == o) {
                    f.absorbedInto = survivor;
                }
            }
            changed.add(o);
            if (o.lastSeen.isAfter(survivor.lastSeen)) {
                survivor.lastSeen = o.lastSeen;
            }
            survivor.touched = true;
        }
        if (survivor == null) {
            return null;
        }
        if (first.isBefore(survivor.onset)) {
            survivor.onset = first;
            survivor.touched = true;
        }
        if (last.isAfter(survivor.lastSeen)) {
            survivor.lastSeen = last;
            survivor.touched = true;
        }
        return survivor;
    }

    /**
     * A failure whose onset late calls moved back: announced by the predictions live before the new onset (its row's
     * {@code announced_by} and lead).
     */
    private void announce(Connection c, Observed o) throws SQLException {
        Announcement announced = announcement(c, o);
        try (PreparedStatement st = c.prepareStatement("update observed_failures set announced_by = ?,"
                + " lead_time_ms = ? where failure_id = ?")) {
            st.setObject(1, announced.by());
            st.setObject(2, announced.leadMs());
            st.setObject(3, o.id);
            st.executeUpdate();
        }
    }

    /**
     * The hits of a failure that began at {@code from} when it is now {@code o}, beginning earlier: the hit only of
     * the predictions made before {@code o}'s onset (a shorter lead); one made after it was made while the deployment
     * failed already: resolved as its horizon would have judged it without this failure, and a hit again if another
     * failure begins within it.
     */
    private void hitsMovedTo(Connection c, Observed o, Instant from, Instant now) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("update failure_predictions set"
                + " status = case when created_at <= ?::timestamptz then 'hit' when counterfactual_at is not null"
                + " then 'prevented' else 'false_alarm' end,"
                + " resolved_at = case when created_at <= ?::timestamptz then resolved_at else ?::timestamptz end,"
                + " failure_onset = case when created_at <= ?::timestamptz then ?::timestamptz end,"
                + " lead_time_ms = case when created_at <= ?::timestamptz"
                + " then (extract(epoch from (?::timestamptz - created_at)) * 1000)::bigint end"
                + " where status = 'hit' and failure_onset = ? and predicted_type = ? and provider = ?"
                + " and (deployment = ? and deployment <> '*' or deployment = '*')")) {
            Timestamp onset = Timestamp.from(o.onset);
            st.setTimestamp(1, onset);
            st.setTimestamp(2, onset);
            st.setTimestamp(3, Timestamp.from(now));
            st.setTimestamp(4, onset);
            st.setTimestamp(5, onset);
            st.setTimestamp(6, onset);
            st.setTimestamp(7, onset);
            st.setTimestamp(8, Timestamp.from(from));
            st.setString(9, o.type);
            st.setString(10, o.provider);
            st.setString(11, o.deployment);
            st.executeUpdate();
        }
    }

    /**
     * A recorded failure that late calls joined to an earlier one ({@code into}): its row goes, and its hits are the
     * earlier failure's as {@link #hitsMovedTo} judges them.
     */
    private void absorbed(Connection c, Observed a, Observed into, Instant now) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("delete from observed_failures where failure_id = ?")) {
            st.setObject(1, a.id);
            st.executeUpdate();
        }
        hitsMovedTo(c, into, a.storedOnset, now);
    }

    /**
     * A failure recorded late, before a failure recorded already (further back than its quiet period): the hits of
     * the later failures made before this one's onset, within their horizon, are this one's (the first failure after
     * a prediction is its hit, with a shorter lead), and the next failure's announcement no longer counts them.
     */
    private void latePrecedes(Connection c, Observed o, List<Observed> failures, Instant now) throws SQLException {
        Observed next = null;
        for (Observed f : failures) {
            if (f.onset.isAfter(o.onset) && (next == null || f.onset.isBefore(next.onset))) {
                next = f;
            }
        }
        if (next == null) {
            return;
        }
        try (PreparedStatement st = c.prepareStatement("update failure_predictions set failure_onset = ?,"
                + " lead_time_ms = (extract(epoch from (?::timestamptz - created_at)) * 1000)::bigint"
                + " where status = 'hit' and failure_onset > ? and created_at <= ? and horizon_ends_at >= ?"
                + " and predicted_type = ? and provider = ? and (deployment = ? and deployment <> '*'"
                + " or deployment = '*')")) {
            Timestamp onset = Timestamp.from(o.onset);
            st.setTimestamp(1, onset);
            st.setTimestamp(2, onset);
            st.setTimestamp(3, onset);
            st.setTimestamp(4, onset);
            st.setTimestamp(5, onset);
            st.setString(6, o.type);
            st.setString(7, o.provider);
            st.setString(8, o.deployment);
            st.executeUpdate();
        }
        if (next.storedOnset != null) {
            announce(c, next);
        }
    }

    /**
     * The failing calls a bucket needs to be a failure: {@code failure-min-calls}, scaled by the share a reduction
     * kept when the bucket's failures came after it began (at 0.2 a deployment gets a fifth of its calls: 2 failing of
     * 2 is a failure its users saw, not noise), at least one.
     */
    private int minCalls(TrafficPolicy.Kept kept, Instant firstFailed) {
        if (kept == null || kept.share() >= 1 || firstFailed == null || firstFailed.isBefore(kept.since())) {
            return config.failureMinCalls();
        }
        return Math.max(1, (int) Math.ceil(config.failureMinCalls() * kept.share()));
    }

    /** The prediction that announced a failure and its lead (nulls when none did). */
    private record Announcement(UUID by, Long leadMs) {
    }

    private Announcement announcement(Connection c, Observed o) throws SQLException {
        UUID announcedBy = null;
        Long lead = null;
        // The deployment's own latest live prediction, else its provider's: the provider's when only it announced
        // the failure at least the min lead ahead. An own prediction that was the hit of an earlier failure of the
        // deployment is not live for this one: it was resolved then and no tick renewed it since (none is made
        // during a failure), though its horizon may reach past the quiet period to the next failure. A deployment
        // named "*" (LiteLLM's model_info.id is the operator's to choose) has no own predictions: as "own" it took
        // every provider's provider-level ones, as resolve() never does.
        // The same id under another provider is another deployment: its predictions are not this one's.
        try (PreparedStatement st = c.prepareStatement("select distinct on (deployment = '*') prediction_id,"
                + " created_at, deployment = '*' from failure_predictions where provider = ? and (deployment = ?"
                + " and deployment <> '*' and (status <> 'hit' or failure_onset >= ?) or deployment = '*')"
                + " and predicted_type = ?"
                + " and created_at <= ? and horizon_ends_at >= ? order by deployment = '*', created_at desc")) {
            st.setString(1, o.provider);
            st.setString(2, o.deployment);
            st.setTimestamp(3, Timestamp.from(o.onset));
            st.setString(4, o.type);
            st.setTimestamp(5, Timestamp.from(o.onset));
            st.setTimestamp(6, Timestamp.from(o.onset));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    long ms = Duration.between(rs.getTimestamp(2).toInstant(), o.onset).toMillis();
                    if (announcedBy == null || lead < config.minLead().toMillis() && ms >= config.minLead().toMillis()) {
                        announcedBy = rs.getObject(1, UUID.class);
                        lead = ms;
                    }
                }
            }
        }
        return new Announcement(announcedBy, lead);
    }

    private void insertObserved(Connection c, Observed o) throws SQLException {
        Announcement announced = announcement(c, o);
        UUID announcedBy = announced.by();
        Long lead = announced.leadMs();
        try (PreparedStatement st = c.prepareStatement("insert into observed_failures (failure_id, failure_type,"
                + " provider, deployment, onset, last_seen, announced_by, lead_time_ms) values (?, ?, ?, ?, ?, ?, ?, ?)")) {
            st.setObject(1, o.id);
            st.setString(2, o.type);
            st.setString(3, o.provider);
            st.setString(4, o.deployment);
            st.setTimestamp(5, Timestamp.from(o.onset));
            st.setTimestamp(6, Timestamp.from(o.lastSeen));
            st.setObject(7, announcedBy);
            st.setObject(8, lead);
            st.executeUpdate();
        }
    }

    /**
     * Hits first (a failure of the type on the deployment, under the prediction's provider, with its onset inside
     * [created, horizon end]), then the
     * predictions whose horizon ended without one: prevented when the counterfactual reached the failure, else a
     * false alarm.
     */
    private int resolve(Connection c, Instant now) throws SQLException {
        int resolved;
        try (PreparedStatement st = c.prepareStatement("with h as (select p.prediction_id, min(f.onset) onset"
                + " from failure_predictions p join observed_failures f on f.provider = p.provider"
                + " and (f.deployment = p.deployment and p.deployment <> '*' or p.deployment = '*')"
                + " and f.failure_type = p.predicted_type and f.onset >= p.created_at and f.onset <= p.horizon_ends_at"
                + " where p.status = 'active' or p.status in ('false_alarm', 'prevented') and p.horizon_ends_at >= ?"
                + " group by p.prediction_id)"
                + " update failure_predictions p set status = 'hit', resolved_at = ?, failure_onset = h.onset,"
                + " lead_time_ms = (extract(epoch from (h.onset - p.created_at)) * 1000)::bigint"
                + " from h where p.prediction_id = h.prediction_id")) {
            // A prediction resolved without a failure still becomes a hit when one within its horizon shows later
            // (late calls, or a failure minute that filled up after the horizon ended): within the window a tick
            // reads, the furthest back a failure can be observed.
            st.setTimestamp(1, Timestamp.from(now.minus(config.window()).minus(config.bucket())));
            st.setTimestamp(2, Timestamp.from(now));
            resolved = st.executeUpdate();
        }
        try (PreparedStatement st = c.prepareStatement("update failure_predictions set status = case when"
                + " counterfactual_at is not null then 'prevented' else 'false_alarm' end, resolved_at = ?"
                + " where status = 'active' and horizon_ends_at <= ?")) {
            st.setTimestamp(1, Timestamp.from(now));
            st.setTimestamp(2, Timestamp.from(now));
            resolved += st.executeUpdate();
        }
        return resolved;
    }

    /**
     * The "prevented" rule for rate limits, judged on the traffic that remained: the headroom drained since the
     * action, each tick's drain scaled back to the full traffic (÷ the share the policy kept during that tick), would
     * have reached zero. Latency and error shares do not depend on the volume, so those predictions are judged on the
     * remaining traffic's failures directly.
     */
    private void counterfactual(Connection c, List<DeploymentWindow> windows, Instant now,
            Map<String, TrafficPolicy.Kept> shares) throws SQLException {
        Map<String, DeploymentWindow> byDeployment = new HashMap<>();
        for (DeploymentWindow w : windows) {
            byDeployment.put(TrafficPolicy.key(w.provider(), w.deployment()), w);
        }
        try (PreparedStatement st = c.prepareStatement("select prediction_id, deployment, action_remaining,"
                + " indicators ->> 'limit_type', action_last_remaining, coalesce(action_unreduced_drain, 0),"
                + " horizon_ends_at, provider"
                + " from failure_predictions where status = 'active' and predicted_type = 'rate_limit'"
                + " and kept_share < 1 and action_remaining is not null and counterfactual_at is null");
                PreparedStatement update = c.prepareStatement("update failure_predictions set"
                        + " action_last_remaining = ?, action_unreduced_drain = ?, counterfactual_at = ?"
                        + " where prediction_id = ?")) {
            boolean any = false;
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    DeploymentWindow w = byDeployment.get(TrafficPolicy.key(rs.getString(8), rs.getString(2)));
                    Double remaining = w == null ? null
                            : latestRemaining(w, rs.getString(4), rs.getTimestamp(7).toInstant());
                    double atAction = rs.getDouble(3);
                    if (remaining == null || remaining > atAction) {
                        continue; // no reading, or the limit was reset since the action
                    }
                    // From the last reading (the fitted level at the action for the first), never above that level.
                    double last = rs.getObject(5) == null ? atAction : Math.min(atAction, rs.getDouble(5));
                    TrafficPolicy.Kept k = shares.get(TrafficPolicy.key(rs.getString(8), rs.getString(2)));
                    double kept = k == null ? 1.0 : k.share();
                    double unreduced = rs.getDouble(6) + Math.max(0, last - remaining) / Math.max(kept, 0.01);
                    update.setDouble(1, remaining);
                    update.setDouble(2, unreduced);
                    update.setTimestamp(3, atAction - unreduced <= 0 ? Timestamp.from(now) : null);
                    update.setObject(4, rs.getObject(1, UUID.class));
                    update.addBatch();
                    any = true;
                }
            }
            if (any) {
                update.executeBatch();
            }
        }
    }

    /** The latest reading of the limit type taken by {@code until} (a drain after a horizon is not its own). */
    private static Double latestRemaining(DeploymentWindow w, String limitType, Instant until) {
        int slot = java.util.Arrays.asList(DeploymentWindow.LIMIT_TYPES).indexOf(limitType);
        if (slot < 0) {
            return null;
        }
        for (int i = w.buckets().length - 1; i >= 0; i--) {
            DeploymentWindow.Bucket b = w.buckets()[i];
            if (b != null && b.headroom()[slot] != null
                    && b.headroom()[slot].atEpochSeconds() <= until.toEpochMilli() / 1000.0) {
                return b.headroom()[slot].remaining();
            }
        }
        return null;
    }

    private record Upsert(DeploymentWindow w, Indicators.Candidate candidate) {
    }

    /** Creates or renews the predictions in one statement (a round trip each cost more than the indicators). */
    private List<UUID> upsert(Connection c, List<Upsert> rows, Instant now, boolean providerWide)
            throws SQLException {
        List<UUID> made = new ArrayList<>(rows.size());
        if (rows.isEmpty()) {
            return made;
        }
        StringBuilder sql = new StringBuilder("insert into failure_predictions (prediction_id, predicted_type,"
                + " provider, deployment, model_group, confidence, peak_confidence, time_to_failure_ms,"
                + " recommended_action, indicators, created_at, updated_at, horizon_ms, horizon_ends_at, status)"
                + " values ");
        for (int i = 0; i < rows.size(); i++) {
            sql.append(i == 0 ? "" : ", ").append("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, 'active')");
        }
        sql.append(providerWide ? " on conflict (provider, predicted_type) where status = 'active' and deployment = '*'"
                : " on conflict (provider, deployment, predicted_type) where status = 'active' and deployment <> '*'");
        sql.append(" do update set"
                + " confidence = excluded.confidence,"
                + " peak_confidence = greatest(failure_predictions.peak_confidence, excluded.confidence),"
                + " time_to_failure_ms = excluded.time_to_failure_ms, recommended_action = excluded.recommended_action,"
                + " indicators = excluded.indicators, updated_at = excluded.updated_at,"
                + " horizon_ms = excluded.horizon_ms, horizon_ends_at = excluded.horizon_ends_at"
                + " returning prediction_id");
        try (PreparedStatement st = c.prepareStatement(sql.toString())) {
            int p = 1;
            for (Upsert row : rows) {
                DeploymentWindow w = row.w();
                Indicators.Candidate candidate = row.candidate();
                st.setObject(p++, UUID.randomUUID());
                st.setString(p++, candidate.type());
                st.setString(p++, w.provider());
                st.setString(p++, w.deployment());
                st.setString(p++, w.modelGroup());
                st.setDouble(p++, candidate.confidence());
                st.setDouble(p++, candidate.confidence());
                st.setLong(p++, Math.round(candidate.timeToFailureSeconds() * 1000));
                st.setString(p++, candidate.action());
                st.setString(p++, store.toJson(candidate.figures()));
                st.setTimestamp(p++, Timestamp.from(now));
                st.setTimestamp(p++, Timestamp.from(now));
                st.setLong(p++, config.horizon().toMillis());
                st.setTimestamp(p++, Timestamp.from(now.plus(config.horizon())));
            }
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    made.add(rs.getObject(1, UUID.class));
                }
            }
        }
        return made;
    }

    /**
     * Latency baselines by scope: "d:deployment", "m:provider:model group", "p:provider", each keyed once as a
     * profile and once as a passive baseline; the newer of a scope and source wins. Profiles are stored under the
     * normalised provider a run is locked on ({@code text-completion-openai} is {@code openai}), passive ones under
     * the provider the plugin stored the calls with, so a profile's scope names the normalised provider.
     */
    private Map<String, Double> latencyBaselines() {
        Map<String, BaselineStore.Baseline> best = new HashMap<>();
        for (BaselineStore.Baseline b : baselines.current(null, "latency_ms")) {
            boolean profile = "profile".equals(b.source());
            String provider = profile ? BaselineProfiler.normaliseProvider(b.provider()) : b.provider();
            String scope = (profile ? PROFILE : PASSIVE) + (b.deployment() != null ? "d:" + b.deployment()
                    : b.model() != null ? "m:" + provider + ":" + b.model() : "p:" + provider);
            best.merge(scope, b, (x, y) -> y.measuredAt().isAfter(x.measuredAt()) ? y : x);
        }
        Map<String, Double> p95 = new HashMap<>();
        best.forEach((k, v) -> p95.put(k, v.p95()));
        return p95;
    }

    /**
     * The reference of a deployment's window: its own, else its model group's, else its provider's baseline; a
     * profile beats a passive baseline of the same scope. Calls carry the provider LiteLLM logged: a profile is
     * looked up under its normalised name.
     */
    private static Double baselineOf(Map<String, Double> reference, DeploymentWindow w) {
        Double d = of(reference, "d:" + w.deployment(), "d:" + w.deployment());
        if (d == null && w.modelGroup() != null) {
            d = of(reference, "m:" + BaselineProfiler.normaliseProvider(w.provider()) + ":" + w.modelGroup(),
                    "m:" + w.provider() + ":" + w.modelGroup());
        }
        return d != null ? d : providerBaseline(reference, w.provider());
    }

    private static Double providerBaseline(Map<String, Double> reference, String provider) {
        return of(reference, "p:" + BaselineProfiler.normaliseProvider(provider), "p:" + provider);
    }

    private static Double of(Map<String, Double> reference, String profileScope, String passiveScope) {
        Double profile = reference.get(PROFILE + profileScope);
        return profile != null ? profile : reference.get(PASSIVE + passiveScope);
    }

    /** The latest reset header of a limit type among the provider's deployments (by when it was seen). */
    private DeploymentWindow.Reading latestReset(List<DeploymentWindow> members, int slot) {
        DeploymentWindow.Reading latest = null;
        for (DeploymentWindow w : members) {
            DeploymentWindow.Reading r = windowCache.latestReset(w, slot);
            if (r != null && r.resetSeenAt() != null
                    && (latest == null || r.resetSeenAt().isAfter(latest.resetSeenAt()))) {
                latest = r;
            }
        }
        return latest;
    }

    /** A deployment is its provider's: LiteLLM's model_info.id is the operator's to choose, in each proxy. */
    private static String key(String provider, String deployment, String type) {
        return provider + "\u0000" + deployment + "\u0000" + type;
    }

    /** A scheduled tick is due when no replica evaluated within the last half interval. */
    private boolean due(Connection c, Instant now) throws SQLException {
        Duration interval = intervalOf(config);
        try (PreparedStatement st = c.prepareStatement("select last_tick from failure_prediction_ticks"
                + " where tick_key = 1")) {
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next()) {
                    return true;
                }
                Instant last = rs.getTimestamp(1).toInstant();
                return !last.isAfter(now.minus(interval.dividedBy(2))) || last.isAfter(now);
            }
        }
    }

    /** The tick interval as a duration ("60s", "1m" or ISO-8601). */
    static Duration intervalOf(PredictConfig config) {
        return ClusterJobs.every(config.interval());
    }

    private static void markTick(Connection c, Instant now) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("insert into failure_prediction_ticks (tick_key, last_tick)"
                + " values (1, ?) on conflict (tick_key) do update set last_tick = excluded.last_tick")) {
            st.setTimestamp(1, Timestamp.from(now));
            st.executeUpdate();
        }
    }
}
