package io.faultline.predict;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Precision, recall and lead times of the predictions (README: "Accuracy"). Precision over the resolved predictions
 * made in the period: (hit + prevented) / (hit + prevented + false_alarm). Recall over the failures observed in the
 * period: those a live prediction announced at least {@code min-lead} before their onset / all of them. Lead times
 * are the hits' (onset − prediction created).
 */
@ApplicationScoped
public class PredictionAccuracy {

    /** Lead-time distribution of the hits, in seconds. */
    public record LeadTimes(int count, Double min, Double p25, Double median, Double p75, Double max) {

        static LeadTimes of(List<Double> seconds) {
            if (seconds.isEmpty()) {
                return new LeadTimes(0, null, null, null, null, null);
            }
            List<Double> s = seconds.stream().sorted().toList();
            return new LeadTimes(s.size(), s.get(0), quantile(s, 0.25), quantile(s, 0.5), quantile(s, 0.75),
                    s.get(s.size() - 1));
        }

        /** Linear interpolation between closest ranks. */
        static double quantile(List<Double> sorted, double q) {
            double pos = q * (sorted.size() - 1);
            int lo = (int) Math.floor(pos);
            int hi = (int) Math.ceil(pos);
            return sorted.get(lo) + (sorted.get(hi) - sorted.get(lo)) * (pos - lo);
        }
    }

    /** One failure type's score; precision or recall is null while there is nothing to divide by. */
    public record TypeAccuracy(String failureType, int active, int hits, int prevented, int falseAlarms,
            Double precision, int failures, int announced, int missed, Double recall, LeadTimes leadTimeSeconds) {
    }

    /** The score over a period, per type and over all types. */
    public record Accuracy(Instant since, Instant until, String minLead, List<TypeAccuracy> types,
            TypeAccuracy overall) {
    }

    private final AgroalDataSource dataSource;
    private final PredictConfig config;

    public PredictionAccuracy(AgroalDataSource dataSource, PredictConfig config) {
        this.dataSource = dataSource;
        this.config = config;
    }

    /** The score of predictions created and failures begun in {@code [since, until)}; deployments null = all. */
    public Accuracy compute(Instant since, Instant until, Collection<String> deployments) {
        return compute(since, until, deployments, List.of());
    }

    /**
     * As {@link #compute(Instant, Instant, Collection)}, with the provider-level predictions of {@code providers}
     * scored along with the deployments' (failures are always a deployment's).
     */
    public Accuracy compute(Instant since, Instant until, Collection<String> deployments,
            Collection<String> providers) {
        Map<String, int[]> counts = new TreeMap<>();
        Map<String, List<Double>> leads = new TreeMap<>();
        for (String type : config.types()) {
            counts.put(type, new int[7]);
            leads.put(type, new ArrayList<>());
        }
        String scope = deployments == null ? "" : " and deployment = any (?)";
        String predictionScope = deployments == null ? ""
                : " and (deployment = any (?) or deployment = '*' and provider = any (?))";
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement st = c.prepareStatement("select predicted_type, status, count(*) from"
                    + " failure_predictions where created_at >= ? and created_at < ?" + predictionScope
                    + " group by 1, 2")) {
                bind(c, st, since, until, deployments, providers);
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        int[] n = counts.computeIfAbsent(rs.getString(1), k -> new int[7]);
                        int index = switch (rs.getString(2)) {
                            case "active" -> 0;
                            case "hit" -> 1;
                            case "prevented" -> 2;
                            default -> 3;
                        };
                        n[index] += rs.getInt(3);
                    }
                }
            }
            try (PreparedStatement st = c.prepareStatement("select failure_type, count(*), count(*) filter (where"
                    + " announced_by is not null and lead_time_ms >= ?) from observed_failures where onset >= ?"
                    + " and onset < ?" + scope + " group by 1")) {
                st.setLong(1, config.minLead().toMillis());
                st.setTimestamp(2, Timestamp.from(since));
                st.setTimestamp(3, Timestamp.from(until));
                if (deployments != null) {
                    st.setArray(4, c.createArrayOf("text", deployments.toArray()));
                }
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        int[] n = counts.computeIfAbsent(rs.getString(1), k -> new int[7]);
                        n[4] += rs.getInt(2);
                        n[5] += rs.getInt(3);
                    }
                }
            }
            try (PreparedStatement st = c.prepareStatement("select predicted_type, lead_time_ms from"
                    + " failure_predictions where status = 'hit' and created_at >= ? and created_at < ?"
                    + predictionScope)) {
                bind(c, st, since, until, deployments, providers);
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        leads.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(rs.getLong(2) / 1000.0);
                    }
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not compute the prediction accuracy", e);
        }
        List<TypeAccuracy> types = new ArrayList<>();
        int[] all = new int[7];
        List<Double> allLeads = new ArrayList<>();
        counts.forEach((type, n) -> {
            types.add(score(type, n, leads.getOrDefault(type, List.of())));
            for (int i = 0; i < all.length; i++) {
                all[i] += n[i];
            }
            allLeads.addAll(leads.getOrDefault(type, List.of()));
        });
        return new Accuracy(since, until, config.minLead().toString(), types, score("all", all, allLeads));
    }

    private static TypeAccuracy score(String type, int[] n, List<Double> leads) {
        int judged = n[1] + n[2] + n[3];
        Double precision = judged == 0 ? null : round((double) (n[1] + n[2]) / judged);
        Double recall = n[4] == 0 ? null : round((double) n[5] / n[4]);
        return new TypeAccuracy(type, n[0], n[1], n[2], n[3], precision, n[4], n[5], n[4] - n[5], recall,
                LeadTimes.of(leads));
    }

    private static void bind(Connection c, PreparedStatement st, Instant since, Instant until,
            Collection<String> deployments, Collection<String> providers) throws SQLException {
        st.setTimestamp(1, Timestamp.from(since));
        st.setTimestamp(2, Timestamp.from(until));
        if (deployments != null) {
            st.setArray(3, c.createArrayOf("text", deployments.toArray()));
            st.setArray(4, c.createArrayOf("text", providers.toArray()));
        }
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
