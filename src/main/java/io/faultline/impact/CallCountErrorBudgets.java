package io.faultline.impact;

import io.agroal.api.AgroalDataSource;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;

/**
 * Error budgets counted from the stored calls of the period: requests are call ids, failed responses the call ids
 * none of whose attempts succeeded; the target is the configured default for every model group.
 */
@Singleton
public class CallCountErrorBudgets implements ErrorBudgets {

    private final AgroalDataSource dataSource;
    private final double target;
    private final Duration period;

    public CallCountErrorBudgets(AgroalDataSource dataSource,
            @ConfigProperty(name = "faultline.slo.default-availability", defaultValue = "0.995") double target,
            @ConfigProperty(name = "faultline.slo.period", defaultValue = "30d") String period) {
        this.dataSource = dataSource;
        this.target = target;
        String p = period.toUpperCase(java.util.Locale.ROOT);
        this.period = p.endsWith("D") && !p.startsWith("P") ? Duration.ofDays(Long.parseLong(p.substring(0,
                p.length() - 1))) : Duration.parse(p.startsWith("P") ? p : "PT" + p);
    }

    @Override
    public Budget budget(String modelGroup, Instant at) {
        // A request is a call id; it belongs to the group of its first attempt and failed when no attempt succeeded.
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select count(*),"
                + " count(*) filter (where not ok) from (select call_id, bool_or(success) ok,"
                + " (array_agg(model_group order by started_at))[1] first_group from llm_calls"
                + " where started_at >= ? and started_at <= ? and call_id in (select call_id from llm_calls"
                + " where model_group = ? and started_at >= ? and started_at <= ?) group by call_id) r"
                + " where first_group = ?")) {
            Timestamp from = Timestamp.from(at.minus(period));
            Timestamp to = Timestamp.from(at);
            st.setTimestamp(1, from);
            st.setTimestamp(2, to);
            st.setString(3, modelGroup);
            st.setTimestamp(4, from);
            st.setTimestamp(5, to);
            st.setString(6, modelGroup);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                double budget = (1 - target) * rs.getLong(1);
                double remaining = budget > 0 ? 1 - rs.getLong(2) / budget : 1;
                return new Budget(target, period, budget, remaining);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the error budget of " + modelGroup, e);
        }
    }
}
