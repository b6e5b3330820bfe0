package io.faultline.correlate;

import io.faultline.classify.ProviderVerdict;
import io.faultline.common.SqlTime;
import io.faultline.correlate.FailureCorrelationEngine.Episode;
import io.faultline.cost.TokenSpikeConfig;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The causal chains other than fallback → quality, each found from whichever end of it changed (episodes fold in any
 * order) with index-backed window queries, and scored against what the same scope showed before the cause began:
 * <ul>
 * <li>rate limit → retry storm → token spike: a {@code rate_limit} episode whose failed attempts were retried (same
 * trace) into a deployment's {@code token_spike} span;</li>
 * <li>stale index → retrieval drop → low faithfulness: {@code stale_index} and {@code retrieval_quality_drop} of an
 * index, and the {@code low_faithfulness}/{@code hallucination} episodes of calls whose retrieval metadata names it;</li>
 * <li>ingestion failure → the same effects on each index the failed pipeline feeds (as its runs named them in
 * {@code indexes}, kept in {@code ingestion_pipeline_indexes});</li>
 * <li>budget exceeded → refused calls: a {@code budget_exceeded} scope (team, key, user, model group) of Faultline's
 * own alerts (provider {@code budget}) and the {@code unauthorized_model_access} episodes of that scope's calls after
 * the crossing, and LiteLLM's own budget refusals of the same scope ({@code budget_exceeded}, provider
 * {@code litellm}, deployment {@code entity_type:entity_id}).</li>
 * </ul>
 * It only reads; the engine writes the edges (kind {@code caused}, {@code evidence.via} naming the chain) and joins
 * the clusters, under its advisory lock.
 */
@Singleton
public class CausalChains {

    /** A caused edge of one chain. */
    record Link(Episode cause, Episode effect, String via, double confidence, Map<String, Object> evidence) {
        String key() {
            return cause.id() + "|caused:" + via + "|" + effect.id();
        }
    }

    static final String RETRY_STORM = "retry_storm";
    static final String STALE_INDEX = "stale_index";
    static final String RETRIEVAL_DROP = "retrieval_quality_drop";
    static final String BUDGET = "budget";
    static final String INGESTION = "ingestion_failure";

    private static final Set<String> FAITHFULNESS = Set.of("low_faithfulness", "hallucination");
    private static final String PIPELINE = "pipeline";
    /** Provider of Faultline's own budget alerts, and of LiteLLM's budget refusals. */
    private static final String BUDGET_ALERTS = "budget";
    private static final String LITELLM = "litellm";
    /** Calls that end in a span started at most this long before it (a call is never longer). */
    private static final Duration MAX_CALL = Duration.ofMinutes(10);

    private final CorrelateConfig config;
    private final Duration spikeWindow;

    public CausalChains(CorrelateConfig config, TokenSpikeConfig tokens) {
        this.config = config;
        this.spikeWindow = tokens.window();
    }

    /** The chain edges the changed episode takes part in, from either end. */
    List<Link> links(Connection c, Episode e) throws SQLException {
        List<Link> links = new ArrayList<>();
        String kind = e.category() + "|" + e.type();
        switch (kind) {
            case "PROVIDER|rate_limit" -> {
                for (Episode spike : spikesRetriedInto(c, e)) {
                    add(links, retryStorm(c, e, spike));
                }
            }
            case "COST|token_spike" -> {
                for (Episode rateLimit : rateLimitsRetriedInto(c, e)) {
                    add(links, retryStorm(c, rateLimit, e));
                }
            }
            case "DATA|stale_index", "DATA|retrieval_quality_drop" -> {
                if (PIPELINE.equals(e.provider()) && e.deployment() != null) {
                    for (Episode q : qualityOnIndex(c, e, e.deployment())) {
                        add(links, indexToQuality(c, e, e.deployment(), q));
                    }
                    for (Episode other : staleDropPartners(c, e)) {
                        add(links, STALE_INDEX.equals(e.type()) ? staleToDrop(c, e, other) : staleToDrop(c, other, e));
                    }
                    for (Episode ingestion : ingestionsFeeding(c, e.deployment(), e.firstSeen().plus(config.window()),
                            e.firstSeen().minus(config.chainHorizon()))) {
                        add(links, ingestionToData(c, ingestion, e));
                    }
                }
            }
            case "DATA|ingestion_failure" -> {
                if (PIPELINE.equals(e.provider()) && e.deployment() != null) {
                    for (String index : indexesFedBy(c, e)) {
                        for (Episode data : dataEpisodesAfter(c, e, index)) {
                            add(links, ingestionToData(c, e, data));
                        }
                        for (Episode q : qualityOnIndex(c, e, index)) {
                            add(links, indexToQuality(c, e, index, q));
                        }
                    }
                }
            }
            case "QUALITY|low_faithfulness", "QUALITY|hallucination" -> {
                for (IndexUse use : indexesOfCalls(c, e)) {
                    for (Episode data : dataEpisodesOn(c, use)) {
                        add(links, indexToQuality(c, data, use.index(), e));
                    }
                    for (Episode ingestion : ingestionsFeeding(c, use.index(), use.last(),
                            use.first().minus(config.chainHorizon()))) {
                        add(links, indexToQuality(c, ingestion, use.index(), e));
                    }
                }
            }
            case "COST|budget_exceeded" -> {
                if (LITELLM.equals(e.provider())) {
                    for (Episode budget : budgetsOfLiteLlmRefusal(c, e)) {
                        add(links, budgetToRefusals(c, budget, e));
                    }
                } else {
                    for (Episode refused : refusalsAfter(c, e)) {
                        add(links, budgetToRefusals(c, e, refused));
                    }
                }
            }
            case "SECURITY|unauthorized_model_access" -> {
                for (Episode budget : budgetsOfCalls(c, e)) {
                    add(links, budgetToRefusals(c, budget, e));
                }
            }
            default -> {
            }
        }
        return links;
    }

    private static void add(List<Link> links, Link link) {
        if (link != null) {
            links.add(link);
        }
    }

    // ---- rate limit → retry storm → token spike ------------------------------------------------------------------

    /** Calls of a deployment that ended within a spike's span: the windows that make up its episode. */
    private Instant spanFrom(Episode spike) {
        return spike.firstSeen().minus(spikeWindow);
    }

    /** Token spikes on the deployments the rate-limited requests were retried on, around the retries. */
    private List<Episode> spikesRetriedInto(Connection c, Episode r) throws SQLException {
        // The failed attempts as the trace walks take them: stored with the episode's calls (V30), looked up for a
        // call linked without its attempt.
        return episodes(c, "with " + FailureCorrelationEngine.attempts("?", "?", false) + ","
                + " retries as (select distinct n.provider, n.deployment, n.ended_at from failed join llm_calls n"
                + " on n.trace_id = failed.trace_id and n.started_at > failed.started_at"
                + " and n.started_at <= failed.started_at + interval '1 hour' and n.success)"
                + " select distinct " + FailureCorrelationEngine.prefixed("e") + " from retries r join failure_events e"
                + " on e.fingerprint = 'COST|token_spike|' || r.provider || '|' || r.deployment"
                + " and e.last_seen >= r.ended_at and e.first_seen <= r.ended_at + make_interval(secs => ?)",
                st -> {
                    st.setObject(1, r.id());
                    st.setInt(2, config.maxTracedCalls());
                    st.setDouble(3, spikeWindow.toSeconds());
                });
    }

    /** Rate-limit episodes whose failed attempts share a trace with calls that ended in the spike's span. */
    private List<Episode> rateLimitsRetriedInto(Connection c, Episode spike) throws SQLException {
        Instant from = spanFrom(spike);
        return episodes(c, "select distinct " + FailureCorrelationEngine.prefixed("e") + " from llm_calls n"
                + " join llm_calls p on p.trace_id = n.trace_id and p.started_at < n.started_at"
                + " and p.started_at >= n.started_at - interval '1 hour' and not p.success"
                + " join failure_event_calls f on f.call_id = p.call_id"
                + " join failure_events e on e.failure_id = f.failure_id and e.category = 'PROVIDER'"
                + " and e.type = 'rate_limit'"
                + " where n.deployment = ? and n.provider = ? and n.started_at >= ? and n.started_at <= ?"
                + " and n.ended_at >= ? and n.ended_at <= ? and n.success and n.trace_id is not null limit ?",
                st -> {
                    st.setString(1, spike.deployment());
                    st.setString(2, spike.provider());
                    SqlTime.set(st, 3, from.minus(MAX_CALL));
                    SqlTime.set(st, 4, spike.lastSeen());
                    SqlTime.set(st, 5, from);
                    SqlTime.set(st, 6, spike.lastSeen());
                    st.setInt(7, config.maxCandidates());
                });
    }

    private Link retryStorm(Connection c, Episode r, Episode spike) throws SQLException {
        Instant from = spanFrom(spike);
        Instant until = spike.lastSeen();
        // Calls of the span, and those whose trace holds an earlier failed attempt of the rate-limit episode.
        long spanCalls;
        long spanTokens;
        long retryCalls;
        long retryTokens;
        long traces;
        long failedAttempts;
        long lagMs;
        try (PreparedStatement st = c.prepareStatement("with spanned as (select n.trace_id, n.started_at,"
                + " n.prompt_tokens + n.completion_tokens as tokens,"
                + " (select max(p.started_at) from llm_calls p join failure_event_calls f on f.call_id = p.call_id"
                + " and f.failure_id = ? where n.trace_id is not null and p.trace_id = n.trace_id"
                + " and p.started_at < n.started_at and p.started_at >= n.started_at - interval '1 hour'"
                + " and not p.success) as limited_at,"
                + " (select count(*) from llm_calls p where n.trace_id is not null and p.trace_id = n.trace_id"
                + " and p.started_at < n.started_at and p.started_at >= n.started_at - interval '1 hour'"
                + " and not p.success) as failed_before"
                + " from llm_calls n where n.deployment = ? and n.provider = ? and n.started_at >= ?"
                + " and n.started_at <= ? and n.ended_at >= ? and n.ended_at <= ? and n.success)"
                + " select count(*), coalesce(sum(tokens), 0),"
                + " count(*) filter (where limited_at is not null),"
                + " coalesce(sum(tokens) filter (where limited_at is not null), 0),"
                + " count(distinct trace_id) filter (where limited_at is not null),"
                + " coalesce(sum(failed_before) filter (where limited_at is not null), 0),"
                + " coalesce(percentile_disc(0.5) within group (order by"
                + " (extract(epoch from started_at - limited_at) * 1000)::bigint)"
                + " filter (where limited_at is not null), 0) from spanned")) {
            st.setObject(1, r.id());
            st.setString(2, spike.deployment());
            st.setString(3, spike.provider());
            SqlTime.set(st, 4, from.minus(MAX_CALL));
            SqlTime.set(st, 5, until);
            SqlTime.set(st, 6, from);
            SqlTime.set(st, 7, until);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                spanCalls = rs.getLong(1);
                spanTokens = rs.getLong(2);
                retryCalls = rs.getLong(3);
                retryTokens = rs.getLong(4);
                traces = rs.getLong(5);
                failedAttempts = rs.getLong(6);
                lagMs = rs.getLong(7);
            }
        }
        if (retryCalls == 0) {
            return null;
        }
        // The deployment before the rate limit (and the span) began: its tokens, and those of calls that followed a
        // rate limit in their trace, i.e. the retried traffic it has anyway.
        Instant baseUntil = r.firstSeen().isBefore(from) ? r.firstSeen() : from;
        Instant baseFrom = baseUntil.minus(config.baselineWindow());
        long baseTokens;
        long baseRetryTokens;
        try (PreparedStatement st = c.prepareStatement("select coalesce(sum(n.prompt_tokens + n.completion_tokens), 0),"
                + " coalesce(sum(n.prompt_tokens + n.completion_tokens) filter (where n.trace_id is not null"
                + " and exists (select 1 from llm_calls p where p.trace_id = n.trace_id and p.started_at < n.started_at"
                + " and p.started_at >= n.started_at - interval '1 hour' and not p.success"
                // The classifier's rate limit (Gemini's RESOURCE_EXHAUSTED with any class or status too); its
                // unqualified columns are p's, the innermost llm_calls.
                + " and " + ProviderVerdict.RATE_LIMIT.sql() + ")), 0)"
                + " from llm_calls n where n.deployment = ? and n.provider = ? and n.started_at >= ?"
                + " and n.started_at < ? and n.success")) {
            st.setString(1, spike.deployment());
            st.setString(2, spike.provider());
            SqlTime.set(st, 3, baseFrom);
            SqlTime.set(st, 4, baseUntil);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                baseTokens = rs.getLong(1);
                baseRetryTokens = rs.getLong(2);
            }
        }
        Duration span = Duration.between(from, until);
        Confidence.Scored scored = ChainConfidence.retryStorm(spanTokens, retryTokens, traces, baseTokens,
                baseRetryTokens, span, config.baselineWindow());
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("via", RETRY_STORM);
        evidence.put("summary", "its rate-limited requests were retried into a token spike on " + spike.provider()
                + "/" + spike.deployment() + " (" + traces + " traces, "
                + Confidence.round(1 + (double) failedAttempts / retryCalls) + " attempts each)");
        evidence.put("spike_provider", spike.provider());
        evidence.put("spike_deployment", spike.deployment());
        evidence.put("span_from", from.toString());
        evidence.put("span_until", until.toString());
        evidence.put("span_calls", spanCalls);
        evidence.put("retried_calls", retryCalls);
        evidence.put("failed_attempts", failedAttempts);
        evidence.put("attempts_per_trace", Confidence.round(1 + (double) failedAttempts / retryCalls));
        evidence.put("lag_ms_median", lagMs);
        evidence.put("baseline_from", baseFrom.toString());
        evidence.put("baseline_until", baseUntil.toString());
        evidence.put("baseline_tokens", baseTokens);
        evidence.put("baseline_retry_tokens", baseRetryTokens);
        evidence.putAll(scored.evidence());
        return new Link(r, spike, RETRY_STORM, scored.confidence(), evidence);
    }

    // ---- stale index → retrieval drop → low faithfulness ---------------------------------------------------------

    /** Calls carrying an index are read from its retrieval samples: one per call, keyed by the call id. */
    private Instant effectUntil(Episode data) {
        return data.lastSeen().plus(config.chainHorizon());
    }

    /** Faithfulness episodes of calls whose retrieval metadata names the index, while the cause lasts. */
    private List<Episode> qualityOnIndex(Connection c, Episode data, String index) throws SQLException {
        return episodes(c, "select distinct " + FailureCorrelationEngine.prefixed("e") + " from (select signal_id"
                + " from data_signals where kind = 'retrieval_call' and subject = ? and at >= ? and at <= ?"
                + " order by at limit ?) s join failure_event_calls f on f.call_id = s.signal_id"
                + " join failure_events e on e.failure_id = f.failure_id and e.category = 'QUALITY'"
                + " and e.type = any (?)", st -> {
                    st.setString(1, index);
                    SqlTime.set(st, 2, data.firstSeen());
                    SqlTime.set(st, 3, effectUntil(data));
                    st.setInt(4, config.chainSamples());
                    st.setArray(5, c.createArrayOf("text", FAITHFULNESS.toArray()));
                });
    }

    /** An index the quality episode's recent calls carried, and when the first and last of those calls were seen. */
    private record IndexUse(String index, Instant first, Instant last) {
    }

    /** The indexes the quality episode's recent calls carried (retrieval samples read from their metadata). */
    private List<IndexUse> indexesOfCalls(Connection c, Episode q) throws SQLException {
        List<IndexUse> indexes = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement("with mine as (select call_id, seen_at from failure_event_calls"
                + " where failure_id = ? order by seen_at desc limit ?)"
                + " select s.subject, min(mine.seen_at), max(mine.seen_at) from mine join data_signals s"
                + " on s.kind = 'retrieval_call' and s.signal_id = mine.call_id group by s.subject"
                + " order by s.subject limit ?")) {
            st.setObject(1, q.id());
            st.setInt(2, config.maxTracedCalls());
            st.setInt(3, config.maxCandidates());
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    indexes.add(new IndexUse(rs.getString(1), rs.getTimestamp(2).toInstant(),
                            rs.getTimestamp(3).toInstant()));
                }
            }
        }
        return indexes;
    }

    /** Stale-index and retrieval-drop episodes of an index the quality episode's calls carried, around them. */
    private List<Episode> dataEpisodesOn(Connection c, IndexUse use) throws SQLException {
        return episodes(c, "select " + FailureCorrelationEngine.COLUMNS + " from failure_events"
                + " where fingerprint = any (?) and first_seen <= ? and last_seen >= ? order by first_seen limit ?",
                st -> {
                    st.setArray(1, c.createArrayOf("text", new Object[] {
                            "DATA|" + STALE_INDEX + "|" + PIPELINE + "|" + use.index(),
                            "DATA|" + RETRIEVAL_DROP + "|" + PIPELINE + "|" + use.index()}));
                    SqlTime.set(st, 2, use.last());
                    SqlTime.set(st, 3, use.first().minus(config.chainHorizon()));
                    st.setInt(4, config.maxCandidates());
                });
    }

    /**
     * The cause (a stale index, a retrieval drop, or a failed ingestion of a pipeline feeding the index) against the
     * faithfulness of the calls retrieving from the index: their failure rate while the cause lasts against the hour
     * before it began.
     */
    private Link indexToQuality(Connection c, Episode data, String index, Episode q) throws SQLException {
        if (data.id().equals(q.id())) {
            return null;
        }
        Instant from = data.firstSeen();
        Instant until = effectUntil(data);
        long[] during = indexRate(c, index, q.type(), from, until);
        long own = ownCallsOnIndex(c, q, index, from, until);
        if (own == 0) {
            return null;
        }
        Instant baseFrom = from.minus(config.baselineWindow());
        long[] base = indexRate(c, index, q.type(), baseFrom, from);
        Confidence.Scored scored = ChainConfidence.rateLift(during[0], during[1], base[0], base[1],
                config.qualityPriorRate(), config.qualityPriorWeight());
        boolean ingestion = INGESTION.equals(data.type());
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("via", data.type());
        evidence.put("summary", (ingestion ? "pipeline " + data.deployment() + " failed while feeding " + index + "; "
                : "") + "calls retrieving from " + index + " showed " + q.type() + " on " + q.provider() + "/"
                + q.deployment() + " (rate lift " + scored.evidence().get("rate_lift") + ")");
        if (ingestion) {
            evidence.put("pipeline", data.deployment());
        }
        evidence.put("index", index);
        evidence.put("quality_type", q.type());
        evidence.put("target_provider", q.provider());
        evidence.put("target_deployment", q.deployment());
        evidence.put("episode_calls_on_index", own);
        evidence.put("lag_ms", Math.max(0, Duration.between(data.firstSeen(), q.firstSeen()).toMillis()));
        evidence.put("period_from", from.toString());
        evidence.put("period_until", until.toString());
        evidence.put("baseline_from", baseFrom.toString());
        evidence.put("baseline_until", from.toString());
        evidence.put("sample_limit", config.chainSamples());
        evidence.putAll(scored.evidence());
        return new Link(data, q, data.type(), scored.confidence(), evidence);
    }

    /** Calls carrying the index in [from, until] and how many of them had a quality failure of the type. */
    private long[] indexRate(Connection c, String index, String type, Instant from, Instant until)
            throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select count(*), count(*) filter (where exists (select 1"
                + " from failure_event_calls f join failure_events e on e.failure_id = f.failure_id"
                + " where f.call_id = s.signal_id and e.category = 'QUALITY' and e.type = ?))"
                + " from (select signal_id from data_signals where kind = 'retrieval_call' and subject = ?"
                + " and at >= ? and at < ? order by at desc limit ?) s")) {
            st.setString(1, type);
            st.setString(2, index);
            SqlTime.set(st, 3, from);
            SqlTime.set(st, 4, until);
            st.setInt(5, config.chainSamples());
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return new long[] {rs.getLong(1), rs.getLong(2)};
            }
        }
    }

    private long ownCallsOnIndex(Connection c, Episode q, String index, Instant from, Instant until)
            throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select count(*) from failure_event_calls f"
                + " join data_signals s on s.kind = 'retrieval_call' and s.signal_id = f.call_id and s.subject = ?"
                + " and s.at >= ? and s.at < ? where f.failure_id = ?")) {
            st.setString(1, index);
            SqlTime.set(st, 2, from);
            SqlTime.set(st, 3, until);
            st.setObject(4, q.id());
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /** For a stale index its retrieval drops that followed; for a drop the stale-index episode before it. */
    private List<Episode> staleDropPartners(Connection c, Episode e) throws SQLException {
        boolean stale = STALE_INDEX.equals(e.type());
        String other = "DATA|" + (stale ? RETRIEVAL_DROP : STALE_INDEX) + "|" + PIPELINE + "|" + e.deployment();
        Duration window = config.window();
        return episodes(c, "select " + FailureCorrelationEngine.COLUMNS + " from failure_events where fingerprint = ?"
                + (stale ? " and first_seen >= ? and first_seen <= ?" : " and first_seen <= ? and last_seen >= ?")
                + " order by first_seen limit ?", st -> {
                    st.setString(1, other);
                    if (stale) {
                        SqlTime.set(st, 2, e.firstSeen().minus(window));
                        SqlTime.set(st, 3, effectUntil(e));
                    } else {
                        SqlTime.set(st, 2, e.firstSeen().plus(window));
                        SqlTime.set(st, 3, e.firstSeen().minus(config.chainHorizon()));
                    }
                    st.setInt(4, config.maxCandidates());
                });
    }

    private Link staleToDrop(Connection c, Episode stale, Episode drop) throws SQLException {
        long prior;
        try (PreparedStatement st = c.prepareStatement("select count(*) from failure_events where fingerprint = ?"
                + " and first_seen >= ? and first_seen < ?")) {
            st.setString(1, "DATA|" + RETRIEVAL_DROP + "|" + PIPELINE + "|" + drop.deployment());
            SqlTime.set(st, 2, stale.firstSeen().minus(config.baseRateLookback()));
            SqlTime.set(st, 3, stale.firstSeen().minus(config.window()));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                prior = rs.getLong(1);
            }
        }
        Duration lag = Duration.between(stale.firstSeen(), drop.firstSeen());
        Confidence.Scored scored = ChainConfidence.staleToDrop(prior, lag, config.chainHorizon(), config.window(),
                config.baseRateLookback());
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("via", STALE_INDEX);
        evidence.put("summary", "retrieval from " + drop.deployment() + " dropped " + lag.toSeconds()
                + " s after it went stale");
        evidence.put("index", drop.deployment());
        evidence.put("horizon_s", config.chainHorizon().toSeconds());
        evidence.put("lookback_s", config.baseRateLookback().toSeconds());
        evidence.putAll(scored.evidence());
        return new Link(stale, drop, STALE_INDEX, scored.confidence(), evidence);
    }

    // ---- ingestion failure → stale index / retrieval drop / low faithfulness -------------------------------------

    /** The indexes the failed pipeline feeds, as its runs named them within the lookback before the failure. */
    private List<String> indexesFedBy(Connection c, Episode ingestion) throws SQLException {
        List<String> indexes = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement("select index_name from ingestion_pipeline_indexes"
                + " where pipeline = ? and last_reported_at >= ? order by index_name limit ?")) {
            st.setString(1, ingestion.deployment());
            SqlTime.set(st, 2, ingestion.firstSeen().minus(config.baseRateLookback()));
            st.setInt(3, config.maxCandidates());
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    indexes.add(rs.getString(1));
                }
            }
        }
        return indexes;
    }

    /**
     * Ingestion-failure episodes of the pipelines feeding the index (named within the lookback before each failure)
     * that began at or before {@code startedBy} and were still failing at or after {@code activeSince}.
     */
    private List<Episode> ingestionsFeeding(Connection c, String index, Instant startedBy, Instant activeSince)
            throws SQLException {
        return episodes(c, "select " + FailureCorrelationEngine.prefixed("e") + " from ingestion_pipeline_indexes p"
                + " join failure_events e on e.fingerprint = 'DATA|" + INGESTION + "|" + PIPELINE + "|' || p.pipeline"
                + " and e.first_seen <= ? and e.last_seen >= ?"
                + " and p.last_reported_at >= e.first_seen - make_interval(secs => ?)"
                + " where p.index_name = ? order by e.first_seen limit ?", st -> {
                    SqlTime.set(st, 1, startedBy);
                    SqlTime.set(st, 2, activeSince);
                    st.setDouble(3, config.baseRateLookback().toSeconds());
                    st.setString(4, index);
                    st.setInt(5, config.maxCandidates());
                });
    }

    /** The index's stale-index and retrieval-drop episodes that began while the ingestion failure lasted. */
    private List<Episode> dataEpisodesAfter(Connection c, Episode ingestion, String index) throws SQLException {
        return episodes(c, "select " + FailureCorrelationEngine.COLUMNS + " from failure_events"
                + " where fingerprint = any (?) and first_seen >= ? and first_seen <= ? order by first_seen limit ?",
                st -> {
                    st.setArray(1, c.createArrayOf("text", new Object[] {
                            "DATA|" + STALE_INDEX + "|" + PIPELINE + "|" + index,
                            "DATA|" + RETRIEVAL_DROP + "|" + PIPELINE + "|" + index}));
                    SqlTime.set(st, 2, ingestion.firstSeen().minus(config.window()));
                    SqlTime.set(st, 3, effectUntil(ingestion));
                    st.setInt(4, config.maxCandidates());
                });
    }

    /**
     * A failed ingestion and a stale-index or retrieval-drop episode on an index it feeds: the onset formula of
     * stale → drop, with the chance from the index's own episodes of that type over the lookback.
     */
    private Link ingestionToData(Connection c, Episode ingestion, Episode data) throws SQLException {
        if (ingestion.id().equals(data.id())) {
            return null;
        }
        long prior;
        try (PreparedStatement st = c.prepareStatement("select count(*) from failure_events where fingerprint = ?"
                + " and first_seen >= ? and first_seen < ?")) {
            st.setString(1, data.fingerprint());
            SqlTime.set(st, 2, ingestion.firstSeen().minus(config.baseRateLookback()));
            SqlTime.set(st, 3, ingestion.firstSeen().minus(config.window()));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                prior = rs.getLong(1);
            }
        }
        Duration lag = Duration.between(ingestion.firstSeen(), data.firstSeen());
        Confidence.Scored scored = ChainConfidence.onset(prior, lag, config.chainHorizon(), config.window(),
                config.baseRateLookback());
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("via", INGESTION);
        evidence.put("summary", "pipeline " + ingestion.deployment() + " feeds " + data.deployment() + ", which showed "
                + data.type() + " " + lag.toSeconds() + " s after the ingestion failed");
        evidence.put("pipeline", ingestion.deployment());
        evidence.put("index", data.deployment());
        evidence.put("effect_type", data.type());
        evidence.put("horizon_s", config.chainHorizon().toSeconds());
        evidence.put("lookback_s", config.baseRateLookback().toSeconds());
        evidence.putAll(scored.evidence());
        return new Link(ingestion, data, INGESTION, scored.confidence(), evidence);
    }

    // ---- budget exceeded → refused calls -------------------------------------------------------------------------

    /** The llm_calls column a budget scope is kept over (constants, never input). */
    private static String scopeColumn(String scope) {
        return switch (scope) {
            case "team" -> "l.team_id";
            case "key" -> "l.api_key_hash";
            case "user" -> "l.user_ref";
            case "model" -> "coalesce(l.model_group, l.model)";
            default -> null;
        };
    }

    /** {scope, id} of one of Faultline's budget episodes ({@code deployment = scope:id}), or null. */
    private static String[] scopeOf(Episode budget) {
        if (!BUDGET_ALERTS.equals(budget.provider()) || !"budget_exceeded".equals(budget.type())) {
            return null;
        }
        String d = budget.deployment();
        int colon = d == null ? -1 : d.indexOf(':');
        if (colon <= 0 || colon == d.length() - 1 || scopeColumn(d.substring(0, colon)) == null) {
            return null;
        }
        return new String[] {d.substring(0, colon), d.substring(colon + 1)};
    }

    /**
     * LiteLLM's budget entity types that a Faultline budget scope names: the same team, key (LiteLLM's hashed
     * token is the call's {@code user_api_key_hash}) or user (an internal user or an end user, whichever the call's
     * user is). A model-group budget has no LiteLLM counterpart.
     */
    private static List<String> liteLlmEntities(String scope) {
        return switch (scope) {
            case "team" -> List.of("team");
            case "key" -> List.of("key");
            case "user" -> List.of("user", "end_user");
            default -> List.of();
        };
    }

    /**
     * Refusal episodes active after the crossing: access refusals (the crossing's own scope is checked per pair) and
     * LiteLLM's budget refusals of the same scope.
     */
    private List<Episode> refusalsAfter(Connection c, Episode budget) throws SQLException {
        String[] scope = scopeOf(budget);
        if (scope == null) {
            return List.of();
        }
        List<String> own = new ArrayList<>();
        for (String entity : liteLlmEntities(scope[0])) {
            own.add("COST|budget_exceeded|" + LITELLM + "|" + entity + ":" + scope[1]);
        }
        List<Episode> refusals = new ArrayList<>(episodes(c, "select " + FailureCorrelationEngine.COLUMNS
                + " from failure_events where last_seen >= ? and first_seen <= ? and category = 'SECURITY'"
                + " and type = 'unauthorized_model_access' order by last_seen desc limit ?", st -> {
                    SqlTime.set(st, 1, budget.firstSeen());
                    SqlTime.set(st, 2, budget.firstSeen().plus(config.chainHorizon()));
                    st.setInt(3, config.maxCandidates());
                }));
        if (!own.isEmpty()) {
            refusals.addAll(episodes(c, "select " + FailureCorrelationEngine.COLUMNS + " from failure_events"
                    + " where fingerprint = any (?) and last_seen >= ? and first_seen <= ? order by last_seen desc"
                    + " limit ?", st -> {
                        st.setArray(1, c.createArrayOf("text", own.toArray()));
                        SqlTime.set(st, 2, budget.firstSeen());
                        SqlTime.set(st, 3, budget.firstSeen().plus(config.chainHorizon()));
                        st.setInt(4, config.maxCandidates());
                    }));
        }
        return refusals;
    }

    /** Faultline's budget episodes of the scope LiteLLM refused, crossed within the horizon before the refusals. */
    private List<Episode> budgetsOfLiteLlmRefusal(Connection c, Episode refusal) throws SQLException {
        String d = refusal.deployment();
        int colon = d == null ? -1 : d.indexOf(':');
        if (colon <= 0 || colon == d.length() - 1) {
            return List.of();
        }
        String entity = d.substring(0, colon);
        String scope = switch (entity) {
            case "team", "key", "user" -> entity;
            case "end_user" -> "user";
            default -> null;
        };
        if (scope == null) {
            return List.of();
        }
        return episodes(c, "select " + FailureCorrelationEngine.COLUMNS + " from failure_events"
                + " where fingerprint = ? and first_seen >= ? and first_seen <= ? order by first_seen limit ?", st -> {
                    st.setString(1, "COST|budget_exceeded|" + BUDGET_ALERTS + "|" + scope + ":" + d.substring(colon + 1));
                    SqlTime.set(st, 2, refusal.firstSeen().minus(config.chainHorizon()));
                    SqlTime.set(st, 3, refusal.lastSeen());
                    st.setInt(4, config.maxCandidates());
                });
    }

    /** Budget episodes of the scopes (team, key, user, model group) the refusal episode's recent calls carried. */
    private List<Episode> budgetsOfCalls(Connection c, Episode q) throws SQLException {
        Set<String> fingerprints = new LinkedHashSet<>();
        Instant first = null;
        Instant last = null;
        try (PreparedStatement st = c.prepareStatement("select l.team_id, l.api_key_hash, l.user_ref,"
                + " coalesce(l.model_group, l.model), l.started_at from (select call_id, seen_at from failure_event_calls"
                + " where failure_id = ? order by seen_at desc limit ?) f join llm_calls l on l.call_id = f.call_id"
                + " and l.started_at <= f.seen_at and l.started_at >= f.seen_at - interval '1 day'")) {
            st.setObject(1, q.id());
            st.setInt(2, config.maxTracedCalls());
            try (ResultSet rs = st.executeQuery()) {
                String[] scopes = {"team", "key", "user", "model"};
                while (rs.next()) {
                    for (int i = 0; i < scopes.length; i++) {
                        String id = rs.getString(i + 1);
                        if (id != null) {
                            fingerprints.add("COST|budget_exceeded|budget|" + scopes[i] + ":" + id);
                        }
                    }
                    Instant at = rs.getTimestamp(5).toInstant();
                    first = first == null || at.isBefore(first) ? at : first;
                    last = last == null || at.isAfter(last) ? at : last;
                }
            }
        }
        if (fingerprints.isEmpty()) {
            return List.of();
        }
        Instant from = first.minus(config.chainHorizon());
        Instant until = last;
        return episodes(c, "select " + FailureCorrelationEngine.COLUMNS + " from failure_events"
                + " where fingerprint = any (?) and first_seen >= ? and first_seen <= ? order by first_seen limit ?",
                st -> {
                    st.setArray(1, c.createArrayOf("text", fingerprints.toArray()));
                    SqlTime.set(st, 2, from);
                    SqlTime.set(st, 3, until);
                    st.setInt(4, config.maxCandidates());
                });
    }

    private Link budgetToRefusals(Connection c, Episode budget, Episode q) throws SQLException {
        String[] scope = scopeOf(budget);
        if (scope == null || budget.id().equals(q.id())) {
            return null;
        }
        boolean budgetRefusal = LITELLM.equals(q.provider()) && "COST".equals(q.category());
        // Refusals of the same kind before the crossing: LiteLLM's budget refusals of the scope, or access refusals.
        String sameKind = budgetRefusal ? "e.fingerprint = '" + "COST|budget_exceeded|" + LITELLM + "|' || ?"
                : "e.category = 'SECURITY' and e.type = 'unauthorized_model_access' and ? is not null";
        String column = scopeColumn(scope[0]);
        Instant crossing = budget.firstSeen();
        Instant until = crossing.plus(config.chainHorizon());
        long refused;
        long lagMs;
        try (PreparedStatement st = c.prepareStatement("select count(*), coalesce(min((extract(epoch from"
                + " l.started_at - ?::timestamptz) * 1000)::bigint), 0) from failure_event_calls f join llm_calls l"
                + " on l.call_id = f.call_id and l.started_at <= f.seen_at and l.started_at >= f.seen_at - interval '1 day'"
                + " where f.failure_id = ? and f.seen_at >= ? and f.seen_at < ? and l.started_at >= ? and " + column
                + " = ?")) {
            SqlTime.set(st, 1, crossing);
            st.setObject(2, q.id());
            SqlTime.set(st, 3, crossing);
            SqlTime.set(st, 4, until);
            SqlTime.set(st, 5, crossing);
            st.setString(6, scope[1]);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                refused = rs.getLong(1);
                lagMs = rs.getLong(2);
            }
        }
        if (refused == 0) {
            return null;
        }
        // The scope's refusals in any refusal episode over the baseline window before the crossing.
        Instant baseFrom = crossing.minus(config.baselineWindow());
        long before;
        try (PreparedStatement st = c.prepareStatement("select count(*) from failure_events e join failure_event_calls f"
                + " on f.failure_id = e.failure_id and f.seen_at >= ? and f.seen_at < ? join llm_calls l"
                + " on l.call_id = f.call_id and l.started_at <= f.seen_at and l.started_at >= f.seen_at - interval '1 day'"
                + " where e.last_seen >= ? and e.first_seen < ? and " + sameKind
                + " and l.started_at < ? and " + column + " = ?")) {
            SqlTime.set(st, 1, baseFrom);
            SqlTime.set(st, 2, crossing);
            SqlTime.set(st, 3, baseFrom);
            SqlTime.set(st, 4, crossing);
            st.setString(5, q.deployment());
            SqlTime.set(st, 6, crossing);
            st.setString(7, scope[1]);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                before = rs.getLong(1);
            }
        }
        Confidence.Scored scored = ChainConfidence.refusalLift(refused, before, config.chainHorizon(),
                config.baselineWindow());
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("via", BUDGET);
        evidence.put("summary", scope[0] + " " + scope[1] + " was refused " + refused + " times "
                + (budgetRefusal ? "by LiteLLM's budget for " + q.deployment() : "on " + q.provider() + "/"
                        + q.deployment()) + " after crossing its budget");
        evidence.put("refused_by", budgetRefusal ? "litellm_budget" : "access");
        evidence.put("scope", scope[0]);
        evidence.put("scope_id", scope[1]);
        evidence.put("crossed_at", crossing.toString());
        evidence.put("period_until", until.toString());
        evidence.put("baseline_from", baseFrom.toString());
        evidence.put("lag_ms", lagMs);
        evidence.put("target_provider", q.provider());
        evidence.put("target_deployment", q.deployment());
        evidence.putAll(scored.evidence());
        return new Link(budget, q, BUDGET, scored.confidence(), evidence);
    }

    // ---- plumbing ------------------------------------------------------------------------------------------------

    private interface Binder {
        void bind(PreparedStatement st) throws SQLException;
    }

    private static List<Episode> episodes(Connection c, String sql, Binder binder) throws SQLException {
        List<Episode> episodes = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement(sql)) {
            binder.bind(st);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    episodes.add(FailureCorrelationEngine.episode(rs, 0));
                }
            }
        }
        return episodes;
    }
}
