package io.faultline.testing;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.UUID;

import javax.sql.DataSource;

/** Baseline runs written straight into the table, for tests that need a stored profile without running one. */
public final class BaselineRuns {

    private BaselineRuns() {
    }

    /** A finished run of {@code provider} and {@code modelGroup} that sent {@code requests}, as baselines reference. */
    public static UUID completed(DataSource dataSource, String provider, String modelGroup, int requests)
            throws SQLException {
        UUID runId = UUID.randomUUID();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "insert into baseline_runs (run_id, provider, model_group, total, sent, status, workload, started_at,"
                        + " finished_at) values (?, ?, ?, ?, ?, 'completed', 'v1', now(), now())")) {
            st.setObject(1, runId);
            st.setString(2, provider);
            st.setString(3, modelGroup);
            st.setInt(4, requests);
            st.setInt(5, requests);
            st.executeUpdate();
        }
        return runId;
    }
}
