package io.faultline.testing;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.UUID;

import javax.sql.DataSource;

import static org.assertj.core.api.Assertions.assertThat;

/** What the tables hold, read straight from them, for tests that check what a job kept or removed. */
public final class Rows {

    private Rows() {
    }

    /** Rows of {@code table} whose {@code column} equals {@code value} (names are the test's own, never input). */
    public static long naming(DataSource dataSource, String table, String column, String value) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select count(*) from " + table + " where " + column + " = ?")) {
            st.setString(1, value);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /** The one episode stored on {@code deployment}; fails the test when there is none or more than one. */
    public static UUID episodeOf(Connection c, String deployment) throws SQLException {
        try (PreparedStatement st = c.prepareStatement("select failure_id from failure_events where deployment = ?")) {
            st.setString(1, deployment);
            try (ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).as("an episode on %s", deployment).isTrue();
                UUID id = rs.getObject(1, UUID.class);
                assertThat(rs.next()).as("one episode on %s", deployment).isFalse();
                return id;
            }
        }
    }

    /** {@link #episodeOf(Connection, String)} on a connection of its own. */
    public static UUID episodeOf(DataSource dataSource, String deployment) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            return episodeOf(c, deployment);
        }
    }
}
