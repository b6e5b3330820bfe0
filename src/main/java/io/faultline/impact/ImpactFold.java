package io.faultline.impact;

import io.quarkus.logging.Log;
import jakarta.inject.Singleton;

import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

/**
 * The incremental half of {@code assess_impact()} (README: "Impact"): each request's contribution to an episode or
 * cluster is kept in {@code impact_requests}, its running sums in {@code impact_state} and its distinct users, keys,
 * teams and deployments with reference counts in {@code impact_distinct} (V22). A re-assessment re-derives only the
 * requests touched since the previous one, takes their old contribution away and adds the new one:
 * <ul>
 * <li>a link written since (any episode's: a new link of a member episode, or a quality episode flagging one of the
 * subject's answers), by {@code failure_event_calls.linked_at};</li>
 * <li>an attempt received since of one of the subject's requests (a fallback that answered after the first
 * assessment), by {@code llm_calls.received_at};</li>
 * <li>every link of a member episode that joined a cluster since.</li>
 * </ul>
 * Links are read from the start of the oldest transaction that was writing when the previous fold read them (so a
 * link committed after that fold is never missed); attempts, stamped by the service's clock when received, are re-read
 * from {@code fold-overlap} before where the previous fold stopped, for ingests that stamped them before it and
 * committed after it. Re-deriving an unchanged request changes nothing (and writes nothing), so reading a request
 * again never counts it twice. The subject
 * is folded anew from its calls when it has no state, lost a member episode, or its spike rule ({@link SpikeRule}) changed. The result
 * equals {@link FailureImpactAssessor#assessFull} (one query over every attempt; ImpactFoldTest checks both on
 * replayed traffic). The caller holds a transaction; the subject's state row is locked for its duration.
 */
@Singleton
public class ImpactFold {

    /** Call ids per round trip. */
    static final int CHUNK = 5_000;

    /** The summed figures of one subject's requests, as the full query and the fold both produce them. */
    record Totals(long requests, long failed, long recovered, long attempts, long users, long keys, long teams,
            double wasted, long wastedTokens, long fallbacks, double fallbackCost, double atOriginal,
            double pricedFallbackCost, long unpriced, String[] answerDeployments, long answers, long qualityFailures,
            String[] flaggedDeployments, long flaggedAnswers, double spikeExtra, long[] latencyLe,
            Map<String, Long> failedByGroup, Map<String, long[]> latencyByGroup) {
    }

    /**
     * The key in {@code failedByGroup} and {@code latencyByGroup} (the answered requests' cumulative latency
     * histogram per first group) of the requests whose first attempt named no model group.
     */
    static final String NO_GROUP = "";

    /** One stored attempt of a request. */
    record Attempt(Instant started, Instant ended, boolean success, String model, String deployment,
            double cost, long promptTokens, long completionTokens, String user, String team, String key, Double in,
            Double out, boolean qualityFlagged, String group, boolean serviceFailure) {
    }

    /** One request's contribution (a row of {@code impact_requests}). */
    record Req(String callId, boolean ok, boolean hit, int attempts, String user, String team, String key,
            double wastedCost, long wastedTokens, int fallbacks, double fallbackCost, double atOriginal,
            double pricedFallbackCost, int unpriced, int answers, int qualityFailures, int flaggedAnswers,
            double spikeExtra, String[] answerDeployments, String[] flaggedDeployments, Long latencyUs,
            String firstGroup, boolean spent) {

        /** Field by field, the deployments by content: an unchanged request is not written again. */
        @Override
        public boolean equals(Object o) {
            return o instanceof Req r && ok == r.ok && hit == r.hit && attempts == r.attempts
                    && Objects.equals(callId, r.callId) && Objects.equals(user, r.user)
                    && Objects.equals(team, r.team) && Objects.equals(key, r.key)
                    && Double.compare(wastedCost, r.wastedCost) == 0 && wastedTokens == r.wastedTokens
                    && fallbacks == r.fallbacks && Double.compare(fallbackCost, r.fallbackCost) == 0
                    && Double.compare(atOriginal, r.atOriginal) == 0
                    && Double.compare(pricedFallbackCost, r.pricedFallbackCost) == 0 && unpriced == r.unpriced
                    && answers == r.answers && qualityFailures == r.qualityFailures
                    && flaggedAnswers == r.flaggedAnswers && Double.compare(spikeExtra, r.spikeExtra) == 0
                    && Arrays.equals(answerDeployments, r.answerDeployments)
                    && Arrays.equals(flaggedDeployments, r.flaggedDeployments)
                    && Objects.equals(latencyUs, r.latencyUs) && Objects.equals(firstGroup, r.firstGroup)
                    && spent == r.spent;
        }

        @Override
        public int hashCode() {
            return Objects.hash(callId, attempts, wastedCost, fallbackCost);
        }
    }

    /** The running deltas of one fold. */
    private static final class Delta {
        long requests;
        long failed;
        long recovered;
        long attempts;
        BigDecimal wasted = BigDecimal.ZERO;
        long wastedTokens;
        long fallbacks;
        BigDecimal fallbackCost = BigDecimal.ZERO;
        BigDecimal atOriginal = BigDecimal.ZERO;
        BigDecimal pricedFallbackCost = BigDecimal.ZERO;
        long unpriced;
        long answers;
        long qualityFailures;
        long flaggedAnswers;
        BigDecimal spikeExtra = BigDecimal.ZERO;
        final long[] latency = new long[LatencyBuckets.SIZE];
        final Map<String, Integer> distinct = new HashMap<>();
        long changed;

        void add(Req r, int sign) {
            changed += sign > 0 ? 1 : 0;
            requests += sign;
            // A failed response: no attempt answered (an answer a quality or timeout episode flagged was delivered: it
            // is wasted cost and a quality failure, or a slow request, not an error the user got).
            failed += r.latencyUs() == null ? sign : 0;
            if (r.spent()) {
                // a failed response whose last attempt failed on the service's side spends the error budget of its
                // first attempt's group; a caller's own 4xx spends none (SloRollup.SERVICE_FAILURE)
                distinct.merge("g" + (r.firstGroup() == null ? NO_GROUP : r.firstGroup()), sign, Integer::sum);
            }
            recovered += r.ok() && r.hit() ? sign : 0;
            attempts += (long) sign * r.attempts();
            wasted = wasted.add(exact(r.wastedCost(), sign));
            wastedTokens += sign * r.wastedTokens();
            fallbacks += (long) sign * r.fallbacks();
            fallbackCost = fallbackCost.add(exact(r.fallbackCost(), sign));
            atOriginal = atOriginal.add(exact(r.atOriginal(), sign));
            pricedFallbackCost = pricedFallbackCost.add(exact(r.pricedFallbackCost(), sign));
            unpriced += (long) sign * r.unpriced();
            answers += (long) sign * r.answers();
            qualityFailures += (long) sign * r.qualityFailures();
            flaggedAnswers += (long) sign * r.flaggedAnswers();
            spikeExtra = spikeExtra.add(exact(r.spikeExtra(), sign));
            if (r.latencyUs() != null) {
                LatencyBuckets.add(latency, r.latencyUs(), sign);
                // and in its first attempt's group, whose latency budget it spends: the bucket it falls in
                distinct.merge("l" + LatencyBuckets.bucket(r.latencyUs()) + ":"
                        + (r.firstGroup() == null ? NO_GROUP : r.firstGroup()), sign, Integer::sum);
            }
            ref("u", r.user(), sign);
            ref("k", r.key(), sign);
            ref("t", r.team(), sign);
            for (String d : r.answerDeployments()) {
                ref("a", d, sign);
            }
            for (String d : r.flaggedDeployments()) {
                ref("f", d, sign);
            }
        }

        private void ref(String dim, String value, int sign) {
            if (value != null) {
                distinct.merge(dim + value, sign, Integer::sum);
            }
        }

        private static BigDecimal exact(double v, int sign) {
            BigDecimal d = new BigDecimal(v);
            return sign < 0 ? d.negate() : d;
        }
    }

    private final ImpactConfig config;
    private final Clock clock;

    public ImpactFold(ImpactConfig config, Clock clock) {
        this.config = config;
        this.clock = clock;
    }

    /**
     * How far links can be read: the start of the oldest transaction still writing (a link is stamped when inserted,
     * so one that commits after this fold reads carries a later stamp than that start), else now: exact, with no
     * overlap. PostgreSQL keeps a transaction's first read of {@code pg_stat_activity} for the rest of it, and the
     * re-assessment folds every subject in one transaction: without clearing that snapshot, the second subject's fold
     * would not see a writer that began after the first's, read past its links, and never count them.
     */
    static Timestamp linksWatermark(Connection c) throws SQLException {
        try (Statement clear = c.createStatement()) {
            clear.execute("select pg_stat_clear_snapshot()");
        }
        try (PreparedStatement st = c.prepareStatement("select least(clock_timestamp(), (select min(xact_start)"
                + " from pg_stat_activity where datname = current_database() and backend_xid is not null"
                + " and pid <> pg_backend_pid()))");
                ResultSet rs = st.executeQuery()) {
            rs.next();
            return rs.getTimestamp(1);
        }
    }

    /** Brings the subject's state up to date with what was written since its last fold and returns its sums. */
    Totals fold(Connection c, FailureImpactAssessor.Subject s, SpikeRule spike) throws SQLException {
        long started = System.nanoTime();
        Instant attemptsNow = clock.instant();
        Timestamp linksNow = linksWatermark(c);
        UUID[] members = s.episodes().toArray(UUID[]::new);
        try (PreparedStatement st = c.prepareStatement("insert into impact_state (subject_id, members, links_through,"
                + " attempts_through, spike_rule, last_seen) values (?, '{}', '-infinity', '-infinity', ?, ?)"
                + " on conflict do nothing")) {
            st.setObject(1, s.id());
            st.setString(2, spike.encode());
            st.setTimestamp(3, Timestamp.from(s.lastSeen()));
            st.executeUpdate();
        }
        UUID[] folded;
        Timestamp linksThrough;
        Timestamp attemptsThrough;
        String foldedSpike;
        try (PreparedStatement st = c.prepareStatement("select members, links_through, attempts_through, spike_rule"
                + " from impact_state where subject_id = ? for update")) {
            st.setObject(1, s.id());
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                folded = (UUID[]) rs.getArray(1).getArray();
                linksThrough = rs.getTimestamp(2);
                attemptsThrough = rs.getTimestamp(3);
                foldedSpike = rs.getString(4);
            }
        }
        Set<UUID> current = Set.of(members);
        boolean anew = folded.length == 0 || !current.containsAll(Arrays.asList(folded)) || !foldedSpike.equals(spike.encode());
        Set<String> touched = new LinkedHashSet<>();
        if (anew) {
            try (PreparedStatement st = c.prepareStatement("delete from impact_requests where subject_id = ?")) {
                st.setObject(1, s.id());
                st.executeUpdate();
            }
            try (PreparedStatement st = c.prepareStatement("delete from impact_distinct where subject_id = ?")) {
                st.setObject(1, s.id());
                st.executeUpdate();
            }
            try (PreparedStatement st = c.prepareStatement("update impact_state set requests = 0, failed = 0,"
                    + " recovered = 0, attempts = 0, wasted_cost = 0, wasted_tokens = 0, fallbacks = 0,"
                    + " fallback_cost = 0, at_original = 0, priced_fallback_cost = 0, unpriced = 0, answers = 0,"
                    + " quality_failures = 0, flagged_answers = 0, spike_extra = 0,"
                    + " latency_le = array_fill(0::bigint, array[" + LatencyBuckets.SIZE + "]) where subject_id = ?")) {
                st.setObject(1, s.id());
                st.executeUpdate();
            }
            linksOf(c, members, touched);
        } else {
            Set<UUID> joined = new LinkedHashSet<>(current);
            joined.removeAll(Arrays.asList(folded));
            if (!joined.isEmpty()) {
                linksOf(c, joined.toArray(UUID[]::new), touched);
            }
            try (PreparedStatement st = c.prepareStatement("select distinct q.call_id from failure_event_calls q"
                    + " where q.linked_at >= ? and (q.failure_id = any (?) or exists (select 1 from impact_requests r"
                    + " where r.subject_id = ? and r.call_id = q.call_id))")) {
                st.setTimestamp(1, linksThrough);
                st.setArray(2, c.createArrayOf("uuid", members));
                st.setObject(3, s.id());
                collect(st, touched);
            }
            Timestamp attemptsFrom = Timestamp.from(attemptsThrough.toInstant().minus(config.foldOverlap()));
            try (PreparedStatement st = c.prepareStatement("select distinct l.call_id from llm_calls l"
                    + " where l.received_at > ? and exists (select 1 from impact_requests r where r.subject_id = ?"
                    + " and r.call_id = l.call_id)")) {
                st.setTimestamp(1, attemptsFrom);
                st.setObject(2, s.id());
                collect(st, touched);
            }
        }
        long detected = System.nanoTime();
        Delta delta = new Delta();
        List<String> all = new ArrayList<>(touched);
        for (int from = 0; from < all.size(); from += CHUNK) {
            rederive(c, s, members, all.subList(from, Math.min(all.size(), from + CHUNK)), spike, !anew, delta);
        }
        applyDistinct(c, s.id(), delta.distinct);
        try (PreparedStatement st = c.prepareStatement("update impact_state set members = ?, links_through = ?,"
                + " attempts_through = ?, spike_rule = ?, last_seen = ?, requests = requests + ?, failed = failed + ?,"
                + " recovered = recovered + ?, attempts = attempts + ?, wasted_cost = wasted_cost + ?,"
                + " wasted_tokens = wasted_tokens + ?, fallbacks = fallbacks + ?, fallback_cost = fallback_cost + ?,"
                + " at_original = at_original + ?, priced_fallback_cost = priced_fallback_cost + ?,"
                + " unpriced = unpriced + ?, answers = answers + ?, quality_failures = quality_failures + ?,"
                + " flagged_answers = flagged_answers + ?, spike_extra = spike_extra + ?,"
                + " latency_le = (select array_agg(u.a + u.b order by u.i) from unnest(latency_le, ?::int8[])"
                + " with ordinality as u(a, b, i)) where subject_id = ?")) {
            int p = 1;
            st.setArray(p++, c.createArrayOf("uuid", members));
            st.setTimestamp(p++, linksNow);
            st.setTimestamp(p++, Timestamp.from(attemptsNow));
            st.setString(p++, spike.encode());
            st.setTimestamp(p++, Timestamp.from(s.lastSeen()));
            st.setLong(p++, delta.requests);
            st.setLong(p++, delta.failed);
            st.setLong(p++, delta.recovered);
            st.setLong(p++, delta.attempts);
            st.setBigDecimal(p++, delta.wasted);
            st.setLong(p++, delta.wastedTokens);
            st.setLong(p++, delta.fallbacks);
            st.setBigDecimal(p++, delta.fallbackCost);
            st.setBigDecimal(p++, delta.atOriginal);
            st.setBigDecimal(p++, delta.pricedFallbackCost);
            st.setLong(p++, delta.unpriced);
            st.setLong(p++, delta.answers);
            st.setLong(p++, delta.qualityFailures);
            st.setLong(p++, delta.flaggedAnswers);
            st.setBigDecimal(p++, delta.spikeExtra);
            st.setArray(p++, c.createArrayOf("int8", Arrays.stream(delta.latency).boxed().toArray()));
            st.setObject(p, s.id());
            st.executeUpdate();
        }
        Totals out = totals(c, s.id());
        long done = System.nanoTime();
        Log.debugf("impact fold of %s%s: %d requests touched, %d changed; detect %.1f ms, re-derive and write %.1f ms",
                s.id(), anew ? " (anew)" : "", all.size(), delta.changed, (detected - started) / 1e6,
                (done - detected) / 1e6);
        return out;
    }

    /** Drops the state of subjects not active since {@code before}; returns how many. */
    int prune(Connection c, Instant before) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("delete from impact_state where last_seen < ?")) {
            st.setTimestamp(1, Timestamp.from(before));
            return st.executeUpdate();
        }
    }

    private static void linksOf(Connection c, UUID[] episodes, Set<String> into) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select distinct call_id from failure_event_calls"
                + " where failure_id = any (?)")) {
            st.setArray(1, c.createArrayOf("uuid", episodes));
            collect(st, into);
        }
    }

    private static void collect(PreparedStatement st, Set<String> into) throws SQLException {
        try (ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                into.add(rs.getString(1));
            }
        }
    }

    /** Re-derives the chunk's requests from their links and attempts and folds the difference into the delta. */
    private void rederive(Connection c, FailureImpactAssessor.Subject s, UUID[] members, List<String> chunk,
            SpikeRule spike, boolean haveOld, Delta delta) throws SQLException {
        Array ids = c.createArrayOf("text", chunk.toArray());
        Map<String, TreeSet<Instant>> seen = new HashMap<>();
        Map<String, Set<Instant>> wasting = new HashMap<>();
        Map<String, Set<Instant>> spiking = new HashMap<>();
        Instant lo = null;
        Instant hi = null;
        try (PreparedStatement st = c.prepareStatement("select q.call_id, q.seen_at, e.category <> 'COST',"
                + " e.type = 'token_spike' from failure_event_calls q join failure_events e"
                + " on e.failure_id = q.failure_id"
                + " where q.failure_id = any (?) and q.call_id = any (?)")) {
            st.setArray(1, c.createArrayOf("uuid", members));
            st.setArray(2, ids);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    Instant at = rs.getTimestamp(2).toInstant();
                    seen.computeIfAbsent(rs.getString(1), k -> new TreeSet<>()).add(at);
                    if (rs.getBoolean(3)) {
                        wasting.computeIfAbsent(rs.getString(1), k -> new HashSet<>()).add(at);
                    }
                    if (rs.getBoolean(4)) {
                        spiking.computeIfAbsent(rs.getString(1), k -> new HashSet<>()).add(at);
                    }
                    lo = lo == null || at.isBefore(lo) ? at : lo;
                    hi = hi == null || at.isAfter(hi) ? at : hi;
                }
            }
        }
        Map<String, List<Attempt>> attempts = new HashMap<>();
        if (lo != null) {
            try (PreparedStatement st = c.prepareStatement("select c.call_id, c.started_at, c.ended_at, c.success,"
                    + " c.model, c.deployment, c.cost_usd, c.prompt_tokens, c.completion_tokens, c.user_ref,"
                    + " c.team_id, c.api_key_hash, c.input_cost_per_token, c.output_cost_per_token, case when c.success"
                    + " then exists (select 1 from failure_event_calls q join failure_events e"
                    + " on e.failure_id = q.failure_id where q.call_id = c.call_id and q.seen_at = c.ended_at"
                    + " and e.category = 'QUALITY') else false end, " + SloRollup.groupOfCall("c.") + ", "
                    + SloRollup.SERVICE_FAILURE
                    + " from llm_calls c where c.call_id = any (?) and c.started_at >= ? and c.started_at <= ?"
                    + " order by c.call_id, c.started_at, c.ended_at")) {
                st.setArray(1, ids);
                st.setTimestamp(2, Timestamp.from(lo.minus(config.attemptSlack())));
                st.setTimestamp(3, Timestamp.from(hi.plus(config.attemptSlack())));
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        attempts.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(new Attempt(
                                rs.getTimestamp(2).toInstant(), rs.getTimestamp(3).toInstant(), rs.getBoolean(4),
                                rs.getString(5), rs.getString(6), rs.getDouble(7), rs.getLong(8), rs.getLong(9),
                                rs.getString(10), rs.getString(11), rs.getString(12), nullable(rs, 13),
                                nullable(rs, 14), rs.getBoolean(15), rs.getString(16), rs.getBoolean(17)));
                    }
                }
            }
        }
        Map<String, Req> old = haveOld ? old(c, s.id(), ids) : Map.of();
        List<Req> fresh = new ArrayList<>();
        List<String> gone = new ArrayList<>();
        for (String callId : chunk) {
            TreeSet<Instant> mine = seen.get(callId);
            // the request's attempts: those started within attempt-slack of its flagged attempts
            List<Attempt> all = mine == null ? List.of() : attempts.getOrDefault(callId, List.of()).stream()
                    .filter(a -> !a.started().isBefore(mine.first().minus(config.attemptSlack()))
                            && !a.started().isAfter(mine.last().plus(config.attemptSlack())))
                    .toList();
            Req before = old.get(callId);
            Req now = all.isEmpty() ? null : derive(callId, all, mine, wasting.getOrDefault(callId, Set.of()),
                    spiking.getOrDefault(callId, Set.of()), spike);
            if (Objects.equals(before, now)) {
                continue;
            }
            if (before != null) {
                delta.add(before, -1);
            }
            if (now != null) {
                delta.add(now, 1);
                fresh.add(now);
            } else if (before != null) {
                gone.add(callId);
            }
        }
        write(c, s.id(), fresh);
        if (!gone.isEmpty()) {
            try (PreparedStatement st = c.prepareStatement("delete from impact_requests where subject_id = ?"
                    + " and call_id = any (?)")) {
                st.setObject(1, s.id());
                st.setArray(2, c.createArrayOf("text", gone.toArray()));
                st.executeUpdate();
            }
        }
    }

    /**
     * One request's contribution, by the rules of {@link FailureImpactAssessor#assessFull}'s query: an attempt is
     * bad when it failed or the subject flagged it; the original model and prices are the first bad attempt's; a
     * fallback is an unflagged answer of a request with a bad attempt by another model. {@code seen}: the ends of
     * the attempts the subject's episodes flagged; {@code wasting}: those a non-COST episode flagged (a delivered
     * answer only a cost episode flagged, a budget's or a batch's crossing, was not wasted: its price is spend);
     * {@code spiking}: those a token-spike episode flagged, the only ones the spike rule prices.
     */
    static Req derive(String callId, List<Attempt> attempts, Set<Instant> seen, Set<Instant> wasting,
            Set<Instant> spiking, SpikeRule spikeRule) {
        boolean ok = false;
        boolean hit = false;
        String user = null;
        String team = null;
        String key = null;
        double wastedCost = 0;
        long wastedTokens = 0;
        boolean haveOrig = false;
        String origModel = null;
        Double origIn = null;
        Double origOut = null;
        int answers = 0;
        int quality = 0;
        int flaggedAnswers = 0;
        double spike = 0;
        Set<String> answerDeps = new TreeSet<>();
        Set<String> flaggedDeps = new TreeSet<>();
        boolean answered = false;
        Instant firstStart = null;
        Instant lastEnd = null;
        for (Attempt a : attempts) {
            answered |= a.success();
            firstStart = firstStart == null || a.started().isBefore(firstStart) ? a.started() : firstStart;
            lastEnd = lastEnd == null || a.ended().isAfter(lastEnd) ? a.ended() : lastEnd;
            boolean flagged = seen.contains(a.ended());
            boolean bad = !a.success() || flagged;
            ok |= a.success() && !flagged;
            hit |= bad;
            user = max(user, a.user());
            team = max(team, a.team());
            key = max(key, a.key());
            // A failed attempt, or an answer a quality, security or timeout episode flagged, is wasted whole. A
            // token-spike answer was delivered: its waste is its tokens over the p99 (the spike extra below), not its
            // whole price as well, which counted the excess twice and the useful part as lost; nor is an answer only
            // a cost episode flagged (a budget's or a batch's crossing) wasted: the alert is about the spend. The
            // member that flagged it decides, not its deployment: in a cluster, a quality member's answer on a spike
            // member's deployment is wasted, not priced as a spike (and an answer both flagged is wasted, once).
            boolean wasted = !a.success() || wasting.contains(a.ended());
            if (bad) {
                if (wasted) {
                    wastedCost += a.cost();
                    wastedTokens += a.promptTokens() + a.completionTokens();
                }
                if (!haveOrig) {
                    haveOrig = true;
                    origModel = a.model();
                    origIn = a.in();
                    origOut = a.out();
                }
            }
            if (a.success() && !flagged) {
                answerDeps.add(a.deployment());
                answers++;
                quality += a.qualityFlagged() ? 1 : 0;
            }
            if (flagged) {
                flaggedDeps.add(a.deployment());
                flaggedAnswers += a.success() ? 1 : 0;
                long tokens = a.promptTokens() + a.completionTokens();
                double p99 = spikeRule.p99(a.deployment());
                if (!wasted && spiking.contains(a.ended()) && p99 > 0 && tokens > 0) {
                    spike += a.cost() * Math.max(0, 1 - p99 / tokens);
                }
            }
        }
        int fallbacks = 0;
        double fallbackCost = 0;
        double atOriginal = 0;
        double priced = 0;
        int unpriced = 0;
        if (hit) {
            for (Attempt a : attempts) {
                if (a.success() && !seen.contains(a.ended()) && !Objects.equals(a.model(), origModel)) {
                    fallbacks++;
                    fallbackCost += a.cost();
                    if (origIn != null && origOut != null) {
                        atOriginal += a.promptTokens() * origIn + a.completionTokens() * origOut;
                        priced += a.cost();
                    } else {
                        unpriced++;
                    }
                }
            }
        }
        // The attempts come in start order (then end): the first names the request's model group.
        return new Req(callId, ok, hit, attempts.size(), user, team, key, wastedCost, wastedTokens, fallbacks,
                fallbackCost, atOriginal, priced, unpriced, answers, quality, flaggedAnswers, spike,
                answerDeps.toArray(String[]::new), flaggedDeps.toArray(String[]::new),
                answered ? ChronoUnit.MICROS.between(firstStart, lastEnd) : null,
                attempts.isEmpty() ? null : attempts.get(0).group(),
                !answered && !attempts.isEmpty() && attempts.get(attempts.size() - 1).serviceFailure());
    }

    /** The larger by code point, as {@code max(x collate "C")}; nulls ignored. */
    private static String max(String a, String b) {
        return a == null ? b : b == null ? a : a.compareTo(b) >= 0 ? a : b;
    }

    private static Long nullableLong(ResultSet rs, int column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? null : v;
    }

    private static Double nullable(ResultSet rs, int column) throws SQLException {
        double v = rs.getDouble(column);
        return rs.wasNull() ? null : v;
    }

    private static Map<String, Req> old(Connection c, UUID subject, Array ids) throws SQLException {
        Map<String, Req> out = new HashMap<>();
        try (PreparedStatement st = c.prepareStatement("select call_id, ok, hit, attempts, user_ref, team_id,"
                + " api_key_hash, wasted_cost, wasted_tokens, fallbacks, fallback_cost, at_original,"
                + " priced_fallback_cost, unpriced, answers, quality_failures, flagged_answers, spike_extra,"
                + " answer_deployments, flagged_deployments, latency_us, first_group, spent from impact_requests"
                + " where subject_id = ?"
                + " and call_id = any (?)")) {
            st.setObject(1, subject);
            st.setArray(2, ids);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), new Req(rs.getString(1), rs.getBoolean(2), rs.getBoolean(3),
                            rs.getInt(4), rs.getString(5), rs.getString(6), rs.getString(7), rs.getDouble(8),
                            rs.getLong(9), rs.getInt(10), rs.getDouble(11), rs.getDouble(12), rs.getDouble(13),
                            rs.getInt(14), rs.getInt(15), rs.getInt(16), rs.getInt(17), rs.getDouble(18),
                            strings(rs.getArray(19)), strings(rs.getArray(20)), nullableLong(rs, 21),
                            rs.getString(22), rs.getBoolean(23)));
                }
            }
        }
        return out;
    }

    /** Writes the chunk's changed requests in one statement (one array per column). */
    private static void write(Connection c, UUID subject, List<Req> rows) throws SQLException {
        if (rows.isEmpty()) {
            return;
        }
        int n = rows.size();
        String[] ids = new String[n];
        Boolean[] ok = new Boolean[n];
        Boolean[] hit = new Boolean[n];
        Integer[] attempts = new Integer[n];
        String[] users = new String[n];
        String[] teams = new String[n];
        String[] keys = new String[n];
        Double[] wasted = new Double[n];
        Long[] wastedTokens = new Long[n];
        Integer[] fallbacks = new Integer[n];
        Double[] fallbackCost = new Double[n];
        Double[] atOriginal = new Double[n];
        Double[] priced = new Double[n];
        Integer[] unpriced = new Integer[n];
        Integer[] answers = new Integer[n];
        Integer[] quality = new Integer[n];
        Integer[] flaggedAnswers = new Integer[n];
        Double[] spike = new Double[n];
        String[] answerDeps = new String[n];
        String[] flaggedDeps = new String[n];
        Long[] latency = new Long[n];
        String[] groups = new String[n];
        Boolean[] spent = new Boolean[n];
        for (int i = 0; i < n; i++) {
            Req r = rows.get(i);
            ids[i] = r.callId();
            ok[i] = r.ok();
            hit[i] = r.hit();
            attempts[i] = r.attempts();
            users[i] = r.user();
            teams[i] = r.team();
            keys[i] = r.key();
            wasted[i] = r.wastedCost();
            wastedTokens[i] = r.wastedTokens();
            fallbacks[i] = r.fallbacks();
            fallbackCost[i] = r.fallbackCost();
            atOriginal[i] = r.atOriginal();
            priced[i] = r.pricedFallbackCost();
            unpriced[i] = r.unpriced();
            answers[i] = r.answers();
            quality[i] = r.qualityFailures();
            flaggedAnswers[i] = r.flaggedAnswers();
            spike[i] = r.spikeExtra();
            answerDeps[i] = literal(r.answerDeployments());
            flaggedDeps[i] = literal(r.flaggedDeployments());
            latency[i] = r.latencyUs();
            groups[i] = r.firstGroup();
            spent[i] = r.spent();
        }
        try (PreparedStatement st = c.prepareStatement("insert into impact_requests (subject_id, call_id, ok, hit,"
                + " attempts, user_ref, team_id, api_key_hash, wasted_cost, wasted_tokens, fallbacks, fallback_cost,"
                + " at_original, priced_fallback_cost, unpriced, answers, quality_failures, flagged_answers,"
                + " spike_extra, answer_deployments, flagged_deployments, latency_us, first_group, spent) select ?,"
                + " u.i, u.o, u.h, u.a, u.us, u.te, u.k, u.w, u.wt, u.f, u.fc, u.ao, u.p, u.up, u.an, u.q, u.fa, u.s,"
                + " u.ad::text[], u.fd::text[], u.lu, u.g, u.sp"
                + " from unnest(?::text[], ?::bool[], ?::bool[], ?::int[], ?::text[], ?::text[], ?::text[],"
                + " ?::float8[], ?::int8[], ?::int[], ?::float8[], ?::float8[], ?::float8[], ?::int[], ?::int[],"
                + " ?::int[], ?::int[], ?::float8[], ?::text[], ?::text[], ?::int8[], ?::text[], ?::bool[])"
                + " as u(i, o, h, a, us, te, k, w, wt, f, fc, ao, p, up, an, q, fa, s, ad, fd, lu, g, sp)"
                + " on conflict (subject_id, call_id) do update set ok = excluded.ok,"
                + " hit = excluded.hit, attempts = excluded.attempts, user_ref = excluded.user_ref,"
                + " team_id = excluded.team_id, api_key_hash = excluded.api_key_hash,"
                + " wasted_cost = excluded.wasted_cost, wasted_tokens = excluded.wasted_tokens,"
                + " fallbacks = excluded.fallbacks, fallback_cost = excluded.fallback_cost,"
                + " at_original = excluded.at_original, priced_fallback_cost = excluded.priced_fallback_cost,"
                + " unpriced = excluded.unpriced, answers = excluded.answers,"
                + " quality_failures = excluded.quality_failures, flagged_answers = excluded.flagged_answers,"
                + " spike_extra = excluded.spike_extra, answer_deployments = excluded.answer_deployments,"
                + " flagged_deployments = excluded.flagged_deployments, latency_us = excluded.latency_us,"
                + " first_group = excluded.first_group, spent = excluded.spent")) {
            int p = 1;
            st.setObject(p++, subject);
            st.setArray(p++, c.createArrayOf("text", ids));
            st.setArray(p++, c.createArrayOf("bool", ok));
            st.setArray(p++, c.createArrayOf("bool", hit));
            st.setArray(p++, c.createArrayOf("int4", attempts));
            st.setArray(p++, c.createArrayOf("text", users));
            st.setArray(p++, c.createArrayOf("text", teams));
            st.setArray(p++, c.createArrayOf("text", keys));
            st.setArray(p++, c.createArrayOf("float8", wasted));
            st.setArray(p++, c.createArrayOf("int8", wastedTokens));
            st.setArray(p++, c.createArrayOf("int4", fallbacks));
            st.setArray(p++, c.createArrayOf("float8", fallbackCost));
            st.setArray(p++, c.createArrayOf("float8", atOriginal));
            st.setArray(p++, c.createArrayOf("float8", priced));
            st.setArray(p++, c.createArrayOf("int4", unpriced));
            st.setArray(p++, c.createArrayOf("int4", answers));
            st.setArray(p++, c.createArrayOf("int4", quality));
            st.setArray(p++, c.createArrayOf("int4", flaggedAnswers));
            st.setArray(p++, c.createArrayOf("float8", spike));
            st.setArray(p++, c.createArrayOf("text", answerDeps));
            st.setArray(p++, c.createArrayOf("text", flaggedDeps));
            st.setArray(p++, c.createArrayOf("int8", latency));
            st.setArray(p++, c.createArrayOf("text", groups));
            st.setArray(p, c.createArrayOf("bool", spent));
            st.executeUpdate();
        }
    }

    /** A PostgreSQL array literal of the values, each quoted and escaped (linear in their length). */
    static String literal(String[] values) {
        StringBuilder b = new StringBuilder("{");
        for (int i = 0; i < values.length; i++) {
            b.append(i == 0 ? "\"" : ",\"");
            String v = values[i];
            for (int j = 0; j < v.length(); j++) {
                char ch = v.charAt(j);
                if (ch == '"' || ch == '\\') {
                    b.append('\\');
                }
                b.append(ch);
            }
            b.append('"');
        }
        return b.append('}').toString();
    }

    private static void text(PreparedStatement st, int p, String v) throws SQLException {
        if (v == null) {
            st.setNull(p, Types.VARCHAR);
        } else {
            st.setString(p, v);
        }
    }

    private static void applyDistinct(Connection c, UUID subject, Map<String, Integer> refs) throws SQLException {
        List<String> dims = new ArrayList<>();
        List<String> values = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        List<String> fallingDims = new ArrayList<>();
        List<String> fallingValues = new ArrayList<>();
        List<Integer> falls = new ArrayList<>();
        for (Map.Entry<String, Integer> e : refs.entrySet()) {
            if (e.getValue() > 0) {
                dims.add(e.getKey().substring(0, 1));
                values.add(e.getKey().substring(1));
                counts.add(e.getValue());
            } else if (e.getValue() < 0) {
                fallingDims.add(e.getKey().substring(0, 1));
                fallingValues.add(e.getKey().substring(1));
                falls.add(e.getValue());
            }
        }
        if (!dims.isEmpty()) {
            try (PreparedStatement st = c.prepareStatement("insert into impact_distinct (subject_id, dim, value, refs)"
                    + " select ?, d, v, r from unnest(?::text[], ?::text[], ?::int[]) as u(d, v, r)"
                    + " on conflict (subject_id, dim, value) do update"
                    + " set refs = impact_distinct.refs + excluded.refs")) {
                st.setObject(1, subject);
                st.setArray(2, c.createArrayOf("text", dims.toArray()));
                st.setArray(3, c.createArrayOf("text", values.toArray()));
                st.setArray(4, c.createArrayOf("int4", counts.toArray()));
                st.executeUpdate();
            }
        }
        if (!falls.isEmpty()) {
            // A value whose count falls exists already. Not through the insert above: PostgreSQL checks the row it
            // would insert (a negative count) before it finds the conflict.
            try (PreparedStatement st = c.prepareStatement("update impact_distinct d set refs = d.refs + u.r"
                    + " from unnest(?::text[], ?::text[], ?::int[]) as u(dm, v, r)"
                    + " where d.subject_id = ? and d.dim = u.dm and d.value = u.v")) {
                st.setArray(1, c.createArrayOf("text", fallingDims.toArray()));
                st.setArray(2, c.createArrayOf("text", fallingValues.toArray()));
                st.setArray(3, c.createArrayOf("int4", falls.toArray()));
                st.setObject(4, subject);
                st.executeUpdate();
            }
            try (PreparedStatement st = c.prepareStatement("delete from impact_distinct where subject_id = ?"
                    + " and refs = 0")) {
                st.setObject(1, subject);
                st.executeUpdate();
            }
        }
    }


    private static Totals totals(Connection c, UUID subject) throws SQLException {
        long users = 0;
        long keys = 0;
        long teams = 0;
        List<String> answerDeps = new ArrayList<>();
        List<String> flaggedDeps = new ArrayList<>();
        Map<String, Long> failedByGroup = new java.util.TreeMap<>();
        Map<String, long[]> latencyByGroup = new java.util.TreeMap<>();
        try (PreparedStatement st = c.prepareStatement("select dim, count(*), case when dim in ('a', 'f', 'g', 'l')"
                + " then array_agg(value order by value) end, case when dim in ('g', 'l') then array_agg(refs::int8"
                + " order by value) end from impact_distinct where subject_id = ? group by dim")) {
            st.setObject(1, subject);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    switch (rs.getString(1)) {
                        case "u" -> users = rs.getLong(2);
                        case "k" -> keys = rs.getLong(2);
                        case "t" -> teams = rs.getLong(2);
                        case "a" -> answerDeps.addAll(Arrays.asList(strings(rs.getArray(3))));
                        case "f" -> flaggedDeps.addAll(Arrays.asList(strings(rs.getArray(3))));
                        case "g" -> {
                            String[] groups = strings(rs.getArray(3));
                            long[] counts = longs(rs.getArray(4));
                            for (int i = 0; i < groups.length; i++) {
                                failedByGroup.put(groups[i], counts[i]);
                            }
                        }
                        case "l" -> {
                            // "bucket:group": the answered requests of a first group in one latency bucket
                            String[] buckets = strings(rs.getArray(3));
                            long[] counts = longs(rs.getArray(4));
                            for (int i = 0; i < buckets.length; i++) {
                                int cut = buckets[i].indexOf(':');
                                LatencyBuckets.addBucket(latencyByGroup.computeIfAbsent(buckets[i].substring(cut + 1),
                                        g -> new long[LatencyBuckets.SIZE]), Integer.parseInt(buckets[i], 0, cut, 10),
                                        counts[i]);
                            }
                        }
                        default -> {
                        }
                    }
                }
            }
        }
        try (PreparedStatement st = c.prepareStatement("select requests, failed, recovered, attempts,"
                + " wasted_cost::float8, wasted_tokens, fallbacks, fallback_cost::float8, at_original::float8,"
                + " priced_fallback_cost::float8, unpriced, answers, quality_failures, flagged_answers,"
                + " spike_extra::float8, latency_le from impact_state where subject_id = ?")) {
            st.setObject(1, subject);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return new Totals(rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4), users, keys, teams,
                        rs.getDouble(5), rs.getLong(6), rs.getLong(7), rs.getDouble(8), rs.getDouble(9),
                        rs.getDouble(10), rs.getLong(11), answerDeps.toArray(String[]::new), rs.getLong(12),
                        rs.getLong(13), flaggedDeps.toArray(String[]::new), rs.getLong(14), rs.getDouble(15),
                        longs(rs.getArray(16)), failedByGroup, latencyByGroup);
            }
        }
    }

    static long[] longs(Array a) throws SQLException {
        Object[] values = (Object[]) a.getArray();
        long[] out = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = ((Number) values[i]).longValue();
        }
        return out;
    }

    static String[] strings(Array a) throws SQLException {
        Object[] values = (Object[]) a.getArray();
        String[] out = new String[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (String) values[i];
        }
        return out;
    }
}
