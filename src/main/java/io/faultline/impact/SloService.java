package io.faultline.impact;

import com.fasterxml.jackson.annotation.JsonFormat;
import io.agroal.api.AgroalDataSource;
import io.faultline.common.AdvisoryLocks;
import io.faultline.common.StorableTime;
import io.faultline.web.ApiProblem;
import io.faultline.web.KeysetCursor;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.inject.Singleton;

import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Availability and latency SLOs per model group (the API-set one, else the configured default), their error budgets
 * over the period and the multi-window burn rates, all read from the per-minute rollups of {@link SloRollup}: a
 * request is a LiteLLM call id, a failed response a request none of whose attempts succeeded, a slow request an
 * answered one whose end-to-end latency is above the latency target (evaluated at a fixed histogram edge,
 * {@link LatencyBuckets}).
 */
@Singleton
public class SloService {

    /**
     * An SLO: availability target over a period (ISO-8601 in JSON, e.g. "PT720H"); optionally a latency SLO: the share
     * {@code latencyQuantile} of answered requests within {@code latencyTargetMs}, over the same period.
     */
    public record Slo(String modelGroup, double availabilityTarget,
            @JsonFormat(shape = JsonFormat.Shape.STRING) Duration period, String source,
            Double latencyTargetMs, Double latencyQuantile) {
    }

    /**
     * The error budget at {@code at}: over the minutes starting in {@code [at - period, at)}. {@code coverage}: when
     * the period reaches past the minutes the rollup keeps ({@code faultline.slo.retention}: a page at an old cursor's
     * instant, or a period longer than a retention shortened since), the share of the period whose requests were
     * counted, for the latency budget too; null when the whole period was (as the impact's {@code budgetCoverage}).
     */
    public record Budget(Slo slo, Instant at, long periodRequests, long periodFailedResponses, double budgetRequests,
            double remainingRatio, Double coverage) {
    }

    /** One burn-rate window: (failed / requests) / (1 - target); 0 without requests. */
    public record WindowBurn(String window, long requests, long failedResponses, double burnRate) {
    }

    /**
     * The latency error budget at {@code at} over the period: answered requests (with a latency histogram), those
     * slower than the target evaluated at {@code evaluatedAtMs}, the budget {@code (1 - quantile) x answered} and the
     * share of it left ({@code 1 - slow / budget}, negative once overspent).
     */
    public record LatencyBudget(double targetMs, double quantile, double evaluatedAtMs, long periodAnswered,
            long periodSlow, double budgetRequests, double remainingRatio) {
    }

    /** One latency burn-rate window: (slow / answered) / (1 - quantile); 0 without answered requests. */
    public record LatencyWindowBurn(String window, long answered, long slow, double burnRate) {
    }

    /** A latency SLO's budget and burn rates. */
    public record LatencyStatus(LatencyBudget budget, List<LatencyWindowBurn> burnRates) {
    }

    /** A model group's SLO, budget and burn rates (GET /api/v1/slos); {@code latency} null without a latency SLO. */
    public record SloStatus(String modelGroup, Slo slo, Budget budget, List<WindowBurn> burnRates,
            LatencyStatus latency) {
    }

    /**
     * One page: {@code nextCursor} is null on the last page, and {@code truncated} (kept for older clients) says
     * whether there is a next page.
     */
    public record SloList(Instant at, List<SloStatus> items, boolean truncated, String nextCursor) {
    }

    /** The name the SLO list's cursors carry, so that another list's cursor is refused (and this one elsewhere). */
    static final String CURSOR_LIST = "slos";

    /**
     * The position after the last group of a page: the listing's instant (later pages are evaluated at the first
     * page's, so budgets do not move between pages), and that group's budget left and name (the listing's order).
     */
    record SloCursor(Instant at, double remainingRatio, String modelGroup) {

        String encode() {
            return KeysetCursor.encode(CURSOR_LIST, at.toString(), Double.toString(remainingRatio),
                    Base64.getUrlEncoder().withoutPadding()
                            .encodeToString(modelGroup.getBytes(StandardCharsets.UTF_8)));
        }

        /** Null for none; a cursor this list did not issue is a 400 naming {@code cursor}. */
        static SloCursor decode(String cursor) {
            if (cursor == null || cursor.isBlank()) {
                return null;
            }
            String[] parts = KeysetCursor.parts(CURSOR_LIST, cursor, 4);
            try {
                Instant at = Instant.parse(parts[1]);
                double ratio = Double.parseDouble(parts[2]);
                String group = new String(Base64.getUrlDecoder().decode(parts[3]), StandardCharsets.UTF_8);
                if (!StorableTime.contains(at) || !Double.isFinite(ratio) || group.isEmpty()) {
                    throw KeysetCursor.notIssued();
                }
                return new SloCursor(at, ratio, group);
            } catch (RuntimeException e) {
                throw KeysetCursor.notIssued();
            }
        }
    }

    /** The burn-rate windows of the Google SRE workbook's multi-window, multi-burn-rate alerts (ch. 5). */
    public static final Map<String, Duration> WINDOWS = windows();

    /** Serialises the stores of new SLOs, so that the limit's count sees them all ("FlSloTar" in ASCII). */
    static final long TARGETS_LOCK_KEY = 0x466C_536C_6F54_6172L;

    static final Duration MIN_PERIOD = Duration.ofHours(1);
    static final Duration MAX_PERIOD = Duration.ofDays(90);
    static final double MIN_TARGET = 0.5;
    static final double MAX_TARGET = 0.99999;

    private static Map<String, Duration> windows() {
        Map<String, Duration> w = new LinkedHashMap<>();
        w.put("5m", Duration.ofMinutes(5));
        w.put("30m", Duration.ofMinutes(30));
        w.put("1h", Duration.ofHours(1));
        w.put("6h", Duration.ofHours(6));
        w.put("3d", Duration.ofDays(3));
        return java.util.Collections.unmodifiableMap(w);
    }

    private final AgroalDataSource dataSource;
    private final SloConfig config;
    private final Clock clock;

    public SloService(AgroalDataSource dataSource, SloConfig config, Clock clock) {
        this.dataSource = dataSource;
        this.config = config;
        this.clock = clock;
    }

    /**
     * The default SLO's settings that would mislead every budget without an error: a latency target or quantile out
     * of the range the API accepts (a quantile written as a percent gave a negative budget that never burned), one of
     * the pair without the other (no latency SLO at all), a period longer than the minutes kept.
     */
    public static void requireSoundDefaults(SloConfig slo) {
        String target = "faultline.slo.default-latency-target-ms";
        String quantile = "faultline.slo.default-latency-quantile";
        if (slo.defaultLatencyTargetMs().isPresent() != slo.defaultLatencyQuantile().isPresent()) {
            throw new IllegalArgumentException((slo.defaultLatencyTargetMs().isPresent() ? quantile : target)
                    + " is not set: " + target + " and " + quantile + " go together (e.g. 2000 and 0.99)");
        }
        double ms = slo.defaultLatencyTargetMs().orElse(LatencyBuckets.MIN_TARGET_MS);
        if (!(ms >= LatencyBuckets.MIN_TARGET_MS && ms <= LatencyBuckets.MAX_TARGET_MS)) {
            throw new IllegalArgumentException(target + " (" + ms + ") must be from " + LatencyBuckets.MIN_TARGET_MS
                    + " to " + LatencyBuckets.MAX_TARGET_MS + " milliseconds");
        }
        double q = slo.defaultLatencyQuantile().orElse(0.5);
        if (!(q > 0 && q < 1)) {
            throw new IllegalArgumentException(quantile + " (" + q + ") must be between 0 and 1, e.g. 0.99");
        }
        if (slo.period().compareTo(slo.retention()) > 0) {
            throw new IllegalArgumentException("faultline.slo.period (" + slo.period() + ") is longer than"
                    + " faultline.slo.retention (" + slo.retention() + "): the budgets would count only the minutes"
                    + " kept");
        }
    }

    /** The longest period an SLO may have: 90 days, or the rollup's retention if shorter (its minutes are gone). */
    public Duration longestPeriod() {
        return config.retention().compareTo(MAX_PERIOD) < 0 ? config.retention() : MAX_PERIOD;
    }

    /** The configured default SLO for {@code modelGroup}. */
    public Slo defaultSlo(String modelGroup) {
        boolean latency = config.defaultLatencyTargetMs().isPresent() && config.defaultLatencyQuantile().isPresent();
        return new Slo(modelGroup, config.defaultAvailability(), config.period(), "config",
                latency ? config.defaultLatencyTargetMs().get() : null,
                latency ? config.defaultLatencyQuantile().get() : null);
    }

    /** The API-set SLO of the model group, else the configured default. */
    public Slo slo(String modelGroup) {
        try (Connection c = dataSource.getConnection()) {
            return stored(c, modelGroup).orElseGet(() -> defaultSlo(modelGroup));
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the SLO of a model group", e);
        }
    }

    /**
     * The model group's availability and (when it has a latency SLO, else null) latency budgets; {@code coverage} is
     * the share of the period whose minutes are still kept (1 but for a budget at an instant so far back that its
     * period reaches past {@code faultline.slo.retention}: the requests counted are then only those of that share).
     */
    public record Budgets(Budget availability, LatencyBudget latency, double coverage) {
    }

    /** The model group's error budget over {@code [at - period, at)}. */
    public Budget budget(String modelGroup, Instant at) {
        return budgets(modelGroup, at).availability();
    }

    /** The model group's availability and latency error budgets over {@code [at - period, at)}. */
    public Budgets budgets(String modelGroup, Instant at) {
        try (Connection c = dataSource.getConnection()) {
            Slo slo = stored(c, modelGroup).orElseGet(() -> defaultSlo(modelGroup));
            int k = slo.latencyTargetMs() == null ? 1 : LatencyBuckets.index(slo.latencyTargetMs()) + 1;
            try (PreparedStatement st = c.prepareStatement("select coalesce(sum(requests), 0),"
                    + " coalesce(sum(failed_responses), 0), coalesce(sum(latency_le[" + LatencyBuckets.SIZE + "]), 0),"
                    + " coalesce(sum(latency_le[" + k + "]), 0) from slo_minutes where model_group = ?"
                    + " and minute >= ? and minute < ?")) {
                Instant kept = kept();
                Instant from = at.minus(slo.period());
                // The kept minutes only, those the coverage says were counted: retention prunes on its own schedule,
                // and older rows it has not deleted yet, summed too and scaled to the whole period, inflated the
                // budget.
                st.setString(1, modelGroup);
                st.setTimestamp(2, Timestamp.from(from.isBefore(kept) ? kept : from));
                st.setTimestamp(3, Timestamp.from(at));
                double coverage = coverage(kept, at, slo.period());
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    return new Budgets(budgetOf(slo, at, rs.getLong(1), rs.getLong(2), coverage),
                            latencyBudgetOf(slo, rs.getLong(3), rs.getLong(3) - rs.getLong(4)), coverage);
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the error budget of a model group", e);
        }
    }

    static Budget budgetOf(Slo slo, Instant at, long requests, long failed, double coverage) {
        double budget = allowed(slo.availabilityTarget(), requests).doubleValue();
        return new Budget(slo, at, requests, failed, budget, remaining(failed, allowed(slo.availabilityTarget(),
                requests)), coverage < 1 ? coverage : null);
    }

    /** The first instant whose minutes the rollup keeps ({@code faultline.slo.retention} before now). */
    private Instant kept() {
        return clock.instant().minus(config.retention());
    }

    /** The share of {@code [at - period, at)} at or after {@code kept}: 1 unless the period reaches past it. */
    static double coverage(Instant kept, Instant at, Duration period) {
        if (!at.minus(period).isBefore(kept)) {
            return 1.0;
        }
        return Math.min(1, Math.max(0, Duration.between(kept, at).toMillis()) / (double) period.toMillis());
    }

    /** Null when the SLO has no latency target. */
    static LatencyBudget latencyBudgetOf(Slo slo, long answered, long slow) {
        if (slo.latencyTargetMs() == null || slo.latencyQuantile() == null) {
            return null;
        }
        BigDecimal budget = allowed(slo.latencyQuantile(), answered);
        return new LatencyBudget(slo.latencyTargetMs(), slo.latencyQuantile(),
                LatencyBuckets.evaluatedAt(slo.latencyTargetMs()), answered, slow, budget.doubleValue(),
                remaining(slow, budget));
    }

    /**
     * (failed / requests) / (1 - target), in decimal: in binary 1 - 0.99 is 0.010000000000000009, so an exact 14.4x
     * burn came out as 14.399999999999986 and the alert at {@code >= 14.4} did not fire.
     */
    static double burnRate(long requests, long failed, double target) {
        BigDecimal allowed = allowed(target, requests);
        return requests == 0 || allowed.signum() == 0 ? 0.0
                : BigDecimal.valueOf(failed).divide(allowed, MathContext.DECIMAL64).doubleValue();
    }

    /** (1 - target) x requests, the failures the target allows, in decimal (the target as written, 0.99). */
    private static BigDecimal allowed(double target, long requests) {
        return BigDecimal.ONE.subtract(BigDecimal.valueOf(target)).multiply(BigDecimal.valueOf(requests));
    }

    /** 1 - failed / budget (1 without a budget): exactly 0 when the budget is exactly spent. */
    private static double remaining(long failed, BigDecimal budget) {
        return budget.signum() <= 0 ? 1.0
                : BigDecimal.ONE.subtract(BigDecimal.valueOf(failed).divide(budget, MathContext.DECIMAL64))
                        .doubleValue();
    }

    /** Every model group seen within its period or with an SLO of its own, least budget left first. */
    public SloList statuses(Instant at, int limit) {
        return statuses(at, limit, null);
    }

    /**
     * A page of {@link #statuses(Instant, int)}: the first at {@code at}, the next ones after {@code cursor}'s group
     * at the first page's instant.
     */
    public SloList statuses(Instant now, int limit, String cursor) {
        SloCursor after = SloCursor.decode(cursor);
        if (after != null && after.at().isAfter(now)) {
            // Pages are evaluated at the instant of the first, which was this clock's: one ahead of it was not issued.
            throw ApiProblem.badRequest("cursor", "cursor's instant " + after.at() + " is in the future; it is not"
                    + " one this API issued: start without it");
        }
        Instant at = after == null ? now : after.at();
        List<SloStatus> all = read(at, null);
        all.sort(Comparator.comparingDouble((SloStatus s) -> s.budget().remainingRatio())
                .thenComparing(SloStatus::modelGroup));
        int from = 0;
        if (after != null) {
            while (from < all.size() && isBefore(all.get(from), after)) {
                from++;
            }
        }
        int to = Math.min(all.size(), from + limit);
        List<SloStatus> page = List.copyOf(all.subList(from, to));
        String next = null;
        if (to < all.size()) {
            SloStatus last = all.get(to - 1);
            next = new SloCursor(at, last.budget().remainingRatio(), last.modelGroup()).encode();
        }
        return new SloList(at, page, next != null, next);
    }

    /** Whether {@code s} comes at or before the cursor's group in the listing's order. */
    private static boolean isBefore(SloStatus s, SloCursor after) {
        int byBudget = Double.compare(s.budget().remainingRatio(), after.remainingRatio());
        return byBudget < 0 || byBudget == 0 && s.modelGroup().compareTo(after.modelGroup()) <= 0;
    }

    /** One model group's status (a group never seen has the figures of no traffic). */
    public SloStatus status(String modelGroup, Instant at) {
        List<SloStatus> one = read(at, modelGroup);
        Slo slo = defaultSlo(modelGroup);
        return one.isEmpty() ? statusOf(slo, at, new long[4], new long[WINDOWS.size() * 4],
                coverage(kept(), at, slo.period())) : one.get(0);
    }

    public Instant now() {
        return clock.instant();
    }

    private List<SloStatus> read(Instant at, String onlyGroup) {
        Instant kept = kept();
        try (Connection c = dataSource.getConnection()) {
            Map<String, Slo> slos = new LinkedHashMap<>();
            try (PreparedStatement st = c.prepareStatement("select model_group, availability_target, period_seconds,"
                    + " latency_target_ms, latency_quantile from slo_targets"
                    + (onlyGroup == null ? "" : " where model_group = ?"))) {
                if (onlyGroup != null) {
                    st.setString(1, onlyGroup);
                }
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        slos.put(rs.getString(1), sloOf(rs));
                    }
                }
            }
            Duration longest = config.period();
            for (Slo s : slos.values()) {
                longest = s.period().compareTo(longest) > 0 ? s.period() : longest;
            }
            for (Duration w : WINDOWS.values()) {
                longest = w.compareTo(longest) > 0 ? w : longest;
            }
            // Per minute row: its SLO's period and the index of the edge its latency target is evaluated at (the
            // API-set SLO's, else the configured default's; width_bucket counts the edges not above the target).
            int columns = 4;
            StringBuilder sql = new StringBuilder("select g");
            sql.append(", coalesce(sum(requests) filter (where minute >= ?::timestamptz - ps * interval '1 second'), 0)")
                    .append(", coalesce(sum(failed_responses) filter (where minute >= ?::timestamptz - ps * interval"
                            + " '1 second'), 0)")
                    .append(", coalesce(sum(answered) filter (where minute >= ?::timestamptz - ps * interval"
                            + " '1 second'), 0)")
                    .append(", coalesce(sum(good) filter (where minute >= ?::timestamptz - ps * interval"
                            + " '1 second'), 0)");
            for (int i = 0; i < WINDOWS.size(); i++) {
                sql.append(", coalesce(sum(requests) filter (where minute >= ?), 0)")
                        .append(", coalesce(sum(failed_responses) filter (where minute >= ?), 0)")
                        .append(", coalesce(sum(answered) filter (where minute >= ?), 0)")
                        .append(", coalesce(sum(good) filter (where minute >= ?), 0)");
            }
            sql.append(" from (select m.model_group g, m.minute, m.requests, m.failed_responses,"
                    + " m.latency_le[" + LatencyBuckets.SIZE + "] answered,"
                    + " m.latency_le[greatest(1, width_bucket(case when t.model_group is null then ?::float8"
                    + " else t.latency_target_ms end, ?::float8[]))] good,"
                    + " coalesce(t.period_seconds, ?) ps"
                    + " from slo_minutes m left join slo_targets t on t.model_group = m.model_group"
                    + " where m.minute >= ? and m.minute < ?");
            if (onlyGroup != null) {
                sql.append(" and m.model_group = ?");
            }
            // A group is listed when seen within its own period (or when it has an SLO of its own, below): the
            // minutes are read as far back as the longest period, and a group last seen 40 days ago was listed with
            // no traffic (and exported) for as long as another group kept a 90-day SLO.
            sql.append(") x group by g having bool_or(minute >= ?::timestamptz - ps * interval '1 second')");
            List<SloStatus> out = new ArrayList<>();
            try (PreparedStatement st = c.prepareStatement(sql.toString())) {
                int p = 1;
                Timestamp atTs = Timestamp.from(at);
                for (int i = 0; i < columns; i++) {
                    st.setTimestamp(p++, atTs);
                }
                for (Duration w : WINDOWS.values()) {
                    Timestamp from = Timestamp.from(at.minus(w));
                    for (int i = 0; i < columns; i++) {
                        st.setTimestamp(p++, from);
                    }
                }
                Slo fallback = defaultSlo("");
                if (fallback.latencyTargetMs() == null) {
                    st.setNull(p++, Types.DOUBLE);
                } else {
                    st.setDouble(p++, fallback.latencyTargetMs());
                }
                st.setArray(p++, c.createArrayOf("float8", LatencyBuckets.edges()));
                st.setLong(p++, config.period().toSeconds());
                // The kept minutes only, as in budgets(): a page at an old instant (a cursor carries any) otherwise
                // summed the rows older than the retention that its prune had not deleted yet.
                Instant from = at.minus(longest);
                st.setTimestamp(p++, Timestamp.from(from.isBefore(kept) ? kept : from));
                st.setTimestamp(p++, atTs);
                if (onlyGroup != null) {
                    st.setString(p++, onlyGroup);
                }
                st.setTimestamp(p, atTs);
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        String group = rs.getString(1);
                        long[] windows = new long[WINDOWS.size() * columns];
                        for (int i = 0; i < windows.length; i++) {
                            windows[i] = rs.getLong(2 + columns + i);
                        }
                        Slo stored = slos.remove(group);
                        Slo slo = stored == null ? defaultSlo(group) : stored;
                        out.add(statusOf(slo, at,
                                new long[] { rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getLong(5) }, windows,
                                coverage(kept, at, slo.period())));
                    }
                }
            }
            for (Slo unseen : slos.values()) {
                out.add(statusOf(unseen, at, new long[4], new long[WINDOWS.size() * 4],
                        coverage(kept, at, unseen.period())));
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the SLO rollups", e);
        }
    }

    /**
     * {@code period}: requests, failed responses, answered requests, answered within the latency target; {@code
     * windows}: the same four per window, in {@link #WINDOWS}' order; {@code coverage}: the share of the period kept.
     */
    private static SloStatus statusOf(Slo slo, Instant at, long[] period, long[] windows, double coverage) {
        List<WindowBurn> burns = new ArrayList<>(WINDOWS.size());
        List<LatencyWindowBurn> latencyBurns = new ArrayList<>(WINDOWS.size());
        int i = 0;
        for (String name : WINDOWS.keySet()) {
            long r = windows[4 * i];
            long f = windows[4 * i + 1];
            long answered = windows[4 * i + 2];
            long slow = answered - windows[4 * i + 3];
            burns.add(new WindowBurn(name, r, f, burnRate(r, f, slo.availabilityTarget())));
            if (slo.latencyQuantile() != null) {
                latencyBurns.add(new LatencyWindowBurn(name, answered, slow,
                        burnRate(answered, slow, slo.latencyQuantile())));
            }
            i++;
        }
        LatencyBudget latency = latencyBudgetOf(slo, period[2], period[2] - period[3]);
        return new SloStatus(slo.modelGroup(), slo, budgetOf(slo, at, period[0], period[1], coverage), burns,
                latency == null ? null : new LatencyStatus(latency, latencyBurns));
    }

    /** Sets the model group's SLO; empty when it would exceed {@code faultline.slo.max-slos}. */
    public Optional<Slo> put(String modelGroup, double target, Duration period, Double latencyTargetMs,
            Double latencyQuantile) {
        Duration p = period == null ? config.period() : period;
        // The count and the insert are one statement, but two PUTs of new groups each count the other's row as not
        // there yet: the limit is serialised on a lock of its own, held to the commit.
        boolean stored = QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection();
                    PreparedStatement st = c.prepareStatement("insert into slo_targets (model_group,"
                            + " availability_target, period_seconds, latency_target_ms, latency_quantile, updated_at)"
                            + " select ?, ?, ?, ?, ?, ? where exists (select 1 from slo_targets where model_group = ?)"
                            + " or (select count(*) from slo_targets) < ? on conflict (model_group) do update set"
                            + " availability_target = excluded.availability_target,"
                            + " period_seconds = excluded.period_seconds,"
                            + " latency_target_ms = excluded.latency_target_ms,"
                            + " latency_quantile = excluded.latency_quantile, updated_at = excluded.updated_at")) {
                AdvisoryLocks.xact(c, TARGETS_LOCK_KEY);
                st.setString(1, modelGroup);
                st.setDouble(2, target);
                st.setLong(3, p.toSeconds());
                setNullable(st, 4, latencyTargetMs);
                setNullable(st, 5, latencyQuantile);
                st.setTimestamp(6, Timestamp.from(clock.instant()));
                st.setString(7, modelGroup);
                st.setInt(8, config.maxSlos());
                return st.executeUpdate() > 0;
            } catch (SQLException e) {
                throw new IllegalStateException("could not store the SLO", e);
            }
        });
        return stored ? Optional.of(new Slo(modelGroup, target, p, "api", latencyTargetMs, latencyQuantile))
                : Optional.empty();
    }

    /** Removes the model group's own SLO (the default applies again); false when it had none. */
    public boolean delete(String modelGroup) {
        try (Connection c = dataSource.getConnection();
                PreparedStatement st = c.prepareStatement("delete from slo_targets where model_group = ?")) {
            st.setString(1, modelGroup);
            return st.executeUpdate() > 0;
        } catch (SQLException e) {
            throw new IllegalStateException("could not delete the SLO", e);
        }
    }

    private static void setNullable(PreparedStatement st, int i, Double value) throws SQLException {
        if (value == null) {
            st.setNull(i, Types.DOUBLE);
        } else {
            st.setDouble(i, value);
        }
    }

    private static Optional<Slo> stored(Connection c, String modelGroup) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select model_group, availability_target, period_seconds,"
                + " latency_target_ms, latency_quantile from slo_targets where model_group = ?")) {
            st.setString(1, modelGroup);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? Optional.of(sloOf(rs)) : Optional.empty();
            }
        }
    }

    private static Slo sloOf(ResultSet rs) throws SQLException {
        double latency = rs.getDouble(4);
        Double latencyTarget = rs.wasNull() ? null : latency;
        double quantile = rs.getDouble(5);
        Double latencyQuantile = rs.wasNull() ? null : quantile;
        return new Slo(rs.getString(1), rs.getDouble(2), Duration.ofSeconds(rs.getLong(3)), "api", latencyTarget,
                latencyQuantile);
    }
}
