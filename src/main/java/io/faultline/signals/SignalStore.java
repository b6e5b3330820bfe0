package io.faultline.signals;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import io.faultline.taxonomy.DataFailure;
import jakarta.inject.Singleton;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * JDBC for signals and the freshness and schedule state they update. Inserts are
 * {@code ON CONFLICT DO NOTHING RETURNING}, so one round trip per chunk also tells which signals are resends.
 */
@Singleton
public class SignalStore {

    static final int CHUNK = 500;

    private final ObjectMapper json;
    private final AgroalDataSource dataSource;

    public SignalStore(ObjectMapper json, AgroalDataSource dataSource) {
        this.json = json;
        this.dataSource = dataSource;
    }

    /** Inserts the signals (all of one kind) and returns the ids that were new. */
    public Set<String> insert(Connection c, List<? extends Signal> signals, Instant receivedAt) throws SQLException {
        Set<String> inserted = new HashSet<>();
        for (int from = 0; from < signals.size(); from += CHUNK) {
            List<? extends Signal> chunk = signals.subList(from, Math.min(signals.size(), from + CHUNK));
            String sql = "insert into data_signals (kind, signal_id, subject, at, received_at, payload) values "
                    + String.join(",", java.util.Collections.nCopies(chunk.size(), "(?, ?, ?, ?, ?, ?::jsonb)"))
                    + " on conflict (kind, signal_id) do nothing returning signal_id";
            try (PreparedStatement st = c.prepareStatement(sql)) {
                int p = 1;
                for (Signal s : chunk) {
                    st.setString(p++, s.kind());
                    st.setString(p++, s.signalId());
                    st.setString(p++, s.subject());
                    st.setTimestamp(p++, Timestamp.from(s.at()));
                    st.setTimestamp(p++, Timestamp.from(receivedAt));
                    st.setString(p++, toJson(s));
                }
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        inserted.add(rs.getString(1));
                    }
                }
            }
        }
        return inserted;
    }

    /** The retrieval samples (API and call metadata) since {@code since}, oldest first: what windows rebuild from. */
    public List<Signal.Retrieval> retrievalSince(Instant since) {
        List<Signal.Retrieval> samples = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select kind, signal_id, subject, at, (payload->>'topScore')::float8, (payload->>'hits')::int"
                        + " from data_signals where kind in ('retrieval', 'retrieval_call') and at >= ?"
                        + " order by at")) {
            st.setTimestamp(1, Timestamp.from(since));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    int hits = rs.getInt(6);
                    samples.add(new Signal.Retrieval(rs.getString(1), rs.getString(2), rs.getString(3),
                            rs.getTimestamp(4).toInstant(), rs.getDouble(5), null, rs.wasNull() ? null : hits, null));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read stored retrieval samples", e);
        }
        return samples;
    }

    /**
     * Per index, the time of the latest retrieval drop its episodes hold since {@code since}: what a window's
     * {@code lastRaisedAt} was before a restart.
     */
    public Map<String, Instant> retrievalDropsSince(Instant since) {
        Map<String, Instant> raised = new HashMap<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select deployment, max(last_seen) from failure_events where type = ? and provider = ?"
                        + " and last_seen >= ? group by deployment")) {
            st.setString(1, DataFailure.Type.RETRIEVAL_QUALITY_DROP.code());
            st.setString(2, DataFailures.PROVIDER);
            st.setTimestamp(3, Timestamp.from(since));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    raised.put(rs.getString(1), rs.getTimestamp(2).toInstant());
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the retrieval drops raised", e);
        }
        return raised;
    }

    /**
     * What an index report left in {@code index_freshness}.
     *
     * @param updatedSeenAt the last update on the server's clock, which the scheduled check measures age from
     * @param reportSeenAt the newest receipt of a report on the server's clock, which the scheduled check measures a
     *        heartbeat's silence from; {@code heartbeatRaisedFor} is the receipt a raised silence followed
     */
    record Freshness(String index, Instant lastUpdatedAt, Instant lastReportAt, Duration maxAge,
            Duration heartbeatTimeout, Instant staleRaisedFor, Instant heartbeatRaisedFor, Instant updatedSeenAt,
            Instant reportSeenAt) {
    }

    /**
     * Folds a report received at {@code receivedAt} (the server's clock) into the index's freshness: the newest
     * update ({@link #NEWER_UPDATE}) and report win; the limits of the newest report apply. The newest update is also
     * kept on the server's clock, moved by the reporter's skew as every report of it estimates it anew
     * ({@link #skew}), so a reporter whose clock is corrected moves it with its next report. The report's receipt is
     * the index's heartbeat. Returns the state after the report.
     */
    public Freshness report(Connection c, Signal.IndexReport r, Duration maxAge, Duration heartbeat,
            Instant receivedAt, Duration skewWindow, Duration skewFollow) throws SQLException {
        Instant seen = r.lastUpdatedAt().plus(skew(c, r, receivedAt, skewWindow, skewFollow));
        try (PreparedStatement st = c.prepareStatement("insert into index_freshness as f (index_name,"
                + " last_updated_at, last_report_at, max_age_seconds, heartbeat_seconds, updated_seen_at,"
                + " last_report_seen_at) values (?, ?, ?, ?, ?, ?, ?) on conflict (index_name) do update set"
                + " updated_seen_at = case when " + NEWER_UPDATE + " then excluded.updated_seen_at"
                + "   else f.updated_seen_at end,"
                + " last_updated_at = case when " + NEWER_UPDATE + " then excluded.last_updated_at"
                + "   else f.last_updated_at end,"
                + " last_report_at = greatest(f.last_report_at, excluded.last_report_at),"
                + " last_report_seen_at = greatest(f.last_report_seen_at, excluded.last_report_seen_at),"
                + " max_age_seconds = case when excluded.last_report_at >= f.last_report_at"
                + "   then excluded.max_age_seconds else f.max_age_seconds end,"
                + " heartbeat_seconds = case when excluded.last_report_at >= f.last_report_at"
                + "   then excluded.heartbeat_seconds else f.heartbeat_seconds end"
                + " returning " + FRESHNESS_COLUMNS)) {
            st.setString(1, r.index());
            st.setTimestamp(2, Timestamp.from(r.lastUpdatedAt()));
            st.setTimestamp(3, Timestamp.from(r.at()));
            st.setLong(4, maxAge.toSeconds());
            st.setLong(5, heartbeat.toSeconds());
            st.setTimestamp(6, Timestamp.from(seen));
            st.setTimestamp(7, Timestamp.from(receivedAt));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return freshness(rs);
            }
        }
    }

    /**
     * Whether a report's update replaces the index's newest: newer on the reporter's clock (the same update again
     * re-estimates it with the report's skew), or newer on the server's clock. By the reporter's clock alone, the
     * last update before its clock was set back outranked the updates after it for as long as the clock was set
     * back, and, moved by the new skew, looked that much younger: stale_index came that much late.
     */
    private static final String NEWER_UPDATE = "(excluded.last_updated_at >= f.last_updated_at"
            + " or excluded.updated_seen_at > f.updated_seen_at)";

    /**
     * A reporter's clock skew as the index's reports show it: the second least receipt less {@code at} of those
     * received within {@code window} before {@code receivedAt}, this one included (the least while it is the only
     * one). A report's receipt less its {@code at} is the skew plus the time it took to arrive, which is never
     * negative: a report spooled for an hour says the skew is an hour larger, and taken alone it made the update an
     * hour younger and stale_index an hour late. The second least, not the least: one report from a clock jumped
     * forward for a moment shows a skew that much smaller, and as the least it made every later update look that
     * much older on the server's clock for a day (stale_index raised early for an index refreshed on time). A clock
     * set forward for good is followed from its second report.
     * <p>
     * A clock set back shows as a larger receipt less {@code at} in every report after it, which the least of the
     * window ignored until the reports before it left the window: a day in which every update looked as much older
     * on the server's clock as the clock was set back, and stale_index was raised for an index refreshed on time.
     * When every report received within {@code follow} shows a larger skew than the window, and they were received
     * over at least half of it (not one late report, nor one burst of a spool), the skew is their least.
     * <p>
     * That larger skew is of the clock now, not of the clock the update was made on: an update made before the clock
     * was set back, and reported since, looked as much younger as the clock went back once the skew followed it, and
     * a stale index was raised that much late. So the skew of the index's newest update, reported again, is at most
     * the least receipt less {@code at} of the reports in the window that carried it since the last one that
     * carried another: those sent before the clock was set back show the clock it was made on; for an update made
     * after, every report carrying it shows the new skew, which is then followed. Only the newest update and its own
     * run of reports: the clock set back goes through the same times again, and a refresh it stamps at a time an
     * earlier refresh had (reported, then replaced by later ones) is another update.
     */
    private static Duration skew(Connection c, Signal.IndexReport r, Instant receivedAt, Duration window,
            Duration follow) throws SQLException {
        Duration skew = Duration.between(r.at(), receivedAt);
        Instant since = receivedAt.minus(window);
        Instant recent = receivedAt.minus(follow);
        // The bound on `at` lets the (kind, subject, at) index serve. A report it leaves out was sent more than a
        // window before its receipt: it shows more than a window of skew, the least only for a reporter that far off.
        // The reports that carried this update since the last one that carried another: the update's own run.
        try (PreparedStatement st = c.prepareStatement("with w as (select received_at, at,"
                + " payload ->> 'lastUpdatedAt' = ? as same from data_signals"
                + " where kind = ? and subject = ? and at >= ? and received_at >= ?)"
                + " select extract(epoch from coalesce((select received_at - at from w order by 1 offset 1 limit 1),"
                + " min(received_at - at))),"
                + " extract(epoch from min(received_at - at) filter (where received_at >= ?)),"
                + " min(received_at) filter (where received_at >= ?),"
                + " extract(epoch from min(received_at - at) filter (where same and received_at >"
                + " coalesce((select max(received_at) from w where not same), '-infinity'))),"
                + " (select last_updated_at from index_freshness where index_name = ?) from w")) {
            st.setString(1, r.lastUpdatedAt().toString()); // as the payload holds it
            st.setString(2, Signal.IndexReport.KIND);
            st.setString(3, r.index());
            st.setTimestamp(4, Timestamp.from(since.minus(window)));
            st.setTimestamp(5, Timestamp.from(since));
            st.setTimestamp(6, Timestamp.from(recent));
            st.setTimestamp(7, Timestamp.from(recent));
            st.setString(8, r.index());
            try (ResultSet rs = st.executeQuery()) {
                if (rs.next()) {
                    Duration least = seconds(rs.getBigDecimal(1));
                    if (least != null) {
                        // The window holds this report: the second least may lie above its own receipt less at.
                        skew = least;
                    }
                    Duration lately = seconds(rs.getBigDecimal(2));
                    Timestamp firstRecent = rs.getTimestamp(3);
                    if (lately != null && firstRecent != null && lately.compareTo(skew) > 0
                            && Duration.between(firstRecent.toInstant(), receivedAt).multipliedBy(2)
                                    .compareTo(follow) >= 0) {
                        skew = lately.compareTo(Duration.between(r.at(), receivedAt)) < 0 ? lately
                                : Duration.between(r.at(), receivedAt);
                        Duration carried = seconds(rs.getBigDecimal(4));
                        Timestamp newest = rs.getTimestamp(5);
                        if (carried != null && carried.compareTo(skew) < 0 && newest != null
                                && newest.toInstant().equals(r.lastUpdatedAt())) {
                            skew = carried;
                        }
                    }
                }
            }
        }
        return skew;
    }

    private static Duration seconds(BigDecimal seconds) {
        return seconds == null ? null : Duration.ofNanos(seconds.movePointRight(9).longValue());
    }

    private static final String FRESHNESS_COLUMNS = "index_name, last_updated_at, last_report_at, max_age_seconds,"
            + " heartbeat_seconds, stale_raised_for, heartbeat_raised_for, updated_seen_at, last_report_seen_at";

    /** Indexes older than their max age or silent beyond their heartbeat timeout, not yet raised for. */
    List<Freshness> overdueIndexes(Connection c, Instant now) throws SQLException {
        List<Freshness> overdue = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement("select " + FRESHNESS_COLUMNS + " from index_freshness"
                + " where (updated_seen_at + max_age_seconds * interval '1 second' < ?"
                + "        and stale_raised_for is distinct from last_updated_at)"
                + "    or (last_report_seen_at + heartbeat_seconds * interval '1 second' < ?"
                + "        and heartbeat_raised_for is distinct from last_report_seen_at)"
                + " order by index_name for update skip locked")) {
            st.setTimestamp(1, Timestamp.from(now));
            st.setTimestamp(2, Timestamp.from(now));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    overdue.add(freshness(rs));
                }
            }
        }
        return overdue;
    }

    /** Remembers that the index's staleness at {@code lastUpdatedAt} was raised. */
    void markStale(Connection c, String index, Instant lastUpdatedAt) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(
                "update index_freshness set stale_raised_for = ? where index_name = ?")) {
            st.setTimestamp(1, Timestamp.from(lastUpdatedAt));
            st.setString(2, index);
            st.executeUpdate();
        }
    }

    /** Remembers that the silence after the report received at {@code reportSeenAt} was raised. */
    void markHeartbeat(Connection c, String index, Instant reportSeenAt) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(
                "update index_freshness set heartbeat_raised_for = ? where index_name = ?")) {
            st.setTimestamp(1, Timestamp.from(reportSeenAt));
            st.setString(2, index);
            st.executeUpdate();
        }
    }

    private static Freshness freshness(ResultSet rs) throws SQLException {
        return new Freshness(rs.getString(1), rs.getTimestamp(2).toInstant(), rs.getTimestamp(3).toInstant(),
                Duration.ofSeconds(rs.getLong(4)), Duration.ofSeconds(rs.getLong(5)), instant(rs.getTimestamp(6)),
                instant(rs.getTimestamp(7)), rs.getTimestamp(8).toInstant(),
                rs.getTimestamp(9).toInstant());
    }

    /** A pipeline's last known run and schedule. */
    record Pipeline(String pipeline, String lastRunId, Instant lastRunAt, String lastStatus, Duration expectedEvery,
            int missedSlots) {
    }

    /**
     * Folds a run into its pipeline: the latest run wins; a schedule, once given, stays until another replaces it.
     * The indexes the run names are added to those the pipeline is known to feed.
     */
    public void run(Connection c, Signal.IngestionRun r) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("insert into ingestion_pipelines as p (pipeline, last_run_id,"
                + " last_run_at, last_status, expected_every_seconds) values (?, ?, ?, ?, ?)"
                + " on conflict (pipeline) do update set"
                + " last_run_id = case when excluded.last_run_at >= p.last_run_at then excluded.last_run_id"
                + "   else p.last_run_id end,"
                + " last_status = case when excluded.last_run_at >= p.last_run_at then excluded.last_status"
                + "   else p.last_status end,"
                + " missed_slots = case when excluded.last_run_at > p.last_run_at then 0 else p.missed_slots end,"
                + " last_run_at = greatest(p.last_run_at, excluded.last_run_at),"
                + " expected_every_seconds = coalesce(excluded.expected_every_seconds, p.expected_every_seconds)")) {
            st.setString(1, r.pipeline());
            st.setString(2, r.runId());
            st.setTimestamp(3, Timestamp.from(r.at()));
            st.setString(4, r.status());
            if (r.expectedEvery() == null) {
                st.setNull(5, java.sql.Types.BIGINT);
            } else {
                st.setLong(5, Math.max(1, r.expectedEvery().toSeconds()));
            }
            st.executeUpdate();
        }
        if (!r.indexes().isEmpty()) {
            try (PreparedStatement st = c.prepareStatement("insert into ingestion_pipeline_indexes as i (pipeline,"
                    + " index_name, first_reported_at, last_reported_at) select ?, unnest(?::text[]), ?, ?"
                    + " on conflict (pipeline, index_name) do update set"
                    + " first_reported_at = least(i.first_reported_at, excluded.first_reported_at),"
                    + " last_reported_at = greatest(i.last_reported_at, excluded.last_reported_at)")) {
                st.setString(1, r.pipeline());
                st.setArray(2, c.createArrayOf("text", r.indexes().toArray()));
                st.setTimestamp(3, Timestamp.from(r.at()));
                st.setTimestamp(4, Timestamp.from(r.at()));
                st.executeUpdate();
            }
        }
    }

    /**
     * Whether a run of the pipeline was already reported failed by a signal outside {@code batch} (within the
     * retention). Asked after {@link #run} locked the pipeline's row, so a concurrent report of the same run waits for
     * this one's commit and then sees it.
     */
    boolean failedBefore(Connection c, String pipeline, String runId, String[] batch) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select exists (select 1 from data_signals"
                + " where kind = 'ingestion' and subject = ? and payload->>'runId' = ?"
                + " and payload->>'status' = 'failed' and not (signal_id = any(?)))")) {
            st.setString(1, pipeline);
            st.setString(2, runId);
            st.setArray(3, c.createArrayOf("text", batch));
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    /** Scheduled pipelines with no run reported within expectedEvery × grace. */
    List<Pipeline> overduePipelines(Connection c, Instant now, double grace) throws SQLException {
        List<Pipeline> overdue = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement("select pipeline, last_run_id, last_run_at, last_status,"
                + " expected_every_seconds, missed_slots from ingestion_pipelines"
                + " where expected_every_seconds is not null"
                + " and last_run_at + expected_every_seconds * ? * interval '1 second' < ?"
                + " order by pipeline for update skip locked")) {
            st.setDouble(1, grace);
            st.setTimestamp(2, Timestamp.from(now));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    overdue.add(new Pipeline(rs.getString(1), rs.getString(2), rs.getTimestamp(3).toInstant(),
                            rs.getString(4), Duration.ofSeconds(rs.getLong(5)), rs.getInt(6)));
                }
            }
        }
        return overdue;
    }

    /** Remembers how many missed runs since {@code lastRunAt} were raised; a newer run resets it. */
    void markMissed(Connection c, String pipeline, Instant lastRunAt, int slots) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("update ingestion_pipelines set missed_slots = ?"
                + " where pipeline = ? and last_run_at = ?")) {
            st.setInt(1, slots);
            st.setString(2, pipeline);
            st.setTimestamp(3, Timestamp.from(lastRunAt));
            st.executeUpdate();
        }
    }

    /** The statement of {@link #deleteBefore}, both parameters the cut-off; the hourly retention runs it too. */
    public static final String DELETE_BEFORE = "delete from data_signals where at < ? and received_at < ?";

    /**
     * Deletes signals older than {@code before} and received before it; returns how many. Idempotency holds for the
     * retention after a signal was received: deleted by its own time alone, a run reported a week late was gone at the
     * next check, and its resend raised again. The time comes first for the index on it.
     */
    int deleteBefore(Connection c, Instant before) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(DELETE_BEFORE)) {
            st.setTimestamp(1, Timestamp.from(before));
            st.setTimestamp(2, Timestamp.from(before));
            return st.executeUpdate();
        }
    }

    private String toJson(Signal s) {
        try {
            return json.writeValueAsString(s.payload());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("signal payloads are plain values and always serialise", e);
        }
    }

    private static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }
}
