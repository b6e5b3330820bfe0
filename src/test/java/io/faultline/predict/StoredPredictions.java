package io.faultline.predict;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.UUID;

/** Predictions written straight to the table, for tests that need one made at a chosen time. */
final class StoredPredictions {

    private StoredPredictions() {
    }

    /** An active rate-limit prediction (confidence 0.9, horizon 15 min) made at {@code created}. */
    static void insertActive(DataSource dataSource, UUID id, String provider, String deployment, Instant created,
            Instant horizonEnd) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "insert into failure_predictions (prediction_id, predicted_type, provider, deployment, confidence,"
                        + " peak_confidence, time_to_failure_ms, recommended_action, indicators, created_at,"
                        + " updated_at, horizon_ms, horizon_ends_at, status) values (?, 'rate_limit', ?, ?, 0.9,"
                        + " 0.9, 300000, 'reduce', '{}', ?, ?, 900000, ?, 'active')")) {
            st.setObject(1, id);
            st.setString(2, provider);
            st.setString(3, deployment);
            st.setTimestamp(4, Timestamp.from(created));
            st.setTimestamp(5, Timestamp.from(created));
            st.setTimestamp(6, Timestamp.from(horizonEnd));
            st.executeUpdate();
        }
    }
}
