package io.faultline.predict;

import io.faultline.classify.ProviderVerdict;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The reference the tick's {@link WindowCache} is checked against ({@code WindowCacheTest}): every deployment's window
 * in one aggregate query over {@code llm_calls}. The tick no longer runs it (≈1-3 s over 60,000 calls: a dozen
 * {@code ->>} lookups and pattern matches per row). Its definition of a window: the providers active in the window
 * come from {@code provider_deployments}, so the scan runs on the {@code (provider, started_at)} index and touches only
 * the window's calls. Header values are caller text: a value is read as a number only when it is one (a bounded,
 * anchored pattern on at most 64 characters, as the mapper stores them).
 */
final class WindowReader {

    private static final String NUMBER = "'^[0-9]{1,15}(\\.[0-9]{1,9})?$'";

    private WindowReader() {
    }

    static final String SQL = sql();

    private static String sql() {
        StringBuilder inner = new StringBuilder("select provider, deployment, model_group, ended_at, success,"
                + " http_status, latency_ms, floor((extract(epoch from started_at) - ?) / ?)::int b,"
                + " (error_class = any (?) or latency_ms > ?) slow, " + ProviderVerdict.SQL + " verdict");
        for (int s = 0; s < DeploymentWindow.LIMIT_TYPES.length; s++) {
            String label = DeploymentWindow.LIMIT_TYPES[s];
            String anthropic = "anthropic-ratelimit-" + label.replace('_', '-');
            boolean openAi = s < 2; // x-ratelimit-* has requests and tokens only
            inner.append(", ").append(header(anthropic + "-remaining", openAi ? "x-ratelimit-remaining-" + label : null))
                    .append(" rt").append(s);
            inner.append(", ").append(header(anthropic + "-limit", openAi ? "x-ratelimit-limit-" + label : null))
                    .append(" lt").append(s);
        }
        inner.append(" from llm_calls where provider = any (?) and started_at >= ? and started_at < ?");

        // The classifier's verdict, once per call (ProviderVerdict.SQL): a 503 that says it is overloaded is no
        // outage, a 429 no timeout, a 500 whose body did not parse neither (as WindowCache.Call#failed).
        StringBuilder mid = new StringBuilder("select provider, deployment, model_group, ended_at, success,"
                + " http_status, latency_ms, b, verdict = '" + ProviderVerdict.TIMEOUT.code() + "' or slow timed_out,"
                + " verdict = '" + ProviderVerdict.OVERLOADED.code() + "' overloaded,"
                + " verdict = '" + ProviderVerdict.RATE_LIMIT.code() + "' rate_limited,"
                + " verdict = '" + ProviderVerdict.OUTAGE.code() + "' outage");
        for (int s = 0; s < DeploymentWindow.LIMIT_TYPES.length; s++) {
            mid.append(", ").append(number("rt" + s)).append(" r").append(s);
            mid.append(", ").append(number("lt" + s)).append(" l").append(s);
        }
        mid.append(" from (").append(inner).append(") c");

        // No ordered aggregates: one sort per group and aggregate cost more than the rest of the query together,
        // so the latencies come back as an unordered array and the percentiles are taken here.
        StringBuilder outer = new StringBuilder("select provider, deployment, max(model_group), b, count(*),"
                + " count(*) filter (where success), array_agg(latency_ms) filter (where success)");
        // The verdicts exclude one another; a slow or timeout-classed call is a timeout unless an overload or a
        // rate limit (as WindowCache.Call#failed).
        String[] failing = { "rate_limited and not overloaded", "overloaded", "outage",
                "timed_out and not overloaded and not rate_limited" };
        for (String f : failing) {
            outer.append(", count(*) filter (where ").append(f).append("), min(ended_at) filter (where ").append(f)
                    .append("), max(ended_at) filter (where ").append(f).append(")");
        }
        for (int s = 0; s < DeploymentWindow.LIMIT_TYPES.length; s++) {
            outer.append(", avg(r").append(s).append("), avg(extract(epoch from ended_at)) filter (where r").append(s)
                    .append(" is not null), count(r").append(s).append("), max(l").append(s).append(")");
        }
        outer.append(" from (").append(mid).append(") m group by provider, deployment, b order by provider,"
                + " deployment, b");
        return outer.toString();
    }

    private static String header(String name, String fallback) {
        String first = "rate_limit_headers ->> '" + name + "'";
        return fallback == null ? first : "coalesce(" + first + ", rate_limit_headers ->> '" + fallback + "')";
    }

    private static String number(String column) {
        return "case when " + column + " ~ " + NUMBER + " then " + column + "::double precision end";
    }

    /** The providers with a deployment seen since {@code from} (the deployment registry, not the calls). */
    static List<String> activeProviders(Connection c, Instant from) throws SQLException {
        List<String> providers = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement(
                "select distinct provider from provider_deployments where last_seen >= ?")) {
            st.setTimestamp(1, Timestamp.from(from));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    providers.add(rs.getString(1));
                }
            }
        }
        return providers;
    }

    /** The windows of every deployment with calls in {@code [from, to)}. */
    static List<DeploymentWindow> read(Connection c, Instant from, Instant to, long bucketMillis,
            Set<String> timeoutClasses, double timeoutMs) throws SQLException {
        List<String> providers = activeProviders(c, from);
        if (providers.isEmpty()) {
            return List.of();
        }
        int buckets = (int) Math.max(1, (to.toEpochMilli() - from.toEpochMilli() + bucketMillis - 1) / bucketMillis);
        Map<String, DeploymentWindow> windows = new LinkedHashMap<>();
        try (java.sql.Statement set = c.createStatement()) {
            // The window's groups sort in memory: the default 4 MB spills a thousand deployments to disk.
            set.execute("set local work_mem = '64MB'");
        }
        try (PreparedStatement st = c.prepareStatement(SQL)) {
            Array classes = c.createArrayOf("text", timeoutClasses.toArray());
            st.setDouble(1, from.toEpochMilli() / 1000.0);
            st.setDouble(2, bucketMillis / 1000.0);
            st.setArray(3, classes);
            st.setDouble(4, timeoutMs);
            st.setArray(5, c.createArrayOf("text", providers.toArray()));
            st.setTimestamp(6, Timestamp.from(from));
            st.setTimestamp(7, Timestamp.from(to));
            st.setFetchSize(2000);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    String provider = rs.getString(1);
                    String deployment = rs.getString(2);
                    int b = rs.getInt(4);
                    if (b < 0 || b >= buckets) {
                        continue;
                    }
                    DeploymentWindow w = windows.computeIfAbsent(provider + "\u0000" + deployment,
                            k -> new DeploymentWindow(provider, deployment, null, from, to, bucketMillis,
                                    new DeploymentWindow.Bucket[buckets]));
                    String group = rs.getString(3);
                    if (group != null && w.modelGroup() == null) {
                        w = new DeploymentWindow(provider, deployment, group, from, to, bucketMillis, w.buckets());
                        windows.put(provider + "\u0000" + deployment, w);
                    }
                    w.buckets()[b] = bucket(rs);
                }
            }
        }
        return new ArrayList<>(windows.values());
    }

    private static DeploymentWindow.Bucket bucket(ResultSet rs) throws SQLException {
        int col = 5;
        int calls = rs.getInt(col++);
        int ok = rs.getInt(col++);
        java.sql.Array latencies = rs.getArray(col++);
        Double p50 = null;
        Double p95 = null;
        if (latencies != null) {
            Object[] values = (Object[]) latencies.getArray();
            double[] sorted = new double[values.length];
            for (int i = 0; i < values.length; i++) {
                sorted[i] = ((Number) values[i]).doubleValue();
            }
            java.util.Arrays.sort(sorted);
            p50 = percentile(sorted, 0.5);
            p95 = percentile(sorted, 0.95);
        }
        int types = DeploymentWindow.FAILURE_TYPES.length;
        int[] failed = new int[types];
        Instant[] first = new Instant[types];
        Instant[] last = new Instant[types];
        for (int t = 0; t < types; t++) {
            failed[t] = rs.getInt(col++);
            first[t] = instant(rs.getTimestamp(col++));
            last[t] = instant(rs.getTimestamp(col++));
        }
        DeploymentWindow.Reading[] readings = new DeploymentWindow.Reading[DeploymentWindow.LIMIT_TYPES.length];
        for (int s = 0; s < readings.length; s++) {
            Double remaining = nullableDouble(rs, col++);
            Double at = nullableDouble(rs, col++);
            int count = rs.getInt(col++);
            Double limit = nullableDouble(rs, col++);
            readings[s] = remaining == null || at == null ? null
                    : new DeploymentWindow.Reading(remaining, at, count, limit == null ? -1 : limit, null, null);
        }
        return new DeploymentWindow.Bucket(calls, ok, p50, p95, failed, first, last, readings);
    }

    /** Linear interpolation between closest ranks, as PostgreSQL's percentile_cont. */
    static double percentile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = (int) Math.ceil(pos);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }

    /**
     * The reset header of the latest reading of a limit type on a provider's deployment in {@code [from, to)} (the
     * same id under another provider has limits of its own): one backward scan of the {@code (deployment,
     * started_at)} index that stops at the first call of the provider carrying it.
     */
    static DeploymentWindow.Reading latestReset(Connection c, String provider, String deployment, int slot,
            Instant from, Instant to) throws SQLException {
        String label = DeploymentWindow.LIMIT_TYPES[slot];
        String anthropic = "anthropic-ratelimit-" + label.replace('_', '-') + "-reset";
        String openAi = slot < 2 ? "x-ratelimit-reset-" + label : anthropic;
        try (PreparedStatement st = c.prepareStatement("select coalesce(rate_limit_headers ->> ?,"
                + " rate_limit_headers ->> ?), ended_at from llm_calls where deployment = ? and provider = ?"
                + " and started_at >= ? and started_at < ?"
                + " and coalesce(rate_limit_headers ->> ?, rate_limit_headers ->> ?) is not null"
                + " order by started_at desc limit 1")) {
            st.setString(1, anthropic);
            st.setString(2, openAi);
            st.setString(3, deployment);
            st.setString(4, provider);
            st.setTimestamp(5, Timestamp.from(from));
            st.setTimestamp(6, Timestamp.from(to));
            st.setString(7, anthropic);
            st.setString(8, openAi);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? new DeploymentWindow.Reading(0, 0, 1, -1, rs.getString(1),
                        rs.getTimestamp(2).toInstant()) : null;
            }
        }
    }

    private static Double nullableDouble(ResultSet rs, int col) throws SQLException {
        double v = rs.getDouble(col);
        return rs.wasNull() ? null : v;
    }

    private static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }
}
