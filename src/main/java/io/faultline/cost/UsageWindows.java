package io.faultline.cost;

import io.agroal.api.AgroalDataSource;
import io.faultline.call.LlmCall;
import io.faultline.call.StoredCallsObserver;
import io.faultline.cost.WindowSeries.Window;
import io.faultline.episode.FailureSink;
import io.faultline.taxonomy.CostFailure.Type;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
import io.quarkus.logging.Log;
import io.faultline.common.DatabaseReady;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;

/**
 * Windowed COST detectors over the stored calls: {@code token_spike} of a deployment's window (its total against the
 * rolling p99 of earlier windows, reasoning tokens apart) and {@code cache_miss_storm} of a model or of an API key on
 * one model (its cache-hit ratio against the rolling level, while volume holds). A window is judged when a later
 * call or the {@link #tick} closes it, and again when calls for it arrive late (a spool delivered after an outage),
 * once they have settled for {@link #CLOSE_GRACE}; each detector raises a window once. Failures carry the window's end
 * as their time. The series are rebuilt from {@code llm_calls} at start-up, so a restart does not blind the detectors
 * for two hours.
 */
@Singleton
public class UsageWindows implements StoredCallsObserver, io.faultline.common.BoundedState {

    private static final Duration CLOSE_GRACE = Duration.ofSeconds(30);
    private static final int SPIKE = 1;
    private static final int PROXY_STORM = 2;
    private static final int PROMPT_STORM = 4;

    private final TokenSpikeConfig tokens;
    private final CacheStormConfig cache;
    private final FailureSink sink;
    private final Clock clock;
    private final AgroalDataSource dataSource;
    private final TokenSpikeRule callSpikes;
    private final long windowMillis;
    private final BoundedMap<String, WindowSeries> deployments;
    private final BoundedMap<String, WindowSeries> models;
    private final BoundedMap<String, WindowSeries> keys;

    public UsageWindows(TokenSpikeConfig tokens, CacheStormConfig cache, FailureSink sink, Clock clock,
            AgroalDataSource dataSource, TokenSpikeRule callSpikes) {
        this.tokens = tokens;
        this.cache = cache;
        this.sink = sink;
        this.clock = clock;
        this.dataSource = dataSource;
        this.callSpikes = callSpikes;
        this.windowMillis = tokens.window().toMillis();
        this.deployments = new BoundedMap<>(tokens.maxKeys(), tokens.maxKeysPerApiKey());
        this.models = new BoundedMap<>(tokens.maxKeys(), tokens.maxKeysPerApiKey());
        this.keys = new BoundedMap<>(tokens.maxKeys(), tokens.maxKeysPerApiKey());
    }

    @Override
    public List<Held> boundedMaps() {
        return List.of(new Held("cost.usage-windows.deployments", tokens.maxKeys(), deployments::size),
                new Held("cost.usage-windows.models", tokens.maxKeys(), models::size),
                new Held("cost.usage-windows.keys", tokens.maxKeys(), keys::size));
    }

    @Override
    public void stored(List<LlmCall> inserted) {
        callSpikes.record(inserted);
        observe(inserted);
    }

    /** Adds newly stored calls (resends excluded) and raises what the windows they closed show. */
    public List<Failure> observe(List<LlmCall> calls) {
        List<Failure> failures = new ArrayList<>();
        Instant now = clock.instant();
        for (LlmCall call : calls) {
            if (call.failed()) {
                // Windows count answered calls, as the rebuild reads them back: a failed call spends no tokens, and
                // counted as volume it would let an outage look like traffic that holds while its cache ratio falls.
                continue;
            }
            // A call from a sender whose clock runs ahead (within the ingest's tolerance) counts in the window open
            // now: placed by its own end, it would close the open window early, judged on part of its calls.
            Instant at = call.endedAt().isAfter(now) ? now : call.endedAt();
            add(deployments, "d|" + call.provider() + "|" + call.deployment(), call.provider(), call.deployment(),
                    null, call, at, now, failures);
            String model = call.modelGroup() != null ? call.modelGroup() : call.model();
            if (model != null) {
                add(models, "m|" + call.provider() + "|" + model, call.provider(), model, null, call, at, now,
                        failures);
            }
            if (call.apiKeyHash() != null) {
                // Per model group: a key moving its traffic to a model that never cached lost no cache, while its
                // ratio over all its models would collapse as if it had.
                add(keys, keySeries(call.apiKeyHash(), model), "litellm", keySubject(call.apiKeyHash()), model, call,
                        at, now, failures);
            }
        }
        sink.raise(failures);
        return failures;
    }

    /**
     * Closes windows that ended (plus a grace for late calls) with no call since, and judges them; judges again the
     * closed windows whose late calls have stopped arriving for the same grace.
     */
    @Scheduled(every = "30s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void scheduledTick() {
        try {
            tick();
        } catch (RuntimeException e) {
            Log.errorf(e, "Usage window tick failed");
        }
    }

    public List<Failure> tick() {
        Instant cutoff = clock.instant().minus(CLOSE_GRACE);
        List<Failure> failures = new ArrayList<>();
        for (BoundedMap<String, WindowSeries> map : List.of(deployments, models, keys)) {
            for (WindowSeries series : map.values()) {
                synchronized (series) {
                    Window ended = series.closeIfEnded(cutoff);
                    if (ended != null) {
                        judge(map, series, ended, failures);
                    }
                    for (Window late : series.settledLate(cutoff)) {
                        late.lateSince = null;
                        judge(map, series, late, failures);
                    }
                }
            }
        }
        sink.raise(failures);
        storeJudgedThrough(cutoff);
        return failures;
    }

    /** Every window that ended before {@code cutoff} has been judged: what a restart judges again silently. */
    private void storeJudgedThrough(Instant cutoff) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("insert into"
                + " usage_window_state (state_key, judged_through) values (1, ?) on conflict (state_key)"
                + " do update set judged_through = excluded.judged_through")) {
            st.setTimestamp(1, Timestamp.from(cutoff));
            st.executeUpdate();
        } catch (SQLException e) {
            Log.warnf(e, "Could not store how far the usage windows are judged; a restart judges them again silently");
        }
    }

    private static Instant judgedThrough(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select judged_through from usage_window_state where state_key = 1")) {
            return rs.next() ? rs.getTimestamp(1).toInstant() : null;
        }
    }

    private void add(BoundedMap<String, WindowSeries> map, String key, String provider, String subject, String model,
            LlmCall call, Instant at, Instant now, List<Failure> failures) {
        WindowSeries series = map.get(key, call.apiKeyHash(), k -> new WindowSeries(k, provider, subject, model,
                windowMillis, tokens.historyWindows()));
        synchronized (series) {
            List<Window> closed = new ArrayList<>(1);
            Window window = series.windowFor(at, closed);
            for (Window ended : closed) {
                judge(map, series, ended, failures);
            }
            if (window != null) {
                count(window, call.promptTokens() + call.completionTokens(), call.reasoningTokens(), call.cacheHit(),
                        call.promptTokens(), call.cachedTokens(), 1);
                if (!series.isOpen(window)) {
                    window.lateCalls++;
                    window.lateSince = now;
                }
            }
        }
    }

    private static void count(Window w, long tokens, long reasoning, Boolean cacheHit, long prompt, long cached,
            long calls) {
        w.calls += calls;
        w.tokens += tokens;
        w.reasoningTokens += reasoning;
        if (cacheHit != null) {
            w.cacheKnown += calls;
            w.cacheHits += cacheHit ? calls : 0;
        }
        w.promptTokens += prompt;
        w.cachedTokens += cached;
    }

    private void judge(BoundedMap<String, WindowSeries> map, WindowSeries series, Window window,
            List<Failure> failures) {
        if (window.calls == 0) {
            return;
        }
        List<Window> earlier = series.before(window);
        earlier.removeIf(w -> w.calls == 0);
        if (map == deployments) {
            tokenSpike(series, window, earlier, failures);
        } else {
            cacheStorm(series, window, earlier, PROXY_STORM, w -> w.proxyHitRatio(), w -> w.cacheKnown, failures);
            cacheStorm(series, window, earlier, PROMPT_STORM, w -> w.promptCacheRatio(), w -> w.calls, failures);
        }
    }

    private void tokenSpike(WindowSeries series, Window window, List<Window> earlier, List<Failure> failures) {
        if ((window.raised & SPIKE) != 0 || earlier.size() < tokens.minWindows()) {
            return;
        }
        long p99 = TokenHistory.p99(earlier.stream().mapToLong(w -> w.tokens).toArray());
        long p99Reasoning = TokenHistory.p99(earlier.stream().mapToLong(w -> w.reasoningTokens).toArray());
        boolean total = window.tokens >= tokens.minTokens() && window.tokens > p99 * tokens.windowFactor();
        boolean reasoning = window.reasoningTokens >= tokens.minTokens() && p99Reasoning > 0
                && window.reasoningTokens > p99Reasoning * tokens.windowFactor();
        if (!total && !reasoning) {
            return;
        }
        Map<String, Object> evidence = windowEvidence(series, window);
        evidence.put("tokens", window.tokens);
        evidence.put("p99_window_tokens", p99);
        evidence.put("reasoning_tokens", window.reasoningTokens);
        evidence.put("p99_window_reasoning_tokens", p99Reasoning);
        evidence.put("spiked", total && reasoning ? "tokens,reasoning_tokens" : total ? "tokens" : "reasoning_tokens");
        evidence.put("factor", tokens.windowFactor());
        evidence.put("earlier_windows", earlier.size());
        window.raised |= SPIKE;
        failures.add(Failure.of(Type.TOKEN_SPIKE, UUID.randomUUID(), series.end(window), tokens.severity(),
                series.provider, series.subject, "cost.tokens.window_p99", evidence,
                new ImpactScope(null, null, null, null, null)));
    }

    private void cacheStorm(WindowSeries series, Window window, List<Window> earlier, int detector,
            Function<Window, Double> ratio, Function<Window, Long> volume, List<Failure> failures) {
        double current = ratio.apply(window);
        if ((window.raised & detector) != 0 || Double.isNaN(current) || volume.apply(window) < cache.minCalls()) {
            return;
        }
        double weighted = 0;
        long levelVolume = 0;
        int windows = 0;
        for (Window w : earlier) {
            double r = ratio.apply(w);
            if (!Double.isNaN(r) && volume.apply(w) > 0) {
                weighted += r * volume.apply(w);
                levelVolume += volume.apply(w);
                windows++;
            }
        }
        if (windows < cache.minWindows() || levelVolume == 0) {
            return;
        }
        double level = weighted / levelVolume;
        double averageVolume = (double) levelVolume / windows;
        if (level < cache.minLevel() || current > level * (1 - cache.dropFraction())
                || volume.apply(window) < averageVolume * cache.volumeFloor()) {
            return;
        }
        Map<String, Object> evidence = windowEvidence(series, window);
        evidence.put("signal", detector == PROXY_STORM ? "proxy_cache" : "prompt_cache");
        if (series.model != null) {
            evidence.put("model", series.model);
        }
        evidence.put("hit_ratio", round(current));
        evidence.put("rolling_level", round(level));
        evidence.put("drop_fraction", cache.dropFraction());
        evidence.put("calls", window.calls);
        evidence.put("average_calls", Math.round(averageVolume));
        evidence.put("earlier_windows", windows);
        window.raised |= detector;
        failures.add(Failure.of(Type.CACHE_MISS_STORM, UUID.randomUUID(), series.end(window), cache.severity(),
                series.provider, series.subject, "cost.cache.rolling_level", evidence,
                new ImpactScope(series.key.startsWith("m|") ? series.subject : series.model, null, null, null,
                        null)));
    }

    private Map<String, Object> windowEvidence(WindowSeries series, Window window) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("scope", series.key.startsWith("d|") ? "deployment" : series.key.startsWith("m|") ? "model"
                : "api_key");
        evidence.put("window_start", window.start.toString());
        evidence.put("window_end", series.end(window).toString());
        if (window.lateCalls > 0) {
            // Judged again after calls arrived once the window had closed: how many, so a reader knows why the
            // failure was raised after its time.
            evidence.put("late_calls", window.lateCalls);
        }
        return evidence;
    }

    private static String keySeries(String keyHash, String model) {
        return "k|" + keyHash + "|" + (model == null ? "" : model);
    }

    private static String keySubject(String keyHash) {
        return "key:" + keyHash.substring(0, Math.min(12, keyHash.length()));
    }

    private static double round(double value) {
        return Math.round(value * 1000) / 1000.0;
    }

    /** Rebuilds the series and the per-call histories from the calls stored in the last history span. */
    void onStart(@Observes DatabaseReady event) {
        try {
            rebuild();
        } catch (RuntimeException e) {
            Log.errorf(e, "Could not rebuild the usage windows; they fill again from new calls");
        }
    }

    /** Forgets everything held in memory and reads it back from {@code llm_calls}: what a restart does. */
    public void rebuild() {
        deployments.clear();
        models.clear();
        keys.clear();
        callSpikes.forget();
        Instant now = clock.instant();
        Instant since = Instant.ofEpochMilli(now.toEpochMilli() - Math.floorMod(now.toEpochMilli(), windowMillis))
                .minusMillis(windowMillis * tokens.historyWindows());
        Instant judgedThrough;
        try (Connection c = dataSource.getConnection()) {
            judgedThrough = judgedThrough(c);
            seedWindows(c, since, now, "provider, deployment", deployments, "d|", r -> r[0], r -> r[1]);
            seedWindows(c, since, now, "provider, coalesce(model_group, model)", models, "m|", r -> r[0], r -> r[1]);
            seedWindows(c, since, now, "api_key_hash, coalesce(model_group, model)", keys, "k|", r -> "litellm",
                    r -> keySubject(r[0]));
            seedCalls(c, now);
        } catch (SQLException e) {
            throw new IllegalStateException("could not read stored calls", e);
        }
        // What the windows read back raised before the restart is not stored with them: judge them again, oldest
        // first and silently, so that each remembers what it raised and a late call into it does not raise it twice.
        // A window that ended after the last tick's cutoff was not judged yet (it closed shortly before the
        // restart): judged silently it would never raise, so it is judged aloud.
        List<Failure> alreadyRaised = new ArrayList<>();
        List<Failure> failures = new ArrayList<>();
        for (BoundedMap<String, WindowSeries> map : List.of(deployments, models, keys)) {
            for (WindowSeries series : map.values()) {
                synchronized (series) {
                    for (Window window : series.closedOldestFirst()) {
                        boolean judged = judgedThrough == null || !series.end(window).isAfter(judgedThrough);
                        judge(map, series, window, judged ? alreadyRaised : failures);
                    }
                }
            }
        }
        sink.raise(notStoredYet(failures));
    }

    /**
     * The failures of windows that ended after the last tick's cutoff that are not stored yet: a later call closes a
     * window and judges it at once, between two ticks, so a restart before the next tick judges it again. Stored
     * means an episode of its fingerprint spans its time, or the inbox holds it (raised, not folded yet).
     */
    private List<Failure> notStoredYet(List<Failure> failures) {
        if (failures.isEmpty()) {
            return failures;
        }
        List<Failure> fresh = new ArrayList<>(failures.size());
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select exists"
                + " (select 1 from failure_events where fingerprint = ? and first_seen <= ? and last_seen >= ?)"
                + " or exists (select 1 from failure_inbox where type = ? and provider = ? and deployment = ?"
                + " and occurred_at = ?)")) {
            for (Failure f : failures) {
                Timestamp at = Timestamp.from(f.timestamp());
                st.setString(1, f.fingerprint());
                st.setTimestamp(2, at);
                st.setTimestamp(3, at);
                st.setString(4, f.type().code());
                st.setString(5, f.provider());
                st.setString(6, f.deployment());
                st.setTimestamp(7, at);
                try (ResultSet rs = st.executeQuery()) {
                    if (!(rs.next() && rs.getBoolean(1))) {
                        fresh.add(f);
                    }
                }
            }
        } catch (SQLException e) {
            // Raising twice counts one occurrence too many; not raising would lose the window: raise them all.
            Log.warnf(e, "Could not check which usage windows were raised before the restart; raising all");
            return failures;
        }
        return fresh;
    }

    private void seedWindows(Connection c, Instant since, Instant now, String groupBy,
            BoundedMap<String, WindowSeries> map, String prefix, Function<String[], String> provider,
            Function<String[], String> subject) throws SQLException {
        // Closed windows only (the open one fills from new calls); oldest first so that the ring keeps the newest.
        // date_bin, not to_timestamp(floor(extract(epoch ...))): extract returns numeric, and its arithmetic on every
        // row of the last hours was a third of this query (a day of calls at 12/s: 345 -> 236 ms per series).
        String sql = "select " + groupBy + ", date_bin(? * interval '1 millisecond', ended_at,"
                + " timestamptz '1970-01-01 00:00:00+00') as w, count(*), sum(prompt_tokens + completion_tokens),"
                + " sum(reasoning_tokens),"
                + " count(cache_hit), count(*) filter (where cache_hit), sum(prompt_tokens), sum(cached_tokens)"
                + " from llm_calls where started_at >= ? and ended_at < ? and success group by 1, 2, 3 order by 3";
        Instant openStart = Instant.ofEpochMilli(now.toEpochMilli() - Math.floorMod(now.toEpochMilli(),
                windowMillis));
        try (PreparedStatement st = c.prepareStatement(sql)) {
            st.setLong(1, windowMillis);
            st.setTimestamp(2, Timestamp.from(since.minus(Duration.ofHours(1))));
            st.setTimestamp(3, Timestamp.from(openStart));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    String[] ids = { rs.getString(1), rs.getString(2) };
                    boolean key = "k|".equals(prefix);
                    if (ids[key ? 0 : 1] == null) {
                        continue;
                    }
                    Instant start = rs.getTimestamp(3).toInstant();
                    if (start.isBefore(since)) {
                        continue;
                    }
                    WindowSeries series = map.get(key ? keySeries(ids[0], ids[1]) : prefix + ids[0] + "|" + ids[1],
                            k -> new WindowSeries(k, provider.apply(ids), subject.apply(ids), key ? ids[1] : null,
                                    windowMillis, tokens.historyWindows()));
                    Window window = new Window(start);
                    window.calls = rs.getLong(4);
                    window.tokens = rs.getLong(5);
                    window.reasoningTokens = rs.getLong(6);
                    window.cacheKnown = rs.getLong(7);
                    window.cacheHits = rs.getLong(8);
                    window.promptTokens = rs.getLong(9);
                    window.cachedTokens = rs.getLong(10);
                    synchronized (series) {
                        series.seedClosed(window);
                    }
                }
            }
        }
    }

    /**
     * The per-call token histories: the last {@code history-calls} successful calls of each deployment started within
     * {@code history-horizon} (7 days; it was 6 hours, under the 200 calls a p99 needs for a deployment called every
     * few minutes), by start time, fed oldest end first. The deployments come from {@code provider_deployments}
     * (ingest records every deployment it sees there at least once a minute), and each one's calls are read
     * backwards on its {@code (deployment, started_at)} index until the history is full, about history-calls rows
     * per deployment. A window function over every call of the 6 hours read and sorted all of them: 430-740 ms of a
     * start with a day of calls at 12/s (233,000 calls), against 18-25 ms this way (PostgreSQL 15).
     */
    private void seedCalls(Connection c, Instant now) throws SQLException {
        String sql = "select d.provider, d.deployment, t.tokens, t.reasoning_tokens from provider_deployments d"
                + " cross join lateral (select prompt_tokens + completion_tokens as tokens, reasoning_tokens,"
                + " started_at, ended_at from llm_calls where deployment = d.deployment and provider = d.provider"
                + " and started_at >= ? and success and prompt_tokens + completion_tokens > 0"
                + " order by started_at desc limit ?) t where d.last_seen >= ? order by t.ended_at, t.started_at";
        Instant since = now.minus(tokens.historyHorizon());
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(false);
        try {
            try (Statement set = c.createStatement()) {
                // The planner takes the provider filter as independent of the deployment and expects to read ~5x the
                // rows before the limit, so it picks a bitmap scan of all 6 hours of each deployment (~20 ms each on
                // PostgreSQL 15) or, with those off, a sequential scan of the day's partition per deployment (2.2 s
                // of a start with a day of calls on PostgreSQL 17, make startup); and the plan's estimated cost is
                // high enough for JIT compilation, which alone took 400-600 ms. What is left is the index read
                // backwards on (deployment, started_at) that stops at the limit: 24 ms for the same day.
                set.execute("select set_config('enable_bitmapscan', 'off', true),"
                        + " set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)");
            }
            try (PreparedStatement st = c.prepareStatement(sql)) {
                st.setTimestamp(1, Timestamp.from(since));
                st.setInt(2, tokens.historyCalls());
                // A deployment's last_seen is at most a minute behind its last call (EpisodeFolder.touch); an hour
                // of slack also covers calls that started long before they were stored.
                st.setTimestamp(3, Timestamp.from(since.minus(Duration.ofHours(1))));
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        callSpikes.seed(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4));
                    }
                }
            }
            c.commit();
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(autoCommit);
        }
    }

    /** Series held in memory, per kind: for tests and the bound. */
    int seriesHeld() {
        return deployments.size() + models.size() + keys.size();
    }
}
