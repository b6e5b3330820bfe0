package io.faultline.common;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * PostgreSQL's transaction-level advisory locks on one key, as the cluster-wide jobs take them: a scheduled tick
 * tries (another replica holding the lock is running the same tick, so this one skips), an operator's call on demand
 * waits. Both are released when the caller's transaction ends. The key is the job's own constant (its name in ASCII).
 */
public final class AdvisoryLocks {

    private AdvisoryLocks() {
    }

    /** Takes the lock if no other transaction holds it; false when one does. */
    public static boolean tryXact(Connection c, long key) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select pg_try_advisory_xact_lock(?)")) {
            st.setLong(1, key);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    /** Waits for the lock (bounded by the transaction's {@code lock_timeout}, if it sets one); always true. */
    public static boolean xact(Connection c, long key) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select pg_advisory_xact_lock(?)")) {
            st.setLong(1, key);
            st.execute();
            return true;
        }
    }
}
