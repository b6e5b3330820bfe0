package io.faultline.correlate;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import io.faultline.common.ClusterJobs;
import io.faultline.common.SqlTime;
import io.faultline.episode.EpisodeObserver;
import io.faultline.episode.EpisodeStore.EpisodeChange;
import io.faultline.web.ProblemMappers;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;

/**
 * Links failure episodes into incidents off the ingest path: every fold queues the episodes it changed
 * ({@link #foldWrite}, in the fold's transaction) and a drain job correlates them in batches, one replica at a
 * time ({@link #drainTick}). Temporal edges between episodes on different providers
 * that start within one window (a shared upstream), and causal edges along LiteLLM traces (a failing deployment's
 * requests falling back to another one, and the quality failures that fallback caused). Each step reads index-backed
 * windows only. Clusters are kept incrementally (union of linked episodes) and closed by a job after a quiet period.
 */
@Singleton
public class FailureCorrelationEngine implements EpisodeObserver, io.faultline.common.BoundedState {

    /**
     * Every correlation, drain and close step holds this transaction-level advisory lock, so that two replicas
     * correlating two episodes of one incident at once never open two clusters for it, and one replica drains. One
     * key rather than one per time bucket: a causal edge can join episodes whose onsets are further apart than any
     * bucket, and merges touch arbitrary clusters; a step is a handful of index lookups, so the serialisation costs
     * little.
     */
    static final long LOCK_KEY = 0x466C_436F_7272_0001L;

    /** Attempts of one request read per trace: LiteLLM's retries and fallbacks stay far below it. */
    static final int ATTEMPTS_PER_TRACE = 50;

    /**
     * The read-ahead walks the traces of episodes first seen within this horizon before the drain's clock (and last
     * seen at most {@link #READ_AHEAD_AHEAD} after it) and gives every read of {@code llm_calls} the range of
     * {@code started_at} those episodes' walks can reach, as plain parameters. A generic plan prunes its partitions
     * by those when it starts, instead of opening an index scan on each of the ~40 daily partitions for a LATERAL
     * that is pruned only as it runs (make bench, bench/RESULTS.md). The walks stay exact: an episode's calls are
     * seen within [first seen, last seen], a walk reads a day before a call and an hour around it, and an episode
     * outside the horizon gets no read-ahead entry, so its step walks on its own, unbounded, as before.
     */
    static final Duration READ_AHEAD_HORIZON = Duration.ofDays(1);

    /** How far after the drain's clock a read-ahead episode may be last seen (clock skew of its callers). */
    static final Duration READ_AHEAD_AHEAD = Duration.ofHours(1);

    /**
     * The planner settings of a correlation transaction, as a select list of {@code set_config} calls local to it.
     * <ul>
     * <li>Generic plans: the transaction plans its statements once per connection, partitions pruned when they run.
     * Re-planning the trace walks and chain queries over the ~40 {@code llm_calls} partitions on every step cost
     * more than running them (make bench: 9.6 → 7.6 ms a step on average; the bench's EXPLAIN table compares both
     * plans of each query).</li>
     * <li>No sequential scans where an index can serve. A generic plan stays cached until a relation it reads
     * changes, and the coming days' partitions are created ahead, empty. Once a partition has been analysed empty
     * (a database-wide ANALYZE, the bench's seed), the planner trusts that it holds no rows and plans a sequential
     * scan of it; when its day comes, every probe of the walks' LATERALs scanned the whole day until autovacuum
     * analysed it again, which is a minute after its first rows where autovacuum keeps up, and never where it is
     * off (make bench, its clock passing midnight: the walk of a one-call episode 1.3 ms at the median, 8,050 rows
     * filtered per probe; 0.28 ms with this setting; {@code TraceWalkRangeTest}). Every statement of the step is
     * meant to read through an index; the planner still scans a table sequentially where no index can serve.</li>
     * </ul>
     */
    public static final String PLAN_SETTINGS = "set_config('plan_cache_mode', 'force_generic_plan', true),"
        + " set_config('enable_seqscan', 'off', true)";

    /** How far before an episode's calls a walk reads: a day back to the call's attempt, then an hour on its trace. */
    private static final Duration WALK_REACH_BACK = Duration.ofDays(1).plusHours(1);

    /** How far after an episode's calls a walk reads: an hour on the trace. */
    private static final Duration WALK_REACH_ON = Duration.ofHours(1);

    /** The range condition on one read of {@code llm_calls} by its alias: two parameters, its ends. */
    private static String callsRange(String alias) {
        return " and " + alias + ".started_at >= ?::timestamptz and " + alias + ".started_at <= ?::timestamptz";
    }

    /** The read-ahead's condition on a due episode that it walks (two parameters: the horizon's ends). */
    private static final String WALKED_HERE = " and e.first_seen >= ?::timestamptz and e.last_seen <= ?::timestamptz";

    /**
     * The trace walk forward from a provider episode (parameters: episode, calls): its newest failed
     * attempts, then the later attempts of their traces on another deployment or model. Public for the bench's plans.
     */
    public static final String TRACE_WALK_FORWARD = traceWalkForward("?", "?", false);

    /**
     * {@link #TRACE_WALK_FORWARD} with SQL expressions in place of its parameters (the episode, how many of its calls,
     * its deployment), so that the batch read ahead can run it per episode of a batch in a LATERAL. {@code bounded}:
     * each read of {@code llm_calls} also carries a range of {@code started_at} as two parameters of its own (after
     * the calls' count and in the second read; see {@link #READ_AHEAD_HORIZON}).
     */
    private static String traceWalkForward(String episode, String calls, boolean bounded) {
        return "with " + attempts(episode, calls, bounded) + "select distinct on (n.call_id, n.started_at) n.call_id,"
            + " n.trace_id, n.provider, n.model,"
            + " n.deployment, n.success, (extract(epoch from n.started_at - failed.started_at) * 1000)::bigint"
            + " from failed cross join lateral (select n.call_id, n.trace_id, n.provider, n.model, n.deployment,"
            + " n.success, n.started_at from llm_calls n where n.trace_id = failed.trace_id"
            + (bounded ? callsRange("n") : "")
            + " and (n.call_id, n.started_at) <> (failed.call_id, failed.started_at)"
            + " and n.started_at >= failed.started_at and n.started_at <= failed.started_at + interval '1 hour'"
            + " and (n.deployment <> failed.deployment or n.model is distinct from failed.model)"
            + " limit " + ATTEMPTS_PER_TRACE + ") n order by n.call_id, n.started_at";
    }

    /**
     * Two CTEs, {@code seen} and {@code failed}: the episode's newest calls (parameter {@code calls}), and the failed
     * attempt of each with its trace, on the episode's deployment (also where the retry-storm chain starts,
     * {@link CausalChains}). The fold stores the attempt with the call ({@code failure_event_calls.trace_id,
     * call_started_at, model}, V30), so that the walk reads it there; a call linked without it (before V30, or by a
     * replica of an older version during a rolling upgrade) has its attempt looked up among the stored calls as
     * before: every attempt of a request has one litellm_call_id, and the episode's attempt is the one on its
     * deployment. Either way the attempt started within the day before the call was seen (a stored one that says
     * otherwise, a call reported as lasting over a day, is not walked), which bounds what a walk can reach
     * ({@link #walkRange}). {@code bounded}: the look-up carries a range of {@code started_at} as two parameters
     * (see {@link #READ_AHEAD_HORIZON}).
     */
    static String attempts(String episode, String calls, boolean bounded) {
        return "seen as (select f.call_id, f.seen_at, f.trace_id, f.call_started_at, f.model, e.deployment"
            + " from failure_event_calls f join failure_events e on e.failure_id = f.failure_id"
            + " where f.failure_id = " + episode + " order by f.seen_at desc limit " + calls + "),"
            + " failed as (select s.call_id, s.trace_id, s.call_started_at as started_at, s.deployment, s.model"
            + " from seen s where s.call_started_at between s.seen_at - interval '1 day' and s.seen_at"
            + " and s.trace_id is not null and s.deployment is not null"
            + " union all select l.call_id, l.trace_id, l.started_at, l.deployment, l.model from seen s"
            + " cross join lateral (select l.call_id, l.trace_id, l.started_at, l.deployment, l.model"
            + " from llm_calls l where l.call_id = s.call_id and l.started_at <= s.seen_at"
            + (bounded ? callsRange("l") : "")
            + " and l.started_at >= s.seen_at - interval '1 day' and l.deployment = s.deployment"
            + " and l.trace_id is not null limit 1) l where s.call_started_at is null) ";
    }

    /**
     * {@link #TRACE_WALK_FORWARD} with the episodes of each call found (parameter 3: the walking episode, left out),
     * numbered in the walk's order: call columns 1-7, the walk's row number 8, the episode's columns from 9 (null
     * when the call belongs to no other episode).
     */
    static final String TRACE_WALK_FORWARD_WITH_EPISODES = traceWalkForwardWithEpisodes("?", "?", "?", false);

    /**
     * {@link #TRACE_WALK_FORWARD_WITH_EPISODES} as a step runs it for one episode: each read of {@code llm_calls}
     * carries the range the episode's walk can reach ({@link #walkRange}) as parameters 3-4 and 5-6, the excluded
     * episode is parameter 7. Public for the bench's plans.
     */
    public static final String TRACE_WALK_FORWARD_BOUNDED = traceWalkForwardWithEpisodes("?", "?", "?", true);

    private static String traceWalkForwardWithEpisodes(String episode, String calls, String excluded,
            boolean bounded) {
        return "with walk (call_id, trace_id, provider, model, deployment,"
            + " success, lag_ms) as (" + traceWalkForward(episode, calls, bounded) + "),"
            + " numbered as (select"
            + " walk.*, row_number() over () as rn from walk) select w.call_id, w.trace_id, w.provider, w.model,"
            + " w.deployment, w.success, w.lag_ms, w.rn, x.* from numbered w left join lateral (select "
            + prefixed("e") + " from failure_event_calls f join failure_events e on e.failure_id = f.failure_id"
            + " where f.call_id = w.call_id and e.failure_id <> " + excluded + ") x on true order by w.rn";
    }

    /**
     * The trace walk back from a quality episode (parameters: episode, calls): the provider episodes
     * of the failed attempts that preceded its calls in their traces. Public for the bench's plans.
     */
    public static final String TRACE_WALK_BACK = traceWalkBack("?", "?", false);

    /** {@link #TRACE_WALK_BACK} with the episode's {@link #walkRange} as parameters 3-4 and 5-6. */
    public static final String TRACE_WALK_BACK_BOUNDED = traceWalkBack("?", "?", true);

    /**
     * The range of {@code started_at} an episode's trace walks can reach, from its first and last seen: its calls
     * are seen (ended) within them; a failed attempt started at most a day before it was seen (the walks skip a
     * call said to have lasted longer), the lookup of an attempt reads the day before the call, the walk forward
     * the hour after the attempt, the walk back the hour before it. Bound by it, a generic plan prunes
     * {@code llm_calls} to those days' partitions when it starts, instead of opening an index scan on each of the
     * ~40 for a walk that a LATERAL prunes only as it runs (make bench, bench/RESULTS.md). A call linked to the
     * episode after the step read it may fall outside: the fold that linked it queued the episode again.
     */
    public static Instant[] walkRange(Instant firstSeen, Instant lastSeen) {
        return new Instant[] {firstSeen.minus(WALK_REACH_BACK), lastSeen.plus(WALK_REACH_ON)};
    }

    private static int bindWalkRange(PreparedStatement st, int i, Episode e) throws SQLException {
        Instant[] range = walkRange(e.firstSeen(), e.lastSeen());
        for (int k = 0; k < 2; k++) {
            SqlTime.set(st, i++, range[0]);
            SqlTime.set(st, i++, range[1]);
        }
        return i;
    }

    private static String traceWalkBack(String episode, String calls, boolean bounded) {
        return "with " + attempts(episode, calls, bounded)
            + "select distinct " + prefixed("e") + " from failed mine cross join lateral (select p.call_id"
            + " from llm_calls p where p.trace_id = mine.trace_id and p.started_at <= mine.started_at"
            + (bounded ? callsRange("p") : "")
            + " and p.started_at >= mine.started_at - interval '1 hour' and not p.success"
            + " limit " + ATTEMPTS_PER_TRACE + ") p join failure_event_calls fp on fp.call_id = p.call_id"
            + " join failure_events e on e.failure_id = fp.failure_id and e.category = 'PROVIDER'";
    }

    private static final String PROVIDER = "PROVIDER";
    private static final String QUALITY = "QUALITY";

    private final AgroalDataSource dataSource;
    private final CorrelateConfig config;
    private final Clock clock;
    private final ObjectMapper json;
    private final CorrelationMetrics metrics;
    private final CausalChains chains;
    private final Counter failures;
    private final BaseRates baseRates;

    private final ClusterJobs jobs;

    @Override
    public List<Held> boundedMaps() {
        return List.of(new Held("correlate.base-rates", baseRates.capacity(), baseRates::size));
    }

    public FailureCorrelationEngine(AgroalDataSource dataSource, CorrelateConfig config, Clock clock, ObjectMapper json,
            CorrelationMetrics metrics, CausalChains chains, MeterRegistry registry, ClusterJobs jobs) {
        this.jobs = jobs;
        this.dataSource = dataSource;
        this.chains = chains;
        this.config = config;
        this.clock = clock;
        this.json = json;
        this.metrics = metrics;
        this.baseRates = new BaseRates(config.baseRateReuse(), 20_000);
        this.pipelined = config.pipelined();
        this.failures = Counter.builder("faultline.correlate.failures")
                .description("Correlation steps that failed; the drain retries their episodes after a back-off")
                .register(registry);
    }

    /** An episode as the engine reads it. */
    record Episode(UUID id, String fingerprint, String category, String type, String provider, String deployment,
            Instant firstSeen, Instant lastSeen, long occurrences) {
    }

    /**
     * The fold's part, in its transaction: one queue row per changed episode (a new change bumps the row's sequence
     * and gives a failing episode a fresh set of attempts). Rows are written in id order, so that two replicas'
     * folds never wait on each other's rows in opposite orders. Parameters: the fold's time, the episodes.
     */
    private static final String QUEUE = "insert into correlation_queue (failure_id, seq, pending_since, not_before)"
            + " select id, nextval('correlation_queue_seq'), ?, '-infinity' from unnest(?::uuid[]) id order by id"
            + " on conflict (failure_id) do update set seq = excluded.seq, attempts = 0,"
            + " not_before = excluded.not_before, last_error = null";

    private final FoldWrite queue = new FoldWrite() {
        @Override
        public String sql() {
            return QUEUE;
        }

        @Override
        public int bind(Connection c, PreparedStatement st, int index, UUID[] episodes) throws SQLException {
            // Due at once whatever the clock says; only a failed attempt sets a time (its back-off).
            SqlTime.set(st, index, clock.instant());
            st.setArray(index + 1, c.createArrayOf("uuid", episodes));
            return index + 2;
        }

        /**
         * A merge waits for the correlation lock (held to the fold's commit): a drain step that read an absorbed
         * episode commits its clusters and edges first, and the merge moves them to the survivor. Without it, the
         * step's writes naming the episode the fold had deleted failed its batch on a foreign key, and its correlation
         * was lost (the survivor's own onset can lie outside the window of what the absorbed episode linked with).
         * A drain that starts meanwhile reads the queue after the fold's commit. Merges are rare, so the fold seldom
         * waits, and then for one batch.
         */
        @Override
        public String beforeMerge() {
            return "select pg_advisory_xact_lock(" + LOCK_KEY + ")";
        }
    };

    @Override
    public FoldWrite foldWrite() {
        return config.enabled() ? queue : null;
    }

    /** Queues these episodes as a fold does, in the caller's transaction (tests and benches that write episodes). */
    public void recordInFold(Connection c, List<EpisodeChange> changes) throws SQLException {
        if (!config.enabled()) {
            return;
        }
        try (PreparedStatement st = c.prepareStatement(QUEUE)) {
            queue.bind(c, st, 1, changes.stream().map(EpisodeChange::failureId).distinct().toArray(UUID[]::new));
            st.executeUpdate();
        }
    }

    /**
     * Correlates new or updated episodes now, in one transaction, waiting for the correlation lock: attaches each to
     * the active cluster of what it is linked to, or opens one, merging clusters that it joins. Returns the clusters
     * that changed. The drain does the same for the episodes folds queued; this leaves the queue alone.
     */
    public Set<UUID> correlateFailures(Collection<UUID> episodeIds) {
        if (episodeIds.isEmpty()) {
            return Set.of();
        }
        Set<UUID> changed = QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                lock(c, true);
                return step(c, load(c, episodeIds), clock.instant());
            }
        });
        if (!changed.isEmpty()) {
            // Activity alone moves no gauge; the scheduled refresh covers what other replicas changed.
            metrics.refresh();
        }
        return changed;
    }

    /**
     * What one step (one transaction) has read and not written yet, to save round trips: the prior-episode counts
     * of the onsets it scored (reused by the summaries), the active clusters of its episodes read with them by the
     * drain (kept up to date by the step's joins), and the edges to write, sent in one statement
     * with the first summary's read or at the step's end (nothing reads edges before the summaries).
     */
    private static final class Step {
        final Map<String, Long> prior = new HashMap<>();
        final Map<UUID, List<UUID>> active = new HashMap<>();
        final List<EdgeWrite> edges = new ArrayList<>();
        /**
         * Read ahead for the whole batch with the lock ({@link #READ_AHEAD}), per episode: its temporal candidates,
         * its forward trace walk, its walk back. Taken (removed) by the episode's correlation; an episode without an
         * entry reads its own. These tables are never written by a step, so reading them first changes nothing.
         */
        final Map<UUID, List<Episode>> candidates = new HashMap<>();
        final Map<UUID, List<WalkRow>> walks = new HashMap<>();
        final Map<UUID, List<Episode>> walksBack = new HashMap<>();
        /**
         * Cluster writes that nothing in the step reads, sent with the step's last statement ({@link #finish}):
         * the "still active" touches (in order, before the summaries as they ran) and each cluster's latest summary.
         */
        final List<Touch> touches = new ArrayList<>();
        final Map<UUID, Summary> summaries = new LinkedHashMap<>();
        Instant now = Instant.EPOCH;
        /** Writes wait for the step's end ({@link #pipelined}); off, each is sent where the step makes it. */
        boolean defer;
        /** Nanoseconds spent per {@link Phase} (for {@link #phaseListener}; a nanoTime per phase otherwise). */
        final long[] nanos = new long[Phase.values().length];
        long mark = System.nanoTime();

        /** When each cluster the step knows was opened: read with the batch, returned by a join, opened in memory. */
        final Map<UUID, Instant> opened = new HashMap<>();
        /**
         * Joins made in memory ({@link #join}, deferred) and not written yet, in order; written in the step's next
         * round trip that reads or writes clusters, before anything else in it.
         */
        final List<JoinWrite> joins = new ArrayList<>();

        /** Whether the step knows every member's active clusters and when each of those was opened. */
        boolean knows(Collection<UUID> group) {
            for (UUID member : group) {
                List<UUID> clusters = active.get(member);
                if (clusters == null || !opened.keySet().containsAll(clusters)) {
                    return false;
                }
            }
            return true;
        }

        /**
         * A join's effect on the active clusters known for the batch's episodes, so that later episodes of the step
         * need not read theirs again: the group's members are in the target now, and every absorbed cluster is
         * merged into it. Joins are the only membership change a step makes, and no other step runs while it holds
         * the lock. (The order of a list is not kept by opening time; nothing reads it in order.)
         */
        void joined(Collection<UUID> group, UUID target, List<UUID> absorbed) {
            for (Map.Entry<UUID, List<UUID>> entry : active.entrySet()) {
                List<UUID> clusters = entry.getValue();
                if (clusters.removeAll(absorbed) && !clusters.contains(target)) {
                    clusters.add(0, target);
                }
            }
            // Every active cluster of a group member was one of the join's and is the target now.
            for (UUID member : group) {
                active.put(member, new ArrayList<>(List.of(target)));
            }
        }

        /**
         * The one active cluster that every member of the group is known to belong to, and to no other; null when
         * a member's clusters are unknown to the step or differ. Joining such a group writes nothing.
         */
        UUID soleCluster(Collection<UUID> group) {
            UUID sole = null;
            for (UUID member : group) {
                List<UUID> clusters = active.get(member);
                if (clusters == null || clusters.size() != 1 || (sole != null && !sole.equals(clusters.get(0)))) {
                    return null;
                }
                sole = clusters.get(0);
            }
            return sole;
        }

        void lap(Phase phase) {
            long t = System.nanoTime();
            nanos[phase.ordinal()] += t - mark;
            mark = t;
        }
    }

    /** The parts of a drain batch that {@link PhaseListener} reports. */
    public enum Phase {
        CONNECT, LOCK_READ, ACTIVE, TEMPORAL, WALK_FORWARD, WALK_BACK, CHAINS, JOIN, TOUCH, SUMMARY_READ,
        SUMMARY_RATES, SUMMARY, DONE, COMMIT
    }

    /** Receives each drain batch's time per phase (the bench's attribution); none in production. */
    public interface PhaseListener {
        void drained(int episodes, long[] nanosByPhase);
    }

    private volatile PhaseListener phaseListener;

    private volatile boolean pipelined;

    /**
     * Whether the drain reads its batch's candidates, counts and trace walks with the lock and writes what the step
     * does not read back at its end ({@code faultline.correlate.pipelined}); settable at run time so that the bench
     * can compare both paths in one run. Off: one round trip per read and write, as before.
     */
    public void pipelined(boolean on) {
        this.pipelined = on;
    }

    /** When a pipelined drain reads its batch's candidates, counts and walks with the lock. */
    public enum ReadAhead {
        ALWAYS, NEVER,
        /**
         * Unless this replica's last batch that held any episode held one: the read-ahead runs every statement for
         * every due episode and pays for itself only across several (make bench's A/B, two runs, one episode per
         * drain: p50 2.6–2.8 ms without it against 3.0 with it, p99 8.3–8.5 against 9.5–10.1; batches of 20, per
         * episode: p50 0.84–1.06 ms with it against 1.31–1.42 without). At quiet times the drain takes one episode a
         * second; under an incident, many. The first batch of an incident after quiet times reads without it, the
         * next ones with it.
         */
        ADAPTIVE
    }

    private volatile ReadAhead readAhead = ReadAhead.ADAPTIVE;
    /** Episodes in this replica's last batch that held any (ADAPTIVE's guess of the next batch). */
    private volatile int lastBatch = 2;

    /** Whether the next drain batch of at most {@code size} episodes reads ahead with the lock. */
    boolean readsAhead(int size) {
        return pipelined && switch (readAhead) {
            case ALWAYS -> true;
            case NEVER -> false;
            case ADAPTIVE -> size > 1 && lastBatch > 1;
        };
    }

    /** Sets when a pipelined drain reads ahead (ADAPTIVE unless a bench or a test compares the paths). */
    public void readAhead(ReadAhead mode) {
        this.readAhead = mode;
    }

    /** Sets (or clears, with null) the listener of drain batches' phase times. */
    public void phaseListener(PhaseListener listener) {
        this.phaseListener = listener;
    }

    private record EdgeWrite(String key, UUID from, UUID to, String kind, double confidence, String evidence) {
    }

    private record Touch(List<UUID> clusters, Instant lastSeen) {
    }

    /** A join made in memory: the cluster it opened (or null), the target, the members, the clusters it absorbed. */
    private record JoinWrite(UUID created, Instant firstSeen, Instant lastSeen, Instant now, UUID target,
            List<UUID> members, List<UUID> absorbed) {
    }

    private record Summary(UUID cluster, String type, double strength, double confidence, UUID root, String reason,
            String providers, String evidence, Instant firstSeen, Instant lastSeen) {
    }

    /** The episodes' correlation and the summaries of the clusters it changed; returns those still alive. */
    private Set<UUID> step(Connection c, List<Episode> episodes, Instant now) throws SQLException {
        return step(c, episodes, now, new Step(), List.of());
    }

    /**
     * The episodes' correlation, the summaries of the clusters it changed and, in its last round trip, the writes
     * nothing in the step reads and the deletion of the {@code done} queue rows; returns the clusters still alive.
     */
    private Set<UUID> step(Connection c, List<Episode> episodes, Instant now, Step s, List<Pending> done)
            throws SQLException {
        s.now = now;
        Set<UUID> clusters = new LinkedHashSet<>();
        for (Episode e : episodes) {
            clusters.addAll(correlate(c, e, now, s));
        }
        List<UUID> merged = done.stream().filter(Pending::membersChanged).map(Pending::id).toList();
        if (!merged.isEmpty()) {
            // A merge moved another episode's memberships and edges to these: nothing new links them, yet their
            // clusters' summaries still show the absorbed episode (its onset, its span). Read after the step's joins.
            if (!s.joins.isEmpty()) {
                finish(c, s, false, List.of());
            }
            rescoreTemporalEdges(c, merged, s);
            clusters.addAll(activeClusters(c, merged));
        }
        Set<UUID> alive = clusters.isEmpty() ? new LinkedHashSet<>() : summarise(c, clusters, s);
        s.lap(Phase.SUMMARY);
        finish(c, s, true, done);
        s.lap(Phase.DONE);
        return alive;
    }

    // ---- drain ------------------------------------------------------------------------------------------------

    /** What one drain batch did: episodes correlated, episodes whose step failed, or skipped (lock held elsewhere). */
    public record Drained(int correlated, int failed, boolean skipped) {
        static final Drained SKIPPED = new Drained(0, 0, true);
        static final Drained EMPTY = new Drained(0, 0, false);

        public int taken() {
            return correlated + failed;
        }
    }

    /** A queue row as the drain read it. */
    /**
     * A queue row as the drain read it; {@code membersChanged}: its episode absorbed another or started earlier (V57).
     */
    private record Pending(UUID id, long seq, boolean membersChanged) {
    }

    /** The drain job's scheduler identity (an operator or a bench can pause it through the Scheduler). */
    public static final String DRAIN_JOB = "faultline-correlation-drain";
    /** The close job's name in {@code scheduled_job_runs} and on {@code faultline_scheduled_job_runs_total}. */
    static final String CLOSE_JOB = "correlation-close";

    @Scheduled(identity = DRAIN_JOB, every = "{faultline.correlate.drain-every}",
            delayed = "{faultline.correlate.drain-every}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void drainTick() {
        // Per replica, on purpose: a work queue in the database, each step under the correlation lock, so that
        // every queued episode is correlated once whichever replica drains; two drainers only share the queue.
        if (!config.enabled() || !jobs.ready()) {
            return;
        }
        try {
            int taken = 0;
            for (int i = 0; i < config.drainBatchesPerRun() && jobs.ready(); i++) {
                Drained d = drainBatch(false);
                taken += d.taken();
                if (d.skipped() || d.taken() < config.drainBatch()) {
                    break;
                }
            }
            if (taken > 0) {
                metrics.refresh(); // the backlog and the clusters, once per run
            }
        } catch (RuntimeException e) {
            failures.increment();
            if (jobs.stopping()) {
                Log.debugf("The correlation drain stopped with the process; its episodes stay queued: %s", e);
            } else if (ProblemMappers.databaseAway(e)) {
                Log.warnf("The correlation drain waits for the database; its episodes stay queued: %s",
                        e.getMessage());
            } else {
                Log.errorf(e, "The correlation drain failed; its episodes stay queued for the next run");
            }
        }
    }

    /**
     * Drains until no queued episode is due, waiting for the correlation lock (tests, and an operator's catch-up);
     * returns how many episodes were correlated. Episodes whose step failed wait for their back-off.
     */
    public int drain() {
        if (!config.enabled()) {
            return 0;
        }
        int correlated = 0;
        int taken = 0;
        for (Drained d; (d = drainBatch(true)).taken() > 0; ) {
            correlated += d.correlated();
            taken += d.taken();
        }
        if (taken > 0) {
            metrics.refresh();
        }
        return correlated;
    }

    /**
     * One batch: the oldest due queue rows, correlated in one transaction with their rows deleted in it (a row
     * whose episode changed meanwhile stays for the next batch). When the batch fails, it is rolled back whole and
     * its episodes are taken one transaction each, so that a failing episode is isolated, counted and backed off
     * while the others commit.
     */
    public Drained drainBatch(boolean wait) {
        return drainBatch(wait, config.drainBatch());
    }

    /** {@link #drainBatch(boolean)} of at most {@code size} episodes (a test compares batch sizes' graphs). */
    public Drained drainBatch(boolean wait, int size) {
        List<Pending> taken = new ArrayList<>();
        Drained drained;
        Step step = new Step();
        try {
            drained = QuarkusTransaction.requiringNew().call(() -> {
                try (Connection c = dataSource.getConnection()) {
                    step.lap(Phase.CONNECT);
                    Instant now = clock.instant();
                    List<Episode> episodes = new ArrayList<>();
                    step.defer = pipelined;
                    List<Pending> due = lockAndReadDue(c, wait, now, step, episodes, size);
                    step.lap(Phase.LOCK_READ);
                    if (due == null) {
                        return Drained.SKIPPED;
                    }
                    if (due.isEmpty()) {
                        return Drained.EMPTY;
                    }
                    lastBatch = due.size();
                    taken.addAll(due);
                    step(c, episodes, now, step, due);
                    return new Drained(due.size(), 0, false);
                }
            });
            step.lap(Phase.COMMIT);
            PhaseListener listener = phaseListener;
            if (listener != null && drained.correlated() > 0) {
                listener.drained(drained.correlated(), step.nanos);
            }
        } catch (RuntimeException e) {
            if (taken.isEmpty()) {
                throw e; // the lock or the queue itself failed: nothing was taken, the next run tries again
            }
            if (ProblemMappers.databaseAway(e)) {
                // No episode is at fault: the rows stay queued (the transaction rolled back) for the next run.
                throw e;
            }
            Log.warnf(e, "A correlation batch of %d episodes failed; taking them one by one", taken.size());
            drained = isolate(taken, wait);
        }
        return drained;
    }

    /** Each episode of a failed batch in a transaction of its own; a failure is recorded on its queue row. */
    private Drained isolate(List<Pending> batch, boolean wait) {
        int correlated = 0;
        int failed = 0;
        for (Pending p : batch) {
            try {
                Boolean done = QuarkusTransaction.requiringNew().call(() -> {
                    try (Connection c = dataSource.getConnection()) {
                        if (!lock(c, wait, true)) {
                            return null;
                        }
                        step(c, load(c, List.of(p.id())), clock.instant(), new Step(), List.of(p));
                        return true;
                    }
                });
                if (done == null) {
                    break; // another replica took the lock: it drains the rest
                }
                correlated++;
            } catch (RuntimeException e) {
                failed++;
                failures.increment();
                Log.errorf(e, "Correlating episode %s failed; it is retried after a back-off", p.id());
                backOff(p, e);
            }
        }
        return new Drained(correlated, failed, false);
    }

    /**
     * Takes the correlation lock (waiting, or not at all) and reads the oldest due queue rows, with their episodes
     * (sorted by onset into {@code episodes}; a row whose episode is gone has none and is just done) and each
     * episode's active clusters (into the step), in one round trip. Null when another replica holds the lock.
     */
    private List<Pending> lockAndReadDue(Connection c, boolean wait, Instant now, Step step, List<Episode> episodes,
            int size) throws SQLException {
        List<Pending> due = new ArrayList<>();
        boolean ahead = readsAhead(size);
        // Statements in one round trip (PgJDBC sends them before one Sync): the lock with the transaction's
        // settings, as in lock(); then the due rows, read only when the lock was taken (the first statement leaves
        // its answer in a transaction-local setting); pipelined, the four statements of READ_AHEAD. Each statement's
        // snapshot is taken after the first statement ran, so it sees everything the previous lock holder committed.
        // The planner settings: PLAN_SETTINGS.
        try (PreparedStatement st = c.prepareStatement("select set_config('lock_timeout', ?, true),"
                + " set_config('synchronous_commit', 'off', true), "
                // The waiting lock returns void (or fails the statement after lock_timeout): taken when it returns.
                + (wait ? "set_config('faultline.drain_locked', 'true', true), pg_advisory_xact_lock(?) is null"
                        : "set_config('faultline.drain_locked', pg_try_advisory_xact_lock(?)::text, true)")
                + ", " + PLAN_SETTINGS + "; " + REOPEN_DUE + "; select q.failure_id, q.seq, " + prefixed("e") + ","
                + " array(select k.cluster_id || ' ' || (extract(epoch from k.opened_at) * 1000000)::bigint"
                + " from correlation_members m join correlation_clusters k"
                + " on k.cluster_id = m.cluster_id where m.failure_id = q.failure_id and k.status = 'active'"
                + " order by k.opened_at, k.cluster_id), q.members_changed from correlation_queue q"
                + " left join failure_events e"
                + " on e.failure_id = q.failure_id where current_setting('faultline.drain_locked') = 'true'"
                + " and q.not_before <= ? and q.attempts < ? order by q.pending_since, q.failure_id limit ?"
                + (ahead ? READ_AHEAD : ""))) {
            st.setString(1, Math.max(1, config.lockTimeout().toMillis()) + "ms");
            st.setLong(2, LOCK_KEY);
            int i = bindDue(st, 3, now, size);
            SqlTime.set(st, i, now);
            st.setInt(i + 1, config.maxAttempts());
            st.setInt(i + 2, size);
            if (ahead) {
                bindReadAhead(c, st, i + 3, now, size);
            }
            st.execute();
            boolean locked;
            try (ResultSet rs = st.getResultSet()) {
                rs.next();
                locked = "true".equals(rs.getString(3));
            }
            if (st.getMoreResults()) {
                throw new IllegalStateException("the reopening of closed clusters returned a result set");
            }
            if (!st.getMoreResults()) {
                throw new IllegalStateException("the due rows' statement returned no result set");
            }
            if (!locked) {
                return null;
            }
            try (ResultSet rs = st.getResultSet()) {
                while (rs.next()) {
                    due.add(new Pending(rs.getObject(1, UUID.class), rs.getLong(2), rs.getBoolean(4 + WIDTH)));
                    if (rs.getObject(3) != null) {
                        Episode e = episode(rs, 2);
                        episodes.add(e);
                        List<UUID> active = new ArrayList<>();
                        // "<cluster id> <opened_at in epoch microseconds>", oldest first
                        for (Object known : (Object[]) rs.getArray(3 + WIDTH).getArray()) {
                            String text = known.toString();
                            int space = text.indexOf(' ');
                            UUID cluster = UUID.fromString(text.substring(0, space));
                            long micros = Long.parseLong(text.substring(space + 1));
                            active.add(cluster);
                            step.opened.put(cluster, Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L),
                                    Math.floorMod(micros, 1_000_000L) * 1000L));
                        }
                        step.active.put(e.id(), active);
                    }
                }
            }
            if (ahead) {
                readAhead(st, step, now);
            }
        }
        episodes.sort(Comparator.comparing(Episode::firstSeen).thenComparing(Episode::id));
        return due;
    }

    /**
     * Reopens the closed clusters of the due episodes (parameters: {@link #bindDue}), before anything reads which
     * clusters are active. A member that changes after its cluster closed (its calls arrived late, a plugin's spool
     * resent after an outage, or a quiet period shorter than the episodes' dedup window) is activity of that
     * incident: matched again as if clusterless, it opened a second cluster of the same episodes, and the summary of
     * that one moved the closed cluster's edges to it, leaving the closed cluster without its graph. Reopened, the
     * cluster closes again once quiet.
     */
    private static final String REOPEN_DUE = "update correlation_clusters k set status = 'active', closed_at = null"
            + " where k.status = 'closed' and k.cluster_id in (select m.cluster_id from (select q.failure_id"
            + " from correlation_queue q where current_setting('faultline.drain_locked') = 'true'"
            + " and q.not_before <= ? and q.attempts < ? order by q.pending_since, q.failure_id limit ?) d"
            + " join correlation_members m on m.failure_id = d.failure_id)";

    /** {@link #REOPEN_DUE} for episodes named by id (parameter: the ids), in the statement that loads them. */
    private static final String REOPEN = "with reopened as (update correlation_clusters k set status = 'active',"
            + " closed_at = null where k.status = 'closed' and k.cluster_id in (select m.cluster_id"
            + " from correlation_members m where m.failure_id = any (?)))";

    /**
     * The due rows of the queue as {@link #lockAndReadDue} reads them (parameters: now, max attempts, batch size),
     * empty unless the statement before took the lock.
     */
    private static final String DUE = "(select q.failure_id, q.pending_since from correlation_queue q"
            + " where current_setting('faultline.drain_locked') = 'true' and q.not_before <= ? and q.attempts < ?"
            + " order by q.pending_since, q.failure_id limit ?) d join failure_events e on e.failure_id = d.failure_id";

    /**
     * What the batch's episodes will read first and no step writes, as four more statements of the lock's round trip
     * (the read-ahead): the temporal candidates of each provider episode of a temporal type in no active cluster,
     * the base-rate counts of those episodes (only where a candidate exists: the onsets their steps score),
     * the forward trace walk of each provider episode, and the walk back of
     * each episode of a quality type. Each is the episode's own query run per due episode in a LATERAL, with one row
     * per episode even when it finds nothing, so the step takes the rows it would have read itself (a moment
     * earlier: a batch was always read at one moment or another); an episode without an entry (queued between the
     * statements) reads its own. Parameters: {@link #bindReadAhead}.
     */
    private static final String READ_AHEAD = "; select x.id, k.* from (select e.failure_id id, e.provider,"
            + " e.first_seen onset, d.pending_since from " + DUE + " where e.category = 'PROVIDER' and e.type = any (?)"
            + " and not exists (select 1 from correlation_members m join correlation_clusters k"
            + " on k.cluster_id = m.cluster_id where m.failure_id = e.failure_id and k.status = 'active')) x"
            + " left join lateral (select * from (select " + FailureCorrelationEngine.COLUMNS + " from failure_events"
            + " where first_seen between x.onset - make_interval(secs => ?) and x.onset + make_interval(secs => ?)"
            + " and failure_id <> x.id and category = 'PROVIDER' and type = any (?) order by first_seen, failure_id"
            + " limit ?) cand where provider <> x.provider order by first_seen, failure_id) k on true"
            + " order by x.pending_since, x.id, k.first_seen, k.failure_id"
            + "; select e.failure_id, e.occurrences, (select count(*) from failure_events p"
            + " where p.fingerprint = e.fingerprint"
            + " and p.first_seen >= e.first_seen - make_interval(secs => ?)"
            + " and p.first_seen < e.first_seen - make_interval(secs => ?) and p.occurrences >= e.occurrences)"
            + " from " + DUE + " where e.category = 'PROVIDER' and e.type = any (?)"
            + " and not exists (select 1 from correlation_members m join correlation_clusters k"
            + " on k.cluster_id = m.cluster_id where m.failure_id = e.failure_id and k.status = 'active')"
            // Only where a candidate exists: the step scores no onset without one and drops the count.
            + " and exists (select 1 from failure_events c where c.first_seen between"
            + " e.first_seen - make_interval(secs => ?) and e.first_seen + make_interval(secs => ?)"
            + " and c.failure_id <> e.failure_id and c.category = 'PROVIDER' and c.type = any (?)"
            + " and c.provider <> e.provider)"
            + "; select src.id, walked.* from (select e.failure_id id, d.pending_since from " + DUE
            + " where e.category = 'PROVIDER'" + WALKED_HERE + ") src left join lateral ("
            + traceWalkForwardWithEpisodes("src.id", "?", "src.id", true)
            + ") walked on true order by src.pending_since, src.id, walked.rn"
            + "; select src.id, back.* from (select e.failure_id id, d.pending_since from " + DUE
            + " where e.category <> 'PROVIDER' and e.type = any (?)" + WALKED_HERE + ") src left join lateral ("
            + traceWalkBack("src.id", "?", true) + ") back on true order by src.pending_since, src.id";

    private int bindReadAhead(Connection c, PreparedStatement st, int i, Instant now, int size)
            throws SQLException {
        double window = config.window().toMillis() / 1000.0;
        i = bindDue(st, i, now, size);
        st.setArray(i++, c.createArrayOf("text", config.temporalTypes().toArray()));
        st.setDouble(i++, window);
        st.setDouble(i++, window);
        st.setArray(i++, c.createArrayOf("text", config.temporalTypes().toArray()));
        st.setInt(i++, config.maxCandidates());
        st.setDouble(i++, config.baseRateLookback().toMillis() / 1000.0);
        st.setDouble(i++, window);
        i = bindDue(st, i, now, size);
        st.setArray(i++, c.createArrayOf("text", config.temporalTypes().toArray()));
        st.setDouble(i++, window);
        st.setDouble(i++, window);
        st.setArray(i++, c.createArrayOf("text", config.temporalTypes().toArray()));
        i = bindDue(st, i, now, size);
        i = bindWalked(st, i, now);
        st.setInt(i++, config.maxTracedCalls());
        i = bindCallsRange(st, i, now);
        i = bindCallsRange(st, i, now);
        i = bindDue(st, i, now, size);
        st.setArray(i++, c.createArrayOf("text", config.qualityTypes().toArray()));
        i = bindWalked(st, i, now);
        st.setInt(i++, config.maxTracedCalls());
        i = bindCallsRange(st, i, now);
        i = bindCallsRange(st, i, now);
        return i;
    }

    private static int bindWalked(PreparedStatement st, int i, Instant now) throws SQLException {
        SqlTime.set(st, i, now.minus(READ_AHEAD_HORIZON));
        SqlTime.set(st, i + 1, now.plus(READ_AHEAD_AHEAD));
        return i + 2;
    }

    private static int bindCallsRange(PreparedStatement st, int i, Instant now) throws SQLException {
        SqlTime.set(st, i, now.minus(READ_AHEAD_HORIZON).minus(WALK_REACH_BACK));
        SqlTime.set(st, i + 1, now.plus(READ_AHEAD_AHEAD).plus(WALK_REACH_ON));
        return i + 2;
    }

    private int bindDue(PreparedStatement st, int i, Instant now, int size) throws SQLException {
        SqlTime.set(st, i, now);
        st.setInt(i + 1, config.maxAttempts());
        st.setInt(i + 2, size);
        return i + 3;
    }

    /** The read-ahead's four result sets into the step (the statement is positioned before the first). */
    private void readAhead(PreparedStatement st, Step s, Instant now) throws SQLException {
        next(st);
        try (ResultSet rs = st.getResultSet()) {
            while (rs.next()) {
                List<Episode> list = s.candidates.computeIfAbsent(rs.getObject(1, UUID.class),
                        k -> new ArrayList<>());
                if (rs.getObject(2) != null) {
                    list.add(episode(rs, 1));
                }
            }
        }
        next(st);
        try (ResultSet rs = st.getResultSet()) {
            while (rs.next()) {
                UUID id = rs.getObject(1, UUID.class);
                List<Episode> candidates = s.candidates.get(id);
                if (candidates == null || candidates.isEmpty()) {
                    continue; // the step scores no onset without candidates: it neither counts nor caches one
                }
                // A count reused from an earlier step wins, as it would have in the episode's own read.
                long occurrences = rs.getLong(2);
                Long reused = baseRates.get(id, occurrences, now);
                if (reused == null) {
                    baseRates.put(id, occurrences, rs.getLong(3), now);
                }
                s.prior.put(id.toString(), reused != null ? reused : rs.getLong(3));
            }
        }
        next(st);
        try (ResultSet rs = st.getResultSet()) {
            while (rs.next()) {
                List<WalkRow> list = s.walks.computeIfAbsent(rs.getObject(1, UUID.class), k -> new ArrayList<>());
                if (rs.getObject(2) != null) {
                    list.add(walkRow(rs, 1));
                }
            }
        }
        next(st);
        try (ResultSet rs = st.getResultSet()) {
            while (rs.next()) {
                List<Episode> list = s.walksBack.computeIfAbsent(rs.getObject(1, UUID.class),
                        k -> new ArrayList<>());
                if (rs.getObject(2) != null) {
                    list.add(episode(rs, 1));
                }
            }
        }
    }

    private static void next(PreparedStatement st) throws SQLException {
        if (!st.getMoreResults()) {
            throw new IllegalStateException("the read-ahead statement returned fewer result sets than it asks for");
        }
    }

    /**
     * Deletes the rows of correlated episodes that did not change again since the drain read them, in id order like
     * the fold's upserts of the same rows, so that a fold and a drain meeting on two rows do not lock them in
     * opposite orders (a deadlock would fail the fold, whose failures the inbox recovery then folds again).
     */
    private static final String DONE = "delete from correlation_queue q using (select id, seq"
            + " from unnest(?::uuid[], ?::bigint[]) d(id, seq) order by id) d"
            + " where q.failure_id = d.id and q.seq = d.seq";

    private static void bindDone(Connection c, PreparedStatement st, int i, List<Pending> rows) throws SQLException {
        st.setArray(i, c.createArrayOf("uuid", rows.stream().map(Pending::id).toArray()));
        st.setArray(i + 1, c.createArrayOf("bigint", rows.stream().map(Pending::seq).toArray()));
    }

    /** One more failed attempt: the next waits 1, 2, 4, ... seconds; a newer change (another seq) is left alone. */
    private void backOff(Pending p, RuntimeException error) {
        try {
            QuarkusTransaction.requiringNew().run(() -> {
                try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                        "update correlation_queue set attempts = attempts + 1, not_before = ?::timestamptz"
                                + " + make_interval(secs => power(2, least(attempts, 20))), last_error = left(?, 500)"
                                + " where failure_id = ? and seq = ?")) {
                    SqlTime.set(st, 1, clock.instant());
                    st.setString(2, String.valueOf(rootCause(error).getMessage()));
                    st.setObject(3, p.id());
                    st.setLong(4, p.seq());
                    st.executeUpdate();
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
        } catch (RuntimeException e) {
            // The row keeps its attempts: the episode is retried at the next run, which is the safe side.
            Log.warnf(e, "Could not record the failed attempt of episode %s", p.id());
        }
    }

    private static Throwable rootCause(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t;
    }

    /** Closes the active clusters without member activity for the quiet period; returns their ids. */
    public List<UUID> closeQuiet() {
        List<UUID> closed = QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                lock(c, true);
                Instant now = clock.instant();
                List<UUID> ids = new ArrayList<>();
                try (PreparedStatement st = c.prepareStatement("update correlation_clusters set status = 'closed',"
                        + " closed_at = ? where status = 'active' and last_activity < ? returning cluster_id")) {
                    SqlTime.set(st, 1, now);
                    SqlTime.set(st, 2, now.minus(config.quietPeriod()));
                    try (ResultSet rs = st.executeQuery()) {
                        while (rs.next()) {
                            ids.add(rs.getObject(1, UUID.class));
                        }
                    }
                }
                return ids;
            }
        });
        metrics.refresh();
        return closed;
    }

    @Scheduled(every = "{faultline.correlate.close-every}", delayed = "{faultline.correlate.close-every}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void closeTick() {
        // Cluster-wide: one replica closes quiet clusters per interval (the stored last run, then the lock).
        jobs.runOnce(CLOSE_JOB, ClusterJobs.every(config.closeEvery()), () -> {
            try {
                List<UUID> closed = closeQuiet();
                if (!closed.isEmpty()) {
                    Log.infof("Closed %d quiet correlation clusters", closed.size());
                }
            } catch (RuntimeException e) {
                failures.increment();
                Log.errorf(e, "Closing quiet correlation clusters failed; the job runs again");
            }
        });
    }

    /**
     * Takes the correlation lock for this transaction, in one round trip with the transaction's settings: waiting
     * at most {@code lock-timeout} for it ({@code wait}), or not at all, returning false when another replica holds
     * it (the drain: that replica is draining). A direct step that times out fails like any other.
     */
    private boolean lock(Connection c, boolean wait) throws SQLException {
        return lock(c, wait, false);
    }

    /**
     * {@code relaxed}: the commit does not wait for the disk. For the drain only: a drain lost to a database crash
     * is lost whole, its queue deletions included, so its episodes are correlated again; a direct step has no queue
     * row to fall back on.
     */
    private boolean lock(Connection c, boolean wait, boolean relaxed) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select set_config('lock_timeout', ?, true),"
                + " set_config('synchronous_commit', case when ? then 'off'"
                + " else current_setting('synchronous_commit') end, true),"
                + " " + PLAN_SETTINGS + ", "
                + (wait ? "pg_advisory_xact_lock(?) is null" : "pg_try_advisory_xact_lock(?)"))) {
            st.setString(1, Math.max(1, config.lockTimeout().toMillis()) + "ms");
            st.setBoolean(2, relaxed);
            st.setLong(3, LOCK_KEY);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return wait || rs.getBoolean(4);
            }
        }
    }

    /**
     * One episode: its temporal group and its causal links, each joined into one cluster; returns the clusters whose
     * members or edges changed. An episode already in an active cluster is not matched in time again: an episode that
     * starts later within its window finds it from its own side. One that changed without new links only keeps its
     * clusters active.
     */
    private Set<UUID> correlate(Connection c, Episode e, Instant now, Step s) throws SQLException {
        Set<UUID> clusters = new LinkedHashSet<>();
        s.lap(Phase.SUMMARY); // what came before this episode: the previous one's summaries, or nothing
        List<UUID> known = s.active.get(e.id());
        if (known == null && !s.joins.isEmpty()) {
            finish(c, s, false, List.of()); // the memberships the step's joins made, before they are read
        }
        List<UUID> current = known != null ? known : activeClusters(c, List.of(e.id()));
        s.lap(Phase.ACTIVE);
        if (current.isEmpty() && PROVIDER.equals(e.category()) && config.temporalTypes().contains(e.type())) {
            List<Episode> group = temporalGroup(c, e, now, s);
            s.lap(Phase.TEMPORAL);
            if (!group.isEmpty()) {
                clusters.add(join(c, group.stream().map(Episode::id).toList(), e, now, s));
                s.lap(Phase.JOIN);
            }
        }
        List<Episode> causes = PROVIDER.equals(e.category()) ? List.of(e)
                : config.qualityTypes().contains(e.type()) ? providerEpisodesSharingTraces(c, e, s) : List.of();
        s.lap(Phase.WALK_BACK);
        for (Episode cause : causes) {
            List<UUID> linked = linkCausal(c, cause, now, s);
            s.lap(Phase.WALK_FORWARD);
            if (!linked.isEmpty()) {
                clusters.add(join(c, linked, cause, now, s));
                s.lap(Phase.JOIN);
            }
        }
        List<CausalChains.Link> chainLinks = chains.links(c, e);
        s.lap(Phase.CHAINS);
        for (CausalChains.Link link : chainLinks) {
            upsertEdge(s, link.key(), link.cause().id(), link.effect().id(), "caused", link.confidence(),
                    link.evidence());
            if (link.confidence() >= config.chainMinConfidence()) {
                clusters.add(join(c, List.of(link.cause().id(), link.effect().id()), link.cause(), now, s));
            } else {
                // Recomputed under the threshold, the edge joins nothing; a cluster it formed before is summarised
                // again, so that its confidence and strength follow the edge it lists (the episode's clusters).
                clusters.addAll(current);
            }
        }
        s.lap(Phase.JOIN);
        if (clusters.isEmpty() && !current.isEmpty()) {
            // Nothing new links it, but the active clusters it belongs to stay active while it does (written at the
            // step's end: nothing in the step reads these two columns).
            s.touches.add(new Touch(List.copyOf(current), e.lastSeen()));
            if (!s.defer) {
                finish(c, s, false, List.of());
            }
        }
        s.lap(Phase.TOUCH);
        // The edges stay buffered: only the summaries read them (the first summary's round trip writes them
        // first), and merges move only edges that a summary placed in a cluster.
        if (!s.defer) {
            finish(c, s, true, List.of());
        }
        return clusters;
    }

    // ---- temporal ---------------------------------------------------------------------------------------------

    /**
     * The episode and the provider episodes that started within the window of it, when they form or extend an
     * incident: some of them already belong to an active cluster, or together they span two or more providers with
     * a confidence at or above the threshold. Empty otherwise. Writes the temporal edges of the episode.
     */
    private List<Episode> temporalGroup(Connection c, Episode e, Instant now, Step s) throws SQLException {
        List<Episode> candidates = s.candidates.remove(e.id());
        Map<String, Long> prior = s.prior;
        // The candidates on other providers. Candidates on the episode's own provider are no upstream signal; they
        // still count against max-candidates, as before.
        if (candidates == null) {
            candidates = readCandidates(c, e, s);
        }
        if (candidates.isEmpty()) {
            return List.of();
        }
        return temporalGroup(c, e, candidates, prior, s);
    }

    /**
     * The episode's temporal candidates. Pipelined, its forward trace walk comes in the same round trip (into the
     * step, where {@link #linkCausal} takes it): every provider episode walks forward right after its temporal
     * match, and nothing the step writes in between changes what the walk reads (calls and episodes).
     */
    private List<Episode> readCandidates(Connection c, Episode e, Step s) throws SQLException {
        List<Episode> candidates = new ArrayList<>();
        boolean walk = s.defer && !s.walks.containsKey(e.id());
        try (PreparedStatement st = c.prepareStatement("select * from (select " + COLUMNS
                + " from failure_events where first_seen between ? and ? and failure_id <> ? and category = 'PROVIDER'"
                + " and type = any (?) order by first_seen, failure_id limit ?) cand where provider <> ?"
                + " order by first_seen, failure_id" + (walk ? "; " + TRACE_WALK_FORWARD_BOUNDED : ""))) {
            SqlTime.set(st, 1, e.firstSeen().minus(config.window()));
            SqlTime.set(st, 2, e.firstSeen().plus(config.window()));
            st.setObject(3, e.id());
            st.setArray(4, c.createArrayOf("text", config.temporalTypes().toArray()));
            st.setInt(5, config.maxCandidates());
            st.setString(6, e.provider());
            if (walk) {
                bindWalkForward(st, 7, e);
            }
            st.execute();
            try (ResultSet rs = st.getResultSet()) {
                while (rs.next()) {
                    candidates.add(episode(rs));
                }
            }
            if (walk) {
                if (!st.getMoreResults()) {
                    throw new IllegalStateException("the candidates' statement returned no trace walk");
                }
                try (ResultSet rs = st.getResultSet()) {
                    s.walks.put(e.id(), walkRows(rs));
                }
            }
        }
        return candidates;
    }

    private List<Episode> temporalGroup(Connection c, Episode e, List<Episode> candidates, Map<String, Long> prior,
            Step s) throws SQLException {
        // The base-rate counts of the episode and its candidates: reused from earlier steps where recent (the window
        // slides slowly, so most candidates were scored by the step before), the rest counted in one round trip.
        List<Episode> counted = new ArrayList<>(candidates.size() + 1);
        counted.add(e);
        counted.addAll(candidates);
        priorEpisodes(c, counted, prior);
        Confidence.Onset mine = onset(c, e, prior);
        // Each episode on another provider is scored as a pair with this one, with the formula that opens a
        // two-provider cluster: only a pair that would open one links. An active cluster is joined through such a
        // link, never merely by lying within the window of one of its members: at a few episodes a minute every
        // window holds some member, and a cluster that absorbed them all would never go quiet.
        List<Episode> linked = new ArrayList<>();
        Map<Episode, Double> pairs = new LinkedHashMap<>();
        for (Episode other : candidates) {
            if (other.provider().equals(e.provider())) {
                continue; // one provider is not an upstream signal; its own deployments link through other providers
            }
            double pair = Confidence.temporal(List.of(mine, onset(c, other, prior)), config.window(),
                    config.baseRateLookback(), config.upstreamPrior()).confidence();
            pairs.put(other, pair);
            if (pair >= config.minConfidence()) {
                linked.add(other);
            }
        }
        List<Episode> group = new ArrayList<>();
        group.add(e);
        if (!linked.isEmpty()) {
            group.addAll(linked);
        } else {
            // No pair suffices, but three providers failing together may: the likeliest partner on each provider.
            List<Episode> partners = likeliestPartners(c, e, pairs, prior);
            if (partners.isEmpty()) {
                return List.of();
            }
            group.addAll(partners);
            group.sort(Comparator.comparing(Episode::firstSeen).thenComparing(Episode::id));
        }
        for (Episode other : group) {
            if (other != e) {
                temporalEdge(c, e, other, prior, s);
            }
        }
        return group;
    }

    /**
     * Buffers the temporal edge of two episodes, from the earlier onset to the later, scored from their onsets as
     * they are now; returns its key.
     */
    private String temporalEdge(Connection c, Episode a, Episode b, Map<String, Long> prior, Step s)
            throws SQLException {
        Episode from = earlier(a, b);
        Episode to = from == a ? b : a;
        Confidence.Scored scored = Confidence.temporalEdge(onset(c, from, prior), onset(c, to, prior),
                config.window(), config.baseRateLookback(), config.upstreamPrior());
        String key = from.id() + "|temporal|" + to.id();
        upsertEdge(s, key, from.id(), to.id(), "temporal", scored.confidence(), scored.evidence());
        return key;
    }

    /**
     * The temporal edges of episodes whose onset moved (a merge gave them the absorbed episode's edges, scored from
     * its onset, or a late burst started them earlier), scored again as fresh edges between their ends are; an edge
     * whose ends swapped order is written under its new key, the old row goes. Parameters: the episodes, twice.
     */
    private static final String TEMPORAL_EDGES_OF = "select d.edge_id, d.edge_key, " + prefixed("f") + ", "
            + prefixed("t") + " from correlation_edges d join failure_events f on f.failure_id = d.from_failure_id"
            + " join failure_events t on t.failure_id = d.to_failure_id where d.kind = 'temporal'"
            + " and d.edge_id in (select edge_id from correlation_edges where from_failure_id = any (?)"
            + " union all select edge_id from correlation_edges where to_failure_id = any (?))"
            + " order by d.edge_id";

    private void rescoreTemporalEdges(Connection c, List<UUID> episodes, Step s) throws SQLException {
        Map<Long, String> keys = new LinkedHashMap<>();
        List<Episode[]> ends = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement(TEMPORAL_EDGES_OF)) {
            java.sql.Array ids = c.createArrayOf("uuid", episodes.toArray());
            st.setArray(1, ids);
            st.setArray(2, ids);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    keys.put(rs.getLong(1), rs.getString(2));
                    ends.add(new Episode[] {episode(rs, 2), episode(rs, 2 + WIDTH)});
                }
            }
        }
        if (ends.isEmpty()) {
            return;
        }
        List<Episode> distinct = ends.stream().flatMap(java.util.Arrays::stream).distinct().toList();
        priorEpisodes(c, distinct, s.prior);
        List<Long> swapped = new ArrayList<>();
        int i = 0;
        for (Map.Entry<Long, String> edge : keys.entrySet()) {
            Episode[] pair = ends.get(i++);
            if (!temporalEdge(c, pair[0], pair[1], s.prior, s).equals(edge.getValue())) {
                swapped.add(edge.getKey());
            }
        }
        if (!swapped.isEmpty()) {
            try (PreparedStatement st = c.prepareStatement(
                    "delete from correlation_edges where edge_id = any (?)")) {
                st.setArray(1, c.createArrayOf("bigint", swapped.toArray()));
                st.executeUpdate();
            }
        }
    }

    /**
     * The likeliest partner on each other provider, when they and the episode span two providers or more and score
     * the threshold as a group; empty otherwise. The group lies within one window: the partners of an episode lie
     * within the window either side of it, and a group spread over both sides (up to two windows) is no set of
     * episodes that started within one window, nor what its chance term estimates (onsets within the window of the
     * first). When the likeliest partners spread wider, the best-scoring group of each window that holds the
     * episode is taken instead.
     */
    private List<Episode> likeliestPartners(Connection c, Episode e, Map<Episode, Double> pairs,
            Map<String, Long> prior) throws SQLException {
        List<Episode> best = bestByProvider(pairs, pairs.keySet());
        if (best.size() < 2) {
            return List.of();
        }
        if (spread(e, best).compareTo(config.window()) <= 0) {
            return scores(c, e, best, prior) >= config.minConfidence() ? best : List.of();
        }
        List<Episode> chosen = List.of();
        double chosenScore = -1;
        List<Instant> starts = new ArrayList<>();
        starts.add(e.firstSeen());
        pairs.keySet().stream().map(Episode::firstSeen).filter(at -> !at.isAfter(e.firstSeen())
                && !at.isBefore(e.firstSeen().minus(config.window()))).forEach(starts::add);
        for (Instant start : starts) {
            Instant end = start.plus(config.window());
            List<Episode> inWindow = pairs.keySet().stream()
                    .filter(o -> !o.firstSeen().isBefore(start) && !o.firstSeen().isAfter(end)).toList();
            List<Episode> partners = bestByProvider(pairs, inWindow);
            if (partners.size() < 2) {
                continue;
            }
            double score = scores(c, e, partners, prior);
            if (score > chosenScore) {
                chosenScore = score;
                chosen = partners;
            }
        }
        return chosenScore >= config.minConfidence() ? chosen : List.of();
    }

    /** The best-paired of the episodes on each provider. */
    private static List<Episode> bestByProvider(Map<Episode, Double> pairs, Collection<Episode> among) {
        Map<String, Episode> best = new LinkedHashMap<>();
        for (Episode other : among) {
            Episode known = best.get(other.provider());
            if (known == null || pairs.get(other) > pairs.get(known)) {
                best.put(other.provider(), other);
            }
        }
        return List.copyOf(best.values());
    }

    private static Duration spread(Episode e, List<Episode> partners) {
        Instant first = e.firstSeen();
        Instant last = e.firstSeen();
        for (Episode p : partners) {
            first = p.firstSeen().isBefore(first) ? p.firstSeen() : first;
            last = p.firstSeen().isAfter(last) ? p.firstSeen() : last;
        }
        return Duration.between(first, last);
    }

    /** The temporal confidence of the episode and the partners as one group. */
    private double scores(Connection c, Episode e, List<Episode> partners, Map<String, Long> prior)
            throws SQLException {
        List<Episode> group = new ArrayList<>(partners);
        group.add(e);
        group.sort(Comparator.comparing(Episode::firstSeen).thenComparing(Episode::id));
        return Confidence.temporal(onsets(c, group, prior), config.window(), config.baseRateLookback(),
                config.upstreamPrior()).confidence();
    }

    private static Episode earlier(Episode a, Episode b) {
        int byTime = a.firstSeen().compareTo(b.firstSeen());
        return byTime < 0 || (byTime == 0 && a.id().compareTo(b.id()) < 0) ? a : b;
    }

    private List<Confidence.Onset> onsets(Connection c, Collection<Episode> episodes, Map<String, Long> prior)
            throws SQLException {
        priorEpisodes(c, List.copyOf(episodes), prior);
        List<Confidence.Onset> onsets = new ArrayList<>();
        for (Episode e : episodes) {
            onsets.add(onset(c, e, prior));
        }
        return onsets;
    }

    /**
     * Fills the cache with the prior-episode counts of {@link #onset} for all these episodes in one query (one
     * index-only count per episode on {@code failure_events_fingerprint_onset}, but a single round trip).
     */
    private void priorEpisodes(Connection c, List<Episode> episodes, Map<String, Long> cache) throws SQLException {
        Instant now = clock.instant();
        List<UUID> missing = new ArrayList<>();
        for (Episode e : episodes) {
            String key = e.id().toString();
            if (cache.containsKey(key)) {
                continue;
            }
            Long reused = baseRates.get(e.id(), e.occurrences(), now);
            if (reused != null) {
                cache.put(key, reused);
            } else if (!missing.contains(e.id())) {
                missing.add(e.id());
            }
        }
        if (missing.isEmpty()) {
            return;
        }
        try (PreparedStatement st = c.prepareStatement("select e.failure_id, e.occurrences, (select count(*)"
                + " from failure_events p where p.fingerprint = e.fingerprint"
                + " and p.first_seen >= e.first_seen - make_interval(secs => ?)"
                + " and p.first_seen < e.first_seen - make_interval(secs => ?) and p.occurrences >= e.occurrences)"
                + " from failure_events e where e.failure_id = any (?)")) {
            st.setDouble(1, config.baseRateLookback().toMillis() / 1000.0);
            st.setDouble(2, config.window().toMillis() / 1000.0);
            st.setArray(3, c.createArrayOf("uuid", missing.toArray()));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    UUID id = rs.getObject(1, UUID.class);
                    cache.put(id.toString(), rs.getLong(3));
                    baseRates.put(id, rs.getLong(2), rs.getLong(3), now);
                }
            }
        }
    }

    /**
     * The episode's onset with the count of its fingerprint's episodes over the lookback before it (not counting
     * itself) that grew at least as large as it is now: a storm's chance rate is that of the fingerprint's storms.
     */
    private Confidence.Onset onset(Connection c, Episode e, Map<String, Long> cache) throws SQLException {
        String key = e.id().toString();
        Long n = cache.get(key);
        if (n == null) {
            n = baseRates.get(e.id(), e.occurrences(), clock.instant());
        }
        if (n == null) {
            long occurrences = -1;
            n = 0L; // the episode is gone: nothing counts, and nothing is kept
            try (PreparedStatement st = c.prepareStatement("select x.occurrences, (select count(*)"
                    + " from failure_events p where p.fingerprint = ? and p.first_seen >= ? and p.first_seen < ?"
                    + " and p.occurrences >= x.occurrences) from failure_events x where x.failure_id = ?")) {
                st.setString(1, e.fingerprint());
                SqlTime.set(st, 2, e.firstSeen().minus(config.baseRateLookback()));
                SqlTime.set(st, 3, e.firstSeen().minus(config.window()));
                st.setObject(4, e.id());
                try (ResultSet rs = st.executeQuery()) {
                    if (rs.next()) {
                        occurrences = rs.getLong(1);
                        n = rs.getLong(2);
                    }
                }
            }
            if (occurrences >= 0) {
                baseRates.put(e.id(), occurrences, n, clock.instant());
            }
        }
        if (!cache.containsKey(key)) {
            cache.put(key, n);
        }
        return new Confidence.Onset(e.provider(), e.deployment(), e.fingerprint(), e.firstSeen(), n);
    }

    // ---- causal -----------------------------------------------------------------------------------------------

    /** A call that followed one of the provider episode's failed calls in the same trace, on another target. */
    private record FallbackCall(String callId, String traceId, String provider, String model, String deployment,
            boolean success, long lagMs) {
    }

    /**
     * Follows the provider episode's most recent failed calls through their traces to the calls that came after
     * them on another deployment or model, and writes a fallback edge per target (to the target's episode with the
     * most of those calls, else to the deployment named in the evidence) and a caused edge to each quality episode
     * on that fallback traffic. Returns the episode and the episodes it links to, or empty when it links to none.
     */
    private List<UUID> linkCausal(Connection c, Episode p, Instant now, Step s) throws SQLException {
        List<FallbackCall> calls = new ArrayList<>();
        Map<String, List<Episode>> episodesOfCall = new HashMap<>();
        List<WalkRow> rows = s.walks.remove(p.id());
        if (rows == null) {
            rows = walkForward(c, p);
        }
        long lastRow = -1;
        Set<String> seenCalls = new HashSet<>();
        boolean firstOfCall = false;
        for (WalkRow row : rows) {
            if (row.rn() != lastRow) {
                lastRow = row.rn();
                calls.add(row.call());
                firstOfCall = seenCalls.add(row.call().callId());
            }
            if (firstOfCall && row.episode() != null) {
                episodesOfCall.computeIfAbsent(row.call().callId(), k -> new ArrayList<>()).add(row.episode());
            }
        }
        if (calls.isEmpty()) {
            return List.of();
        }
        Map<String, List<FallbackCall>> byTarget = new TreeMap<>();
        for (FallbackCall call : calls) {
            byTarget.computeIfAbsent(call.provider() + "/" + call.deployment(), k -> new ArrayList<>()).add(call);
        }
        Set<UUID> linked = new LinkedHashSet<>();
        for (List<FallbackCall> target : byTarget.values()) {
            FallbackCall any = target.get(0);
            Map<UUID, List<FallbackCall>> callsOfEpisode = new HashMap<>();
            Map<UUID, Episode> episodes = new HashMap<>();
            for (FallbackCall call : target) {
                for (Episode q : episodesOfCall.getOrDefault(call.callId(), List.of())) {
                    episodes.put(q.id(), q);
                    callsOfEpisode.computeIfAbsent(q.id(), k -> new ArrayList<>()).add(call);
                }
            }
            UUID main = callsOfEpisode.entrySet().stream()
                    .max(Comparator.<Map.Entry<UUID, List<FallbackCall>>>comparingInt(en -> en.getValue().size())
                            .thenComparing(Map.Entry::getKey, Comparator.reverseOrder()))
                    .map(Map.Entry::getKey).orElse(null);
            long traces = target.stream().map(FallbackCall::traceId).distinct().count();
            Map<String, Object> evidence = new LinkedHashMap<>();
            evidence.put("target_provider", any.provider());
            evidence.put("target_model", any.model());
            evidence.put("target_deployment", any.deployment());
            evidence.put("shared_traces", traces);
            evidence.put("fallback_calls", target.size());
            evidence.put("fallback_failed", target.stream().filter(f -> !f.success()).count());
            evidence.put("lag_ms_median", median(target));
            evidence.put("traced_calls_limit", config.maxTracedCalls());
            evidence.put("formula", "1 - 0.5^shared_traces");
            // One fallback edge per cause and target deployment. It points at the target's episode with the most of
            // the calls once that episode shares enough traces to join the cause's cluster (in this step), and at
            // the deployment until then: an episode can appear, or another overtake it, after the first steps.
            boolean joins = main != null && callsOfEpisode.get(main).stream().map(FallbackCall::traceId).distinct()
                    .count() >= config.minSharedTraces();
            upsertEdge(s, p.id() + "|fallback|" + any.provider() + "/" + any.deployment(), p.id(),
                    joins ? main : null, "fallback", Confidence.fallback(traces), evidence);
            if (joins) {
                linked.add(main);
            }
            long answered = target.stream().filter(FallbackCall::success).count();
            for (Map.Entry<UUID, List<FallbackCall>> entry : callsOfEpisode.entrySet()) {
                Episode q = episodes.get(entry.getKey());
                if (!QUALITY.equals(q.category()) || !config.qualityTypes().contains(q.type())) {
                    continue;
                }
                List<FallbackCall> hit = entry.getValue();
                long[] base = baseline(c, q, p.firstSeen());
                Confidence.Scored scored = Confidence.caused(Math.max(answered, hit.size()), hit.size(), base[0],
                        base[1], config.qualityPriorRate(), config.qualityPriorWeight());
                Map<String, Object> caused = new LinkedHashMap<>();
                caused.put("via", "fallback");
                caused.put("target_provider", q.provider());
                caused.put("target_deployment", q.deployment());
                caused.put("quality_type", q.type());
                caused.put("shared_traces", hit.stream().map(FallbackCall::traceId).distinct().count());
                caused.put("lag_ms_median", median(hit));
                caused.put("baseline_from", p.firstSeen().minus(config.baselineWindow()).toString());
                caused.put("baseline_until", p.firstSeen().toString());
                caused.putAll(scored.evidence());
                upsertEdge(s, p.id() + "|caused|" + q.id(), p.id(), q.id(), "caused", scored.confidence(), caused);
                if ((long) caused.get("shared_traces") >= config.minSharedTraces()) {
                    linked.add(q.id());
                }
            }
        }
        if (linked.isEmpty()) {
            return List.of();
        }
        List<UUID> group = new ArrayList<>();
        group.add(p.id());
        group.addAll(linked);
        return group;
    }

    /** A row of the forward trace walk: a call found, the walk's row number, one episode of the call or null. */
    private record WalkRow(FallbackCall call, long rn, Episode episode) {
    }

    private static WalkRow walkRow(ResultSet rs, int offset) throws SQLException {
        return new WalkRow(new FallbackCall(rs.getString(offset + 1), rs.getString(offset + 2),
                rs.getString(offset + 3), rs.getString(offset + 4), rs.getString(offset + 5),
                rs.getBoolean(offset + 6), rs.getLong(offset + 7)), rs.getLong(offset + 8),
                rs.getObject(offset + 9) != null ? episode(rs, offset + 8) : null);
    }

    private List<WalkRow> walkForward(Connection c, Episode p) throws SQLException {
        List<WalkRow> rows = new ArrayList<>();
        // Each step is a LATERAL with a LIMIT, so that PostgreSQL probes the indexes per call (pruned to the
        // partitions of that call's day) instead of hash-joining whole llm_calls partitions: for a 429 storm the
        // plain join scanned every partition (make bench, bench/RESULTS.md). The episodes of the calls found come
        // in the same round trip, one row per call and episode.
        try (PreparedStatement st = c.prepareStatement(TRACE_WALK_FORWARD_BOUNDED)) {
            bindWalkForward(st, 1, p);
            try (ResultSet rs = st.executeQuery()) {
                rows.addAll(walkRows(rs));
            }
        }
        return rows;
    }

    /** Binds {@link #TRACE_WALK_FORWARD_BOUNDED}'s parameters for the episode from {@code i}. */
    private void bindWalkForward(PreparedStatement st, int i, Episode p) throws SQLException {
        st.setObject(i, p.id());
        st.setInt(i + 1, config.maxTracedCalls());
        st.setObject(bindWalkRange(st, i + 2, p), p.id());
    }

    private static List<WalkRow> walkRows(ResultSet rs) throws SQLException {
        List<WalkRow> rows = new ArrayList<>();
        while (rs.next()) {
            rows.add(walkRow(rs, 0));
        }
        return rows;
    }

    /**
     * The target's own answered calls and the calls of its quality episodes of that type before the cause began, in
     * one round trip.
     */
    private long[] baseline(Connection c, Episode q, Instant until) throws SQLException {
        Instant from = until.minus(config.baselineWindow());
        try (PreparedStatement st = c.prepareStatement("select (select count(*) from llm_calls where deployment = ?"
                + " and provider = ? and success and started_at >= ? and started_at < ?),"
                + " (select count(*) from failure_events e join failure_event_calls f on f.failure_id = e.failure_id"
                + " where e.provider = ? and e.category = 'QUALITY' and e.type = ? and e.deployment = ?"
                + " and e.last_seen >= ? and f.seen_at >= ? and f.seen_at < ?)")) {
            st.setString(1, q.deployment());
            st.setString(2, q.provider());
            SqlTime.set(st, 3, from);
            SqlTime.set(st, 4, until);
            st.setString(5, q.provider());
            st.setString(6, q.type());
            st.setString(7, q.deployment());
            SqlTime.set(st, 8, from);
            SqlTime.set(st, 9, from);
            SqlTime.set(st, 10, until);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                long calls = rs.getLong(1);
                return new long[] {calls, Math.min(calls, rs.getLong(2))};
            }
        }
    }

    /** Provider episodes whose failed calls were followed, in the same trace, by one of this episode's calls. */
    private List<Episode> providerEpisodesSharingTraces(Connection c, Episode q, Step s) throws SQLException {
        List<Episode> read = s.walksBack.remove(q.id());
        List<Episode> causes = read != null ? read : new ArrayList<>();
        if (read != null) {
            causes.sort(Comparator.comparing(Episode::firstSeen).thenComparing(Episode::id));
            return causes;
        }
        // LATERAL with LIMIT for the same reason as in linkCausal: index probes per call, never whole partitions.
        try (PreparedStatement st = c.prepareStatement(TRACE_WALK_BACK_BOUNDED)) {
            st.setObject(1, q.id());
            st.setInt(2, config.maxTracedCalls());
            bindWalkRange(st, 3, q);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    causes.add(episode(rs));
                }
            }
        }
        causes.sort(Comparator.comparing(Episode::firstSeen).thenComparing(Episode::id));
        return causes;
    }

    private static long median(List<FallbackCall> calls) {
        long[] lags = calls.stream().mapToLong(FallbackCall::lagMs).sorted().toArray();
        return lags.length == 0 ? 0 : lags[lags.length / 2];
    }

    // ---- clusters ---------------------------------------------------------------------------------------------

    /**
     * Puts the linked episodes into one active cluster: the oldest active cluster any of them is in, absorbing the
     * others (their members and edges move, the absorbed rows go), or a new one.
     */
    private UUID join(Connection c, List<UUID> group, Episode anchor, Instant now, Step s) throws SQLException {
        UUID known = s.soleCluster(group);
        if (known != null) {
            return known; // all in one active cluster already: the statement below would change nothing
        }
        if (s.defer && s.knows(group)) {
            return joinInMemory(group, anchor, now, s);
        }
        UUID created = UUID.randomUUID();
        UUID target = null;
        List<UUID> absorbed = new ArrayList<>();
        // One round trip: the group's clusters, a new cluster when there is none, and the group's memberships in the
        // oldest of them or the new one (the parent row and its members in one statement: the foreign keys are
        // checked at its end). Other clusters of the group are merged into the target afterwards. A closed cluster
        // of a member is reopened first: the link is activity of that incident (a partner's cluster closes only
        // after its members were quiet for the quiet period, so an episode that links to one arrived late: the
        // spool of a plugin that could not reach Faultline, or calls of a replica that was away). Left closed, the
        // new episode opened a second cluster of the same incident beside it.
        try (PreparedStatement st = c.prepareStatement(pendingJoins(s) + "with reopened as (update"
                + " correlation_clusters k set status = 'active', closed_at = null where k.status = 'closed'"
                + " and k.cluster_id in (select m.cluster_id from correlation_members m where m.failure_id = any (?))"
                + " returning k.cluster_id, k.opened_at),"
                // The statement's snapshot does not see the reopening: the reopened clusters are added to it.
                + " act as (select k.cluster_id, k.opened_at from correlation_clusters k where k.status = 'active'"
                + " and k.cluster_id in (select m.cluster_id from correlation_members m where m.failure_id = any (?))"
                + " union all select cluster_id, opened_at from reopened),"
                + " created as (insert into correlation_clusters (cluster_id, type, status, strength, confidence,"
                + " providers, evidence, first_seen, last_seen, last_activity, opened_at) select ?, 'upstream',"
                + " 'active', 0, 0, '[]'::jsonb, '{}'::jsonb, ?, ?, ?, ? where not exists (select 1 from act)"
                + " returning cluster_id, opened_at),"
                + " target as (select cluster_id from created union all (select cluster_id from act"
                + " order by opened_at, cluster_id limit 1)),"
                + " joined as (insert into correlation_members (cluster_id, failure_id, joined_at)"
                + " select t.cluster_id, g.id, ? from target t cross join unnest(?::uuid[]) g(id)"
                + " on conflict do nothing)"
                + " select cluster_id, opened_at from created union all (select cluster_id, opened_at from act"
                + " order by opened_at, cluster_id)")) {
            Object[] ids = new LinkedHashSet<>(group).toArray();
            int writes = pendingWrites(s);
            int i = bindPendingJoins(c, st, 1, s);
            st.setArray(i++, c.createArrayOf("uuid", ids));
            st.setArray(i++, c.createArrayOf("uuid", ids));
            st.setObject(i++, created);
            SqlTime.set(st, i++, anchor.firstSeen());
            SqlTime.set(st, i++, anchor.lastSeen());
            SqlTime.set(st, i++, anchor.lastSeen());
            SqlTime.set(st, i++, now);
            SqlTime.set(st, i++, now);
            st.setArray(i, c.createArrayOf("uuid", ids));
            toResults(st, st.execute(), writes);
            try (ResultSet rs = st.getResultSet()) {
                while (rs.next()) {
                    UUID id = rs.getObject(1, UUID.class);
                    s.opened.put(id, rs.getTimestamp(2).toInstant());
                    if (target == null) {
                        target = id;
                    } else {
                        absorbed.add(id);
                    }
                }
            }
        }
        if (target == null) {
            throw new IllegalStateException("joining " + group + " found no active cluster and opened none");
        }
        for (UUID other : absorbed) {
            merge(c, other, target, now);
        }
        s.joined(group, target, absorbed);
        return target;
    }

    /**
     * {@link #join} without a round trip, when the step knows every member's active clusters and when they opened
     * (the batch's episodes, read with the lock, and the members of the step's earlier joins): the same target, the
     * same new cluster and the same merges as the statement would make, written before the step's next read of the
     * clusters ({@link #pendingJoins}).
     */
    private static UUID joinInMemory(List<UUID> group, Episode anchor, Instant now, Step s) {
        List<UUID> members = List.copyOf(new LinkedHashSet<>(group));
        List<UUID> act = new ArrayList<>(new LinkedHashSet<>(members.stream()
                .flatMap(m -> s.active.get(m).stream()).toList()));
        // The statement's order: opening time, then the id as PostgreSQL compares uuids (unsigned bytes).
        act.sort(Comparator.comparing((UUID k) -> s.opened.get(k)).thenComparing((a, b) -> {
            int high = Long.compareUnsigned(a.getMostSignificantBits(), b.getMostSignificantBits());
            return high != 0 ? high : Long.compareUnsigned(a.getLeastSignificantBits(), b.getLeastSignificantBits());
        }));
        UUID created = null;
        UUID target;
        if (act.isEmpty()) {
            created = UUID.randomUUID();
            target = created;
            s.opened.put(created, now.truncatedTo(java.time.temporal.ChronoUnit.MICROS));
        } else {
            target = act.get(0);
        }
        List<UUID> absorbed = List.copyOf(act.subList(Math.min(1, act.size()), act.size()));
        s.joins.add(new JoinWrite(created, anchor.firstSeen(), anchor.lastSeen(), now, target, members, absorbed));
        s.joined(members, target, absorbed);
        return target;
    }

    private static final String OPEN = "insert into correlation_clusters (cluster_id, type, status, strength,"
            + " confidence, providers, evidence, first_seen, last_seen, last_activity, opened_at)"
            + " values (?, 'upstream', 'active', 0, 0, '[]'::jsonb, '{}'::jsonb, ?, ?, ?, ?)";
    private static final String ENROL = "insert into correlation_members (cluster_id, failure_id, joined_at)"
            + " select ?, g.id, ? from unnest(?::uuid[]) g(id) on conflict do nothing";
    // The absorbed cluster's impact assessment goes with it: its members are the surviving cluster's now, and a ranked
    // list that kept it showed their impact twice. Where it went is kept (V53), for its address to answer with the
    // surviving cluster; the clusters it had absorbed before go on to the survivor too, so one read finds it.
    private static final String MERGE = "insert into correlation_members (cluster_id, failure_id,"
            + " joined_at) select ?, failure_id, joined_at from correlation_members where cluster_id = ?"
            + " on conflict do nothing; update correlation_edges set cluster_id = ? where cluster_id = ?;"
            + " delete from correlation_clusters where cluster_id = ?;"
            + " delete from failure_impacts where subject_id = ?;"
            + " update correlation_merges set merged_into = ? where merged_into = ?;"
            + " insert into correlation_merges (cluster_id, merged_into, merged_at) values (?, ?, ?)"
            + " on conflict (cluster_id) do update set merged_into = excluded.merged_into,"
            + " merged_at = excluded.merged_at";

    /** The statements in {@link #MERGE}. */
    private static final int MERGE_WRITES = 6;

    /**
     * The statements of the step's pending in-memory joins, in order, each followed by "; " (empty when none): one
     * write per statement, {@link #pendingWrites} of them; bound by {@link #bindPendingJoins}.
     */
    private static String pendingJoins(Step s) {
        StringBuilder sql = new StringBuilder();
        for (JoinWrite j : s.joins) {
            if (j.created() != null) {
                sql.append(OPEN).append("; ");
            }
            sql.append(ENROL).append("; ");
            for (int i = 0; i < j.absorbed().size(); i++) {
                sql.append(MERGE).append("; ");
            }
        }
        return sql.toString();
    }

    /** How many statements {@link #pendingJoins} holds (each returns an update count). */
    private static int pendingWrites(Step s) {
        int n = 0;
        for (JoinWrite j : s.joins) {
            n += (j.created() != null ? 1 : 0) + 1 + MERGE_WRITES * j.absorbed().size();
        }
        return n;
    }

    /** Binds {@link #pendingJoins} from parameter {@code i} and empties them; returns the next index. */
    private static int bindPendingJoins(Connection c, PreparedStatement st, int i, Step s) throws SQLException {
        for (JoinWrite j : s.joins) {
            if (j.created() != null) {
                st.setObject(i++, j.created());
                SqlTime.set(st, i++, j.firstSeen());
                SqlTime.set(st, i++, j.lastSeen());
                SqlTime.set(st, i++, j.lastSeen());
                SqlTime.set(st, i++, j.now());
            }
            st.setObject(i++, j.target());
            SqlTime.set(st, i++, j.now());
            st.setArray(i++, c.createArrayOf("uuid", j.members().toArray()));
            for (UUID absorbed : j.absorbed()) {
                i = bindMerge(st, i, absorbed, j.target(), j.now());
            }
        }
        s.joins.clear();
        return i;
    }

    /**
     * After {@code execute()} returned {@code rows} for a statement preceded by {@code writes} writes, moves past
     * their update counts to the first result set.
     */
    private static void toResults(PreparedStatement st, boolean rows, int writes) throws SQLException {
        for (int i = 0; i < writes; i++) {
            if (rows) {
                throw new IllegalStateException("a pending write returned rows");
            }
            rows = st.getMoreResults();
        }
        if (!rows) {
            throw new IllegalStateException("the statement after the pending writes returned no result set");
        }
    }

    private static void merge(Connection c, UUID absorbed, UUID into, Instant now) throws SQLException {
        // Six statements in one round trip, run in order: the members and edges move before the cluster goes.
        try (PreparedStatement st = c.prepareStatement(MERGE)) {
            bindMerge(st, 1, absorbed, into, now);
            st.execute();
        }
    }

    /** Binds {@link #MERGE} from parameter {@code i}; returns the next index. */
    private static int bindMerge(PreparedStatement st, int i, UUID absorbed, UUID into, Instant now)
            throws SQLException {
        st.setObject(i, into);
        st.setObject(i + 1, absorbed);
        st.setObject(i + 2, into);
        st.setObject(i + 3, absorbed);
        st.setObject(i + 4, absorbed);
        st.setObject(i + 5, absorbed);
        st.setObject(i + 6, into);
        st.setObject(i + 7, absorbed);
        st.setObject(i + 8, absorbed);
        st.setObject(i + 9, into);
        SqlTime.set(st, i + 10, now);
        return i + 11;
    }

    /** The active clusters any of these episodes belongs to, oldest first. */
    private static List<UUID> activeClusters(Connection c, List<UUID> episodes) throws SQLException {
        List<UUID> clusters = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement("select k.cluster_id from correlation_clusters k"
                + " where k.status = 'active' and k.cluster_id in (select m.cluster_id from correlation_members m"
                + " where m.failure_id = any (?)) order by k.opened_at, k.cluster_id")) {
            st.setArray(1, c.createArrayOf("uuid", episodes.toArray()));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    clusters.add(rs.getObject(1, UUID.class));
                }
            }
        }
        return clusters;
    }

    record EdgeRow(UUID from, UUID to, String kind, double confidence, Map<String, Object> evidence) {
    }

    /**
     * Reads the members of a cluster ordered by onset (parameter: the cluster), then moves the edges between members
     * to the cluster and reads the cluster's edges (parameters: the cluster, four times). The second statement's read
     * of correlation_edges does not see its own update, so the moved rows come from RETURNING.
     */
    public static final String SUMMARY_READ = "select " + prefixed("e") + " from correlation_members m"
            + " join failure_events e on e.failure_id = m.failure_id where m.cluster_id = ?"
            + " order by e.first_seen, e.failure_id;"
            + " with mine as (select failure_id from correlation_members where cluster_id = ?),"
            + " moved as (update correlation_edges set cluster_id = ?"
            + " where from_failure_id in (select failure_id from mine)"
            // An edge to no episode (a fallback to a deployment) counts from its source. Written as coalesce so
            // that the plan cannot OR the `to` index's null entries (every such edge ever written) into its scan.
            + " and coalesce(to_failure_id, from_failure_id) in (select failure_id from mine)"
            + " and cluster_id is distinct from ?"
            // A closed cluster keeps the edges it was shown with. A join reopens the closed clusters of its members,
            // but an episode can still be in a closed cluster and an active one: joined before joins reopened.
            + " and not exists (select 1 from correlation_clusters k where k.cluster_id = correlation_edges.cluster_id"
            + " and k.status = 'closed')"
            + " returning edge_id, from_failure_id, to_failure_id, kind, confidence, evidence)"
            // A temporal edge's evidence is never read by the summary (it scores the onsets itself): not sent.
            + " select distinct on (edge_id) from_failure_id, to_failure_id, kind, confidence,"
            + " case when kind <> 'temporal' then evidence::text end"
            + " from (select * from moved union all select edge_id, from_failure_id, to_failure_id, kind,"
            + " confidence, evidence from correlation_edges where cluster_id = ?) x order by edge_id";

    /**
     * Recomputes the clusters the step changed from their members and edges ({@link #summarise(Connection, UUID,
     * List, List, Step)}); returns those that still exist. One round trip for all of them: the step's pending joins
     * and buffered edges first, then {@link #SUMMARY_READ} per cluster in the order they ran one by one (each
     * cluster's edge move sees the moves before it, as it did).
     */
    private Set<UUID> summarise(Connection c, Collection<UUID> clusters, Step s) throws SQLException {
        Map<UUID, List<Episode>> members = new LinkedHashMap<>();
        Map<UUID, List<EdgeRow>> edges = new LinkedHashMap<>();
        boolean withEdges = !s.edges.isEmpty();
        int writes = pendingWrites(s) + (withEdges ? 1 : 0);
        try (PreparedStatement st = c.prepareStatement(pendingJoins(s) + (withEdges ? EDGES_UPSERT + "; " : "")
                + String.join("; ", java.util.Collections.nCopies(clusters.size(), SUMMARY_READ)))) {
            int i = bindPendingJoins(c, st, 1, s);
            i = withEdges ? bindEdges(c, st, i, s) : i;
            for (UUID cluster : clusters) {
                for (int k = 0; k < 5; k++) {
                    st.setObject(i++, cluster);
                }
            }
            toResults(st, st.execute(), writes); // the pending joins' and the upsert's update counts first
            boolean first = true;
            for (UUID cluster : clusters) {
                if (!first && !st.getMoreResults()) {
                    throw new IllegalStateException("a cluster's member statement returned no result set");
                }
                first = false;
                List<Episode> mine = new ArrayList<>();
                try (ResultSet rs = st.getResultSet()) {
                    while (rs.next()) {
                        mine.add(episode(rs));
                    }
                }
                if (!st.getMoreResults()) {
                    throw new IllegalStateException("a cluster's edge statement returned no result set");
                }
                List<EdgeRow> read = new ArrayList<>();
                try (ResultSet rs = st.getResultSet()) {
                    while (rs.next()) {
                        String evidence = rs.getString(5);
                        read.add(new EdgeRow(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class),
                                rs.getString(3), rs.getDouble(4), evidence == null ? Map.of() : fromJson(evidence)));
                    }
                }
                members.put(cluster, mine);
                edges.put(cluster, read);
            }
        }
        s.lap(Phase.SUMMARY_READ);
        Set<UUID> alive = new LinkedHashSet<>();
        for (UUID cluster : clusters) {
            if (summarise(c, cluster, members.get(cluster), edges.get(cluster), s)) {
                alive.add(cluster);
            }
        }
        return alive;
    }

    /**
     * Recomputes a cluster from its members and edges: type, confidence, strength, providers, time span and root
     * candidate. Returns false when the cluster no longer exists (absorbed by a merge).
     */
    private boolean summarise(Connection c, UUID cluster, List<Episode> members, List<EdgeRow> edges, Step s)
            throws SQLException {
        if (members.isEmpty()) {
            return false;
        }
        Map<UUID, Episode> byId = new LinkedHashMap<>();
        members.forEach(m -> byId.put(m.id(), m));
        Set<UUID> temporalNodes = new LinkedHashSet<>();
        double causal = 0;
        boolean hasTemporal = false;
        boolean hasCausal = false;
        // A fallback edge to a deployment without an episode (to: null) is listed with the cluster as evidence of
        // where its traffic went, but links no two members: it makes no incident a cascade and adds no confidence.
        List<EdgeRow> linking = edges.stream().filter(edge -> edge.to() != null).toList();
        for (EdgeRow edge : linking) {
            if ("temporal".equals(edge.kind())) {
                hasTemporal = true;
                temporalNodes.add(edge.from());
                temporalNodes.add(edge.to());
            } else {
                hasCausal = true;
                causal = Math.max(causal, edge.confidence());
            }
        }
        Map<String, Object> evidence = new LinkedHashMap<>();
        double temporal = 0;
        List<Episode> temporalMembers = temporalNodes.stream().map(byId::get).filter(java.util.Objects::nonNull)
                .toList();
        if (temporalMembers.stream().map(Episode::provider).distinct().count() >= 2) {
            List<Confidence.Onset> onsets = onsets(c, temporalMembers, s.prior);
            s.lap(Phase.SUMMARY_RATES);
            Confidence.Scored scored = Confidence.temporal(onsets, config.window(), config.baseRateLookback(),
                    config.upstreamPrior());
            temporal = scored.confidence();
            evidence.put("temporal", scored.evidence());
            evidence.put("temporal_confidence", Confidence.round(temporal));
        }
        if (hasCausal) {
            evidence.put("causal_confidence", Confidence.round(causal));
        }
        String type = hasTemporal && hasCausal ? "mixed" : hasCausal ? "cascade" : "upstream";
        double confidence = Math.max(temporal, causal);
        double strength = Confidence.strength(linking.stream().map(EdgeRow::confidence).toList());
        Root root = root(members, edges, temporalMembers);
        // Written at the step's end with the other cluster writes (finish): nothing in the step reads these columns.
        Instant last = members.stream().map(Episode::lastSeen).max(Instant::compareTo).orElseThrow();
        s.summaries.put(cluster, new Summary(cluster, type, strength, confidence, root.id(), root.reason(),
                toJson(new TreeSet<>(members.stream().map(Episode::provider).toList())), toJson(evidence),
                members.get(0).firstSeen(), last));
        if (!s.defer) {
            finish(c, s, true, List.of());
        }
        return true;
    }

    record Root(UUID id, String reason) {
    }

    /** The earliest member with no incoming causal edge, and why. Members arrive sorted by onset. */
    static Root root(List<Episode> members, List<EdgeRow> edges, List<Episode> temporalMembers) {
        Set<UUID> caused = new HashSet<>();
        for (EdgeRow edge : edges) {
            if (!"temporal".equals(edge.kind()) && edge.to() != null) {
                caused.add(edge.to());
            }
        }
        Episode first = members.get(0);
        Episode root = members.stream().filter(m -> !caused.contains(m.id())).findFirst().orElse(first);
        StringBuilder reason = new StringBuilder();
        reason.append(root.provider()).append(' ').append(root.type()).append(" on ").append(root.deployment());
        if (root == first) {
            reason.append(" began first, at ").append(root.firstSeen());
            reason.append(caused.contains(root.id()) ? ", though a causal edge points into it (a cycle)"
                    : ", and no causal edge points into it");
        } else {
            // An earlier member was caused by another: the root is the earliest one nothing causal points into.
            reason.append(" began at ").append(root.firstSeen()).append(", the earliest member no causal edge")
                    .append(" points into (").append(first.provider()).append(' ').append(first.type())
                    .append(" on ").append(first.deployment()).append(" began earlier, at ").append(first.firstSeen())
                    .append(", but a causal edge points into it)");
        }
        List<String> effects = new ArrayList<>();
        for (EdgeRow edge : edges) {
            if (edge.from().equals(root.id()) && "fallback".equals(edge.kind())) {
                effects.add("its requests fell back to " + edge.evidence().get("target_provider") + "/"
                        + edge.evidence().get("target_deployment") + " in " + edge.evidence().get("shared_traces")
                        + " traces");
            } else if (edge.from().equals(root.id()) && "caused".equals(edge.kind())
                    && edge.evidence().get("summary") != null) {
                effects.add(edge.evidence().get("summary") + " (confidence " + Confidence.round(edge.confidence())
                        + ")");
            } else if (edge.from().equals(root.id()) && "caused".equals(edge.kind())) {
                effects.add("that fallback traffic showed " + edge.evidence().get("quality_type") + " (confidence "
                        + Confidence.round(edge.confidence()) + ")");
            }
        }
        if (!effects.isEmpty()) {
            reason.append("; ").append(String.join("; ", effects));
        }
        long providers = temporalMembers.stream().map(Episode::provider).distinct().count();
        if (providers >= 2) {
            reason.append("; ").append(temporalMembers.size()).append(" episodes on ").append(providers)
                    .append(" providers started within ")
                    .append(Duration.between(temporalMembers.stream().map(Episode::firstSeen).min(Instant::compareTo)
                            .orElseThrow(), temporalMembers.stream().map(Episode::firstSeen)
                            .max(Instant::compareTo).orElseThrow()).toSeconds())
                    .append(" s of each other, pointing at a shared upstream");
        }
        return new Root(root.id(), reason.toString());
    }

    // ---- plumbing ---------------------------------------------------------------------------------------------

    static final String COLUMNS = "failure_id, fingerprint, category, type, provider, deployment, first_seen,"
            + " last_seen, occurrences";

    /** How many columns {@link #COLUMNS} has (an episode's columns are read from an offset). */
    static final int WIDTH = 9;

    static String prefixed(String alias) {
        return alias + "." + COLUMNS.replace(", ", ", " + alias + ".");
    }

    private static Episode episode(ResultSet rs) throws SQLException {
        return episode(rs, 0);
    }

    static Episode episode(ResultSet rs, int offset) throws SQLException {
        return new Episode(rs.getObject(offset + 1, UUID.class), rs.getString(offset + 2), rs.getString(offset + 3),
                rs.getString(offset + 4), rs.getString(offset + 5), rs.getString(offset + 6),
                rs.getTimestamp(offset + 7).toInstant(), rs.getTimestamp(offset + 8).toInstant(),
                rs.getLong(offset + 9));
    }

    /** The episodes, sorted by onset; their closed clusters are reopened ({@link #REOPEN}). */
    private static List<Episode> load(Connection c, Collection<UUID> ids) throws SQLException {
        List<Episode> episodes = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement(REOPEN + " select " + COLUMNS + " from failure_events"
                + " where failure_id = any (?) order by first_seen, failure_id")) {
            st.setArray(1, c.createArrayOf("uuid", ids.toArray()));
            st.setArray(2, c.createArrayOf("uuid", ids.toArray()));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    episodes.add(episode(rs));
                }
            }
        }
        return episodes;
    }

    /** Buffers an edge: the step writes its edges in one statement (with the first summary, or at its end). */
    private void upsertEdge(Step s, String key, UUID from, UUID to, String kind, double confidence,
            Map<String, Object> evidence) {
        s.edges.add(new EdgeWrite(key, from, to, kind, Confidence.clamp(confidence), toJson(evidence)));
    }

    /**
     * The step's buffered edges in one statement, the last write of a key winning as when each was its own
     * statement, in key order, so that two replicas' direct steps never wait on each other's edge rows in opposite
     * orders. Parameters: created/updated time, then the arrays ({@link #bindEdges}). An edge whose target changed
     * (a fallback edge that found its target's episode) leaves its cluster until a summary of the cluster that
     * holds both its ends places it again, so that a cluster never shows an edge into an episode it does not hold.
     */
    private static final String EDGES_UPSERT = "insert into correlation_edges (edge_key, from_failure_id,"
            + " to_failure_id, kind, confidence, evidence, created_at, updated_at) select u.k, u.f, u.t, u.kind,"
            + " u.conf, u.ev::jsonb, ?, ? from unnest(?::text[], ?::uuid[], ?::uuid[], ?::text[], ?::float8[],"
            + " ?::text[]) with ordinality u(k, f, t, kind, conf, ev, o) order by u.o"
            + " on conflict (edge_key) do update set confidence = excluded.confidence, evidence = excluded.evidence,"
            + " updated_at = excluded.updated_at, to_failure_id = excluded.to_failure_id, cluster_id = case"
            + " when correlation_edges.to_failure_id is not distinct from excluded.to_failure_id"
            + " then correlation_edges.cluster_id end";

    /** Binds {@link #EDGES_UPSERT} from parameter {@code i} and empties the buffer; returns the next index. */
    private static int bindEdges(Connection c, PreparedStatement st, int i, Step s) throws SQLException {
        Map<String, EdgeWrite> byKey = new TreeMap<>();
        s.edges.forEach(edge -> byKey.put(edge.key(), edge));
        List<EdgeWrite> edges = List.copyOf(byKey.values());
        s.edges.clear();
        SqlTime.set(st, i++, s.now);
        SqlTime.set(st, i++, s.now);
        st.setArray(i++, c.createArrayOf("text", edges.stream().map(EdgeWrite::key).toArray()));
        st.setArray(i++, c.createArrayOf("uuid", edges.stream().map(EdgeWrite::from).toArray()));
        st.setArray(i++, c.createArrayOf("uuid", edges.stream().map(EdgeWrite::to).toArray()));
        st.setArray(i++, c.createArrayOf("text", edges.stream().map(EdgeWrite::kind).toArray()));
        st.setArray(i++, c.createArrayOf("float8", edges.stream().map(EdgeWrite::confidence).toArray()));
        st.setArray(i++, c.createArrayOf("text", edges.stream().map(EdgeWrite::evidence).toArray()));
        return i;
    }

    /**
     * The step's last round trip: the edges not yet written (unless {@code withEdges} is false), the "still
     * active" touches (in their order, before the summaries as they ran), each changed cluster's summary and the
     * deletion of the correlated queue rows ({@link #DONE}), as one multi-statement; nothing when there is nothing
     * to write. Not pipelined, the step calls it after each write it makes, which sends that write alone.
     */
    private void finish(Connection c, Step s, boolean withEdges, List<Pending> done) throws SQLException {
        List<String> sql = new ArrayList<>();
        String joins = pendingJoins(s);
        if (!joins.isEmpty()) {
            sql.add(joins.substring(0, joins.length() - 2)); // without its last "; "
        }
        boolean edges = withEdges && !s.edges.isEmpty();
        if (edges) {
            sql.add(EDGES_UPSERT);
        }
        if (!s.touches.isEmpty()) {
            // One statement for every touch: greatest() of greatest() is the greatest of all.
            sql.add("update correlation_clusters k set last_seen = greatest(k.last_seen, t.at),"
                    + " last_activity = greatest(k.last_activity, t.at) from (select id, max(at::timestamptz) at"
                    + " from unnest(?::uuid[], ?::text[]) t(id, at) group by id) t where k.cluster_id = t.id");
        }
        if (!s.summaries.isEmpty()) {
            sql.add("update correlation_clusters k set type = u.type, strength = u.strength, confidence = u.conf,"
                    + " root_failure_id = u.root, root_reason = u.reason, providers = u.providers::jsonb,"
                    + " evidence = u.evidence::jsonb, first_seen = u.first_seen::timestamptz,"
                    + " last_seen = u.last_seen::timestamptz,"
                    + " last_activity = greatest(k.last_activity, u.last_seen::timestamptz)"
                    + " from unnest(?::uuid[], ?::text[], ?::float8[], ?::float8[], ?::uuid[], ?::text[], ?::text[],"
                    + " ?::text[], ?::text[], ?::text[]) u(id, type, strength, conf, root, reason, providers, evidence,"
                    + " first_seen, last_seen) where k.cluster_id = u.id");
        }
        if (!done.isEmpty()) {
            sql.add(DONE);
        }
        if (sql.isEmpty()) {
            return;
        }
        try (PreparedStatement st = c.prepareStatement(String.join("; ", sql))) {
            int i = bindPendingJoins(c, st, 1, s);
            if (edges) {
                i = bindEdges(c, st, i, s);
            }
            if (!s.touches.isEmpty()) {
                List<Object> ids = new ArrayList<>();
                List<Object> at = new ArrayList<>();
                for (Touch t : s.touches) {
                    for (UUID cluster : t.clusters()) {
                        ids.add(cluster);
                        at.add(t.lastSeen().toString());
                    }
                }
                st.setArray(i++, c.createArrayOf("uuid", ids.toArray()));
                st.setArray(i++, c.createArrayOf("text", at.toArray()));
                s.touches.clear();
            }
            if (!s.summaries.isEmpty()) {
                List<Summary> all = List.copyOf(s.summaries.values());
                st.setArray(i++, c.createArrayOf("uuid", all.stream().map(Summary::cluster).toArray()));
                st.setArray(i++, c.createArrayOf("text", all.stream().map(Summary::type).toArray()));
                st.setArray(i++, c.createArrayOf("float8", all.stream().map(Summary::strength).toArray()));
                st.setArray(i++, c.createArrayOf("float8", all.stream().map(Summary::confidence).toArray()));
                st.setArray(i++, c.createArrayOf("uuid", all.stream().map(Summary::root).toArray()));
                st.setArray(i++, c.createArrayOf("text", all.stream().map(Summary::reason).toArray()));
                st.setArray(i++, c.createArrayOf("text", all.stream().map(Summary::providers).toArray()));
                st.setArray(i++, c.createArrayOf("text", all.stream().map(Summary::evidence).toArray()));
                st.setArray(i++, c.createArrayOf("text", all.stream().map(x -> x.firstSeen().toString())
                        .toArray()));
                st.setArray(i++, c.createArrayOf("text", all.stream().map(x -> x.lastSeen().toString()).toArray()));
                s.summaries.clear();
            }
            if (!done.isEmpty()) {
                bindDone(c, st, i, done);
            }
            st.execute();
        }
    }

    private String toJson(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("correlation evidence is built from plain values and always serialises", e);
        }
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> fromJson(String text) {
        try {
            return json.readValue(text, Map.class);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("correlation_edges.evidence is written by this class as JSON", e);
        }
    }
}
