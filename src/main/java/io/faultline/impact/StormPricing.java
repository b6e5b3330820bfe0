package io.faultline.impact;

import com.fasterxml.jackson.databind.JsonNode;
import io.faultline.cost.CostStore;
import io.faultline.cost.TokenSpikeConfig;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;

/**
 * Prices the COST episodes that are windows or totals, not requests (README: "Impact"), from stored calls only:
 * <ul>
 * <li>{@code token_spike} raised on a window total: each spiking window's tokens over the p99 of the earlier windows,
 * at the window's cost per token ({@link #windowSpike}).</li>
 * <li>{@code cache_miss_storm}: the calls of the episode's model (or API key on that model) that ended in its storm
 * windows ({@code [first_seen − window, last_seen)}, windows being keyed by the calls' end). For the providers'
 * prompt cache (signal {@code prompt_cache}), each call's tokens that missed the cache over the baseline hit ratio,
 * {@code level × prompt_tokens − cached_tokens}, at the difference between its input and its cached-token price
 * (LiteLLM's {@code input_cost_per_token} and {@code cache_read_input_token_cost}); calls without both prices are
 * counted as unpriced. For LiteLLM's own cache ({@code proxy_cache}), the misses over the baseline,
 * {@code level × calls with a known cache outcome − hits}, at the average cost of the window's misses. The baseline
 * is the rolling level the detector judged the storm against (the episode's evidence). Never negative.</li>
 * <li>{@code batch_cost_overrun}: the batch's actual cost (every stored call tagged with its id) minus its expected
 * cost (the one set now, else the one the overrun was judged against); never negative.</li>
 * </ul>
 * Both read bounded sets: the subject's calls over the storm's duration (on the (provider, started_at) index), or one
 * batch's calls (on the batch index).
 */
@Singleton
public class StormPricing {

    /** A call that ends in a window started at most this long before it (a longer one is left out). */
    static final Duration LONGEST_CALL = Duration.ofHours(1);

    private final TokenSpikeConfig windows;

    public StormPricing(TokenSpikeConfig windows) {
        this.windows = windows;
    }

    Assessment.CacheStormCost cacheStorm(Connection c, FailureImpactAssessor.Subject s) throws SQLException {
        if (!"cache_miss_storm".equals(s.type()) || s.evidence() == null
                || !s.evidence().path("rolling_level").isNumber()) {
            return null;
        }
        JsonNode ev = s.evidence();
        String signal = ev.path("signal").asText("prompt_cache");
        String scope = ev.path("scope").asText("model");
        double level = ev.path("rolling_level").asDouble();
        String subject = deployment(c, s);
        if (subject == null) {
            return null;
        }
        Instant from = s.firstSeen().minus(windows.window());
        Instant to = s.lastSeen();
        boolean byKey = "api_key".equals(scope);
        // A key's storm is judged on one model group (the evidence's model); older episodes name none.
        String keyModel = byKey && ev.path("model").isTextual() ? ev.path("model").asText() : null;
        String where = !byKey ? "provider = ? and coalesce(model_group, model) = ?"
                : keyModel == null ? "left(api_key_hash, 12) = ?"
                : "left(api_key_hash, 12) = ? and coalesce(model_group, model) = ?";
        String sql = "select count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(cached_tokens), 0),"
                + " coalesce(sum((? * prompt_tokens - cached_tokens) * (input_cost_per_token"
                + " - cache_read_cost_per_token)) filter (where input_cost_per_token is not null"
                + " and cache_read_cost_per_token is not null), 0),"
                + " count(*) filter (where input_cost_per_token is null or cache_read_cost_per_token is null),"
                + " count(*) filter (where cache_hit is not null), count(*) filter (where cache_hit),"
                + " coalesce(sum(cost_usd) filter (where cache_hit = false), 0), count(*) filter (where not cache_hit)"
                + " from llm_calls where " + where + " and started_at >= ? and started_at < ? and ended_at >= ?"
                + " and ended_at < ?";
        try (PreparedStatement st = c.prepareStatement(sql)) {
            int p = 1;
            st.setDouble(p++, level);
            if (byKey) {
                st.setString(p++, subject.startsWith("key:") ? subject.substring(4) : subject);
                if (keyModel != null) {
                    st.setString(p++, keyModel);
                }
            } else {
                st.setString(p++, s.provider());
                st.setString(p++, subject);
            }
            st.setTimestamp(p++, Timestamp.from(from.minus(LONGEST_CALL)));
            st.setTimestamp(p++, Timestamp.from(to));
            st.setTimestamp(p++, Timestamp.from(from));
            st.setTimestamp(p, Timestamp.from(to));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                long calls = rs.getLong(1);
                long prompt = rs.getLong(2);
                long cached = rs.getLong(3);
                double promptExtra = rs.getDouble(4);
                long unpriced = rs.getLong(5);
                long known = rs.getLong(6);
                long hits = rs.getLong(7);
                double missCost = rs.getDouble(8);
                long misses = rs.getLong(9);
                if ("proxy_cache".equals(signal)) {
                    double extraMisses = Math.max(0, level * known - hits);
                    double extra = misses == 0 ? 0 : extraMisses * missCost / misses;
                    return new Assessment.CacheStormCost(signal, scope, subject, from, to, level, calls, known,
                            hits, known == 0 ? null : (double) hits / known, extraMisses, Math.max(0, extra), 0,
                            "max(0, baseline x calls with a known cache outcome - hits) x average cost of a miss");
                }
                double extraTokens = Math.max(0, level * prompt - cached);
                return new Assessment.CacheStormCost(signal, scope, subject, from, to, level, calls, prompt, cached,
                        prompt == 0 ? null : (double) cached / prompt, extraTokens, Math.max(0, promptExtra),
                        unpriced, "max(0, sum over calls of (baseline x prompt tokens - cached tokens)"
                                + " x (input price - cached-token price))");
            }
        }
    }

    /**
     * A {@code token_spike} raised on a window total (evidence {@code p99_window_tokens}): the deployment's calls that
     * ended in the episode's windows, grouped into the detector's aligned windows; each window whose tokens exceed
     * {@code factor} × p99 (the spiking ones) adds {@code cost × (1 − p99 / tokens)}, its tokens over the p99 at its
     * own cost per token. Null for anything else.
     */
    Assessment.WindowSpikeCost windowSpike(Connection c, FailureImpactAssessor.Subject s) throws SQLException {
        if (!"token_spike".equals(s.type()) || s.evidence() == null
                || !s.evidence().path("p99_window_tokens").isNumber()) {
            return null;
        }
        long p99 = s.evidence().path("p99_window_tokens").asLong();
        double factor = s.evidence().path("factor").isNumber() ? s.evidence().path("factor").asDouble()
                : windows.windowFactor();
        String deployment = deployment(c, s);
        if (deployment == null || p99 <= 0) {
            return null;
        }
        Instant from = s.firstSeen().minus(windows.window());
        Instant to = s.lastSeen();
        try (PreparedStatement st = c.prepareStatement("with w as (select count(*) n,"
                + " sum(prompt_tokens + completion_tokens) t, sum(cost_usd) cost, count(*) filter (where cost_usd = 0)"
                + " zero from llm_calls where provider = ? and deployment = ? and started_at >= ? and started_at < ?"
                + " and ended_at >= ? and ended_at < ? group by floor(extract(epoch from ended_at) * 1000 / ?))"
                + " select count(*), coalesce(sum(n), 0), coalesce(sum(t), 0), coalesce(sum(t - ?), 0),"
                + " coalesce(sum(cost * (1 - ?::float8 / t)), 0), coalesce(sum(zero), 0) from w"
                + " where t > ?::float8 * ?")) {
            int p = 1;
            st.setString(p++, s.provider());
            st.setString(p++, deployment);
            st.setTimestamp(p++, Timestamp.from(from.minus(LONGEST_CALL)));
            st.setTimestamp(p++, Timestamp.from(to));
            st.setTimestamp(p++, Timestamp.from(from));
            st.setTimestamp(p++, Timestamp.from(to));
            st.setLong(p++, windows.window().toMillis());
            st.setLong(p++, p99);
            st.setLong(p++, p99);
            st.setDouble(p++, factor);
            st.setLong(p, p99);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return new Assessment.WindowSpikeCost(deployment, from, to, p99, factor, rs.getLong(1),
                        rs.getLong(2), rs.getLong(3), rs.getLong(4), Math.max(0, rs.getDouble(5)), rs.getLong(6),
                        "sum over windows with tokens > factor x p99 of cost x (1 - p99 / tokens)");
            }
        }
    }

    Assessment.BatchOverrunCost batchOverrun(Connection c, FailureImpactAssessor.Subject s) throws SQLException {
        if (!"batch_cost_overrun".equals(s.type())) {
            return null;
        }
        String batch = s.evidence() != null && s.evidence().path("batch_id").isTextual()
                ? s.evidence().path("batch_id").asText() : deployment(c, s);
        if (batch == null) {
            return null;
        }
        Double expected = null;
        String source = null;
        try (PreparedStatement st = c.prepareStatement("select expected_cost_usd, source from batches"
                + " where batch_id = ?")) {
            st.setString(1, batch);
            try (ResultSet rs = st.executeQuery()) {
                if (rs.next()) {
                    expected = rs.getDouble(1);
                    source = rs.getString(2);
                }
            }
        }
        if (expected == null && s.evidence() != null && s.evidence().path("expected_cost_usd").isNumber()) {
            expected = s.evidence().path("expected_cost_usd").asDouble();
            source = "evidence";
        }
        if (expected == null) {
            return null;
        }
        try (PreparedStatement st = c.prepareStatement("select coalesce(sum(cost_usd), 0), count(*) from llm_calls"
                + " where " + CostStore.BATCH_ID + " = ?")) {
            st.setString(1, batch);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                double actual = rs.getDouble(1);
                return new Assessment.BatchOverrunCost(batch, expected, source, actual, rs.getLong(2),
                        Math.max(0, actual - expected));
            }
        }
    }

    private static String deployment(Connection c, FailureImpactAssessor.Subject s) throws SQLException {
        if (!"episode".equals(s.kind())) {
            return null;
        }
        try (PreparedStatement st = c.prepareStatement("select deployment from failure_events where failure_id = ?")) {
            st.setObject(1, s.id());
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }
}
