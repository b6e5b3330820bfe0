package io.faultline.bench;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Thirty days of stored history for {@link CorrelationBench}, written by PostgreSQL itself (generate_series, one
 * insert-select per table) so that a million calls take a minute or two on two cores: base traffic over 3 providers
 * x 4 deployments with 9% provider failures (half of them retried on another provider in the same trace), 2.5%
 * quality failures (20% on fallback traffic), one 20-minute 429 storm a day, and the episodes the fold would make of
 * those failures (fingerprint, 5-minute gap). A sample of past temporal triples becomes closed clusters.
 */
final class CorrelationSeed {

    static final String[] PROVIDERS = { "openai", "anthropic", "gemini" };
    static final String[] MODELS = { "gpt-4o-mini", "claude-3-5-haiku", "gemini-2.0-flash" };
    static final String[] REGIONS = { "eu", "us", "asia", "batch" };

    /** Base calls; the storms and their fallbacks bring the total just over a million. */
    static final int BASE_CALLS = Integer.getInteger("bench.seedCalls", 925_000);
    static final int STORMS = 30;
    static final int STORM_CALLS = 2_000;

    private CorrelationSeed() {
    }

    /** Deployment {@code k} of the 12: provider {@code k % 3}, region {@code k / 3}. */
    static String deployment(int k) {
        return PROVIDERS[k % 3] + "-" + REGIONS[(k / 3) % 4];
    }

    record Seeded(Instant start, Instant end, Map<String, Double> stepSeconds, Map<String, Long> counts) {
        double totalSeconds() {
            return stepSeconds.values().stream().mapToDouble(Double::doubleValue).sum();
        }
    }

    static boolean present(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select to_regclass('bench_seed_info') is not null")) {
            rs.next();
            if (!rs.getBoolean(1)) {
                return false;
            }
        }
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select count(*) from bench_seed_info")) {
            rs.next();
            return rs.getLong(1) > 0;
        }
    }

    static Instant end(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select seed_end from bench_seed_info")) {
            rs.next();
            return rs.getTimestamp(1).toInstant();
        }
    }

    static Seeded seed(Connection c, Instant end) throws SQLException {
        Instant start = end.minus(Duration.ofDays(30));
        Map<String, Double> steps = new LinkedHashMap<>();
        c.setAutoCommit(true);
        try (Statement st = c.createStatement()) {
            // Bulk load: the seed is reproducible, so a crash loses nothing worth an fsync per commit.
            st.execute("set synchronous_commit = off");
            st.execute("set maintenance_work_mem = '256MB'");
            st.execute("set work_mem = '64MB'");
            long t = System.nanoTime();
            // Daily partitions as PartitionMaintenance would have left them after 30 days of running.
            LocalDate today = LocalDate.now(ZoneOffset.UTC);
            for (LocalDate day = LocalDate.ofInstant(start, ZoneOffset.UTC); day.isBefore(today.plusDays(2));
                    day = day.plusDays(1)) {
                String name = "llm_calls_" + day.toString().replace("-", "");
                st.execute("create table if not exists " + name + " partition of llm_calls for values from ('" + day
                        + "') to ('" + day.plusDays(1) + "')");
            }
            t = step(steps, "partitions", t);

            double step = Duration.between(start, end).toMillis() / 1000.0 / BASE_CALLS;
            try (PreparedStatement ps = c.prepareStatement(baseCalls())) {
                ps.setTimestamp(1, Timestamp.from(start));
                ps.setDouble(2, step);
                ps.setLong(3, BASE_CALLS);
                ps.executeUpdate();
            }
            t = step(steps, "base calls", t);
            try (PreparedStatement ps = c.prepareStatement(stormCalls())) {
                ps.setTimestamp(1, Timestamp.from(start));
                ps.setTimestamp(2, Timestamp.from(start));
                ps.executeUpdate();
            }
            t = step(steps, "storm calls", t);

            st.execute("drop table if exists seed_failures");
            st.execute("""
                    create unlogged table seed_failures as
                    select call_id, ended_at as at, provider, deployment, user_ref, trace_id, started_at, model,
                        'PROVIDER'::text as category,
                        case error_class when 'RateLimitError' then 'rate_limit' when 'Timeout' then 'timeout'
                            when 'InternalServerError' then 'overloaded' when 'APIError' then 'malformed_response'
                            when 'ContextWindowExceededError' then 'context_overflow'
                            when 'ContentPolicyViolationError' then 'content_filtered' else 'outage' end as type
                    from llm_calls where not success
                    union all
                    select call_id, ended_at, provider, deployment, user_ref, trace_id, started_at, model, 'QUALITY',
                        (array['hallucination','low_faithfulness','format_non_compliance','language_drift'])
                            [1 + abs(hashtext(call_id)) % 4]
                    from llm_calls where success and (
                        (call_id like 'seed-%' and trace_id = 'tr-' || substr(call_id, 6)
                            and abs(hashtext(call_id)) % 1000 < 25)
                        or (call_id like 'seed-%' and trace_id <> 'tr-' || substr(call_id, 6)
                            and abs(hashtext(call_id)) % 10 < 2)
                        or (call_id like 'stormfb-%' and abs(hashtext(call_id)) % 10 < 1))
                    """);
            st.execute("drop table if exists seed_bursts");
            st.execute("""
                    create unlogged table seed_bursts as
                    select *, md5(fingerprint || '#' || sum(case when prev is null or at - prev > interval '5 minutes'
                               then 1 else 0 end) over (partition by fingerprint order by at, call_id))::uuid as episode
                    from (select f.*, lag(at) over (partition by fingerprint order by at, call_id) as prev
                          from (select *, category || '|' || type || '|' || provider || '|' || deployment as fingerprint
                                from seed_failures) f) x
                    """);
            t = step(steps, "fold failures into episodes", t);
            st.execute("""
                    insert into failure_events (failure_id, fingerprint, category, type, severity, provider,
                        deployment, detection_method, evidence, impact_scope, first_seen, last_seen, occurrences,
                        affected_requests, affected_users)
                    select episode, fingerprint, category, type,
                        case when count(*) >= 1000 then 'P1' when count(*) >= 100 then 'P2'
                             when count(*) >= 5 then 'P3' else 'P4' end,
                        provider, deployment, 'seed', '{"seeded": true}'::jsonb, '{}'::jsonb, min(at), max(at),
                        count(*), count(*), count(distinct user_ref)
                    from seed_bursts group by episode, fingerprint, category, type, provider, deployment
                    """);
            // With the failed attempt, as the fold links a call (V30)
            st.execute("insert into failure_event_calls (failure_id, call_id, seen_at, trace_id, call_started_at,"
                    + " model) select episode, call_id, at, trace_id, started_at, model from seed_bursts");
            st.execute("insert into failure_event_users (failure_id, user_ref, seen_at)"
                    + " select episode, user_ref, min(at) from seed_bursts where user_ref is not null"
                    + " group by episode, user_ref");
            t = step(steps, "episodes, episode calls and users", t);
            // Every tenth triple of consecutive temporal-type provider onsets: a closed upstream cluster.
            st.execute("""
                    create temp table seed_triples as
                    select failure_id, provider, first_seen, last_seen, rn / 3 as grp, rn % 3 as pos
                    from (select failure_id, provider, first_seen, last_seen,
                                 row_number() over (order by first_seen, failure_id) - 1 as rn
                          from failure_events where category = 'PROVIDER'
                              and type in ('outage','overloaded','timeout','rate_limit','malformed_response')) t
                    where (rn / 3) % 10 = 0
                    """);
            st.execute("""
                    insert into correlation_clusters (cluster_id, type, status, strength, confidence,
                        root_failure_id, root_reason, providers, evidence, first_seen, last_seen, last_activity,
                        opened_at, closed_at)
                    select md5('cluster#' || grp)::uuid, 'upstream', 'closed', 0.6, 0.5,
                        (array_agg(failure_id order by pos))[1], 'seeded', to_jsonb(array_agg(distinct provider)),
                        '{"seeded": true}'::jsonb, min(first_seen), max(last_seen), max(last_seen), min(first_seen),
                        max(last_seen) + interval '15 minutes'
                    from seed_triples group by grp having count(*) = 3
                    """);
            st.execute("""
                    insert into correlation_members (cluster_id, failure_id, joined_at)
                    select md5('cluster#' || grp)::uuid, failure_id, first_seen from seed_triples t
                    where exists (select 1 from correlation_clusters k where k.cluster_id = md5('cluster#' || t.grp)::uuid)
                    """);
            st.execute("""
                    insert into correlation_edges (edge_key, from_failure_id, to_failure_id, kind, confidence,
                        evidence, cluster_id, created_at, updated_at)
                    select a.failure_id || '|temporal|' || b.failure_id, a.failure_id, b.failure_id, 'temporal', 0.5,
                        '{"seeded": true}'::jsonb, md5('cluster#' || a.grp)::uuid, b.first_seen, b.first_seen
                    from seed_triples a join seed_triples b on b.grp = a.grp and b.pos > 0 and a.pos = 0
                    join correlation_clusters k on k.cluster_id = md5('cluster#' || a.grp)::uuid
                    """);
            t = step(steps, "closed clusters, members, edges", t);
            st.execute("drop table seed_bursts");
            st.execute("drop table seed_failures");
            st.execute("drop table seed_triples");
            // Production tables are vacuumed and analysed by autovacuum: it gathers their statistics, and its insert
            // threshold vacuums a table that only grows, which sets the visibility map that index-only scans read.
            // The seed is one big write, so do both now.
            st.execute("vacuum (analyze)");
            t = step(steps, "vacuum and analyze", t);
            st.execute("create table bench_seed_info (seed_start timestamptz, seed_end timestamptz)");
            try (PreparedStatement ps = c.prepareStatement("insert into bench_seed_info values (?, ?)")) {
                ps.setTimestamp(1, Timestamp.from(start));
                ps.setTimestamp(2, Timestamp.from(end));
                ps.executeUpdate();
            }
        }
        return new Seeded(start, end, steps, counts(c));
    }

    static Map<String, Long> counts(Connection c) throws SQLException {
        Map<String, Long> counts = new LinkedHashMap<>();
        for (String table : new String[] { "llm_calls", "failure_events", "failure_event_calls", "failure_event_users",
                "correlation_clusters", "correlation_members", "correlation_edges" }) {
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select count(*) from " + table)) {
                rs.next();
                counts.put(table, rs.getLong(1));
            }
        }
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select count(*) from failure_events"
                + " where occurrences >= 100")) {
            rs.next();
            counts.put("episodes with >= 100 calls", rs.getLong(1));
        }
        return counts;
    }

    private static long step(Map<String, Double> steps, String name, long since) {
        long now = System.nanoTime();
        steps.put(name, (now - since) / 1e9);
        return now;
    }

    private static final String FAILURE_STATUS = "case when k < 50 then 429 when k < 70 then 408 when k < 80 then 529"
            + " when k < 85 then 500 when k < 95 then 400 when k < 97 then 451 else 503 end";
    private static final String FAILURE_CLASS = "case when k < 50 then 'RateLimitError' when k < 70 then 'Timeout'"
            + " when k < 80 then 'InternalServerError' when k < 85 then 'APIError'"
            + " when k < 95 then 'ContextWindowExceededError' when k < 97 then 'ContentPolicyViolationError'"
            + " else 'ServiceUnavailableError' end";

    private static final String INSERT_CALLS = "insert into llm_calls (call_id, started_at, ended_at, trace_id,"
            + " provider, model, model_group, deployment, api_base, call_type, stream, success, http_status,"
            + " error_class, latency_ms, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost_usd,"
            + " cache_hit, finish_reason, response_chars, user_ref, team_id, api_key_hash, rate_limit_headers,"
            + " requester_metadata, received_at) ";

    /** The calls' common tail: everything derived from the hash {@code h}, failure flag, provider and region. */
    private static final String CALL_TAIL = """
            (array['openai','anthropic','gemini'])[p + 1], (array['gpt-4o-mini','claude-3-5-haiku','gemini-2.0-flash'])[p + 1],
            (array['gpt-4o-mini','claude-3-5-haiku','gemini-2.0-flash'])[p + 1],
            (array['openai','anthropic','gemini'])[p + 1] || '-' || (array['eu','us','asia','batch'])[d + 1],
            'https://api.example/' || p, 'acompletion', false, not failed,
            case when failed then http else 200 end, case when failed then cls end, lat,
            case when failed then 0 else 200 + h % 1800 end, case when failed then 0 else 50 + h % 400 end, 0, 0,
            case when failed then 0 else 0.0001 * (1 + h % 50) end, false, case when failed then null else 'stop' end,
            case when failed then 0 else 200 + h % 2000 end, 'user-' || (h / 7) % 5000, 'team-' || (h / 11) % 20,
            'key-' || (h / 13) % 50, '{}'::jsonb, '{}'::jsonb, at + lat * interval '1 millisecond'
            """;

    /**
     * {@code i} in 1..N, 2.6 s apart with jitter, round-robin over the 12 deployments so that consecutive calls are
     * on different providers. A failed call is, every other time, retried by the next call in the same trace.
     */
    static String baseCalls() {
        return INSERT_CALLS + """
                select 'seed-' || i, at, at + lat * interval '1 millisecond',
                    'tr-' || case when prev_failed and (prev_h / 1000) % 2 = 0 then i - 1 else i end,
                """ + CALL_TAIL + """
                from (select *, {STATUS} as http, {CLASS} as cls
                      from (select i, h, prev_h, i % 3 as p, (i / 3) % 4 as d, h % 100 < 9 as failed,
                                   prev_h % 100 < 9 as prev_failed, (h / 100) % 100 as k, 200 + h % 3000 as lat,
                                   ?::timestamptz + (i * ? + ((i * 7919) % 1500) / 1000.0) * interval '1 second' as at
                            from (select i, (i * 2654435761) % 4294967296 as h,
                                         ((i - 1) * 2654435761) % 4294967296 as prev_h
                                  from generate_series(1::bigint, ?) i) g) s) f
                """.replace("{STATUS}", FAILURE_STATUS).replace("{CLASS}", FAILURE_CLASS);
    }

    /**
     * One 20-minute storm a day at 13:00 on deployment {@code s % 12}: 2,000 calls 0.6 s apart, 90% of them 429s,
     * and three in ten of the failures retried 1 s later on the next deployment (another provider) in the same trace.
     */
    static String stormCalls() {
        String storm = """
                select 'storm-' || s || '-' || j, at, at + lat * interval '1 millisecond', 'st-' || s || '-' || j,
                """ + CALL_TAIL + """
                from (select s, j, h, (s % 12) % 3 as p, ((s % 12) / 3) % 4 as d, h % 10 <> 0 as failed,
                             429 as http, 'RateLimitError' as cls, 200 + h % 800 as lat,
                             ?::timestamptz + (s * 86400 + 13 * 3600 + j * 0.6) * interval '1 second' as at
                      from (select s, j, ((s * 100000 + j) * 2654435761) % 4294967296 as h
                            from generate_series(0, {S}) s, generate_series(0, {J}) j) g) x
                """.replace("{S}", String.valueOf(STORMS - 1)).replace("{J}", String.valueOf(STORM_CALLS - 1));
        String fallback = """
                select 'stormfb-' || s || '-' || j, at, at + lat * interval '1 millisecond', 'st-' || s || '-' || j,
                """ + CALL_TAIL + """
                from (select s, j, h, ((s + 1) % 12) % 3 as p, (((s + 1) % 12) / 3) % 4 as d, false as failed,
                             200 as http, null::text as cls, 300 + h % 900 as lat,
                             ?::timestamptz + (s * 86400 + 13 * 3600 + j * 0.6 + 1) * interval '1 second' as at
                      from (select s, j, ((s * 100000 + j) * 2654435761) % 4294967296 as h
                            from generate_series(0, {S}) s, generate_series(0, {J}) j) g
                      where h % 10 <> 0 and j % 10 in (1, 4, 7)) x
                """.replace("{S}", String.valueOf(STORMS - 1)).replace("{J}", String.valueOf(STORM_CALLS - 1));
        return INSERT_CALLS + storm + " union all " + fallback;
    }

    static String describe(Seeded s) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "Seeded %s .. %s in %.1f s:", s.start(), s.end(), s.totalSeconds()));
        s.stepSeconds().forEach((k, v) -> b.append(String.format(Locale.ROOT, " %s %.1f s;", k, v)));
        b.append("\nRows:");
        s.counts().forEach((k, v) -> b.append(String.format(Locale.ROOT, " %s %,d;", k, v)));
        return b.toString();
    }
}
