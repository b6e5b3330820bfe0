package io.faultline.common;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.time.ZoneOffset;

/**
 * Binds an instant as a typed {@code timestamptz} parameter. PgJDBC binds a {@link java.sql.Timestamp} untyped, for
 * the server to infer, and a statement with an untyped parameter is described when PgJDBC prepares it on the server
 * (its fifth run). From then on, before each run of that statement whose rows hold a column of no fixed size (text,
 * an array, jsonb), PgJDBC sends a Sync of its own and waits for the answer (its guard against filling the receive
 * buffer): one more round trip per statement, with nothing to wait for. Typed parameters leave it undescribed.
 */
public final class SqlTime {

    private SqlTime() {
    }

    public static void set(PreparedStatement st, int index, Instant at) throws SQLException {
        st.setObject(index, at.atOffset(ZoneOffset.UTC));
    }
}
