package io.faultline.impact;

import com.fasterxml.jackson.annotation.JsonFormat;
import io.agroal.api.AgroalDataSource;
import jakarta.inject.Singleton;

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
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Availability SLOs per model group (the API-set one, else the configured default), their error budget over the
 * period and the multi-window burn rates, all read from the per-minute rollups of {@link SloRollup}: a request is a
 * LiteLLM call id, a failed response a request none of whose attempts succeeded.
 */
@Singleton
public class SloService {

    /**
     * An SLO: availability target over a period (ISO-8601 in JSON, e.g. "PT720H"); the latency target is stored and
     * reported, not yet evaluated.
     */
    public record Slo(String modelGroup, double availabilityTarget,
            @JsonFormat(shape = JsonFormat.Shape.STRING) Duration period, String source,
            Double latencyTargetMs, Double latencyQuantile) {
    }

    /** The error budget at {@code at}: over the minutes starting in {@code [at - period, at)}. */
    public record Budget(Slo slo, Instant at, long periodRequests, long periodFailedResponses, double budgetRequests,
            double remainingRatio) {
    }

    /** One burn-rate window: (failed / requests) / (1 - target); 0 without requests. */
    public record WindowBurn(String window, long requests, long failedResponses, double burnRate) {
    }

    /** A model group's SLO, budget and burn rates (GET /api/v1/slos). */
    public record SloStatus(String modelGroup, Slo slo, Budget budget, List<WindowBurn> burnRates) {
    }

    public record SloList(Instant at, List<SloStatus> items, boolean truncated) {
    }

    /** The burn-rate windows of the Google SRE workbook's multi-window, multi-burn-rate alerts (ch. 5). */
    public static final Map<String, Duration> WINDOWS = windows();

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

    /** The configured default SLO for {@code modelGroup}. */
    public Slo defaultSlo(String modelGroup) {
        return new Slo(modelGroup, config.defaultAvailability(), config.period(), "config", null, null);
    }

    /** The API-set SLO of the model group, else the configured default. */
    public Slo slo(String modelGroup) {
        try (Connection c = dataSource.getConnection()) {
            return stored(c, modelGroup).orElseGet(() -> defaultSlo(modelGroup));
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the SLO of a model group", e);
        }
    }

    /** The model group's error budget over {@code [at - period, at)}. */
    public Budget budget(String modelGroup, Instant at) {
        try (Connection c = dataSource.getConnection()) {
            Slo slo = stored(c, modelGroup).orElseGet(() -> defaultSlo(modelGroup));
            try (PreparedStatement st = c.prepareStatement("select coalesce(sum(requests), 0),"
                    + " coalesce(sum(failed_responses), 0) from slo_minutes where model_group = ? and minute >= ?"
                    + " and minute < ?")) {
                st.setString(1, modelGroup);
                st.setTimestamp(2, Timestamp.from(at.minus(slo.period())));
                st.setTimestamp(3, Timestamp.from(at));
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    return budgetOf(slo, at, rs.getLong(1), rs.getLong(2));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the error budget of a model group", e);
        }
    }

    static Budget budgetOf(Slo slo, Instant at, long requests, long failed) {
        double budget = (1 - slo.availabilityTarget()) * requests;
        double remaining = budget > 0 ? 1 - failed / budget : 1.0;
        return new Budget(slo, at, requests, failed, budget, remaining);
    }

    static double burnRate(long requests, long failed, double target) {
        return requests == 0 ? 0.0 : ((double) failed / requests) / (1 - target);
    }

    /** Every model group seen within its period or with an SLO of its own, least budget left first. */
    public SloList statuses(Instant at, int limit) {
        List<SloStatus> all = read(at, null);
        all.sort(Comparator.comparingDouble((SloStatus s) -> s.budget().remainingRatio())
                .thenComparing(SloStatus::modelGroup));
        return new SloList(at, all.size() > limit ? List.copyOf(all.subList(0, limit)) : all, all.size() > limit);
    }

    /** One model group's status (a group never seen has the figures of no traffic). */
    public SloStatus status(String modelGroup, Instant at) {
        List<SloStatus> one = read(at, modelGroup);
        return one.isEmpty() ? statusOf(defaultSlo(modelGroup), at, 0, 0, new long[WINDOWS.size() * 2]) : one.get(0);
    }

    public Instant now() {
        return clock.instant();
    }

    private List<SloStatus> read(Instant at, String onlyGroup) {
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
            StringBuilder sql = new StringBuilder("select m.model_group,"
                    + " coalesce(sum(m.requests) filter (where m.minute >= ?::timestamptz"
                    + " - coalesce(t.period_seconds, ?) * interval '1 second'), 0),"
                    + " coalesce(sum(m.failed_responses) filter (where m.minute >= ?::timestamptz"
                    + " - coalesce(t.period_seconds, ?) * interval '1 second'), 0)");
            for (int i = 0; i < WINDOWS.size(); i++) {
                sql.append(", coalesce(sum(m.requests) filter (where m.minute >= ?), 0)")
                        .append(", coalesce(sum(m.failed_responses) filter (where m.minute >= ?), 0)");
            }
            sql.append(" from slo_minutes m left join slo_targets t on t.model_group = m.model_group"
                    + " where m.minute >= ? and m.minute < ?");
            if (onlyGroup != null) {
                sql.append(" and m.model_group = ?");
            }
            sql.append(" group by m.model_group");
            List<SloStatus> out = new ArrayList<>();
            try (PreparedStatement st = c.prepareStatement(sql.toString())) {
                int p = 1;
                Timestamp atTs = Timestamp.from(at);
                long defaultSeconds = config.period().toSeconds();
                st.setTimestamp(p++, atTs);
                st.setLong(p++, defaultSeconds);
                st.setTimestamp(p++, atTs);
                st.setLong(p++, defaultSeconds);
                for (Duration w : WINDOWS.values()) {
                    Timestamp from = Timestamp.from(at.minus(w));
                    st.setTimestamp(p++, from);
                    st.setTimestamp(p++, from);
                }
                st.setTimestamp(p++, Timestamp.from(at.minus(longest)));
                st.setTimestamp(p++, atTs);
                if (onlyGroup != null) {
                    st.setString(p, onlyGroup);
                }
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        String group = rs.getString(1);
                        long[] windows = new long[WINDOWS.size() * 2];
                        for (int i = 0; i < windows.length; i++) {
                            windows[i] = rs.getLong(4 + i);
                        }
                        Slo slo = slos.remove(group);
                        out.add(statusOf(slo == null ? defaultSlo(group) : slo, at, rs.getLong(2), rs.getLong(3),
                                windows));
                    }
                }
            }
            for (Slo unseen : slos.values()) {
                out.add(statusOf(unseen, at, 0, 0, new long[WINDOWS.size() * 2]));
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the SLO rollups", e);
        }
    }

    private static SloStatus statusOf(Slo slo, Instant at, long requests, long failed, long[] windows) {
        List<WindowBurn> burns = new ArrayList<>(WINDOWS.size());
        int i = 0;
        for (String name : WINDOWS.keySet()) {
            long r = windows[2 * i];
            long f = windows[2 * i + 1];
            burns.add(new WindowBurn(name, r, f, burnRate(r, f, slo.availabilityTarget())));
            i++;
        }
        return new SloStatus(slo.modelGroup(), slo, budgetOf(slo, at, requests, failed), burns);
    }

    /** Sets the model group's SLO; empty when it would exceed {@code faultline.slo.max-slos}. */
    public Optional<Slo> put(String modelGroup, double target, Duration period, Double latencyTargetMs,
            Double latencyQuantile) {
        Duration p = period == null ? config.period() : period;
        try (Connection c = dataSource.getConnection();
                PreparedStatement st = c.prepareStatement("insert into slo_targets (model_group, availability_target,"
                        + " period_seconds, latency_target_ms, latency_quantile, updated_at)"
                        + " select ?, ?, ?, ?, ?, ? where exists (select 1 from slo_targets where model_group = ?)"
                        + " or (select count(*) from slo_targets) < ?"
                        + " on conflict (model_group) do update set availability_target = excluded.availability_target,"
                        + " period_seconds = excluded.period_seconds, latency_target_ms = excluded.latency_target_ms,"
                        + " latency_quantile = excluded.latency_quantile, updated_at = excluded.updated_at")) {
            st.setString(1, modelGroup);
            st.setDouble(2, target);
            st.setLong(3, p.toSeconds());
            setNullable(st, 4, latencyTargetMs);
            setNullable(st, 5, latencyQuantile);
            st.setTimestamp(6, Timestamp.from(clock.instant()));
            st.setString(7, modelGroup);
            st.setInt(8, config.maxSlos());
            if (st.executeUpdate() == 0) {
                return Optional.empty();
            }
            return Optional.of(new Slo(modelGroup, target, p, "api", latencyTargetMs, latencyQuantile));
        } catch (SQLException e) {
            throw new IllegalStateException("could not store the SLO", e);
        }
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
