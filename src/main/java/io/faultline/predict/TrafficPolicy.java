package io.faultline.predict;

import io.agroal.api.AgroalDataSource;
import io.faultline.common.DatabaseStartup;
import io.faultline.common.MetricLabels;
import io.faultline.web.ApiProblem;
import io.faultline.web.KeysetCursor;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The preemptive traffic policy: after every prediction tick (on the tick's leader, in its transaction) a deployment
 * with a firing prediction above {@code act-above} keeps only {@code keep-share} of its requests; once nothing fired
 * on it for {@code healthy-for}, its share comes back in steps of {@code recovery-step} every {@code step-every}. An
 * operator pin overrides both. The plugin polls {@link #current()} and applies it in LiteLLM's router.
 */
@Singleton
public class TrafficPolicy {

    /** The name its cursors carry, so that another list's cursor is refused. */
    private static final String CURSOR_LIST = "traffic-actions";

    /** One deployment's entry of the published policy; a deployment without one keeps all its traffic. */
    public record Entry(String deployment, String modelGroup, String provider, double keepShare, String state,
            String reason, UUID predictionId, String predictedType, Double confidence, Instant since, Instant until,
            boolean soleDeployment) {
    }

    /** The policy as the plugin reads it. */
    public record Policy(Instant generatedAt, boolean preemption, long refreshSeconds, long staleAfterSeconds,
            List<Entry> deployments) {
    }

    /**
     * One recorded change of the policy; {@code provider} is null only for a change recorded before V55 whose
     * provider could not be told (README "Preemptive traffic policy").
     */
    public record Action(UUID actionId, Instant at, String provider, String deployment, String action,
            double keepShareBefore, double keepShareAfter, UUID predictionId, String reason, String actor) {
    }

    /**
     * What the tick saw of the deployments' health besides its predictions: when each deployment last had a failing
     * bucket (calls failing with a predicted type, at least the failure share of the bucket's calls, however few: a
     * reduced deployment gets few calls), and the deployments whose indicators fired while they were failing (no
     * prediction is made during a failure). Both are keyed on {@link #key(String, String)}.
     */
    public record Unhealthy(Map<String, Instant> lastFailed, java.util.Set<String> failingAndWorse) {
    }

    /** One page of actions, newest first; {@code nextCursor} is null on the last page. */
    public record ActionPage(List<Action> items, String nextCursor) {
    }

    private static final String ENTRY_COLUMNS = "deployment, model_group, provider, keep_share, state, reason,"
            + " prediction_id, predicted_type, confidence, since, until, sole_deployment, healthy_since, updated_at";

    private final AgroalDataSource dataSource;
    private final PredictionStore predictions;
    private final TrafficConfig config;
    /**
     * How early a tick may read its clock and still take a step or end a healthy period: half the tick interval or
     * half a step, whichever is shorter (scheduled ticks are never closer than half an interval, FailurePredictor.due).
     * Each tick reads its clock after its own start-up work, so two ticks a minute apart read 60 s give or take some
     * milliseconds; compared exactly with a 1-minute step, one step in two waited for the tick after.
     */
    private final java.time.Duration tickSlack;
    private final Clock clock;
    private final MeterRegistry registry;
    private final MetricLabels labels;
    private final Map<String, AtomicLong> shares = new ConcurrentHashMap<>();
    private final Map<String, Counter> actionCounters = new ConcurrentHashMap<>();

    private final DatabaseStartup startup;

    public TrafficPolicy(AgroalDataSource dataSource, PredictionStore predictions, TrafficConfig config,
            PredictConfig predictConfig, Clock clock, MeterRegistry registry, MetricLabels labels,
            DatabaseStartup startup) {
        this.startup = startup;
        validate(config);
        this.dataSource = dataSource;
        this.predictions = predictions;
        this.config = config;
        java.time.Duration interval = FailurePredictor.intervalOf(predictConfig);
        this.tickSlack = (interval.compareTo(config.stepEvery()) < 0 ? interval : config.stepEvery()).dividedBy(2);
        this.clock = clock;
        this.registry = registry;
        this.labels = labels;
    }

    /**
     * Fails the start on settings the policy cannot work with. The plugin reads the published timings in whole
     * seconds, refreshSeconds within 1..3600 and staleAfterSeconds within 0..86400 (outside, its own defaults), and
     * drops a policy once staleAfterSeconds passed since its last poll: polled every 5 min and stale after 3, it
     * reduced nothing for 2 minutes out of every 5.
     */
    static void validate(TrafficConfig config) {
        if (!(config.keepShare() > 0 && config.keepShare() < 1) || !(config.recoveryStep() > 0)
                || !(config.actAbove() >= 0 && config.actAbove() < 1)) {
            throw new IllegalArgumentException("faultline.traffic.keep-share must be within (0, 1), recovery-step"
                    + " above 0 and act-above within [0, 1)");
        }
        long refresh = config.refresh().toSeconds();
        if (refresh < 1 || refresh > 3600) {
            throw new IllegalArgumentException("faultline.traffic.refresh must be 1s to 1h (the plugin reads whole"
                    + " seconds from 1 to 3600), not " + config.refresh());
        }
        if (config.staleAfter().compareTo(config.refresh()) <= 0 || config.staleAfter().toSeconds() > 86_400) {
            throw new IllegalArgumentException("faultline.traffic.stale-after must be longer than"
                    + " faultline.traffic.refresh (" + config.refresh() + ": the policy would go stale between two"
                    + " polls) and at most 1 day, not " + config.staleAfter());
        }
    }

    /**
     * The key of a deployment in the policy's maps: LiteLLM's model_info.id is each proxy operator's to choose, so the
     * same id under two providers is two deployments (the plugin matches on both, as predictions are keyed, V54).
     */
    public static String key(String provider, String deployment) {
        return provider + "\u0000" + deployment;
    }

    private static String key(Entry e) {
        return key(e.provider(), e.deployment());
    }

    /** A stored row: the entry and the predictor's bookkeeping. */
    private record Row(Entry entry, Instant healthySince, Instant updatedAt) {
    }

    /**
     * Applies one tick's firing predictions (made or renewed by it) to the policy, in the tick's transaction.
     * {@code groups} are the candidate lists of the tick's window (a model group of one proxy, WindowCache.list) and
     * their members ({@link #key(String, String)}); {@code unhealthy} names the deployments that failed or still
     * worsen, which keep a reduction they have.
     */
    public void apply(Connection c, Instant now, List<PredictedFailure> firing, Map<String, Set<String>> groups,
            Unhealthy unhealthy) throws SQLException {
        if (!config.preemption()) {
            return;
        }
        Sole sole = new Sole(groups);
        Map<String, PredictedFailure> top = new LinkedHashMap<>();
        Map<String, PredictedFailure> anyFiring = new HashMap<>();
        // Every prediction firing on a deployment lives under the share it keeps, whichever of them set it: one of
        // another type without its kept share could never be judged prevented by the cut it shared.
        Map<String, List<PredictedFailure>> firingOn = new HashMap<>();
        for (PredictedFailure p : firing) {
            if (DeploymentWindow.PROVIDER_WIDE.equals(p.deployment())) {
                // A provider-level prediction only warns: its deployments' own predictions act on each of them, and
                // moving a provider's traffic to another provider is the operator's fallback (README "Prediction").
                continue;
            }
            String k = key(p.provider(), p.deployment());
            anyFiring.merge(k, p, (a, b) -> b.confidence() > a.confidence() ? b : a);
            firingOn.computeIfAbsent(k, x -> new ArrayList<>()).add(p);
            if (p.confidence() > config.actAbove()) {
                top.merge(k, p, (a, b) -> b.confidence() > a.confidence() ? b : a);
            }
        }
        // The tick's writes go in two JDBC batches at the end (one round trip each): renewing 20 reduced deployments
        // took 40 round trips.
        List<Pending> upserts = new ArrayList<>();
        List<PredictionStore.Action> actions = new ArrayList<>();
        Map<String, Row> rows = new HashMap<>();
        // "for update" locks only the rows that exist: an operator's pin of a deployment without a row, committed
        // between this read and the upsert below, was overwritten by the upsert. This mode lets reads through but
        // waits for writers in flight and holds new ones until the tick commits.
        lockPolicy(c);
        try (PreparedStatement st = c.prepareStatement("select " + ENTRY_COLUMNS + " from traffic_policy for update");
                ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                Row r = row(rs);
                rows.put(key(r.entry()), r);
            }
        }
        for (PredictedFailure p : top.values()) {
            String k = key(p.provider(), p.deployment());
            Row row = rows.remove(k);
            if (row != null && row.entry().state().equals("pinned")) {
                if (!pinEnded(row.entry(), now)) {
                    // The operator decides for this deployment; its predictions lived under the pin all the same.
                    keptUnderPin(row.entry(), firingOn.get(k), sole, actions);
                    continue;
                }
                expire(c, now, row.entry());
                row = null; // the pin ended: the predictor decides again, in this tick
            } else if (row != null && stale(row, now)) {
                row = null; // not published since the predictor stopped renewing it: full traffic until now
            }
            boolean alone = sole.test(k);
            double before = row == null ? 1.0 : row.entry().keepShare();
            double after = Math.min(before, config.keepShare());
            Instant since = row == null || before > after ? now : row.entry().since();
            upserts.add(new Pending(new Entry(p.deployment(), p.modelGroup(), p.provider(), after, "reduced",
                    "prediction", p.predictionId(), p.predictedType(), p.confidence(), since, p.horizonEndsAt(), alone),
                    null));
            if (after < before) {
                record(c, now, p.provider(), p.deployment(), row == null ? "reduce" : "deepen", before, after,
                        p.predictionId(),
                        p.predictedType() + " predicted with confidence " + round(p.confidence()) + ", failure in "
                                + p.estimatedTimeToFailure(), "predictor");
            }
            // The plugin never thins a deployment that is alone in its group: what such a prediction kept is all.
            for (PredictedFailure q : firingOn.get(k)) {
                actions.add(new PredictionStore.Action(q.predictionId(), alone ? 1.0 : after));
            }
        }
        for (Row row : rows.values()) {
            Entry e = row.entry();
            if (e.state().equals("pinned")) {
                if (pinEnded(e, now)) {
                    expire(c, now, e);
                } else if (firingOn.containsKey(key(e))) {
                    keptUnderPin(e, firingOn.get(key(e)), sole, actions);
                }
                continue;
            }
            if (stale(row, now)) {
                // The predictor stopped (every replica down, the database away): the entry has not been published
                // since, so the deployment had its full traffic. Putting the old cut back would act on nothing seen.
                delete(c, e.provider(), e.deployment());
                record(c, now, e.provider(), e.deployment(), "restore", e.keepShare(), 1.0, e.predictionId(),
                        "not renewed by the predictor since " + row.updatedAt() + ": no longer in force", "predictor");
                continue;
            }
            PredictedFailure still = anyFiring.get(key(e));
            if (still != null) {
                // A weaker prediction still fires: hold the share, and the healthy period starts over. What it kept
                // is what the plugin applies: all of a deployment alone in its group, as for a confident one.
                upserts.add(new Pending(e, null));
                for (PredictedFailure q : firingOn.get(key(e))) {
                    actions.add(new PredictionStore.Action(q.predictionId(), e.soleDeployment() ? 1.0
                            : e.keepShare()));
                }
                continue;
            }
            Instant lastFailed = unhealthy.lastFailed().get(key(e));
            if (lastFailed != null && !lastFailed.isBefore(now.minus(config.healthyFor()))) {
                // Failing now or within the healthy period (no prediction is made during a failure): not healthy.
                // Stepping traffic back onto it would undo what the reduction was for; one that was recovering goes
                // back to the keep share. The healthy period starts over.
                if (e.keepShare() > config.keepShare() + 1e-9) {
                    upserts.add(new Pending(new Entry(e.deployment(), e.modelGroup(), e.provider(), config.keepShare(),
                            "reduced", e.reason(), e.predictionId(), e.predictedType(), e.confidence(), now, e.until(),
                            e.soleDeployment()), null));
                    record(c, now, e.provider(), e.deployment(), "deepen", e.keepShare(), config.keepShare(),
                            e.predictionId(), "failing again (last failing call " + lastFailed + ") while recovering",
                            "predictor");
                } else {
                    upserts.add(new Pending(e, null));
                }
                continue;
            }
            if (unhealthy.failingAndWorse().contains(key(e))) {
                upserts.add(new Pending(e, null)); // its indicators still point at the failure it just had
                continue;
            }
            Instant healthySince = row.healthySince() == null ? now : row.healthySince();
            // Every step waits for a healthy period without predictions or failures; a recovering entry also for
            // its step time. Both are due at the first tick that reads its clock at most the slack before them.
            Instant dueBy = now.plus(tickSlack);
            boolean due = healthySince.plus(config.healthyFor()).isBefore(dueBy)
                    && (e.state().equals("reduced") || e.until() == null || e.until().isBefore(dueBy));
            if (!due) {
                upserts.add(new Pending(e, healthySince));
                continue;
            }
            double after = Math.min(1.0, e.keepShare() + config.recoveryStep());
            if (after >= 1.0 - 1e-9) {
                delete(c, e.provider(), e.deployment());
                record(c, now, e.provider(), e.deployment(), "restore", e.keepShare(), 1.0, e.predictionId(),
                        "no prediction or failure of " + e.deployment() + " since " + healthySince
                                + ": full traffic again",
                        "predictor");
            } else {
                upserts.add(new Pending(new Entry(e.deployment(), e.modelGroup(), e.provider(), after, "recovering",
                        e.reason(),
                        e.predictionId(), e.predictedType(), e.confidence(), e.since(), now.plus(config.stepEvery()),
                        e.soleDeployment()), healthySince));
                record(c, now, e.provider(), e.deployment(), "step_up", e.keepShare(), after, e.predictionId(),
                        "no prediction or failure of " + e.deployment() + " since " + healthySince + ": step "
                                + round(config.recoveryStep()) + " back", "predictor");
            }
        }
        upsertAll(c, upserts, now);
        predictions.recordTrafficActions(c, actions, now);
    }

    /**
     * What the predictions firing on a pinned deployment kept: the pin's share, as the cut of a reduction is theirs
     * (a pin below 1.0 that kept the deployment from failing prevented it, README "Accuracy"); all of a deployment
     * alone in its model group, which the plugin never thins. A pin at 1.0 kept everything: such a prediction is
     * judged on what happened.
     */
    private static void keptUnderPin(Entry pin, List<PredictedFailure> firing, Sole sole,
            List<PredictionStore.Action> actions) {
        boolean alone = sole.test(key(pin));
        for (PredictedFailure q : firing) {
            actions.add(new PredictionStore.Action(q.predictionId(), alone ? 1.0 : pin.keepShare()));
        }
    }

    /**
     * Whether the plugin leaves a deployment's traffic whole: it never thins a lone candidate, so a deployment alone
     * in a candidate list of the window (a model group of one proxy), or in none, keeps all of it. One alone in one
     * proxy's list and beside others in another's keeps that proxy's traffic whole: taken as alone, its predictions
     * are judged on what happened rather than credited with a cut most of its calls never saw.
     */
    private static final class Sole implements java.util.function.Predicate<String> {
        private final Set<String> shared = new java.util.HashSet<>();
        private final Set<String> aloneSomewhere = new java.util.HashSet<>();

        Sole(Map<String, Set<String>> groups) {
            for (Set<String> members : groups.values()) {
                (members.size() < 2 ? aloneSomewhere : shared).addAll(members);
            }
        }

        @Override
        public boolean test(String deployment) {
            return aloneSomewhere.contains(deployment) || !shared.contains(deployment);
        }
    }

    /** Reads go on; other writers of the policy wait until this transaction ends, and it waits for theirs. */
    private static void lockPolicy(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("lock table traffic_policy in share row exclusive mode");
        }
    }

    private static boolean pinEnded(Entry pin, Instant now) {
        return pin.until() != null && !pin.until().isAfter(now);
    }

    private void expire(Connection c, Instant now, Entry pin) throws SQLException {
        delete(c, pin.provider(), pin.deployment());
        record(c, now, pin.provider(), pin.deployment(), "expire", pin.keepShare(), 1.0, null,
                "the operator's pin ended", "operator");
    }

    /** Whether the entry is published: a pin until it ends, a predictor's entry until it goes stale. */
    private boolean inForce(Row row, Instant now) {
        return row.entry().state().equals("pinned") ? !pinEnded(row.entry(), now) : !stale(row, now);
    }

    /** A predictor's entry no tick renewed within {@code stale-after}: not published, so not in force. */
    private boolean stale(Row row, Instant now) {
        return !row.entry().state().equals("pinned") && row.updatedAt().isBefore(now.minus(config.staleAfter()));
    }

    /** The share of its requests a deployment keeps, and since when (the entry's since). */
    public record Kept(double share, Instant since) {
    }

    /**
     * The share of its requests each listed deployment kept since the policy was last written, as the plugin applied
     * it: an operator's pin while it lasts, the predictor's entry while it is published, 1 for a deployment alone in
     * a candidate list (the plugin never thins a lone candidate), and, when every deployment of a list it is in is
     * listed, its share relative to the largest of theirs (the plugin keeps the least at risk in every list: two at
     * 0.2 keep everything). {@code groups} are the candidate lists of the tick's window: a model group of one proxy
     * each (WindowCache.list), as each proxy's plugin thins its own. A deployment in several lists (called by
     * several proxies) kept at least the most any of them left it, which is what it is credited with. Read in the
     * tick's transaction before it applies. Members and the answer's keys are {@link #key(String, String)}: one id
     * under two providers is two candidates of two proxies' lists, and neither keeps what the other's entry says.
     */
    Map<String, Kept> sharesInForce(Connection c, Instant now, Map<String, Set<String>> groups) throws SQLException {
        Map<String, Kept> shares = new HashMap<>();
        if (!config.preemption()) {
            return shares;
        }
        // The lists each deployment was a candidate of in the tick's window: an operator's pin names none of its own.
        Map<String, List<Set<String>>> listsOf = new HashMap<>();
        groups.values().forEach(members -> members.forEach(m -> listsOf.computeIfAbsent(m, x -> new ArrayList<>())
                .add(members)));
        try (PreparedStatement st = c.prepareStatement("select " + ENTRY_COLUMNS + " from traffic_policy");
                ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                Row r = row(rs);
                Entry e = r.entry();
                if (inForce(r, now)) {
                    String k = key(e);
                    // Alone in a list of the window (an entry's group may have lost its other deployments since): the
                    // plugin never thins a lone candidate, so it kept everything there.
                    boolean alone = e.soleDeployment()
                            || listsOf.getOrDefault(k, List.of()).stream().anyMatch(members -> members.size() < 2);
                    shares.put(k, new Kept(alone ? 1.0 : e.keepShare(), e.since()));
                }
            }
        }
        Map<String, Kept> relative = new HashMap<>(shares);
        for (Map.Entry<String, Kept> d : shares.entrySet()) {
            List<Set<String>> lists = listsOf.get(d.getKey());
            if (lists == null || d.getValue().share() >= 1.0) {
                continue;
            }
            double kept = 0;
            for (Set<String> members : lists) {
                if (!shares.keySet().containsAll(members)) {
                    kept = Math.max(kept, d.getValue().share()); // another candidate keeps everything: its own share
                    continue;
                }
                double highest = members.stream().mapToDouble(m -> shares.get(m).share()).max().orElse(1.0);
                // None above 0 leaves the plugin nothing to prefer: it returns the list whole, each keeps everything.
                kept = Math.max(kept, highest > 0 ? Math.min(1.0, d.getValue().share() / highest) : 1.0);
            }
            relative.put(d.getKey(), new Kept(kept, d.getValue().since()));
        }
        return relative;
    }

    /**
     * The published policy. The predictor's entries count only while a tick renewed them within {@code stale-after}
     * (a stopped predictor never keeps traffic away); with preemption off the list is empty.
     */
    public Policy current() {
        Instant now = clock.instant();
        List<Entry> entries = new ArrayList<>();
        if (config.preemption()) {
            for (Row r : rows()) {
                if (r.entry().state().equals("pinned")
                        ? r.entry().until() == null || r.entry().until().isAfter(now)
                        : !r.updatedAt().isBefore(now.minus(config.staleAfter()))) {
                    entries.add(r.entry());
                }
            }
        }
        return new Policy(now, config.preemption(), config.refresh().toSeconds(), config.staleAfter().toSeconds(),
                List.copyOf(entries));
    }

    /**
     * An operator pin: the deployment keeps {@code keepShare} until {@code until} (null: until unpinned).
     * {@code provider} null (a client from before V55) takes the one provider the deployment's calls were seen with;
     * none seen is a 400 naming {@code provider}, several a 409 naming them ({@code candidates}).
     */
    public Entry pin(String provider, String deployment, double share, String reason, Instant until) {
        // As the database keeps them, so that the answer says what a read shows: microseconds (PostgreSQL rounds a
        // nanosecond instant), and no negative zero.
        Instant now = clock.instant().truncatedTo(java.time.temporal.ChronoUnit.MICROS);
        double keepShare = share == 0 ? 0.0 : share;
        if (until != null && !until.isAfter(now)) {
            throw ApiProblem.badRequest("until", "until must be in the future");
        }
        return QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                // Pins one at a time (and not during a tick): two PUTs counting the pins together both found the last
                // place free, and both took it.
                lockPolicy(c);
                String p = provider != null ? provider : providerOf(c, deployment);
                Row existing = rowOf(c, p, deployment);
                // A deployment the predictor holds becomes a new pin too (so does one whose pin ended): only
                // re-pinning a pin in force changes nothing.
                boolean pinned = existing != null && existing.entry().state().equals("pinned")
                        && !pinEnded(existing.entry(), now);
                if (!pinned && pinsInForce(c, now) >= config.maxPins()) {
                    throw new ApiProblem(409, "Too many pins", "At most " + config.maxPins() + " deployments can be"
                            + " pinned (faultline.traffic.max-pins); unpin one first.");
                }
                Entry e = new Entry(deployment, null, p, keepShare, "pinned", reason, null, null, null, now, until,
                        false);
                upsert(c, e, null, now);
                // What it had: an entry not in force (a predictor's no tick renewed, a pin that ended) is not
                // published, so the pin replaced full traffic, not the old share.
                double before = existing == null || !inForce(existing, now) ? 1.0 : existing.entry().keepShare();
                record(c, now, p, deployment, "pin", before, keepShare, null, reason, "operator");
                return e;
            } catch (SQLException e) {
                throw new IllegalStateException("could not pin " + deployment, e);
            }
        });
    }

    /**
     * Removes an operator pin; the predictor decides for the deployment again at its next tick. {@code provider}
     * null removes the deployment's only pin; pins under several providers are a 409 naming them.
     */
    public boolean unpin(String provider, String deployment) {
        Instant now = clock.instant();
        return QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                String p = provider;
                if (p == null) {
                    List<String> pinnedUnder = providers(c, "select provider from traffic_policy where deployment = ?"
                            + " and state = 'pinned' order by provider", deployment);
                    if (pinnedUnder.size() > 1) {
                        throw ambiguous(deployment, pinnedUnder, "is pinned under several providers");
                    }
                    p = pinnedUnder.isEmpty() ? null : pinnedUnder.get(0);
                }
                Row existing = p == null ? null : rowOf(c, p, deployment);
                if (existing == null || !existing.entry().state().equals("pinned")) {
                    return false;
                }
                delete(c, p, deployment);
                record(c, now, p, deployment, "unpin", existing.entry().keepShare(), 1.0, null,
                        "unpinned by an operator", "operator");
                return true;
            } catch (SQLException e) {
                throw new IllegalStateException("could not unpin " + deployment, e);
            }
        });
    }

    private static ApiProblem ambiguous(String deployment, List<String> candidates, String why) {
        return ApiProblem.withMembers(409, "Ambiguous deployment", "Deployment " + oneLine(deployment) + " " + why
                + " (" + String.join(", ", candidates) + "): LiteLLM's model_info.id is each proxy's to choose. Name"
                + " the one you mean with provider.", Map.of("candidates", candidates));
    }

    /** The recorded changes, newest first, keyset-paged on (at, action_id). */
    public ActionPage actions(String provider, String deployment, Instant since, String cursor, int limit) {
        StringBuilder sql = new StringBuilder("select action_id, at, provider, deployment, action, keep_share_before,"
                + " keep_share_after, prediction_id, reason, actor from traffic_policy_actions where true");
        List<Object> params = new ArrayList<>();
        if (provider != null) {
            sql.append(" and provider = ?");
            params.add(provider);
        }
        if (deployment != null) {
            sql.append(" and deployment = ?");
            params.add(deployment);
        }
        if (since != null) {
            sql.append(" and at >= ?");
            params.add(Timestamp.from(since));
        }
        KeysetCursor after = KeysetCursor.decode(CURSOR_LIST, cursor);
        if (after != null) {
            sql.append(" and (at, action_id) < (?, ?)");
            params.add(Timestamp.from(after.at()));
            params.add(after.id());
        }
        sql.append(" order by at desc, action_id desc limit ?");
        params.add(limit + 1);
        List<Action> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql.toString())) {
            for (int i = 0; i < params.size(); i++) {
                st.setObject(i + 1, params.get(i));
            }
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    rows.add(new Action(rs.getObject(1, UUID.class), rs.getTimestamp(2).toInstant(), rs.getString(3),
                            rs.getString(4), rs.getString(5), rs.getDouble(6), rs.getDouble(7),
                            rs.getObject(8, UUID.class), rs.getString(9), rs.getString(10)));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the traffic policy actions", e);
        }
        List<Action> page = rows.subList(0, Math.min(rows.size(), limit));
        String next = rows.size() > limit
                ? new KeysetCursor(CURSOR_LIST, page.get(limit - 1).at(), page.get(limit - 1).actionId()).encode()
                : null;
        return new ActionPage(List.copyOf(page), next);
    }

    /**
     * {@code faultline_traffic_keep_share{provider, deployment}}: the share each deployment keeps (1 once restored),
     * read from the database so that every replica reports the same. One id under two providers is two series.
     */
    @Scheduled(every = "{faultline.predict.metrics-every}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void refreshGauges() {
        if (!startup.migrated()) {
            return; // the schema is not migrated yet (the database was away at start)
        }
        List<Entry> entries;
        try {
            entries = current().deployments();
        } catch (RuntimeException e) {
            // The database is away: the gauges keep their last values, as the other gauge jobs' do.
            Log.warnf("Could not read the traffic policy; faultline_traffic_keep_share keeps its last values: %s",
                    e.getMessage());
            return;
        }
        Map<String, Double> current = new HashMap<>();
        for (Entry e : entries) {
            // Label values capped as everywhere else: two deployments past the cap share "other" and its least share.
            current.merge(key(labels.value("provider", e.provider()), labels.value("deployment", e.deployment())),
                    e.keepShare(), Math::min);
        }
        for (String known : shares.keySet()) {
            current.putIfAbsent(known, 1.0);
        }
        current.forEach((k, share) -> shares.computeIfAbsent(k, d -> {
            int cut = d.indexOf('\u0000');
            AtomicLong value = new AtomicLong(Double.doubleToLongBits(1.0));
            Gauge.builder("faultline.traffic.keep.share", value, v -> Double.longBitsToDouble(v.get()))
                    .description("Share of requests the traffic policy lets LiteLLM route to the deployment (1: all)")
                    .tag("provider", d.substring(0, cut)).tag("deployment", d.substring(cut + 1))
                    .strongReference(true).register(registry);
            return value;
        }).set(Double.doubleToLongBits(share)));
    }

    private List<Row> rows() {
        List<Row> out = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select " + ENTRY_COLUMNS + " from traffic_policy order by deployment, provider");
                ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                out.add(row(rs));
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the traffic policy", e);
        }
        return out;
    }

    private static Row rowOf(Connection c, String provider, String deployment) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select " + ENTRY_COLUMNS
                + " from traffic_policy where provider = ? and deployment = ? for update")) {
            st.setString(1, provider);
            st.setString(2, deployment);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? row(rs) : null;
            }
        }
    }

    private static Row row(ResultSet rs) throws SQLException {
        double confidence = rs.getDouble(9);
        Double conf = rs.wasNull() ? null : confidence;
        return new Row(new Entry(rs.getString(1), rs.getString(2), rs.getString(3), rs.getDouble(4), rs.getString(5),
                rs.getString(6), rs.getObject(7, UUID.class), rs.getString(8), conf, rs.getTimestamp(10).toInstant(),
                instant(rs.getTimestamp(11)), rs.getBoolean(12)), instant(rs.getTimestamp(13)),
                rs.getTimestamp(14).toInstant());
    }

    private static void upsert(Connection c, Entry e, Instant healthySince, Instant now) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(UPSERT)) {
            bind(st, e, healthySince, now);
            st.executeUpdate();
        }
    }

    /** One batch (one round trip). */
    private static void upsertAll(Connection c, List<Pending> pending, Instant now) throws SQLException {
        if (pending.isEmpty()) {
            return;
        }
        try (PreparedStatement st = c.prepareStatement(UPSERT)) {
            for (Pending p : pending) {
                bind(st, p.entry(), p.healthySince(), now);
                st.addBatch();
            }
            st.executeBatch();
        }
    }

    /** An entry to write at the end of the tick's apply. */
    private record Pending(Entry entry, Instant healthySince) {
    }

    private static final String UPSERT = "insert into traffic_policy (deployment, provider, model_group,"
            + " keep_share, state, reason, prediction_id, predicted_type, confidence, since, until, healthy_since,"
            + " sole_deployment, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            + " on conflict (provider, deployment) do update set"
            + " model_group = excluded.model_group, keep_share = excluded.keep_share, state = excluded.state,"
            + " reason = excluded.reason, prediction_id = excluded.prediction_id,"
            + " predicted_type = excluded.predicted_type, confidence = excluded.confidence, since = excluded.since,"
            + " until = excluded.until, healthy_since = excluded.healthy_since,"
            + " sole_deployment = excluded.sole_deployment, updated_at = excluded.updated_at";

    private static void bind(PreparedStatement st, Entry e, Instant healthySince, Instant now) throws SQLException {
        st.setString(1, e.deployment());
        st.setString(2, e.provider());
        st.setString(3, e.modelGroup());
        st.setDouble(4, e.keepShare());
        st.setString(5, e.state());
        st.setString(6, e.reason());
        st.setObject(7, e.predictionId());
        st.setString(8, e.predictedType());
        st.setObject(9, e.confidence());
        st.setTimestamp(10, Timestamp.from(e.since()));
        st.setTimestamp(11, e.until() == null ? null : Timestamp.from(e.until()));
        st.setTimestamp(12, healthySince == null ? null : Timestamp.from(healthySince));
        st.setBoolean(13, e.soleDeployment());
        st.setTimestamp(14, Timestamp.from(now));
    }

    private static void delete(Connection c, String provider, String deployment) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("delete from traffic_policy where provider = ?"
                + " and deployment = ?")) {
            st.setString(1, provider);
            st.setString(2, deployment);
            st.executeUpdate();
        }
    }

    private void record(Connection c, Instant at, String provider, String deployment, String action, double before,
            double after, UUID predictionId, String reason, String actor) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("insert into traffic_policy_actions (action_id, at, provider,"
                + " deployment, action, keep_share_before, keep_share_after, prediction_id, reason, actor)"
                + " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            st.setObject(1, UUID.randomUUID());
            st.setTimestamp(2, Timestamp.from(at));
            st.setString(3, provider);
            st.setString(4, deployment);
            st.setString(5, action);
            st.setDouble(6, before);
            st.setDouble(7, after);
            st.setObject(8, predictionId);
            st.setString(9, reason);
            st.setString(10, actor);
            st.executeUpdate();
        }
        actionCounters.computeIfAbsent(action + "\u0000" + actor, k -> Counter.builder("faultline.traffic.actions")
                .description("Changes of the traffic policy (counted by the replica that made them)")
                .tag("action", action).tag("actor", actor).register(registry)).increment();
        // Deployment names come from the calls (a refused call's is "litellm:" + the model its caller asked for),
        // and reasons quote them: a line break in one forged a log line of its own.
        Log.infof("Traffic policy: %s %s of %s %.2f -> %.2f (%s)", action, oneLine(deployment), oneLine(provider),
                before, after, oneLine(reason));
    }

    /** The text with control characters and line separators escaped (backslash, u, four hex digits): one line. */
    static String oneLine(String text) {
        if (text == null) {
            return null;
        }
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            boolean escape = Character.isISOControl(ch) || ch == '\u2028' || ch == '\u2029';
            if (escape && out == null) {
                out = new StringBuilder(text.length() + 16).append(text, 0, i);
            }
            if (escape) {
                out.append(String.format("\\u%04x", (int) ch));
            } else if (out != null) {
                out.append(ch);
            }
        }
        return out == null ? text : out.toString();
    }

    /**
     * The provider of a pin that names none (a client from before V55): the only one the deployment's calls were
     * seen with. None seen is a 400 (the pin could not say which proxy's deployment it is for: it was stored as
     * "unknown" and then matched every proxy's deployment of the id), several a 409 naming them.
     */
    private static String providerOf(Connection c, String deployment) throws SQLException {
        List<String> seen = providers(c, "select provider from provider_deployments where deployment = ?"
                + " order by provider", deployment);
        if (seen.isEmpty()) {
            throw ApiProblem.badRequest("provider", "provider is required: no call of deployment "
                    + oneLine(deployment) + " has been seen, so its provider is not known. Give it as Faultline"
                    + " records it (LiteLLM's custom_llm_provider, lower case: openai, azure, anthropic, ...)");
        }
        if (seen.size() > 1) {
            throw ambiguous(deployment, seen, "has calls under several providers");
        }
        return seen.get(0);
    }

    private static List<String> providers(Connection c, String sql, String deployment) throws SQLException {
        List<String> out = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement(sql)) {
            st.setString(1, deployment);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
        }
        return out;
    }

    /**
     * The pins still in force: one whose {@code until} has passed keeps no traffic away and is not published, though
     * its row stays until a tick records its expiry (never, with preemption off); it held a place of max-pins.
     */
    private static long pinsInForce(Connection c, Instant now) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select count(*) from traffic_policy where state = 'pinned'"
                + " and (until is null or until > ?)")) {
            st.setTimestamp(1, Timestamp.from(now));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    private static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }
}
