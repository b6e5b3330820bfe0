package io.faultline.impact;

import io.faultline.common.AdvisoryLocks;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;

/**
 * Moves the SLO rollup's global position for a test, under the rollup's own lock. The scheduled rollup runs on the
 * test clock too: a run that read the state before the write and saved its own after it (a run begun on the previous
 * test's clock, years later) put the position back past this test's minutes, which were then never derived
 * (SloTest read 0 requests where 1 was stored, once, on CI's loaded machine). With the lock, a run under way commits
 * first and a later one reads the position written here.
 */
final class SloRollupPosition {

    private SloRollupPosition() {
    }

    /** The rollup has derived every minute before {@code at}, and last ran then. */
    static void set(DataSource dataSource, Instant at) throws SQLException {
        locked(dataSource, "insert into slo_rollup_state (state_key, rolled_through, last_run) values (1, ?, ?)"
                + " on conflict (state_key) do update set rolled_through = excluded.rolled_through,"
                + " last_run = excluded.last_run", at);
    }

    /** No position: the next run starts afresh, at the oldest call within the backfill. */
    static void forget(DataSource dataSource) throws SQLException {
        locked(dataSource, "delete from slo_rollup_state", null);
    }

    private static void locked(DataSource dataSource, String sql, Instant at) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement st = c.prepareStatement(sql)) {
                AdvisoryLocks.xact(c, SloRollup.LOCK_KEY);
                if (at != null) {
                    st.setTimestamp(1, Timestamp.from(at));
                    st.setTimestamp(2, Timestamp.from(at));
                }
                st.executeUpdate();
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        }
    }
}
