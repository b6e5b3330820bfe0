package io.faultline.impact;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import io.faultline.common.AdvisoryLocks;
import io.faultline.common.ClusterJobs;
import io.quarkus.logging.Log;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;

/**
 * {@code assess_impact()}: prices an episode or a correlation cluster from its stored calls (never from guesses).
 * The request figures come from {@link ImpactFold}, which keeps each request's contribution and re-derives only what
 * was written since the previous assessment (a cluster's members that share a request count it once); a second query
 * reads the quality baseline, and the SLO service the error budget. The assessment is stored in
 * {@code failure_impacts}. Open episodes and clusters are re-assessed on a schedule, at most {@code max-per-run} at a
 * time. {@link #assessFull} computes the same figures with one query over every attempt: the reference the fold is
 * tested against.
 */
@Singleton
public class FailureImpactAssessor {

    /** The advisory lock of the scheduled re-assessment ("FlImpact" in ASCII). */
    /** The job's name in {@code scheduled_job_runs} and on {@code faultline_scheduled_job_runs_total}. */
    static final String JOB = "impact-reassessment";
    static final long LOCK_KEY = 0x466C_496D_7061_6374L;

    /** What the assessment is about: the episodes whose calls it reads. */
    record Subject(UUID id, String kind, String fingerprint, String provider, String category, String type,
            String modelGroup, Instant firstSeen, Instant lastSeen, List<UUID> episodes, JsonNode evidence) {
    }

    private final AgroalDataSource dataSource;
    private final ImpactConfig config;
    private final ErrorBudgets budgets;
    private final ObjectMapper json;
    private final Clock clock;
    private final ImpactMetrics metrics;
    private final ImpactFold fold;
    private final StormPricing storms;

    private final ClusterJobs jobs;

    public FailureImpactAssessor(AgroalDataSource dataSource, ImpactConfig config, ErrorBudgets budgets,
            ObjectMapper json, Clock clock, ImpactMetrics metrics, ImpactFold fold, StormPricing storms,
            ClusterJobs jobs) {
        this.jobs = jobs;
        this.fold = fold;
        this.storms = storms;
        this.dataSource = dataSource;
        this.config = config;
        this.budgets = budgets;
        this.json = json;
        this.clock = clock;
        this.metrics = metrics;
    }

    /** The episode's assessment, computed now and stored; empty when there is no such episode. */
    public Optional<Assessment> assessEpisode(UUID failureId) {
        List<Runnable> counted = new ArrayList<>();
        try (Connection c = dataSource.getConnection()) {
            Optional<Assessment> a = inTransaction(c, () -> {
                Subject s = episode(c, failureId);
                return s == null ? Optional.empty() : Optional.of(assessAndStore(c, s, counted));
            });
            counted.forEach(Runnable::run);
            return a;
        } catch (SQLException e) {
            throw new IllegalStateException("could not assess episode " + failureId, e);
        }
    }

    /** The cluster's assessment, computed now and stored; empty when there is no such cluster. */
    public Optional<Assessment> assessCluster(UUID clusterId) {
        List<Runnable> counted = new ArrayList<>();
        try (Connection c = dataSource.getConnection()) {
            Optional<Assessment> a = inTransaction(c, () -> {
                Subject s = cluster(c, clusterId);
                return s == null ? Optional.empty() : Optional.of(assessAndStore(c, s, counted));
            });
            counted.forEach(Runnable::run);
            return a;
        } catch (SQLException e) {
            throw new IllegalStateException("could not assess cluster " + clusterId, e);
        }
    }

    /**
     * The episode's assessment by the one-query full recomputation, not stored (what the fold is checked against;
     * the bench compares their times).
     */
    public Optional<Assessment> recomputeEpisode(UUID failureId) {
        try (Connection c = dataSource.getConnection()) {
            Subject s = episode(c, failureId);
            return s == null ? Optional.empty() : Optional.of(assessFull(c, s));
        } catch (SQLException e) {
            throw new IllegalStateException("could not recompute episode " + failureId, e);
        }
    }

    private interface Work<T> {
        T run() throws SQLException;
    }

    private static <T> T inTransaction(Connection c, Work<T> work) throws SQLException {
        c.setAutoCommit(false);
        try {
            T out = work.run();
            c.commit();
            return out;
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(true);
        }
    }

    /**
     * Re-assesses the episodes and clusters active within {@code open-for} (of now, either side: a caller's clock may
     * run a little ahead), most recently active first, at most {@code max-per-run}; one replica at a time. Returns
     * how many it assessed.
     */
    @Scheduled(every = "{faultline.impact.interval}", delayed = "{faultline.impact.interval}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void scheduled() {
        if (!config.enabled()) {
            return;
        }
        // Cluster-wide: one replica re-assesses per interval (the stored last run, then the advisory lock).
        jobs.runOnce(JOB, ClusterJobs.every(config.interval()), () -> {
            try {
                refreshOpen();
            } catch (RuntimeException e) {
                Log.errorf(e, "Impact re-assessment failed; it runs again at the next interval");
            }
        });
    }

    /** The most subjects one run leaves out after their assessment failed, before the run itself gives up. */
    static final int MAX_FAILED_SUBJECTS = 5;

    /**
     * Re-assesses the open episodes and clusters in one transaction. A subject whose assessment fails (a stored
     * figure the database cannot sum, say) is left out and the run is made again without it, so that one bad subject
     * does not hold back the figures of every other; after {@link #MAX_FAILED_SUBJECTS} the run fails as before.
     */
    public int refreshOpen() {
        Set<UUID> failed = new HashSet<>();
        while (true) {
            try {
                return refreshOpen(failed);
            } catch (SubjectFailed e) {
                failed.add(e.subject);
                Log.errorf(e.getCause(), "Impact assessment of %s failed; the run goes on without it", e.subject);
                if (failed.size() >= MAX_FAILED_SUBJECTS) {
                    throw new IllegalStateException("could not re-assess the open failures: " + failed.size()
                            + " subjects failed", e.getCause());
                }
            }
        }
    }

    /** One subject's assessment failed; the run's transaction is rolled back. */
    private static final class SubjectFailed extends RuntimeException {
        final UUID subject;

        SubjectFailed(UUID subject, Exception cause) {
            super(cause);
            this.subject = subject;
        }
    }

    /**
     * Adds the closed subjects (last seen before {@code since}) whose requests got an attempt after their last
     * assessment (a fallback the plugin's spool delivered late): their figures and rank would otherwise keep what the
     * closed subject last showed. The attempts are read from where the previous run read up to (less
     * {@code fold-overlap}), however long ago it ran: a window of the last two intervals missed the attempts received
     * while no run ran. Only subjects whose fold state is still kept ({@code fold-kept-for}) hold their requests;
     * older ones keep their last figures until assessed on demand. Returns whether every such subject was added
     * (else the next run reads from the same point again).
     */
    private boolean lateAttempts(Connection c, Instant now, Instant since, List<UUID[]> due) throws SQLException {
        int room = config.maxPerRun() - due.size();
        if (room <= 0) {
            return false;
        }
        // At least the last two intervals: a watermark ahead of this clock (another replica's, running fast) too.
        Instant from = now.minus(ClusterJobs.every(config.interval()).multipliedBy(2));
        try (PreparedStatement st = c.prepareStatement("select attempts_through from impact_run_state"
                + " where state_key = 1"); ResultSet rs = st.executeQuery()) {
            Instant read = rs.next() ? rs.getTimestamp(1).toInstant() : null;
            from = read != null && read.isBefore(from) ? read : from;
        }
        Instant kept = now.minus(config.foldKeptFor());
        from = (from.isBefore(kept) ? kept : from).minus(config.foldOverlap());
        int found;
        try (PreparedStatement st = c.prepareStatement("select distinct f.subject_id, f.subject_kind from llm_calls l"
                + " join impact_requests r on r.call_id = l.call_id join failure_impacts f"
                + " on f.subject_id = r.subject_id where l.received_at > ? and l.received_at > f.assessed_at"
                + " and f.last_seen < ? limit ?")) {
            st.setTimestamp(1, Timestamp.from(from));
            st.setTimestamp(2, Timestamp.from(since));
            st.setInt(3, room + 1);
            found = addDue(st, room, due);
        }
        return found <= room && merged(c, from, due);
    }

    /**
     * Adds the subjects a statement finds (their id, then their kind) to {@code due}, at most {@code room} of them and
     * none listed already; returns how many it found, which is {@code room + 1} when more were left out.
     */
    private static int addDue(PreparedStatement st, int room, List<UUID[]> due) throws SQLException {
        Set<UUID> listed = new HashSet<>();
        due.forEach(d -> listed.add(d[0]));
        int found = 0;
        try (ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                found++;
                UUID id = rs.getObject(1, UUID.class);
                if (found <= room && listed.add(id)) {
                    due.add(new UUID[] { id, "cluster".equals(rs.getString(2)) ? id : null });
                }
            }
        }
        return found;
    }

    /**
     * Adds the subjects whose folded members an episode merge changed since {@code from} (V56): the clusters that
     * held the absorbed episode, and the survivor, count the merged episode's requests once from their next
     * assessment. A late failure bridges episodes that are often no longer open, and neither is their cluster.
     * Read only when a merge was recorded since then (by its index); returns whether every such subject was added.
     */
    private boolean merged(Connection c, Instant from, List<UUID[]> due) throws SQLException {
        // As a rule no merge was recorded: one probe of the index, and impact_state (no index on members) is not read.
        try (PreparedStatement st = c.prepareStatement("select exists (select 1 from failure_merges"
                + " where merged_at > ?)")) {
            st.setTimestamp(1, Timestamp.from(from));
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next() || !rs.getBoolean(1)) {
                    return true;
                }
            }
        }
        int room = config.maxPerRun() - due.size();
        if (room <= 0) {
            return false;
        }
        int found;
        try (PreparedStatement st = c.prepareStatement("with m as (select array_agg(failure_id) || array_agg("
                + "merged_into) ids from failure_merges where merged_at > ?) select f.subject_id, f.subject_kind"
                + " from m, impact_state i join failure_impacts f on f.subject_id = i.subject_id"
                + " where m.ids is not null and i.members && m.ids order by f.subject_id limit ?")) {
            st.setTimestamp(1, Timestamp.from(from));
            st.setInt(2, room + 1);
            found = addDue(st, room, due);
        }
        return found <= room;
    }

    /** Records that the run read the attempts received up to {@code now} (in its transaction). */
    private static void attemptsRead(Connection c, Instant now) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("insert into impact_run_state (state_key, attempts_through)"
                + " values (1, ?) on conflict (state_key) do update"
                + " set attempts_through = excluded.attempts_through")) {
            st.setTimestamp(1, Timestamp.from(now));
            st.executeUpdate();
        }
    }

    private int refreshOpen(Set<UUID> failed) {
        // Open: last seen within open-for of now, either side. An episode stamped further ahead (a caller whose clock
        // runs hours fast) waits until the clock nears it: sorted first, such episodes would take every place of
        // the run from the episodes that are open now.
        Instant now = clock.instant();
        Instant since = now.minus(config.openFor());
        Instant until = now.plus(config.openFor());
        List<UUID[]> due = new ArrayList<>();
        List<Runnable> counted = new ArrayList<>();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                if (!AdvisoryLocks.tryXact(c, LOCK_KEY)) {
                    return 0;
                }
                // The most recently active of either kind: episodes taken first filled every place of a run while
                // a large incident kept more of them open, and its clusters were never assessed.
                try (PreparedStatement st = c.prepareStatement("select id, kind from ((select failure_id id, 'e' kind,"
                        + " last_seen from failure_events where last_seen between ? and ? order by last_seen desc"
                        + " limit ?) union all (select cluster_id, 'c', last_seen from correlation_clusters"
                        + " where last_seen between ? and ? order by last_seen desc limit ?)) open"
                        + " order by last_seen desc, kind, id limit ?")) {
                    st.setTimestamp(1, Timestamp.from(since));
                    st.setTimestamp(2, Timestamp.from(until));
                    st.setInt(3, config.maxPerRun());
                    st.setTimestamp(4, Timestamp.from(since));
                    st.setTimestamp(5, Timestamp.from(until));
                    st.setInt(6, config.maxPerRun());
                    st.setInt(7, config.maxPerRun());
                    try (ResultSet rs = st.executeQuery()) {
                        while (rs.next()) {
                            due.add(new UUID[] { rs.getObject(1, UUID.class), rs.getString(2).equals("c")
                                    ? rs.getObject(1, UUID.class) : null });
                        }
                    }
                }
                boolean allLate = lateAttempts(c, now, since, due);
                fold.prune(c, clock.instant().minus(config.foldKeptFor()));
                int done = 0;
                for (UUID[] d : due.subList(0, Math.min(due.size(), config.maxPerRun()))) {
                    if (failed.contains(d[0])) {
                        continue;
                    }
                    try {
                        Subject s = d[1] != null ? cluster(c, d[1]) : episode(c, d[0]);
                        if (s != null) {
                            assessAndStore(c, s, counted);
                            done++;
                        }
                    } catch (SQLException | RuntimeException e) {
                        throw new SubjectFailed(d[0], e);
                    }
                }
                if (allLate) {
                    attemptsRead(c, now);
                }
                c.commit();
                counted.forEach(Runnable::run);
                return done;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not re-assess the open failures", e);
        }
    }

    /**
     * Assesses and stores the subject; the counters' growth is added to {@code counted}, for the caller to count once
     * its transaction committed: a run rolled back and made again (a failed subject) assesses the others twice.
     */
    private Assessment assessAndStore(Connection c, Subject s, List<Runnable> counted) throws SQLException {
        Assessment a = assess(c, s);
        Double previousCost = null;
        Long previousUsers = null;
        // What the counters have counted of it so far: the most its figures ever reached (V38).
        try (PreparedStatement st = c.prepareStatement("select coalesce(counted_cost_usd, cost_impact_usd),"
                + " coalesce(counted_users, affected_users) from failure_impacts where subject_id = ?")) {
            st.setObject(1, s.id());
            try (ResultSet rs = st.executeQuery()) {
                if (rs.next()) {
                    previousCost = rs.getDouble(1);
                    previousUsers = rs.getLong(2);
                }
            }
        }
        store(c, a);
        Double cost = previousCost;
        Long users = previousUsers;
        counted.add(() -> metrics.grew(a, cost, users));
        if ("episode".equals(s.kind())) {
            try (PreparedStatement st = c.prepareStatement("update failure_impacts set"
                    + " counted_cost_usd = greatest(?, ?), counted_users = greatest(?, ?) where subject_id = ?")) {
                st.setDouble(1, previousCost == null ? 0 : previousCost);
                st.setDouble(2, a.costImpact().totalUsd());
                st.setLong(3, previousUsers == null ? 0 : previousUsers);
                st.setLong(4, a.userImpact().affectedUsers());
                st.setObject(5, s.id());
                st.executeUpdate();
            }
        }
        return a;
    }

    Subject episode(Connection c, UUID failureId) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select fingerprint, provider, category, type,"
                + " impact_scope ->> 'model_group', first_seen, last_seen, evidence::text from failure_events"
                + " where failure_id = ?")) {
            st.setObject(1, failureId);
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                return new Subject(failureId, "episode", rs.getString(1), rs.getString(2), rs.getString(3),
                        rs.getString(4), rs.getString(5), rs.getTimestamp(6).toInstant(),
                        rs.getTimestamp(7).toInstant(), List.of(failureId), tree(rs.getString(8)));
            }
        }
    }

    Subject cluster(Connection c, UUID clusterId) throws SQLException {
        // A merge that absorbs the cluster deletes its row, then its impact row: the key-share lock keeps that delete
        // waiting until this assessment is stored, and a cluster whose delete is under way (locked) is skipped,
        // where reading it and storing after the merge's commit left the absorbed cluster ranked beside its heir.
        // Skipping, not waiting, so that a run holding several clusters never waits on a merge that waits on it.
        String type;
        Instant first;
        Instant last;
        try (PreparedStatement st = c.prepareStatement("select type, first_seen, last_seen from correlation_clusters"
                + " where cluster_id = ? for key share skip locked")) {
            st.setObject(1, clusterId);
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                type = rs.getString(1);
                first = rs.getTimestamp(2).toInstant();
                last = rs.getTimestamp(3).toInstant();
            }
        }
        List<UUID> members = new ArrayList<>();
        String provider = null;
        String group = null;
        try (PreparedStatement st = c.prepareStatement("select m.failure_id, e.provider, e.impact_scope ->> 'model_group'"
                + " from correlation_members m join failure_events e on e.failure_id = m.failure_id"
                + " where m.cluster_id = ? order by e.first_seen, e.failure_id")) {
            st.setObject(1, clusterId);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    members.add(rs.getObject(1, UUID.class));
                    provider = provider == null ? rs.getString(2) : provider.equals(rs.getString(2)) ? provider : "mixed";
                    group = group == null ? rs.getString(3) : group;
                }
            }
        }
        return new Subject(clusterId, "cluster", null, provider, "CLUSTER", type, group, first, last, members, null);
    }

    /** The answered requests per first model group and latency bucket. */
    private static final String LATENCY_BY_GROUP = "(select coalesce(first_group, '') g, "
            + LatencyBuckets.bucketSql("lat_us") + " b, count(*) n from per_req where answered group by 1, 2) lg";

    /** The aggregate over every attempt of the affected requests (one round trip). */
    private static final String ATTEMPTS = "with req as (select q.call_id, array_agg(q.seen_at) seen,"
            // the attempts a non-COST episode flagged: a delivered answer only a cost episode flagged is not wasted
            + "  coalesce(array_agg(q.seen_at) filter (where e.category <> 'COST'), '{}') wasting,"
            // the attempts a token-spike episode flagged: the only ones the spike rule prices
            + "  coalesce(array_agg(q.seen_at) filter (where e.type = 'token_spike'), '{}') spiking,"
            + "  min(q.seen_at) - ?::interval lo, max(q.seen_at) + ?::interval hi"
            + "  from failure_event_calls q join failure_events e on e.failure_id = q.failure_id"
            + "  where q.failure_id = any (?) group by q.call_id),"
            + " att as (select c.call_id, c.started_at, c.ended_at, c.success, c.model, c.deployment, c.cost_usd,"
            + "  c.prompt_tokens, c.completion_tokens, c.user_ref, c.team_id, c.api_key_hash, c.input_cost_per_token,"
            + "  c.output_cost_per_token, " + SloRollup.groupOfCall("c.") + " model_group,"
            + "  " + SloRollup.SERVICE_FAILURE + " service_failure,"
            + "  c.ended_at = any (req.seen) as flagged, c.ended_at = any (req.wasting) as wasting,"
            // An answer a token-spike episode (and no non-cost one) flagged, on a deployment the rule prices: its
            // waste is the spike extra, not its whole cost.
            + "  c.success and c.ended_at = any (req.spiking) and not c.ended_at = any (req.wasting)"
            + "  and exists (select 1 from unnest(?::text[], ?::float8[]) s(dep, p99)"
            + "   where (s.dep = '" + SpikeRule.ANY + "' or s.dep = c.deployment) and s.p99 > 0) as spiked"
            + "  from req join llm_calls c on c.call_id = req.call_id and c.started_at >= req.lo"
            + "  and c.started_at <= req.hi),"
            + " per_req as (select call_id, bool_or(success and not flagged) ok, bool_or(not success or flagged) hit,"
            + "  max(user_ref collate \"C\") user_ref, max(team_id collate \"C\") team_id,"
            + "  max(api_key_hash collate \"C\") key_hash, count(*) attempts, bool_or(success) answered,"
            + "  (array_agg(model_group order by started_at, ended_at))[1] first_group,"
            // a failed response that spends its group's budget: its last attempt failed on the service's side
            + "  not bool_or(success) and (array_agg(service_failure order by started_at desc, ended_at desc))[1]"
            + "  spent,"
            + "  (extract(epoch from max(ended_at) - min(started_at)) * 1000000)::bigint lat_us,"
            + "  coalesce(sum(cost_usd) filter (where not success or wasting), 0) wasted_cost,"
            + "  coalesce(sum(prompt_tokens + completion_tokens) filter (where not success or wasting),"
            + "  0) wasted_tokens,"
            + "  (array_agg(model order by started_at, ended_at) filter (where not success or flagged))[1] orig_model,"
            + "  (array_agg(input_cost_per_token order by started_at, ended_at) filter (where not success or flagged))[1] orig_in,"
            + "  (array_agg(output_cost_per_token order by started_at, ended_at) filter (where not success or flagged))[1] orig_out"
            + "  from att group by call_id),"
            + " fb as (select a.cost_usd, a.prompt_tokens, a.completion_tokens, r.orig_in, r.orig_out from att a"
            + "  join per_req r using (call_id) where a.success and not a.flagged and r.hit"
            + "  and a.model is distinct from r.orig_model)"
            + " select (select count(*) from per_req), (select count(*) from per_req where not answered),"
            + "  (select count(*) from per_req where ok and hit), (select coalesce(sum(attempts), 0) from per_req),"
            + "  (select count(distinct user_ref) from per_req), (select count(distinct key_hash) from per_req),"
            + "  (select count(distinct team_id) from per_req), (select coalesce(sum(wasted_cost), 0) from per_req),"
            + "  (select coalesce(sum(wasted_tokens), 0) from per_req), (select count(*) from fb),"
            + "  (select coalesce(sum(cost_usd), 0) from fb),"
            + "  (select coalesce(sum(prompt_tokens * orig_in + completion_tokens * orig_out), 0) from fb"
            + "   where orig_in is not null and orig_out is not null),"
            + "  (select coalesce(sum(cost_usd), 0) from fb where orig_in is not null and orig_out is not null),"
            + "  (select count(*) from fb where orig_in is null or orig_out is null),"
            + "  (select coalesce(array_agg(distinct deployment), '{}') from att where success and not flagged),"
            + "  (select count(*) from att where success and not flagged),"
            + "  (select count(*) from att a where a.success and not a.flagged and exists (select 1"
            + "   from failure_event_calls q join failure_events e on e.failure_id = q.failure_id"
            + "   where q.call_id = a.call_id and q.seen_at = a.ended_at and e.category = 'QUALITY')),"
            + "  (select coalesce(array_agg(distinct deployment), '{}') from att where flagged),"
            + "  (select count(*) from att where flagged and success),"
            + "  (select coalesce(sum(a.cost_usd * greatest(0, 1 - r.p99 / nullif(a.prompt_tokens"
            + "   + a.completion_tokens, 0))), 0) from att a join unnest(?::text[], ?::float8[]) r(dep, p99)"
            + "   on r.dep = '" + SpikeRule.ANY + "' or r.dep = a.deployment where a.spiked),"
            + "  (select " + LatencyBuckets.aggregateSql("answered", "lat_us") + " from per_req),"
            + "  (select coalesce(array_agg(g order by g), '{}') from (select coalesce(first_group, '') g"
            + "   from per_req where spent group by 1) fg),"
            + "  (select coalesce(array_agg(n order by g), '{}') from (select coalesce(first_group, '') g, count(*) n"
            + "   from per_req where spent group by 1) fg),"
            + "  (select coalesce(array_agg(g order by g, b), '{}') from " + LATENCY_BY_GROUP + "),"
            + "  (select coalesce(array_agg(b order by g, b), '{}') from " + LATENCY_BY_GROUP + "),"
            + "  (select coalesce(array_agg(n order by g, b), '{}') from " + LATENCY_BY_GROUP + ")";

    /**
     * Which flagged attempts are priced as spiking calls ({@link SpikeRule}): an episode raised per call by the token
     * spike rule prices all of them at its evidence's p99; a cluster prices each per-call token-spike member's
     * deployment at that member's p99 (window spikes are priced by their windows, {@link StormPricing}).
     */
    private static SpikeRule spikeRule(Connection c, Subject s) throws SQLException {
        if ("episode".equals(s.kind())) {
            boolean spike = "token_spike".equals(s.type()) && s.evidence() != null;
            if (spike && s.evidence().path("p99_tokens").isNumber()) {
                return SpikeRule.every(s.evidence().path("p99_tokens").asDouble());
            }
            // Last raised per window: the calls it linked per call are in its windows, priced there.
            return spike && s.evidence().path("p99_window_tokens").isNumber() ? SpikeRule.every(SpikeRule.WINDOWS)
                    : SpikeRule.NONE;
        }
        TreeMap<String, Double> p99s = new TreeMap<>();
        try (PreparedStatement st = c.prepareStatement("select deployment, coalesce((evidence ->> 'p99_tokens')"
                + "::float8, 'Infinity') from failure_events where failure_id = any (?) and type = 'token_spike'"
                + " and (jsonb_typeof(evidence -> 'p99_tokens') = 'number'"
                + " or jsonb_typeof(evidence -> 'p99_window_tokens') = 'number')")) {
            st.setArray(1, c.createArrayOf("uuid", s.episodes().toArray()));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    if (rs.getString(1) != null && rs.getDouble(2) > 0) {
                        p99s.merge(rs.getString(1), rs.getDouble(2), Math::max);
                    }
                }
            }
        }
        return new SpikeRule(p99s);
    }

    /** The assessment from the incrementally kept request figures (what the API and the schedule use). */
    Assessment assess(Connection c, Subject s) throws SQLException {
        return assess(c, s, fold.fold(c, s, spikeRule(c, s)));
    }

    /** The same assessment from one query over every attempt of the subject's requests (the fold's reference). */
    Assessment assessFull(Connection c, Subject s) throws SQLException {
        SpikeRule spike = spikeRule(c, s);
        try (PreparedStatement st = c.prepareStatement(ATTEMPTS)) {
            st.setString(1, config.attemptSlack().toMillis() + " milliseconds");
            st.setString(2, config.attemptSlack().toMillis() + " milliseconds");
            st.setArray(3, c.createArrayOf("uuid", s.episodes().toArray()));
            st.setArray(4, c.createArrayOf("text", spike.deployments()));
            st.setArray(5, c.createArrayOf("float8", spike.p99s()));
            st.setArray(6, c.createArrayOf("text", spike.deployments()));
            st.setArray(7, c.createArrayOf("float8", spike.p99s()));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return assess(c, s, new ImpactFold.Totals(rs.getLong(1), rs.getLong(2), rs.getLong(3),
                        rs.getLong(4), rs.getLong(5), rs.getLong(6), rs.getLong(7), rs.getDouble(8), rs.getLong(9),
                        rs.getLong(10), rs.getDouble(11), rs.getDouble(12), rs.getDouble(13), rs.getLong(14),
                        strings(rs.getArray(15)), rs.getLong(16), rs.getLong(17), strings(rs.getArray(18)),
                        rs.getLong(19), rs.getDouble(20), ImpactFold.longs(rs.getArray(21)),
                        byGroup(strings(rs.getArray(22)), ImpactFold.longs(rs.getArray(23))),
                        latencyByGroup(strings(rs.getArray(24)), ImpactFold.longs(rs.getArray(25)),
                                ImpactFold.longs(rs.getArray(26)))));
            }
        }
    }

    private static Map<String, long[]> latencyByGroup(String[] groups, long[] buckets, long[] counts) {
        Map<String, long[]> out = new TreeMap<>();
        for (int i = 0; i < groups.length; i++) {
            LatencyBuckets.addBucket(out.computeIfAbsent(groups[i], g -> new long[LatencyBuckets.SIZE]),
                    (int) buckets[i], counts[i]);
        }
        return out;
    }

    private static Map<String, Long> byGroup(String[] groups, long[] counts) {
        Map<String, Long> out = new java.util.TreeMap<>();
        for (int i = 0; i < groups.length; i++) {
            out.put(groups[i], counts[i]);
        }
        return out;
    }

    private Assessment assess(Connection c, Subject s, ImpactFold.Totals f) throws SQLException {
        Instant now = clock.instant();
        long requests = f.requests();
        long failed = f.failed();
        long recovered = f.recovered();
        long attempts = f.attempts();
        long users = f.users();
        long keys = f.keys();
        long teams = f.teams();
        double wasted = f.wasted();
        long wastedTokens = f.wastedTokens();
        long fallbacks = f.fallbacks();
        double fallbackCost = f.fallbackCost();
        double atOriginal = f.atOriginal();
        double pricedFallbackCost = f.pricedFallbackCost();
        long unpriced = f.unpriced();
        String[] answerDeployments = f.answerDeployments();
        long answers = f.answers();
        long qualityFailures = f.qualityFailures();
        double spikeExtra = f.spikeExtra();
        if ("QUALITY".equals(s.category())) {
            // The episode's own answers are the quality failures; the baseline is their deployments' rate before.
            answers = f.flaggedAnswers();
            qualityFailures = f.flaggedAnswers();
            answerDeployments = f.flaggedDeployments();
        }
        double extra = pricedFallbackCost - atOriginal;
        Assessment.CacheStormCost storm = storms.cacheStorm(c, s);
        Assessment.BatchOverrunCost batch = storms.batchOverrun(c, s);
        Assessment.WindowSpikeCost windowSpike = storms.windowSpike(c, s);
        List<Assessment.MemberCost> memberCosts = "cluster".equals(s.kind()) ? memberCosts(c, s) : null;
        double stormExtra = storm == null ? 0 : storm.extraCostUsd();
        double overrun = batch == null ? 0 : batch.overrunUsd();
        spikeExtra += windowSpike == null ? 0 : windowSpike.extraCostUsd();
        if (memberCosts != null) {
            for (Assessment.MemberCost m : memberCosts) {
                spikeExtra += m.tokenSpikeWindows() == null ? 0 : m.tokenSpikeWindows().extraCostUsd();
                stormExtra += m.cacheMissStorm() == null ? 0 : m.cacheMissStorm().extraCostUsd();
            }
        }
        // A batch overrun's calls are all in its actual cost: the overrun replaces the wasted cost in the total (a
        // linked attempt that failed and was billed would otherwise count twice; the delivered one is not wasted).
        double costTotal = (batch == null ? wasted : 0) + extra + spikeExtra + stormExtra + overrun;
        Assessment.CostImpact cost = new Assessment.CostImpact(round(wasted), wastedTokens, fallbacks,
                round(fallbackCost), round(atOriginal), round(extra), unpriced, round(spikeExtra), round(stormExtra),
                round(overrun), storm, batch, windowSpike, memberCosts, round(costTotal));
        Assessment.QualityImpact quality = quality(c, s, answers, qualityFailures, answerDeployments);
        Assessment.SlaImpact sla = sla(s, f.failedByGroup(), f.latencyLe(), f.latencyByGroup());
        double failedUsd = failed * config.pricePerFailedRequestUsd();
        double usersUsd = users * config.pricePerUserUsd();
        double budgetUsd = (pricedPercent(sla.budgetConsumed()) + pricedPercent(sla.latencyBudgetConsumed()))
                * config.pricePerBudgetPercentUsd();
        double total = costTotal + failedUsd + usersUsd + budgetUsd;
        Assessment.Total t = new Assessment.Total(round(total), round(costTotal), round(failedUsd), round(usersUsd),
                round(budgetUsd), "cost + " + config.pricePerFailedRequestUsd() + " x failed responses + "
                        + config.pricePerUserUsd() + " x affected users + " + config.pricePerBudgetPercentUsd()
                        + " x percent of error budget consumed (availability plus latency, each up to "
                        + config.maxBudgetPercentPriced() + ")");
        return new Assessment(s.id(), s.kind(), s.fingerprint(), s.provider(), s.category(), s.type(), s.modelGroup(),
                s.firstSeen(), s.lastSeen(), now, s.episodes().size(), new Assessment.UserImpact(requests, failed,
                        recovered, attempts, users, keys, teams), cost, quality, sla, t);
    }

    /** The percent of one error budget that the total prices: what was consumed, up to the configured most. */
    private double pricedPercent(Double consumed) {
        return consumed == null ? 0 : Math.min(consumed * 100, config.maxBudgetPercentPriced());
    }

    /**
     * A cluster's members priced by their windows (window token spikes, cache-miss storms), each as it is priced
     * alone; members with no such term are left out. The windows hold each member's own subject's calls (a deployment,
     * a model, a key), and a member's per-request costs are in the fold, so nothing is counted twice.
     */
    private List<Assessment.MemberCost> memberCosts(Connection c, Subject cluster) throws SQLException {
        List<Assessment.MemberCost> out = new ArrayList<>();
        List<UUID> windowed = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement("select failure_id from failure_events"
                + " where failure_id = any (?) and type in ('token_spike', 'cache_miss_storm') order by first_seen,"
                + " failure_id")) {
            st.setArray(1, c.createArrayOf("uuid", cluster.episodes().toArray()));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    windowed.add(rs.getObject(1, UUID.class));
                }
            }
        }
        for (UUID id : windowed) {
            Subject m = episode(c, id);
            if (m == null) {
                continue;
            }
            Assessment.WindowSpikeCost spike = storms.windowSpike(c, m);
            Assessment.CacheStormCost storm = storms.cacheStorm(c, m);
            if (spike != null || storm != null) {
                double extra = (spike == null ? 0 : spike.extraCostUsd()) + (storm == null ? 0 : storm.extraCostUsd());
                out.add(new Assessment.MemberCost(id, m.type(), m.provider(), round(extra), spike, storm));
            }
        }
        return out;
    }

    /** The deployments' quality-failure rate in the window before the incident began. */
    private Assessment.QualityImpact quality(Connection c, Subject s, long answers, long failures,
            String[] deployments) throws SQLException {
        long baseAnswers = 0;
        long baseFailures = 0;
        if (deployments.length > 0) {
            Instant from = s.firstSeen().minus(config.qualityBaselineWindow());
            try (PreparedStatement st = c.prepareStatement("select (select count(*) from llm_calls"
                    + " where deployment = any (?) and started_at >= ? and started_at < ? and success),"
                    + " (select count(distinct q.call_id) from failure_events e join failure_event_calls q"
                    + " on q.failure_id = e.failure_id where e.category = 'QUALITY' and e.deployment = any (?)"
                    + " and e.last_seen >= ? and e.first_seen < ? and q.seen_at >= ? and q.seen_at < ?)")) {
                Array deps = c.createArrayOf("text", deployments);
                st.setArray(1, deps);
                st.setTimestamp(2, Timestamp.from(from));
                st.setTimestamp(3, Timestamp.from(s.firstSeen()));
                st.setArray(4, deps);
                st.setTimestamp(5, Timestamp.from(from));
                st.setTimestamp(6, Timestamp.from(s.firstSeen()));
                st.setTimestamp(7, Timestamp.from(from));
                st.setTimestamp(8, Timestamp.from(s.firstSeen()));
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    baseAnswers = rs.getLong(1);
                    baseFailures = rs.getLong(2);
                }
            }
        }
        Double rate = answers == 0 ? null : (double) failures / answers;
        Double baseRate = baseAnswers == 0 ? null : (double) baseFailures / baseAnswers;
        double excess = rate == null ? 0 : Math.max(0, rate - (baseRate == null ? 0 : baseRate)) * answers;
        return new Assessment.QualityImpact(answers, failures, round(rate), baseAnswers, baseFailures,
                round(baseRate), round(excess));
    }

    /**
     * The availability budget's share the failed responses consumed and the latency budget's share the answered
     * requests slower than the target consumed, each in the model group of its request's first attempt (a fallback
     * deployment's episode holds requests that began in other groups; the SLO rollup counts them there too), for the
     * groups with a latency SLO (end to end across attempts, at the histogram edge the target is evaluated at: the
     * same rule as the SLO's rollup). The latency target, quantile and budget shown are the subject's own group's.
     * {@code failedByGroup} holds the failed responses that spend the budget ({@link SloRollup#SERVICE_FAILURE} on
     * the last attempt): a caller's own 4xx is a failed response of its user but spends no budget.
     */
    private Assessment.SlaImpact sla(Subject s, Map<String, Long> failedByGroup,
            long[] latencyLe, Map<String, long[]> latencyByGroup) {
        long answered = latencyLe.length == LatencyBuckets.SIZE ? latencyLe[LatencyBuckets.SIZE - 1] : 0;
        // Requests whose first attempt named no group are the subject's group's.
        Map<String, Long> failedIn = new TreeMap<>();
        Map<String, long[]> latencyIn = new TreeMap<>();
        failedByGroup.forEach((g, n) -> {
            if (ofGroup(s, g) != null) {
                failedIn.merge(ofGroup(s, g), n, Long::sum);
            }
        });
        latencyByGroup.forEach((g, le) -> {
            if (ofGroup(s, g) != null) {
                long[] into = latencyIn.computeIfAbsent(ofGroup(s, g), k -> new long[LatencyBuckets.SIZE]);
                for (int i = 0; i < into.length; i++) {
                    into[i] += le[i];
                }
            }
        });
        ErrorBudgets.Budget b = s.modelGroup() == null ? null : budgets.budget(s.modelGroup(), s.lastSeen());
        boolean ownLatency = b != null && b.latencyTargetMs() != null;
        Long slow = ownLatency ? 0L : null;
        Double latencyConsumed = ownLatency && b.latencyBudgetRequests() > 0 ? 0.0 : null;
        List<Assessment.GroupBudget> byGroup = new ArrayList<>();
        double spent = 0;
        boolean priced = false;
        TreeSet<String> groups = new TreeSet<>(failedIn.keySet());
        groups.addAll(latencyIn.keySet());
        for (String group : groups) {
            ErrorBudgets.Budget gb = group.equals(s.modelGroup()) ? b : budgets.budget(group, s.lastSeen());
            long failed = failedIn.getOrDefault(group, 0L);
            Double share = null;
            if (failed > 0 && gb.budgetRequests() > 0) {
                share = failed / gb.budgetRequests();
                spent += share;
                priced = true;
            }
            long[] le = latencyIn.get(group);
            Long groupSlow = null;
            Double latencyShare = null;
            if (le != null && gb.latencyTargetMs() != null) {
                groupSlow = LatencyBuckets.slow(le, gb.latencyTargetMs());
                slow = (slow == null ? 0 : slow) + groupSlow;
                if (gb.latencyBudgetRequests() > 0) {
                    latencyShare = groupSlow / gb.latencyBudgetRequests();
                    latencyConsumed = (latencyConsumed == null ? 0 : latencyConsumed) + latencyShare;
                }
            }
            if (failed > 0 || groupSlow != null) {
                byGroup.add(new Assessment.GroupBudget(group, failed, round(gb.budgetRequests()), round(share),
                        groupSlow, groupSlow == null ? null : round(gb.latencyBudgetRequests()),
                        round(latencyShare)));
            }
        }
        if (b == null) {
            return new Assessment.SlaImpact(null, null, null, null, priced ? round(spent) : null, null, null, null,
                    answered, null, slow, null, round(latencyConsumed), byGroup.isEmpty() ? null : byGroup, null);
        }
        long spending = failedByGroup.values().stream().mapToLong(Long::longValue).sum();
        Double consumed = priced ? Double.valueOf(spent) : spending == 0 && b.budgetRequests() > 0 ? 0.0 : null;
        boolean ownGroupOnly = byGroup.isEmpty()
                || byGroup.size() == 1 && byGroup.get(0).modelGroup().equals(s.modelGroup());
        return new Assessment.SlaImpact(s.modelGroup(), b.availabilityTarget(), b.period().toString(),
                round(b.budgetRequests()), round(consumed), round(b.remainingRatio()), b.latencyTargetMs(),
                b.latencyQuantile(), answered, ownLatency ? LatencyBuckets.evaluatedAt(b.latencyTargetMs()) : null,
                slow, ownLatency ? round(b.latencyBudgetRequests()) : null, round(latencyConsumed),
                ownGroupOnly ? null : byGroup, b.coverage() < 1 ? round(b.coverage()) : null);
    }

    /** The model group a request's key in the fold names: its first attempt's, else the subject's (maybe none). */
    private static String ofGroup(Subject s, String key) {
        return key.isEmpty() ? s.modelGroup() : key;
    }

    private void store(Connection c, Assessment a) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("insert into failure_impacts (subject_id, subject_kind,"
                + " fingerprint, provider, category, model_group, first_seen, last_seen, assessed_at,"
                + " affected_requests, failed_responses, affected_users, cost_impact_usd, budget_consumed,"
                + " total_impact_usd, assessment) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb)"
                + " on conflict (subject_id) do update set fingerprint = excluded.fingerprint,"
                + " provider = excluded.provider, category = excluded.category, model_group = excluded.model_group,"
                + " first_seen = excluded.first_seen, last_seen = excluded.last_seen,"
                + " assessed_at = excluded.assessed_at, affected_requests = excluded.affected_requests,"
                + " failed_responses = excluded.failed_responses, affected_users = excluded.affected_users,"
                + " cost_impact_usd = excluded.cost_impact_usd, budget_consumed = excluded.budget_consumed,"
                + " total_impact_usd = excluded.total_impact_usd, assessment = excluded.assessment")) {
            st.setObject(1, a.subjectId());
            st.setString(2, a.kind());
            st.setString(3, a.fingerprint());
            st.setString(4, a.provider());
            st.setString(5, a.category());
            st.setString(6, a.modelGroup());
            st.setTimestamp(7, Timestamp.from(a.firstSeen()));
            st.setTimestamp(8, Timestamp.from(a.lastSeen()));
            st.setTimestamp(9, Timestamp.from(a.assessedAt()));
            st.setLong(10, a.userImpact().affectedRequests());
            st.setLong(11, a.userImpact().failedResponses());
            st.setLong(12, a.userImpact().affectedUsers());
            st.setDouble(13, a.costImpact().totalUsd());
            st.setObject(14, a.slaImpact().budgetConsumed());
            st.setDouble(15, a.total().totalUsd());
            st.setString(16, write(a));
            st.executeUpdate();
        }
    }

    private String write(Assessment a) {
        try {
            return json.writeValueAsString(a);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("an assessment always serialises", e);
        }
    }

    private JsonNode tree(String text) {
        try {
            return text == null ? null : json.readTree(text);
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    private static String[] strings(Array a) throws SQLException {
        Object[] values = (Object[]) a.getArray();
        String[] out = new String[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (String) values[i];
        }
        return out;
    }

    /**
     * Figures are kept to 1e-10 (float noise of the sums goes, a single token's price does not: an answer of a
     * cheap model costs about 1e-5 USD, so rounding to millionths would move it by several percent).
     */
    private static double round(double v) {
        return Math.abs(v) < 1e8 ? Math.round(v * 1e10) / 1e10 : v;
    }

    private static Double round(Double v) {
        return v == null ? null : round(v.doubleValue());
    }
}
