package io.faultline.cost;

import io.agroal.api.AgroalDataSource;
import io.faultline.call.PartitionMaintenance;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Array;
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
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Predicate;

/**
 * SQL of the cost detectors: spend summed from {@code llm_calls} (the source of truth every replica shares), the
 * budgets and batches set through the API, and the thresholds that already fired.
 */
@ApplicationScoped
public class CostStore {

    /** Must match the expression of the {@code llm_calls_batch_ended} index (V51). */
    public static final String BATCH_ID = "coalesce(requester_metadata ->> 'batch_id', requester_metadata ->> 'job_id')";
    /** Calls are attributed to a period by their end; this slack lets the partition key prune without losing any. */
    private static final Duration CALL_SLACK = Duration.ofDays(1);
    /**
     * Sums of doubles drift in the last bits, by an amount that grows with the sum: a crossing is judged with this
     * tolerance relative to the limit (and at least this many dollars). A fixed 1e-9 was too tight for large sums:
     * a million calls of $0.0079 add up to 7,899.999999833, and the $7,900 budget's 100% alert came one call late.
     */
    static final double EPSILON = 1e-9;

    /** The tolerance a spend is compared with {@code limit} under: {@link #EPSILON} of it, at least EPSILON. */
    static double tolerance(double limit) {
        return EPSILON * Math.max(1.0, Math.abs(limit));
    }

    /** Whether {@code spent} reached {@code limit} (a budget threshold), within the sums' drift. */
    static boolean reached(double spent, double limit) {
        return spent >= limit - tolerance(limit);
    }

    /** Whether {@code spent} went past {@code limit} (a batch's expectation), beyond the sums' drift. */
    static boolean passed(double spent, double limit) {
        return spent > limit + tolerance(limit);
    }

    private final AgroalDataSource dataSource;
    private final Clock clock;
    private final PartitionMaintenance.RetentionConfig callRetention;

    public CostStore(AgroalDataSource dataSource, Clock clock, PartitionMaintenance.RetentionConfig callRetention) {
        this.dataSource = dataSource;
        this.clock = clock;
        this.callRetention = callRetention;
    }

    /** Spend and number of calls. */
    public record Sum(double spentUsd, long calls) {
        static final Sum ZERO = new Sum(0, 0);
    }

    /** The call at which the running spend passed a limit, and the spend and call count at that call. */
    public record Crossing(Instant endedAt, String callId, double spentUsd, long calls, String model,
            String modelGroup, String userRef, String teamId) {
    }

    public record BudgetRow(BudgetScope scope, String scopeId, Period period, double amountUsd, List<Double> warnAt,
            Instant updatedAt) {
    }

    /** The spend row of a budget's scope in one period ({@code budget_spend}). */
    public record SpendKey(BudgetScope scope, String id, Period period, Instant periodStart) {
    }

    public record BatchRow(String batchId, double expectedCostUsd, String source, Instant updatedAt) {
    }

    // ---- spend

    private static Map<String, Sum> budgetSums(Connection c, BudgetScope scope, Collection<String> ids, Instant from,
            Instant to) throws SQLException {
        String sql = "select " + scope.column + " k, sum(cost_usd), count(*) from llm_calls where " + scope.column
                + " = any(?) and started_at >= ? and started_at < ? and ended_at >= ? and ended_at < ? group by k";
        try (PreparedStatement st = c.prepareStatement(sql)) {
            st.setArray(1, c.createArrayOf("text", ids.toArray()));
            st.setTimestamp(2, Timestamp.from(from.minus(CALL_SLACK)));
            st.setTimestamp(3, Timestamp.from(to));
            st.setTimestamp(4, Timestamp.from(from));
            st.setTimestamp(5, Timestamp.from(to));
            try (ResultSet rs = st.executeQuery()) {
                return sums(rs);
            }
        }
    }

    /**
     * Adds the spend of calls just inserted on {@code c} (the ingest's transaction) to {@code budget_spend}, for the
     * keys a budget watches: ones with a stored budget of that scope, id and period, or {@code configured} ones that
     * no stored budget sets to another period (written both, the overridden period's row grew for nothing). The
     * rows are taken in key order, so that two ingests touching the same budgets never wait for each other's. Returns
     * the keys written: every key with a budget, whichever replica stored it.
     */
    public Set<SpendKey> addBudgetSpend(Connection c, Map<SpendKey, Sum> deltas, Predicate<SpendKey> configured)
            throws SQLException {
        if (deltas.isEmpty()) {
            return Set.of();
        }
        int n = deltas.size();
        String[] scopes = new String[n];
        String[] ids = new String[n];
        String[] periods = new String[n];
        Timestamp[] starts = new Timestamp[n];
        Double[] spent = new Double[n];
        Long[] calls = new Long[n];
        Boolean[] watched = new Boolean[n];
        int i = 0;
        for (Map.Entry<SpendKey, Sum> e : deltas.entrySet()) {
            SpendKey k = e.getKey();
            scopes[i] = k.scope().code();
            ids[i] = k.id();
            periods[i] = k.period().code();
            starts[i] = Timestamp.from(k.periodStart());
            spent[i] = e.getValue().spentUsd();
            calls[i] = e.getValue().calls();
            watched[i] = configured.test(k);
            i++;
        }
        String sql = "insert into budget_spend as s (scope, scope_id, period, period_start, spent_usd, calls)"
                + " select d.scope, d.scope_id, d.period, d.period_start, d.spent_usd, d.calls from unnest(?::text[],"
                + " ?::text[], ?::text[], ?::timestamptz[], ?::float8[], ?::int8[], ?::bool[])"
                + " as d(scope, scope_id, period, period_start, spent_usd, calls, configured) where case when"
                // a budget set through the API replaces the configured one, its period included
                + " d.configured then not exists (select 1 from budgets b where b.scope = d.scope"
                + " and b.scope_id = d.scope_id and b.period <> d.period) else exists (select 1 from budgets b"
                + " where b.scope = d.scope and b.scope_id = d.scope_id and b.period = d.period) end"
                + " order by d.scope, d.scope_id, d.period, d.period_start"
                + " on conflict (scope, scope_id, period, period_start) do update set"
                + " spent_usd = s.spent_usd + excluded.spent_usd, calls = s.calls + excluded.calls"
                + " returning s.scope, s.scope_id, s.period, s.period_start";
        Set<SpendKey> written = new HashSet<>();
        try (PreparedStatement st = c.prepareStatement(sql)) {
            st.setArray(1, c.createArrayOf("text", scopes));
            st.setArray(2, c.createArrayOf("text", ids));
            st.setArray(3, c.createArrayOf("text", periods));
            st.setArray(4, c.createArrayOf("timestamptz", starts));
            st.setArray(5, c.createArrayOf("float8", spent));
            st.setArray(6, c.createArrayOf("int8", calls));
            st.setArray(7, c.createArrayOf("bool", watched));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    BudgetScope scope = BudgetScope.parse(rs.getString(1));
                    Period period = Period.parse(rs.getString(3));
                    if (scope != null && period != null) {
                        written.add(new SpendKey(scope, rs.getString(2), period, rs.getTimestamp(4).toInstant()));
                    }
                }
            }
        }
        return written;
    }

    /** The stored spend rows of {@code keys}; a key without a row is absent. */
    public Map<SpendKey, Sum> budgetSpend(Collection<SpendKey> keys) {
        if (keys.isEmpty()) {
            return Map.of();
        }
        try (Connection c = dataSource.getConnection()) {
            return budgetSpend(c, keys);
        } catch (SQLException e) {
            throw new CostStoreException(e);
        }
    }

    private static Map<SpendKey, Sum> budgetSpend(Connection c, Collection<SpendKey> keys) throws SQLException {
        List<SpendKey> list = List.copyOf(keys);
        String sql = "select d.i, s.spent_usd, s.calls from unnest(?::text[], ?::text[], ?::text[], ?::timestamptz[])"
                + " with ordinality as d(scope, scope_id, period, period_start, i) join budget_spend s"
                + " on s.scope = d.scope and s.scope_id = d.scope_id and s.period = d.period"
                + " and s.period_start = d.period_start";
        try (PreparedStatement st = c.prepareStatement(sql)) {
            st.setArray(1, c.createArrayOf("text", list.stream().map(k -> k.scope().code()).toArray()));
            st.setArray(2, c.createArrayOf("text", list.stream().map(SpendKey::id).toArray()));
            st.setArray(3, c.createArrayOf("text", list.stream().map(k -> k.period().code()).toArray()));
            st.setArray(4, c.createArrayOf("timestamptz",
                    list.stream().map(k -> Timestamp.from(k.periodStart())).toArray()));
            Map<SpendKey, Sum> rows = new HashMap<>();
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    rows.put(list.get(rs.getInt(1) - 1), new Sum(rs.getDouble(2), rs.getLong(3)));
                }
            }
            return rows;
        }
    }

    /**
     * Corrects the spend rows of {@code ids} in one scope and period to the sums of their stored calls, and returns the
     * rows. The rows and the sums are read in one snapshot, and the difference is added to the rows after: an ingest
     * that commits meanwhile adds its own calls to them, so none is lost or counted twice, and no row is locked while
     * the calls are summed (a sum over a month of calls would hold the scope's ingests back).
     */
    public Map<String, Sum> restateBudgetSpend(BudgetScope scope, Period period, Instant start,
            Collection<String> ids) {
        if (ids.isEmpty()) {
            return Map.of();
        }
        List<String> sorted = ids.stream().sorted().distinct().toList();
        List<SpendKey> keys = sorted.stream().map(id -> new SpendKey(scope, id, period, start)).toList();
        Map<String, Sum[]> seen = QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                try (Statement st = c.createStatement()) {
                    st.execute("set transaction isolation level repeatable read, read only");
                }
                Map<SpendKey, Sum> rows = budgetSpend(c, keys);
                Map<String, Sum> sums = budgetSums(c, scope, sorted, start, period.end(start));
                Map<String, Sum[]> both = new HashMap<>();
                for (SpendKey k : keys) {
                    both.put(k.id(), new Sum[] {rows.get(k), sums.getOrDefault(k.id(), Sum.ZERO)});
                }
                return both;
            }
        });
        Map<SpendKey, Sum> corrections = new HashMap<>();
        for (SpendKey k : keys) {
            Sum row = seen.get(k.id())[0];
            Sum sum = seen.get(k.id())[1];
            if (row == null || row.calls() != sum.calls()
                    || Math.abs(row.spentUsd() - sum.spentUsd()) > tolerance(sum.spentUsd())) {
                Sum held = row == null ? Sum.ZERO : row;
                corrections.put(k, new Sum(sum.spentUsd() - held.spentUsd(), sum.calls() - held.calls()));
            }
        }
        if (!corrections.isEmpty()) {
            QuarkusTransaction.requiringNew().run(() -> {
                try (Connection c = dataSource.getConnection()) {
                    addBudgetSpend(c, corrections, k -> true);
                } catch (SQLException e) {
                    throw new CostStoreException(e);
                }
            });
        }
        Map<String, Sum> result = new HashMap<>();
        budgetSpend(keys).forEach((k, sum) -> result.put(k.id(), sum));
        return result;
    }

    /** The first call (by end time) at which the scope's spend in the period reached {@code limit}. */
    public Optional<Crossing> budgetCrossing(BudgetScope scope, String id, Instant from, Instant to, double limit) {
        String calls = "select ended_at, call_id, cost_usd, model, model_group, user_ref, team_id from llm_calls where "
                + scope.column + " = ? and started_at >= ? and started_at < ? and ended_at >= ? and ended_at < ?";
        return crossing(calls, ">=", limit - tolerance(limit), 6, st -> {
            st.setString(1, id);
            st.setTimestamp(2, Timestamp.from(from.minus(CALL_SLACK)));
            st.setTimestamp(3, Timestamp.from(to));
            st.setTimestamp(4, Timestamp.from(from));
            st.setTimestamp(5, Timestamp.from(to));
        });
    }

    public List<BatchRow> batches(Collection<String> ids) {
        return query("select batch_id, expected_cost_usd, source, updated_at from batches where batch_id = any(?)",
                (c, st) -> st.setArray(1, c.createArrayOf("text", ids.toArray())), CostStore::batchRows);
    }

    /** A batch's latest run: the end of its first call, its spend and calls, and the end of its latest call. */
    public record Run(Instant startedAt, double spentUsd, long calls, Instant lastEndedAt) {
    }

    /**
     * Walks back from each batch's latest call to the earliest call within {@code gap} before the one reached (an
     * index probe each, at least {@code gap} back every two), until none is: that call starts the latest run, whose
     * calls alone are summed. Reads the latest run's calls and one per probe, not every call the batch ever made.
     * Each read is bounded on the partition key too (a call lasts less than {@link #CALL_SLACK}), so only the daily
     * partitions a step can reach are probed, not each one's index for every step; the latest call is looked for
     * from the end a caller knows it is at or after (a call it just stored, the latest it read before), else in the
     * days the call retention keeps (every partition ever created was probed, for a GET of an untracked batch).
     * No read reaches a call started before the first of those days: its partition waits to be dropped, and a run
     * found through it would start earlier, and cost more, until the maintenance's next run than after it.
     */
    static final String BATCH_RUNS = "with recursive w(k, t, kept) as (select i.k, (select max(ended_at)"
            + " from llm_calls where " + BATCH_ID + " = i.k and ended_at >= i.since and started_at >= greatest(i.since"
            + " - interval '" + CALL_SLACK.toSeconds() + " seconds', i.kept)), i.kept from unnest(?::text[],"
            + " ?::timestamptz[]) u(k, s) cross join lateral (select u.k, greatest(u.s, b.kept) since, b.kept"
            + " from (select ?::timestamptz kept) b) i"
            + " union all select w.k, p.t, w.kept from w cross join lateral (select min(ended_at) t from llm_calls"
            + " where " + BATCH_ID + " = w.k and ended_at >= w.t - ? * interval '1 millisecond' and ended_at < w.t"
            + " and started_at >= greatest(w.t - ? * interval '1 millisecond', w.kept) and started_at <= w.t) p"
            + " where p.t is not null),"
            + " r as (select k, min(t) run_start, max(t) run_end, min(kept) kept from w where t is not null group by k)"
            + " select r.k, r.run_start, a.spent, a.n, a.last from r cross join lateral (select sum(cost_usd) spent,"
            + " count(*) n, max(ended_at) last from llm_calls where " + BATCH_ID + " = r.k"
            + " and ended_at >= r.run_start and started_at >= greatest(r.run_start - interval '"
            + CALL_SLACK.toSeconds() + " seconds', r.kept) and started_at <= r.run_end) a";

    /**
     * Binds {@link #BATCH_RUNS}: each batch's latest call ends at or after its value (null: anywhere still kept), and
     * every call read started at or after the start of the oldest day the call retention keeps.
     */
    void bindBatchRuns(Connection c, PreparedStatement st, Map<String, Instant> since, Duration gap)
            throws SQLException {
        List<String> ids = new ArrayList<>(since.keySet());
        st.setArray(1, c.createArrayOf("text", ids.toArray()));
        st.setArray(2, c.createArrayOf("timestamptz", ids.stream().map(since::get)
                .map(at -> at == null ? null : Timestamp.from(at)).toArray()));
        st.setTimestamp(3, Timestamp.from(PartitionMaintenance.oldestKept(clock, callRetention)));
        st.setLong(4, gap.toMillis());
        st.setLong(5, gap.plus(CALL_SLACK).toMillis());
    }

    /**
     * The latest run of each batch: its calls from the last one that ended more than {@code gap} after the batch's
     * call before it (or its first call). Batches without calls are absent.
     */
    public Map<String, Run> batchRuns(Collection<String> ids, Duration gap) {
        Map<String, Instant> since = new HashMap<>();
        ids.forEach(id -> since.put(id, null));
        return batchRuns(since, gap);
    }

    /** As {@link #batchRuns(Collection, Duration)}, each batch's latest call known to end at or after its value. */
    public Map<String, Run> batchRuns(Map<String, Instant> since, Duration gap) {
        return query(BATCH_RUNS, (c, st) -> bindBatchRuns(c, st, since, gap), rs -> {
            Map<String, Run> runs = new HashMap<>();
            while (rs.next()) {
                runs.put(rs.getString(1), new Run(rs.getTimestamp(2).toInstant(), rs.getDouble(3), rs.getLong(4),
                        rs.getTimestamp(5).toInstant()));
            }
            return runs;
        });
    }

    /** The first call (by end time) of the batch's run from {@code runStart} at which its spend went past it. */
    public Optional<Crossing> batchCrossing(String batchId, Instant runStart, double limit) {
        String calls = "select ended_at, call_id, cost_usd, model, model_group, user_ref, team_id from llm_calls where "
                + BATCH_ID + " = ? and ended_at >= ?";
        return crossing(calls, ">", limit + tolerance(limit), 3, st -> {
            st.setString(1, batchId);
            st.setTimestamp(2, Timestamp.from(runStart));
        });
    }

    private Optional<Crossing> crossing(String calls, String op, double limit, int limitIndex, Binder binder) {
        String sql = "select ended_at, call_id, spent, n, model, model_group, user_ref, team_id from (select *,"
                + " sum(cost_usd) over w spent, count(*) over w n from (" + calls + ") c"
                + " window w as (order by ended_at, call_id)) r where spent " + op + " ? order by ended_at, call_id"
                + " limit 1";
        List<Crossing> found = query(sql, (c, st) -> {
            binder.bind(st);
            st.setDouble(limitIndex, limit);
        }, rs -> {
            List<Crossing> list = new ArrayList<>(1);
            while (rs.next()) {
                list.add(new Crossing(rs.getTimestamp(1).toInstant(), rs.getString(2), rs.getDouble(3), rs.getLong(4),
                        rs.getString(5), rs.getString(6), rs.getString(7), rs.getString(8)));
            }
            return list;
        });
        return found.stream().findFirst();
    }

    // ---- thresholds that fired

    public boolean budgetAlerted(BudgetScope scope, String id, Period period, Instant periodStart, double amount,
            double threshold) {
        return query("select 1 from budget_alerts where scope = ? and scope_id = ? and period = ? and period_start = ?"
                + " and amount_usd = ? and threshold = ?", (c, st) -> {
                    st.setString(1, scope.code());
                    st.setString(2, id);
                    st.setString(3, period.code());
                    st.setTimestamp(4, Timestamp.from(periodStart));
                    st.setDouble(5, amount);
                    st.setDouble(6, threshold);
                }, ResultSet::next);
    }

    /** True when this call recorded the alert, false when it had fired already (here or on another replica). */
    public boolean recordBudgetAlert(Connection c, BudgetScope scope, String id, Period period, Instant periodStart,
            double amount, double threshold, Crossing crossing, UUID failureId) throws SQLException {
        return update(c, "insert into budget_alerts (scope, scope_id, period, period_start, amount_usd, threshold,"
                + " spent_usd, crossed_at, failure_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing", st -> {
                    st.setString(1, scope.code());
                    st.setString(2, id);
                    st.setString(3, period.code());
                    st.setTimestamp(4, Timestamp.from(periodStart));
                    st.setDouble(5, amount);
                    st.setDouble(6, threshold);
                    st.setDouble(7, crossing.spentUsd());
                    st.setTimestamp(8, Timestamp.from(crossing.endedAt()));
                    st.setObject(9, failureId);
                }) == 1;
    }

    /** Whether the threshold fired in the run from {@code runStart} (an alert from before runs: raised in it). */
    public boolean batchAlerted(String batchId, double expected, double threshold, Instant runStart) {
        return query("select 1 from batch_alerts where batch_id = ? and expected_cost_usd = ? and threshold = ?"
                + " and (run_start = ? or run_start = '-infinity' and crossed_at >= ?)", (c, st) -> {
                    st.setString(1, batchId);
                    st.setDouble(2, expected);
                    st.setDouble(3, threshold);
                    st.setTimestamp(4, Timestamp.from(runStart));
                    st.setTimestamp(5, Timestamp.from(runStart));
                }, ResultSet::next);
    }

    public boolean recordBatchAlert(Connection c, String batchId, double expected, double threshold, Instant runStart,
            Crossing crossing, UUID failureId) throws SQLException {
        return update(c, "insert into batch_alerts (batch_id, expected_cost_usd, threshold, run_start, spent_usd,"
                + " crossed_at, failure_id) values (?, ?, ?, ?, ?, ?, ?) on conflict do nothing", st -> {
                    st.setString(1, batchId);
                    st.setDouble(2, expected);
                    st.setDouble(3, threshold);
                    st.setTimestamp(4, Timestamp.from(runStart));
                    st.setDouble(5, crossing.spentUsd());
                    st.setTimestamp(6, Timestamp.from(crossing.endedAt()));
                    st.setObject(7, failureId);
                }) == 1;
    }

    // ---- budgets and batches set through the API

    /** The version of the stored budgets (V52), moved by every change to them; read on {@code c}. */
    public static long budgetsVersion(Connection c) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select version from budgets_version");
                ResultSet rs = st.executeQuery()) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    public long budgetsVersion() {
        try (Connection c = dataSource.getConnection()) {
            return budgetsVersion(c);
        } catch (SQLException e) {
            throw new CostStoreException(e);
        }
    }

    public List<BudgetRow> budgets() {
        return budgetRows("select scope, scope_id, period, amount_usd, warn_at, updated_at from budgets", (c, st) -> {
        });
    }

    private List<BudgetRow> budgetRows(String sql, Setter setter) {
        return query(sql, setter, rs -> {
            List<BudgetRow> rows = new ArrayList<>();
            while (rs.next()) {
                Array warn = rs.getArray(5);
                List<Double> warnAt = null;
                if (warn != null) {
                    warnAt = new ArrayList<>();
                    for (Object o : (Object[]) warn.getArray()) {
                        warnAt.add(((Number) o).doubleValue());
                    }
                }
                rows.add(new BudgetRow(BudgetScope.parse(rs.getString(1)), rs.getString(2),
                        Period.parse(rs.getString(3)), rs.getDouble(4), warnAt, rs.getTimestamp(6).toInstant()));
            }
            return rows;
        });
    }

    public Optional<BudgetRow> budget(BudgetScope scope, String id) {
        return budgetRows("select scope, scope_id, period, amount_usd, warn_at, updated_at from budgets"
                + " where scope = ? and scope_id = ?", (c, st) -> {
                    st.setString(1, scope.code());
                    st.setString(2, id);
                }).stream().findFirst();
    }

    public void putBudget(BudgetRow row) {
        update("insert into budgets (scope, scope_id, period, amount_usd, warn_at, updated_at) values (?, ?, ?, ?, ?, ?)"
                + " on conflict (scope, scope_id) do update set period = excluded.period, amount_usd ="
                + " excluded.amount_usd, warn_at = excluded.warn_at, updated_at = excluded.updated_at", st -> {
                    st.setString(1, row.scope().code());
                    st.setString(2, row.scopeId());
                    st.setString(3, row.period().code());
                    st.setDouble(4, row.amountUsd());
                    st.setArray(5, row.warnAt() == null ? null
                            : st.getConnection().createArrayOf("float8", row.warnAt().toArray()));
                    st.setTimestamp(6, Timestamp.from(row.updatedAt()));
                });
    }

    public boolean deleteBudget(BudgetScope scope, String id) {
        return update("delete from budgets where scope = ? and scope_id = ?", st -> {
            st.setString(1, scope.code());
            st.setString(2, id);
        }) == 1;
    }

    public Optional<BatchRow> batch(String batchId) {
        List<BatchRow> rows = query("select batch_id, expected_cost_usd, source, updated_at from batches"
                + " where batch_id = ?", (c, st) -> st.setString(1, batchId), CostStore::batchRows);
        return rows.stream().findFirst();
    }

    public List<BatchRow> recentBatches(Instant since, int limit) {
        return query("select batch_id, expected_cost_usd, source, updated_at from batches where updated_at >= ?"
                + " order by updated_at desc limit ?", (c, st) -> {
                    st.setTimestamp(1, Timestamp.from(since));
                    st.setInt(2, limit);
                }, CostStore::batchRows);
    }

    /**
     * Stores a batch's expected cost and returns the row that holds: one from the API replaces any; one from metadata
     * only fills a gap, so that the first call's figure, or the operator's, stays.
     */
    public BatchRow putBatch(String batchId, double expected, String source, Instant now) {
        String conflict = source.equals("api")
                ? "do update set expected_cost_usd = excluded.expected_cost_usd, source = excluded.source,"
                        + " updated_at = excluded.updated_at"
                : "do nothing";
        update("insert into batches (batch_id, expected_cost_usd, source, created_at, updated_at)"
                + " values (?, ?, ?, ?, ?) on conflict (batch_id) " + conflict, st -> {
                    st.setString(1, batchId);
                    st.setDouble(2, expected);
                    st.setString(3, source);
                    st.setTimestamp(4, Timestamp.from(now));
                    st.setTimestamp(5, Timestamp.from(now));
                });
        return batch(batchId).orElseThrow();
    }

    // ---- plumbing

    private interface Setter {
        void set(Connection c, PreparedStatement st) throws SQLException;
    }

    private interface Binder {
        void bind(PreparedStatement st) throws SQLException;
    }

    private interface Reader<T> {
        T read(ResultSet rs) throws SQLException;
    }

    private <T> T query(String sql, Setter setter, Reader<T> reader) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            setter.set(c, st);
            try (ResultSet rs = st.executeQuery()) {
                return reader.read(rs);
            }
        } catch (SQLException e) {
            throw new CostStoreException(e);
        }
    }

    private static int update(Connection c, String sql, Binder binder) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(sql)) {
            binder.bind(st);
            return st.executeUpdate();
        }
    }

    private int update(String sql, Binder binder) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            binder.bind(st);
            return st.executeUpdate();
        } catch (SQLException e) {
            throw new CostStoreException(e);
        }
    }

    private static Map<String, Sum> sums(ResultSet rs) throws SQLException {
        Map<String, Sum> sums = new HashMap<>();
        while (rs.next()) {
            sums.put(rs.getString(1), new Sum(rs.getDouble(2), rs.getLong(3)));
        }
        return sums;
    }

    private static List<BatchRow> batchRows(ResultSet rs) throws SQLException {
        List<BatchRow> rows = new ArrayList<>();
        while (rs.next()) {
            rows.add(new BatchRow(rs.getString(1), rs.getDouble(2), rs.getString(3), rs.getTimestamp(4).toInstant()));
        }
        return rows;
    }

    /** A database error of the cost detectors; callers on the ingest path log it and leave it to reconcile. */
    public static class CostStoreException extends RuntimeException {
        CostStoreException(SQLException cause) {
            super("cost store: " + cause.getMessage(), cause);
        }
    }
}
