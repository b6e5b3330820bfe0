package io.faultline.predict;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.web.ApiProblem;
import io.faultline.web.KeysetCursor;
import io.faultline.web.Params;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/** Reads and writes of {@code failure_predictions}: the stored predictions, their list and their renewal. */
@ApplicationScoped
public class PredictionStore {

    /** The name its cursors carry, so that another list's cursor is refused. */
    private static final String CURSOR_LIST = "predictions";

    static final Set<String> STATUSES = Set.of("active", "hit", "false_alarm", "prevented", "resolved", "all");

    private static final String COLUMNS = "prediction_id, predicted_type, provider, deployment, model_group,"
            + " confidence, peak_confidence, time_to_failure_ms, recommended_action, indicators::text, created_at,"
            + " updated_at, horizon_ms, horizon_ends_at, status, resolved_at, failure_onset, lead_time_ms, kept_share";
    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {
    };

    /** One page of predictions; {@code nextCursor} is null on the last page. */
    public record Page(List<PredictedFailure> items, String nextCursor) {
    }

    /** Parsed list filters; a bad value is a 400 naming its parameter. */
    public record Filter(String status, String provider, String deployment, String type, Instant since) {

        public static Filter parse(String status, String provider, String deployment, String type, String since,
                Set<String> types) {
            String s = status == null ? "active" : status.toLowerCase(Locale.ROOT);
            if (!STATUSES.contains(s)) {
                throw ApiProblem.badRequest("status",
                        "status must be one of active, hit, false_alarm, prevented, resolved, all");
            }
            String t = type == null ? null : type.toLowerCase(Locale.ROOT);
            if (t != null && !types.contains(t)) {
                throw ApiProblem.badRequest("type", "type must be one of " + String.join(", ", types.stream()
                        .sorted().toList()));
            }
            // Providers are stored in lower case, as the failures list reads them too.
            return new Filter(s, provider == null ? null : provider.toLowerCase(Locale.ROOT), deployment, t,
                    Params.instant("since", since));
        }
    }

    private final AgroalDataSource dataSource;
    private final ObjectMapper json;

    public PredictionStore(AgroalDataSource dataSource, ObjectMapper json) {
        this.dataSource = dataSource;
        this.json = json;
    }

    /**
     * Predictions newest first, keyset-paged on (created_at, prediction_id): a key that never changes, so a walk over
     * the pages misses nothing that existed when it began. (The order was once the last update; every tick renews
     * each active row, so a walk that spanned a tick skipped all that was left.) {@code since} is on the last renewal
     * or the resolution, whichever is later.
     */
    public Page list(Filter filter, String cursor, int limit) {
        StringBuilder sql = new StringBuilder("select " + COLUMNS + " from failure_predictions where true");
        List<Object> params = new ArrayList<>();
        switch (filter.status()) {
            case "all" -> {
            }
            case "resolved" -> sql.append(" and status <> 'active'");
            default -> {
                sql.append(" and status = ?");
                params.add(filter.status());
            }
        }
        if (filter.provider() != null) {
            sql.append(" and provider = ?");
            params.add(filter.provider());
        }
        if (filter.deployment() != null) {
            sql.append(" and deployment = ?");
            params.add(filter.deployment());
        }
        if (filter.type() != null) {
            sql.append(" and predicted_type = ?");
            params.add(filter.type());
        }
        if (filter.since() != null) {
            // Renewed or resolved since: a resolution leaves updated_at (the last renewal) as it was, and a poll for
            // the resolutions since the last one missed every prediction resolved after its last renewal.
            sql.append(" and greatest(updated_at, resolved_at) >= ?");
            params.add(Timestamp.from(filter.since()));
        }
        KeysetCursor after = KeysetCursor.decode(CURSOR_LIST, cursor);
        if (after != null) {
            sql.append(" and (created_at, prediction_id) < (?, ?)");
            params.add(Timestamp.from(after.at()));
            params.add(after.id());
        }
        sql.append(" order by created_at desc, prediction_id desc limit ?");
        params.add(limit + 1);
        List<PredictedFailure> rows = query(sql.toString(), params);
        List<PredictedFailure> page = rows.subList(0, Math.min(rows.size(), limit));
        PredictedFailure last = rows.size() > limit ? page.get(limit - 1) : null;
        String next = last == null ? null
                : new KeysetCursor(CURSOR_LIST, last.createdAt(), last.predictionId()).encode();
        return new Page(List.copyOf(page), next);
    }

    public Optional<PredictedFailure> byId(UUID id) {
        return query("select " + COLUMNS + " from failure_predictions where prediction_id = ?", List.of(id)).stream()
                .findFirst();
    }

    /** The active predictions, most confident first; optionally of one deployment. */
    public List<PredictedFailure> active(String deployment) {
        return deployment == null
                ? query("select " + COLUMNS + " from failure_predictions where status = 'active'"
                        + " order by confidence desc, prediction_id", List.of())
                : query("select " + COLUMNS + " from failure_predictions where status = 'active' and deployment = ?"
                        + " order by confidence desc, prediction_id", List.of(deployment));
    }

    /**
     * Records what a traffic policy did on a prediction: the least share of traffic kept (0–1) and, the first time,
     * when and at what remaining headroom, so that the "prevented" rule can judge it. False if it is not active.
     */
    public boolean recordTrafficAction(UUID predictionId, double keptShare, Instant at) {
        if (!(keptShare >= 0 && keptShare <= 1)) {
            throw new IllegalArgumentException("keptShare must be within 0 and 1");
        }
        try (Connection c = dataSource.getConnection()) {
            return recordTrafficAction(c, predictionId, keptShare, at);
        } catch (SQLException e) {
            throw new IllegalStateException("could not record the traffic action", e);
        }
    }

    /** {@link #recordTrafficAction(UUID, double, Instant)} on the caller's connection (the tick's transaction). */
    boolean recordTrafficAction(Connection c, UUID predictionId, double keptShare, Instant at) throws SQLException {
        checkShare(keptShare);
        try (PreparedStatement st = c.prepareStatement(RECORD_ACTION)) {
            st.setDouble(1, keptShare);
            st.setTimestamp(2, Timestamp.from(at));
            st.setObject(3, predictionId);
            return st.executeUpdate() == 1;
        }
    }

    /** A traffic action of one tick: the prediction and the share its deployment kept. */
    record Action(UUID predictionId, double keptShare) {
    }

    /** {@link #recordTrafficAction(Connection, UUID, double, Instant)} for each, in one batch (one round trip). */
    void recordTrafficActions(Connection c, List<Action> actions, Instant at) throws SQLException {
        if (actions.isEmpty()) {
            return;
        }
        try (PreparedStatement st = c.prepareStatement(RECORD_ACTION)) {
            for (Action a : actions) {
                checkShare(a.keptShare());
                st.setDouble(1, a.keptShare());
                st.setTimestamp(2, Timestamp.from(at));
                st.setObject(3, a.predictionId());
                st.addBatch();
            }
            st.executeBatch();
        }
    }

    private static final String RECORD_ACTION = "update failure_predictions set kept_share = least(coalesce(kept_share,"
            + " 1), ?), action_at = coalesce(action_at, ?), action_remaining = coalesce(action_remaining,"
            + " (indicators ->> 'fitted_remaining_now')::double precision) where prediction_id = ? and status = 'active'";

    private static void checkShare(double keptShare) {
        if (!(keptShare >= 0 && keptShare <= 1)) {
            throw new IllegalArgumentException("keptShare must be within 0 and 1");
        }
    }

    List<PredictedFailure> query(String sql, List<?> params) {
        try (Connection c = dataSource.getConnection()) {
            return query(c, sql, params);
        } catch (SQLException e) {
            throw new IllegalStateException("could not read predictions", e);
        }
    }

    List<PredictedFailure> query(Connection c, String sql, List<?> params) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(sql)) {
            for (int i = 0; i < params.size(); i++) {
                st.setObject(i + 1, params.get(i));
            }
            List<PredictedFailure> out = new ArrayList<>();
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(view(rs));
                }
            }
            return out;
        }
    }

    static String selectColumns() {
        return COLUMNS;
    }

    private PredictedFailure view(ResultSet rs) throws SQLException {
        long ttf = rs.getLong(8);
        Instant updated = rs.getTimestamp(12).toInstant();
        long lead = rs.getLong(18);
        Long leadMs = rs.wasNull() ? null : lead;
        double kept = rs.getDouble(19);
        Double keptShare = rs.wasNull() ? null : kept;
        return new PredictedFailure(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3), rs.getString(4),
                rs.getString(5), rs.getDouble(6), rs.getDouble(7), Duration.ofMillis(ttf).toString(),
                updated.plusMillis(ttf), rs.getString(9), indicators(rs.getString(10)),
                rs.getTimestamp(11).toInstant(), updated, Duration.ofMillis(rs.getLong(13)).toString(),
                rs.getTimestamp(14).toInstant(), rs.getString(15), instant(rs.getTimestamp(16)),
                instant(rs.getTimestamp(17)), leadMs == null ? null : Duration.ofMillis(leadMs).toString(), keptShare);
    }

    private Map<String, Object> indicators(String text) {
        try {
            return json.readValue(text, MAP);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored indicators are not JSON", e);
        }
    }

    String toJson(Map<String, Object> figures) {
        try {
            return json.writeValueAsString(figures);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("indicators are not serialisable", e);
        }
    }

    private static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }
}
