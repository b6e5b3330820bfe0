package io.faultline.episode;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.classify.SeverityPolicy;
import io.faultline.common.SqlTime;
import io.faultline.episode.EpisodeObserver.FoldWrite;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
import io.faultline.taxonomy.Severity;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Folds failures into episodes inside the caller's transaction. Each fingerprint is serialised by a transaction-level
 * advisory lock, taken in sorted order so that concurrent folds (or replicas) cannot deadlock or open two episodes
 * for one burst. A fold takes two round trips whatever its size: one to claim its inbox rows, lock every fingerprint
 * and look up their open episodes; one for the new episodes, the call and user links, the updates and the
 * observers' writes (plus, now and then, the provider-wide check). The fold is the section concurrent requests queue
 * for, so each round trip saved there is saved for every request waiting behind it.
 */
@ApplicationScoped
public class EpisodeStore {

    /** Stored episodes one burst can find: a burst joins those its failures lie within the dedup window of. */
    static final int MAX_FOUND = 32;

    /**
     * Look-ups and merges of one fold when a burst keeps finding {@link #MAX_FOUND} episodes: a fold merges up to 32 +
     * 7 * 31 = 249 episodes that one burst bridges; what lies beyond is merged by a later failure that bridges it.
     */
    static final int MAX_MERGE_ROUNDS = 8;

    private final ObjectMapper json;
    private final SeverityPolicy severities;
    private final Duration window;
    private final Clock clock;

    public EpisodeStore(ObjectMapper json, SeverityPolicy severities, EpisodeConfig config, Clock clock) {
        this.json = json;
        this.severities = severities;
        this.window = config.dedupWindow();
        this.clock = clock;
    }

    /** What happened to one episode in this fold; {@code absorbed}: the stored episodes it absorbed (a merge). */
    public record EpisodeChange(UUID failureId, String fingerprint, boolean opened, Severity severity, int absorbed) {

        public EpisodeChange(UUID failureId, String fingerprint, boolean opened, Severity severity) {
            this(failureId, fingerprint, opened, severity, 0);
        }
    }

    /** One burst of a fingerprint and the episode it goes to. */
    private static final class Burst {
        final String fingerprint;
        final List<Failure> failures;
        UUID episode;
        /** The stored episodes the burst lies within the dedup window of, oldest first (more than one: a bridge). */
        final List<Found> found = new ArrayList<>(1);
        boolean opened;
        long occurrencesBefore;
        Severity severity;

        Burst(String fingerprint, List<Failure> failures) {
            this.fingerprint = fingerprint;
            this.failures = failures;
        }

        Failure first() {
            return failures.get(0);
        }

        Failure last() {
            return failures.get(failures.size() - 1);
        }
    }

    /** A stored episode a burst found. */
    private record Found(UUID id, Severity severity, long occurrences, Instant firstSeen) {
    }

    /**
     * The failures split into bursts, each looked up: any burst can continue a stored episode, not only the earliest
     * (a spool's flush holds an old burst and one that continues the episode open now). Two bursts that find the same
     * episode (one that spans the gap between them) are merged before the write, which updates an episode once.
     */
    private record Plan(List<Burst> bursts) {
    }

    private Plan plan(List<Failure> failures) {
        Map<String, List<Failure>> byFingerprint = new TreeMap<>();
        for (Failure failure : failures) {
            byFingerprint.computeIfAbsent(failure.fingerprint(), k -> new ArrayList<>()).add(failure);
        }
        List<Burst> bursts = new ArrayList<>();
        for (Map.Entry<String, List<Failure>> entry : byFingerprint.entrySet()) {
            List<Failure> sorted = new ArrayList<>(entry.getValue());
            sorted.sort(Comparator.comparing(Failure::timestamp));
            for (List<Failure> burst : split(sorted)) {
                bursts.add(new Burst(entry.getKey(), burst));
            }
        }
        return new Plan(bursts);
    }

    /** The bursts with those that found the same stored episode merged into one (in time order). */
    private static List<Burst> merged(List<Burst> bursts) {
        Map<UUID, Burst> byEpisode = new LinkedHashMap<>();
        List<Burst> out = new ArrayList<>(bursts.size());
        for (Burst burst : bursts) {
            if (burst.episode == null) {
                out.add(burst);
                continue;
            }
            Burst earlier = byEpisode.get(burst.episode);
            if (earlier == null) {
                byEpisode.put(burst.episode, burst);
                out.add(burst);
            } else {
                // Bursts of one fingerprint come in time order, so appending keeps the failures sorted.
                earlier.failures.addAll(burst.failures);
            }
        }
        return out;
    }

    /**
     * Folds failures that this transaction owns (the recovery job took their inbox rows); {@code writes}, the
     * observers' statements, go with the fold's own writes.
     */
    public List<EpisodeChange> record(Connection connection, List<Failure> failures, List<FoldWrite> writes)
            throws SQLException {
        Plan plan = plan(failures);
        try (PreparedStatement st = connection.prepareStatement(LOCK + "; " + FIND_OPEN)) {
            bindLockAndFind(connection, st, 1, plan.bursts());
            st.execute();
            next(st);
            try (ResultSet rs = st.getResultSet()) {
                readOpen(rs, plan.bursts());
            }
        }
        return write(connection, plan, writes);
    }

    /**
     * The fold's: claims the failures' inbox rows (deletes them: a failure is folded by whoever deletes its row), lets
     * the transaction commit without waiting for the disk (see {@code EpisodeFolder}), locks the fingerprints and
     * looks up their open episodes, all in one round trip; then folds the claimed failures. When another transaction
     * (the recovery job) deleted some rows first, only the rest is folded, looked up again under the locks it holds.
     */
    public List<EpisodeChange> claimAndRecord(Connection connection, List<Failure> failures, List<FoldWrite> writes)
            throws SQLException {
        return claimAndRecord(connection, failures, writes, null);
    }

    /** A statement that returns no rows, sent first in the claim's round trip, and its parameters. */
    public interface Ahead {
        String sql();

        /** Binds the parameters from {@code index}; returns the index after them. */
        int bind(Connection c, PreparedStatement st, int index) throws SQLException;
    }

    /** {@link #claimAndRecord(Connection, List, List)} with {@code ahead} (if not null) in the claim's round trip. */
    public List<EpisodeChange> claimAndRecord(Connection connection, List<Failure> failures, List<FoldWrite> writes,
            Ahead ahead) throws SQLException {
        Plan plan = plan(failures);
        Set<UUID> claimed = new HashSet<>();
        try (PreparedStatement st = connection.prepareStatement((ahead == null ? "" : ahead.sql() + "; ")
                + EpisodeFolder.RELAX_COMMIT + "; " + FailureInbox.CLAIM + "; " + LOCK + "; " + FIND_OPEN)) {
            int i = ahead == null ? 1 : ahead.bind(connection, st, 1);
            st.setArray(i, connection.createArrayOf("uuid", failures.stream().map(Failure::failureId).toArray()));
            bindLockAndFind(connection, st, i + 1, plan.bursts());
            st.execute();
            if (ahead != null) {
                next(st); // from the statement ahead's update count to the relaxed commit's row
            }
            next(st);
            try (ResultSet rs = st.getResultSet()) {
                while (rs.next()) {
                    claimed.add(rs.getObject(1, UUID.class));
                }
            }
            next(st);
            next(st);
            try (ResultSet rs = st.getResultSet()) {
                readOpen(rs, plan.bursts());
            }
        }
        if (claimed.size() < failures.size()) {
            List<Failure> mine = failures.stream().filter(f -> claimed.contains(f.failureId())).toList();
            return mine.isEmpty() ? List.of() : record(connection, mine, writes);
        }
        return write(connection, plan, writes);
    }

    private static void next(PreparedStatement st) throws SQLException {
        if (!st.getMoreResults()) {
            throw new IllegalStateException("the fold's statements returned fewer result sets than they ask for");
        }
    }

    /** Writes the bursts whose stored episodes were looked up; returns what happened to each episode. */
    private List<EpisodeChange> write(Connection connection, Plan plan, List<FoldWrite> writes) throws SQLException {
        Map<UUID, UUID> absorbed = bridged(plan.bursts());
        if (!absorbed.isEmpty()) {
            mergeEpisodes(connection, absorbed, writes);
            // A burst that found as many stored episodes as a look-up returns may lie within the window of more: the
            // bursts are looked up again (all of them, so that each holds only episodes that still exist) and what
            // they bridge now is merged too, a bounded number of times.
            for (int round = 1; round < MAX_MERGE_ROUNDS && full(plan.bursts()); round++) {
                lookUp(connection, plan.bursts());
                Map<UUID, UUID> more = bridged(plan.bursts());
                if (more.isEmpty()) {
                    break;
                }
                mergeEpisodes(connection, more, List.of()); // the observers' locks are held since the first round
                absorbed.replaceAll((episode, survivor) -> more.getOrDefault(survivor, survivor));
                absorbed.putAll(more);
            }
        }
        List<Burst> bursts = merged(plan.bursts());
        for (Burst burst : bursts) {
            if (burst.episode == null) {
                burst.episode = burst.first().failureId();
                burst.opened = true;
                burst.severity = Severity.P4;
            }
            for (Failure f : burst.failures) {
                burst.severity = burst.severity.max(f.severity());
            }
            burst.severity = burst.severity.max(severities.forEpisode(burst.first().type(),
                    burst.occurrencesBefore + burst.failures.size()));
        }
        writeBursts(connection, bursts, writes, resummarised(plan.bursts(), bursts, absorbed));
        List<EpisodeChange> changes = new ArrayList<>(bursts.size());
        for (Burst burst : bursts) {
            Severity severity = providerWide(connection, burst);
            int merged = (int) absorbed.values().stream().filter(burst.episode::equals).count();
            changes.add(new EpisodeChange(burst.episode, burst.fingerprint, burst.opened, severity, merged));
        }
        return changes;
    }

    /**
     * The stored episodes whose clusters' summaries this fold makes stale: the survivors of its merges, and those a
     * late burst starts earlier than they did (their onset, hence their clusters' first sighting, spread and root
     * candidate, moves back, and nothing new links them). {@code found} are the bursts as looked up, before
     * {@link #merged} joined those of one episode.
     */
    private static Set<UUID> resummarised(List<Burst> found, List<Burst> bursts, Map<UUID, UUID> absorbed) {
        Set<UUID> stale = new HashSet<>(absorbed.values());
        Map<UUID, Instant> storedStart = new HashMap<>();
        for (Burst b : found) {
            for (Found f : b.found) {
                storedStart.merge(b.episode, f.firstSeen(), (x, y) -> x.isBefore(y) ? x : y);
            }
        }
        for (Burst b : bursts) {
            Instant start = storedStart.get(b.episode);
            if (!b.opened && start != null && b.first().timestamp().isBefore(start)) {
                stale.add(b.episode);
            }
        }
        return stale;
    }

    /**
     * Takes the advisory lock of every fingerprint of the fold in the (sorted) order of the array (one parameter: the
     * fingerprints). A statement of its own, before {@link #FIND_OPEN}: under read committed a statement reads the
     * snapshot it started with, so a look-up in the statement that waited for a lock would not see the episode that
     * the lock's holder (another replica's fold) committed meanwhile, and would open a second one.
     */
    private static final String LOCK = "select count(*) from unnest(?::text[]) with ordinality as f(fp, ord)"
            + " cross join lateral (select pg_advisory_xact_lock(hashtextextended(f.fp, 7))) lock";

    /**
     * Each burst's stored episodes, oldest first: those within the dedup window of its failures, one as a rule and
     * two or more when a late burst bridges them (parameters: the fingerprints, the start and end of each window).
     */
    private static final String FIND_OPEN = "select f.ord, e.failure_id, e.severity, e.occurrences, e.first_seen"
            + " from unnest(?::text[], ?::timestamptz[], ?::timestamptz[]) with ordinality as f(fp, lo, hi, ord)"
            + " left join lateral (select failure_id, severity, occurrences, first_seen from failure_events"
            + " where fingerprint = f.fp and last_seen >= f.lo and first_seen <= f.hi"
            + " order by first_seen, failure_id limit " + MAX_FOUND + ") e on true"
            + " order by f.ord, e.first_seen, e.failure_id";

    private void bindLockAndFind(Connection connection, PreparedStatement st, int i, List<Burst> bursts)
            throws SQLException {
        st.setArray(i, bindFind(connection, st, i + 1, bursts)); // the locks' fingerprints are the look-up's
    }

    /** Binds {@link #FIND_OPEN} from {@code i}; returns the fingerprints' array. */
    private java.sql.Array bindFind(Connection connection, PreparedStatement st, int i, List<Burst> bursts)
            throws SQLException {
        String[] fingerprints = new String[bursts.size()];
        Timestamp[] from = new Timestamp[bursts.size()];
        Timestamp[] to = new Timestamp[bursts.size()];
        for (int j = 0; j < bursts.size(); j++) {
            Burst b = bursts.get(j);
            fingerprints[j] = b.fingerprint;
            from[j] = Timestamp.from(b.first().timestamp().minus(window));
            to[j] = Timestamp.from(b.last().timestamp().plus(window));
        }
        java.sql.Array bound = connection.createArrayOf("text", fingerprints);
        st.setArray(i, bound);
        st.setArray(i + 1, connection.createArrayOf("timestamptz", from));
        st.setArray(i + 2, connection.createArrayOf("timestamptz", to));
        return bound;
    }

    /** Whether a burst found as many stored episodes as a look-up returns (there may be more). */
    private static boolean full(List<Burst> bursts) {
        return bursts.stream().anyMatch(b -> b.found.size() >= MAX_FOUND);
    }

    /** The bursts' stored episodes looked up again (under the locks the fold holds), after a merge. */
    private void lookUp(Connection connection, List<Burst> bursts) throws SQLException {
        bursts.forEach(b -> b.found.clear());
        try (PreparedStatement st = connection.prepareStatement(FIND_OPEN)) {
            bindFind(connection, st, 1, bursts);
            try (ResultSet rs = st.executeQuery()) {
                readOpen(rs, bursts);
            }
        }
    }

    private static void readOpen(ResultSet rs, List<Burst> bursts) throws SQLException {
        while (rs.next()) {
            UUID existing = rs.getObject(2, UUID.class);
            if (existing != null) {
                Burst burst = bursts.get(rs.getInt(1) - 1);
                burst.found.add(new Found(existing, Severity.valueOf(rs.getString(3)), rs.getLong(4),
                        rs.getTimestamp(5).toInstant()));
            }
        }
    }

    /**
     * Gives each burst the stored episode it continues: the one it found, or, when it found several (a late burst
     * that bridges them, directly or through another burst of the fold), the oldest of them, which absorbs the others
     * and whose counts before the fold are theirs together. Returns absorbed episode to survivor (empty as a rule).
     */
    private static Map<UUID, UUID> bridged(List<Burst> bursts) {
        Map<UUID, UUID> parent = new HashMap<>();
        Map<UUID, Found> byId = new HashMap<>();
        for (Burst burst : bursts) {
            for (Found f : burst.found) {
                byId.putIfAbsent(f.id(), f);
                parent.putIfAbsent(f.id(), f.id());
                union(parent, byId, burst.found.get(0).id(), f.id());
            }
        }
        Map<UUID, List<Found>> groups = new LinkedHashMap<>();
        for (UUID id : parent.keySet()) {
            groups.computeIfAbsent(root(parent, id), k -> new ArrayList<>()).add(byId.get(id));
        }
        Map<UUID, UUID> absorbed = new LinkedHashMap<>();
        for (Map.Entry<UUID, List<Found>> group : groups.entrySet()) {
            for (Found f : group.getValue()) {
                if (!f.id().equals(group.getKey())) {
                    absorbed.put(f.id(), group.getKey());
                }
            }
        }
        for (Burst burst : bursts) {
            if (burst.found.isEmpty()) {
                continue;
            }
            UUID survivor = root(parent, burst.found.get(0).id());
            burst.episode = survivor;
            burst.severity = null;
            burst.occurrencesBefore = 0;
            for (Found f : groups.get(survivor)) {
                burst.severity = burst.severity == null ? f.severity() : burst.severity.max(f.severity());
                burst.occurrencesBefore += f.occurrences();
            }
        }
        return absorbed;
    }

    private static UUID root(Map<UUID, UUID> parent, UUID id) {
        UUID r = id;
        while (!parent.get(r).equals(r)) {
            r = parent.get(r);
        }
        return r;
    }

    /** Joins the groups of two episodes under the older one (first seen, then the id), the survivor of a merge. */
    private static void union(Map<UUID, UUID> parent, Map<UUID, Found> byId, UUID a, UUID b) {
        UUID ra = root(parent, a);
        UUID rb = root(parent, b);
        if (ra.equals(rb)) {
            return;
        }
        Found fa = byId.get(ra);
        Found fb = byId.get(rb);
        int older = fa.firstSeen().compareTo(fb.firstSeen());
        if (older < 0 || older == 0 && ra.toString().compareTo(rb.toString()) < 0) {
            parent.put(rb, ra);
        } else {
            parent.put(ra, rb);
        }
    }

    /**
     * Merges absorbed episodes into their survivors, in one round trip (bridges are rare; a fold without one makes
     * none). The survivor takes the absorbed episode's occurrences, its requests and users (counted once where both
     * had them), its first and last sighting, the more severe severity and the latest evidence; the call and user
     * links, the correlation memberships (and the clusters' roots), the edges and the cost alerts move to it; the
     * absorbed episode's queued correlation and impact assessment go with its row; where it went is kept
     * ({@code failure_merges}, flat, as {@code correlation_merges}) for its address to redirect. All by the episodes'
     * ids, through their indexes. The observers' {@link FoldWrite#beforeMerge} statements run first, in the same
     * round trip.
     */
    private void mergeEpisodes(Connection connection, Map<UUID, UUID> absorbed, List<FoldWrite> writes)
            throws SQLException {
        StringBuilder sql = new StringBuilder();
        for (FoldWrite w : writes) {
            if (w.beforeMerge() != null) {
                sql.append(w.beforeMerge()).append("; ");
            }
        }
        try (PreparedStatement st = connection.prepareStatement(sql.append(MERGE).toString())) {
            java.sql.Array from = connection.createArrayOf("uuid", absorbed.keySet().toArray());
            java.sql.Array into = connection.createArrayOf("uuid", absorbed.values().toArray());
            Timestamp now = Timestamp.from(clock.instant());
            int i = 1;
            for (int statement = 0; statement < MERGE_STATEMENTS; statement++) {
                st.setArray(i++, from);
                st.setArray(i++, into);
                if (statement == MERGE_STATEMENTS - 1) {
                    st.setTimestamp(i++, now);
                }
            }
            st.execute();
        }
    }

    /**
     * The edges of the absorbed episodes (by the edge indexes on either end) with the survivor in their place: new
     * ends and key, and how many of them share that key (the same link from two absorbed episodes).
     */
    private static final String MOVED_EDGES = "touched as (select d.edge_id, d.edge_key, d.from_failure_id f,"
            + " d.to_failure_id t, d.confidence from m join correlation_edges d on d.from_failure_id = m.x union"
            + " select d.edge_id, d.edge_key, d.from_failure_id, d.to_failure_id, d.confidence from m"
            + " join correlation_edges d on d.to_failure_id = m.x),"
            + " ends as (select t.*, coalesce(mf.s, t.f) nf, case when t.t is null then null"
            + " else coalesce(mt.s, t.t) end nt from touched t left join m mf on mf.x = t.f"
            + " left join m mt on mt.x = t.t),"
            + " keyed as (select e.*, case when e.t is null then replace(e.edge_key, e.f::text, e.nf::text)"
            + " else replace(replace(e.edge_key, e.f::text, e.nf::text), e.t::text, e.nt::text) end nk from ends e),"
            + " moved as (select k.*, row_number() over (partition by k.nk order by k.confidence desc, k.edge_id) dup"
            + " from keyed k)";

    /** The pairs (absorbed, survivor) of a merge, as each of {@link #MERGE}'s statements reads them. */
    private static final String PAIRS = " unnest(?::uuid[], ?::uuid[]) m(x, s)";

    /** The statements of {@link #MERGE}, each bound with the pairs (the last also with the time of the merge). */
    private static final int MERGE_STATEMENTS = 9;

    private static final String MERGE = "with m as (select * from" + PAIRS + "),"
            // The absorbed episodes' own figures, summed per survivor (with the links each still holds).
            + " a as (select m.s, sum(e.occurrences) occ, sum(e.affected_requests) req, sum(e.affected_users) usr,"
            + " sum((select count(*) from failure_event_calls k where k.failure_id = e.failure_id)) req_links,"
            + " sum((select count(*) from failure_event_users u where u.failure_id = e.failure_id)) usr_links,"
            + " min(e.severity) sev, min(e.first_seen) fs, max(e.last_seen) ls,"
            + " (array_agg(e.evidence order by e.last_seen desc))[1] ev,"
            + " (array_agg(e.detection_method order by e.last_seen desc))[1] meth"
            + " from m join failure_events e on e.failure_id = m.x group by m.s),"
            + " calls as (insert into failure_event_calls (failure_id, call_id, seen_at, trace_id, call_started_at,"
            + " model) select m.s, k.call_id, k.seen_at, k.trace_id, k.call_started_at, k.model from m"
            + " join failure_event_calls k on k.failure_id = m.x on conflict do nothing returning failure_id),"
            + " users as (insert into failure_event_users (failure_id, user_ref, seen_at) select m.s, u.user_ref,"
            + " u.seen_at from m join failure_event_users u on u.failure_id = m.x on conflict do nothing"
            + " returning failure_id)"
            // A link both had counts once: the absorbed episode's figure less its links the survivor had already.
            + " update failure_events e set occurrences = e.occurrences + a.occ,"
            + " affected_requests = e.affected_requests + a.req - a.req_links"
            + " + (select count(*) from calls k where k.failure_id = e.failure_id),"
            + " affected_users = e.affected_users + a.usr - a.usr_links"
            + " + (select count(*) from users u where u.failure_id = e.failure_id),"
            + " severity = least(e.severity, a.sev), first_seen = least(e.first_seen, a.fs),"
            + " last_seen = greatest(e.last_seen, a.ls),"
            + " evidence = case when a.ls > e.last_seen then a.ev else e.evidence end,"
            + " detection_method = case when a.ls > e.last_seen then a.meth else e.detection_method end"
            + " from a where e.failure_id = a.s;"
            // A user both had keeps its first sighting of either (the insert above leaves the survivor's link as it
            // was, and counts only the links it added, so the earlier sighting is written here).
            + " update failure_event_users s set seen_at = u.seen_at from" + PAIRS
            + " join failure_event_users u on u.failure_id = m.x"
            + " where s.failure_id = m.s and s.user_ref = u.user_ref and u.seen_at < s.seen_at;"
            + " insert into correlation_members (cluster_id, failure_id, joined_at) select c.cluster_id, m.s,"
            + " c.joined_at from" + PAIRS + " join correlation_members c on c.failure_id = m.x on conflict do nothing;"
            + " update correlation_clusters k set root_failure_id = m.s from" + PAIRS
            + " join correlation_members c on c.failure_id = m.x"
            + " where k.cluster_id = c.cluster_id and k.root_failure_id = m.x;"
            // An edge between two episodes of the merge would link the survivor with itself, and one that the
            // survivor has already (its key, with the absorbed id replaced) would be there twice: those go.
            + " with m as (select * from" + PAIRS + "), " + MOVED_EDGES
            + " delete from correlation_edges d using moved v where d.edge_id = v.edge_id and (v.nf = v.nt"
            + " or v.dup > 1 or exists (select 1 from correlation_edges k where k.edge_key = v.nk"
            + " and k.edge_id not in (select edge_id from moved)));"
            + " with m as (select * from" + PAIRS + "), " + MOVED_EDGES
            + " update correlation_edges d set edge_key = v.nk, from_failure_id = v.nf, to_failure_id = v.nt"
            + " from moved v where d.edge_id = v.edge_id;"
            + " update budget_alerts b set failure_id = m.s from" + PAIRS + " where b.failure_id = m.x;"
            + " update batch_alerts b set failure_id = m.s from" + PAIRS + " where b.failure_id = m.x;"
            + " with m as (select * from" + PAIRS + "),"
            + " q as (delete from correlation_queue q using m where q.failure_id = m.x),"
            + " fi as (delete from failure_impacts i using m where i.subject_id = m.x),"
            + " st as (delete from impact_state i using m where i.subject_id = m.x),"
            + " heirs as (update failure_merges f set merged_into = m.s from m where f.merged_into = m.x),"
            + " gone as (delete from failure_events e using m where e.failure_id = m.x)"
            + " insert into failure_merges (failure_id, merged_into, merged_at) select m.x, m.s, ? from m"
            + " on conflict (failure_id) do update set merged_into = excluded.merged_into,"
            + " merged_at = excluded.merged_at";


    /** Splits time-ordered failures where the gap exceeds the dedup window (relevant for replays and backfills). */
    private List<List<Failure>> split(List<Failure> sorted) {
        List<List<Failure>> bursts = new ArrayList<>();
        List<Failure> current = new ArrayList<>();
        Instant previous = null;
        for (Failure failure : sorted) {
            if (previous != null && Duration.between(previous, failure.timestamp()).compareTo(window) > 0) {
                bursts.add(current);
                current = new ArrayList<>();
            }
            current.add(failure);
            previous = failure.timestamp();
        }
        bursts.add(current);
        return bursts;
    }

    /**
     * The fold's writes in one statement (one round trip, with the observers' statements): the new episodes, the call
     * and user links, and the continued episodes' counts, whose new users are the user links this statement
     * inserted. Each burst has an episode of its own (bursts that found the same one were merged), so a continued
     * episode is updated once.
     */
    private static final String WRITE = "with opened as (insert into failure_events (failure_id, fingerprint,"
            + " category, type, severity, provider, deployment, detection_method, evidence, impact_scope, first_seen,"
            + " last_seen, occurrences, affected_requests, affected_users) select id, fp, cat, typ, sev, prov, dep,"
            + " meth, ev::jsonb, scope::jsonb, fs, ls, occ, req, usr from unnest(?::uuid[], ?::text[], ?::text[],"
            + " ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[],"
            + " ?::timestamptz[], ?::bigint[], ?::bigint[], ?::bigint[])"
            + " o(id, fp, cat, typ, sev, prov, dep, meth, ev, scope, fs, ls, occ, req, usr) returning 1),"
            + " calls as (insert into failure_event_calls (failure_id, call_id, seen_at, trace_id, call_started_at,"
            + " model) select * from unnest(?::uuid[], ?::text[], ?::timestamptz[], ?::text[], ?::timestamptz[],"
            + " ?::text[]) on conflict do nothing returning failure_id),"
            // First sighting: the retention job forgets the link once that is older than call retention.
            + " users as (insert into failure_event_users (failure_id, user_ref, seen_at) select * from"
            + " unnest(?::uuid[], ?::text[], ?::timestamptz[]) on conflict do nothing returning failure_id),"
            + " continued as (update failure_events e set occurrences = e.occurrences + c.occ,"
            // A request is linked once, whatever its failed attempts (retries share LiteLLM's call id): the requests
            // this statement linked, as the users below.
            + " affected_requests = e.affected_requests + (select count(*) from calls k where k.failure_id"
            + " = e.failure_id),"
            + " affected_users = e.affected_users + (select count(*) from users u where u.failure_id = e.failure_id),"
            // The evidence is the latest occurrence's: a late burst older than the episode's last keeps it.
            + " severity = c.sev,"
            + " detection_method = case when c.ls >= e.last_seen then c.meth else e.detection_method end,"
            + " evidence = case when c.ls >= e.last_seen then c.ev::jsonb else e.evidence end,"
            + " first_seen = least(e.first_seen, c.fs), last_seen = greatest(e.last_seen, c.ls)"
            + " from unnest(?::uuid[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::timestamptz[],"
            + " ?::timestamptz[]) c(id, occ, sev, meth, ev, fs, ls) where e.failure_id = c.id returning 1)"
            // Data-modifying CTEs run to completion whether or not the query reads them.
            + " select 1";

    /**
     * Marks the survivors of this fold's merges, and the episodes it starts earlier, on the queue rows the observers'
     * writes gave them (V57): their correlation summarises their clusters again, which still show the absorbed
     * episodes or the later start. No row, no mark: with correlation off, nothing is queued.
     */
    private static final String MEMBERS_CHANGED = "update correlation_queue set members_changed = true"
            + " where failure_id = any (?::uuid[])";

    private void writeBursts(Connection connection, List<Burst> bursts, List<FoldWrite> writes, Set<UUID> survivors)
            throws SQLException {
        Columns opened = new Columns("uuid", "text", "text", "text", "text", "text", "text", "text", "text", "text",
                "timestamptz", "timestamptz", "int8", "int8", "int8");
        Columns calls = new Columns("uuid", "text", "timestamptz", "text", "timestamptz", "text");
        Columns users = new Columns("uuid", "text", "timestamptz");
        Columns continued = new Columns("uuid", "int8", "text", "text", "text", "timestamptz", "timestamptz");
        for (Burst b : bursts) {
            Failure first = b.first();
            if (b.opened) {
                // Every user of a brand-new episode is new to it.
                long distinctUsers = b.failures.stream().map(f -> f.impactScope().userRef())
                        .filter(Objects::nonNull).distinct().count();
                opened.add(b.episode, b.fingerprint, first.category().name(), first.type().code(), b.severity.name(),
                        first.provider(), first.deployment(), b.last().detectionMethod(), toJson(b.last().evidence()),
                        toJson(scopeOf(first)), Timestamp.from(first.timestamp()),
                        Timestamp.from(b.last().timestamp()), (long) b.failures.size(), callCount(b), distinctUsers);
            } else {
                continued.add(b.episode, (long) b.failures.size(), b.severity.name(),
                        b.last().detectionMethod(), toJson(b.last().evidence()), Timestamp.from(first.timestamp()),
                        Timestamp.from(b.last().timestamp()));
            }
            Set<String> distinct = new HashSet<>();
            for (Failure failure : b.failures) {
                ImpactScope scope = failure.impactScope();
                if (scope.callId() != null) {
                    // The failed attempt, so that a trace walk starts from it without looking it up
                    calls.add(b.episode, scope.callId(), Timestamp.from(failure.timestamp()), scope.traceId(),
                            scope.callStartedAt() == null ? null : Timestamp.from(scope.callStartedAt()),
                            scope.callStartedAt() == null ? null : scope.model());
                }
                if (scope.userRef() != null && distinct.add(scope.userRef())) {
                    users.add(b.episode, scope.userRef(), Timestamp.from(failure.timestamp()));
                }
            }
        }
        StringBuilder sql = new StringBuilder(WRITE);
        writes.forEach(w -> sql.append("; ").append(w.sql()));
        if (!survivors.isEmpty()) {
            sql.append("; ").append(MEMBERS_CHANGED);
        }
        try (PreparedStatement st = connection.prepareStatement(sql.toString())) {
            int i = opened.bind(connection, st, 1);
            i = calls.bind(connection, st, i);
            i = users.bind(connection, st, i);
            i = continued.bind(connection, st, i);
            UUID[] episodes = bursts.stream().map(b -> b.episode).distinct().toArray(UUID[]::new);
            for (FoldWrite w : writes) {
                i = w.bind(connection, st, i, episodes);
            }
            if (!survivors.isEmpty()) {
                st.setArray(i, connection.createArrayOf("uuid", survivors.toArray()));
            }
            st.execute();
        }
    }

    /** Rows gathered as columns, for {@code unnest} of one array per column (of the given SQL types). */
    private static final class Columns {

        private final String[] types;
        private final List<List<Object>> columns = new ArrayList<>();

        Columns(String... types) {
            this.types = types;
            for (int i = 0; i < types.length; i++) {
                columns.add(new ArrayList<>());
            }
        }

        void add(Object... row) {
            for (int i = 0; i < row.length; i++) {
                columns.get(i).add(row[i]);
            }
        }

        /** Binds one array per column from parameter {@code from}; returns the index after the last. */
        int bind(Connection connection, PreparedStatement st, int from) throws SQLException {
            for (int i = 0; i < types.length; i++) {
                st.setArray(from + i, connection.createArrayOf(types[i], columns.get(i).toArray()));
            }
            return from + types.length;
        }
    }

    /** The requests of a burst: its failed attempts with a call id, a request's retries (one call id) once. */
    private static long callCount(Burst b) {
        return b.failures.stream().map(f -> f.impactScope().callId()).filter(Objects::nonNull).distinct().count();
    }

    /**
     * When every recently active deployment of the provider has an open episode of this type, raises all of those
     * episodes to the type's provider-wide severity (e.g. an outage everywhere is P1). Checked only when the spread
     * can have changed: an episode opened, or one crossed a multiple of the minimum occurrences.
     */
    private Severity providerWide(Connection connection, Burst burst) throws SQLException {
        Failure failure = burst.first();
        Severity wide = severities.providerWide(failure.type());
        if (wide == null || wide.ordinal() >= burst.severity.ordinal()) {
            return burst.severity;
        }
        long min = Math.max(1, severities.providerWideMinOccurrences());
        long after = burst.occurrencesBefore + burst.failures.size();
        if (!burst.opened && burst.occurrencesBefore / min == after / min) {
            return burst.severity;
        }
        // Episodes open around the burst's own time, not since it: a backfill of yesterday judges yesterday's
        // spread and raises yesterday's episodes, never today's.
        Instant openSince = burst.last().timestamp().minus(window);
        Instant openUntil = burst.last().timestamp().plus(window);
        try (PreparedStatement st = connection.prepareStatement("select count(distinct e.deployment),"
                + " coalesce(sum(e.occurrences), 0), (select count(*) from provider_deployments d where d.provider = ?"
                + " and d.last_seen >= ?) from failure_events e where e.provider = ? and e.category = ? and e.type = ?"
                + " and e.last_seen >= ? and e.first_seen <= ?")) {
            st.setString(1, failure.provider());
            // Typed: bound as Timestamps, the statement was described, and its numeric sum made PgJDBC send a Sync
            // of its own before each run (SqlTime).
            SqlTime.set(st, 2, burst.last().timestamp().minus(severities.deploymentActivityWindow()));
            st.setString(3, failure.provider());
            st.setString(4, failure.category().name());
            st.setString(5, failure.type().code());
            SqlTime.set(st, 6, openSince);
            SqlTime.set(st, 7, openUntil);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                long failing = rs.getLong(1);
                long occurrences = rs.getLong(2);
                long active = rs.getLong(3);
                if (occurrences < severities.providerWideMinOccurrences() || failing < Math.max(1, active)) {
                    return burst.severity;
                }
            }
        }
        try (PreparedStatement raise = connection.prepareStatement("update failure_events set severity = ?"
                + " where provider = ? and category = ? and type = ? and last_seen >= ? and first_seen <= ?"
                + " and severity > ?")) {
            raise.setString(1, wide.name());
            raise.setString(2, failure.provider());
            raise.setString(3, failure.category().name());
            raise.setString(4, failure.type().code());
            SqlTime.set(raise, 5, openSince);
            SqlTime.set(raise, 6, openUntil);
            raise.setString(7, wide.name());
            raise.executeUpdate();
        }
        return wide;
    }

    private Map<String, Object> scopeOf(Failure failure) {
        Map<String, Object> scope = new LinkedHashMap<>();
        scope.put("model", failure.impactScope().model());
        scope.put("model_group", failure.impactScope().modelGroup());
        scope.put("team_id", failure.impactScope().teamId());
        return scope;
    }

    private String toJson(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("evidence is built from plain values and always serialises", e);
        }
    }
}
