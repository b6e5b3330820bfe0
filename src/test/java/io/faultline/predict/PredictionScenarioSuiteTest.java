package io.faultline.predict;

import io.agroal.api.AgroalDataSource;
import io.faultline.baseline.DeviationDetector;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.greaterThan;

/**
 * The scenario suite: every scripted scenario of {@link PredictionScenarios} replayed side by side on the test clock
 * through the real ingest path (POST /api/v1/calls), one prediction tick per replayed minute, then scored by the
 * predictor's own accuracy rules. Writes target/prediction-scenarios.md and holds the targets: precision ≥ 0.8,
 * recall ≥ 0.7, median lead time ≥ 2 min.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PredictionScenarioSuiteTest {

    private static final Instant T0 = Instant.parse("2031-03-03T06:00:00Z");

    @Inject
    TestClock clock;

    @Inject
    FailurePredictor predictor;

    @Inject
    PredictionAccuracy accuracy;

    @Inject
    DeviationDetector deviations;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void the_scripted_scenarios_are_predicted_with_the_target_precision_recall_and_lead_time() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        List<PredictionScenarios.Scenario> scenarios = PredictionScenarios.all();
        assertThat(scenarios).hasSizeGreaterThanOrEqualTo(20);
        Map<String, PredictionScenarios.Scenario> byDeployment = new LinkedHashMap<>();
        Map<String, PredictionScenarios.Script> scripts = new LinkedHashMap<>();
        Map<String, Random> seeds = new LinkedHashMap<>();
        Set<String> providers = new TreeSet<>();
        for (PredictionScenarios.Scenario s : scenarios) {
            List<String> deployments = s.deployments(run);
            for (int i = 0; i < deployments.size(); i++) {
                byDeployment.put(deployments.get(i), s);
                scripts.put(deployments.get(i), s.members().get(i));
                seeds.put(deployments.get(i), new Random(s.providerLevel() ? (s.name() + i).hashCode()
                        : s.name().hashCode()));
            }
            providers.add(s.provider());
        }
        long ticks = 0;
        long tickNanos = 0;
        for (int m = 0; m < PredictionScenarios.END; m++) {
            Instant minuteStart = T0.plus(Duration.ofMinutes(m));
            clock.set(minuteStart.plus(Duration.ofMinutes(1)));
            List<Payloads> batch = new ArrayList<>();
            for (Map.Entry<String, PredictionScenarios.Scenario> e : byDeployment.entrySet()) {
                batch.addAll(scripts.get(e.getKey()).minute(m, minuteStart, seeds.get(e.getKey()), e.getKey()));
            }
            for (int from = 0; from < batch.size(); from += 500) {
                Api.ingest(Payloads.array(batch.subList(from, Math.min(batch.size(), from + 500))
                        .toArray(Payloads[]::new))).statusCode(200).body("accepted", greaterThan(0));
            }
            if (m + 1 == PredictionScenarios.WARMUP) {
                // The passive baselines of every scenario's model group, from its warm-up traffic.
                assertThat(deviations.learnPassive(Duration.ofHours(1))).isGreaterThanOrEqualTo(scenarios.size());
            }
            long t = System.nanoTime();
            assertThat(predictor.predictFailure().ran()).isTrue();
            tickNanos += System.nanoTime() - t;
            ticks++;
        }
        // No more calls: let every horizon end so that every prediction is resolved.
        clock.set(T0.plus(Duration.ofMinutes(PredictionScenarios.END + 16)));
        predictor.predictFailure();
        Instant end = clock.instant();

        PredictionAccuracy.Accuracy score = accuracy.compute(T0, end, byDeployment.keySet(), providers);
        assertThat(score.overall().active()).as("every prediction resolved").isZero();
        List<String[]> rows = perScenario(scenarios, run, end);
        Path report = Path.of("target", "prediction-scenarios.md");
        Files.createDirectories(report.getParent());
        Files.writeString(report, report(score, rows, calibration(byDeployment.keySet(), providers),
                providerLevel(providers), tickNanos / 1e6 / ticks));

        // The provider level: every provider-wide scenario announced by its provider's prediction (a hit), and no
        // provider-level prediction where the failure was one deployment's or nothing failed.
        for (PredictionScenarios.Scenario s : scenarios) {
            if (!s.providerLevel()) {
                continue;
            }
            List<String> statuses = providerStatuses(s.provider());
            if (s.providerWide()) {
                assertThat(statuses).as("provider-level predictions of %s; see %s", s.name(), report).contains("hit");
            } else {
                assertThat(statuses).as("provider-level predictions of %s; see %s", s.name(), report).isEmpty();
            }
        }

        PredictionAccuracy.TypeAccuracy all = score.overall();
        assertThat(all.failures()).as("the failing scenarios failed").isGreaterThanOrEqualTo(
                (int) scenarios.stream().filter(s -> s.expected() != null).count());
        assertThat(all.precision()).as("precision; see " + report).isGreaterThanOrEqualTo(0.8);
        assertThat(all.recall()).as("recall; see " + report).isGreaterThanOrEqualTo(0.7);
        assertThat(all.leadTimeSeconds().median()).as("median lead time (s); see " + report)
                .isGreaterThanOrEqualTo(120.0);
    }

    /**
     * Per scenario: expected outcome, predictions by status (a provider-level scenario's own provider-level ones
     * marked "provider"), the first prediction, the failure onsets and leads (of every deployment of it).
     */
    private List<String[]> perScenario(List<PredictionScenarios.Scenario> scenarios, String run, Instant end)
            throws Exception {
        List<String[]> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection()) {
            for (PredictionScenarios.Scenario s : scenarios) {
                List<String> deployments = s.deployments(run);
                StringBuilder predictions = new StringBuilder();
                String firstPrediction = "";
                try (PreparedStatement st = c.prepareStatement("select predicted_type, status, created_at,"
                        + " peak_confidence, deployment = '*' from failure_predictions where deployment = any (?)"
                        + " or (? and deployment = '*' and provider = ?) order by created_at")) {
                    st.setArray(1, c.createArrayOf("text", deployments.toArray()));
                    st.setBoolean(2, s.providerLevel());
                    st.setString(3, s.provider());
                    try (ResultSet rs = st.executeQuery()) {
                        while (rs.next()) {
                            if (firstPrediction.isEmpty()) {
                                firstPrediction = minute(rs.getTimestamp(3).toInstant());
                            }
                            predictions.append(predictions.length() == 0 ? "" : ", ")
                                    .append(rs.getBoolean(5) ? "provider " : "").append(rs.getString(1))
                                    .append(' ').append(rs.getString(2)).append(" (").append(String.format(
                                            Locale.ROOT, "%.2f", rs.getDouble(4))).append(')');
                        }
                    }
                }
                StringBuilder failures = new StringBuilder();
                try (PreparedStatement st = c.prepareStatement("select failure_type, onset, lead_time_ms from"
                        + " observed_failures where deployment = any (?) order by onset")) {
                    st.setArray(1, c.createArrayOf("text", deployments.toArray()));
                    try (ResultSet rs = st.executeQuery()) {
                        while (rs.next()) {
                            long lead = rs.getLong(3);
                            boolean unannounced = rs.wasNull();
                            failures.append(failures.length() == 0 ? "" : ", ").append(rs.getString(1)).append(" at ")
                                    .append(minute(rs.getTimestamp(2).toInstant())).append(unannounced ? ", unannounced"
                                            : ", lead " + Math.round(lead / 1000.0) + " s");
                        }
                    }
                }
                rows.add(new String[] { s.name() + (s.providerLevel() ? " (" + deployments.size()
                        + " deployments)" : ""), s.provider(), s.expected() == null ? "benign" : s.expected(),
                        predictions.length() == 0 ? "none" : predictions.toString(), firstPrediction,
                        failures.length() == 0 ? "none" : failures.toString() });
            }
        }
        return rows;
    }

    /** The statuses of a provider's provider-level predictions. */
    private List<String> providerStatuses(String provider) throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select status from failure_predictions where deployment = '*' and provider = ? and created_at >= ?"
                        + " and created_at < ?")) {
            st.setString(1, provider);
            st.setTimestamp(2, Timestamp.from(T0));
            st.setTimestamp(3, Timestamp.from(T0.plus(Duration.ofDays(1))));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
        }
        return out;
    }

    /** Every provider-level prediction of the suite's providers: provider, type, status, created, lead, figures. */
    private List<String[]> providerLevel(Set<String> providers) throws Exception {
        List<String[]> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select provider, predicted_type, status, created_at, lead_time_ms, peak_confidence,"
                        + " indicators ->> 'indicator', indicators - 'indicator' from failure_predictions"
                        + " where deployment = '*' and provider = any (?) and created_at >= ? and created_at < ?"
                        + " order by created_at")) {
            st.setArray(1, c.createArrayOf("text", providers.toArray()));
            st.setTimestamp(2, Timestamp.from(T0));
            st.setTimestamp(3, Timestamp.from(T0.plus(Duration.ofDays(1))));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    long lead = rs.getLong(5);
                    String leadText = rs.wasNull() ? "–" : Math.round(lead / 1000.0) + " s";
                    rows.add(new String[] { rs.getString(1), rs.getString(2), rs.getString(3),
                            minute(rs.getTimestamp(4).toInstant()), leadText,
                            String.format(Locale.ROOT, "%.2f", rs.getDouble(6)), rs.getString(7),
                            "`" + rs.getString(8).replace("|", "/") + "`" });
                }
            }
        }
        return rows;
    }

    /** Resolved predictions per confidence bucket (by peak confidence) and the share that were right. */
    private List<String[]> calibration(java.util.Collection<String> deployments, Set<String> providers)
            throws Exception {
        List<String[]> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select least(floor(peak_confidence * 10), 9) / 10 b, count(*), count(*) filter (where status in"
                        + " ('hit', 'prevented')) from failure_predictions where (deployment = any (?) or deployment"
                        + " = '*' and provider = any (?) and created_at >= ? and created_at < ?) and status <> 'active'"
                        + " group by 1"
                        + " order by 1")) {
            st.setArray(1, c.createArrayOf("text", deployments.toArray()));
            st.setArray(2, c.createArrayOf("text", providers.toArray()));
            st.setTimestamp(3, Timestamp.from(T0));
            st.setTimestamp(4, Timestamp.from(T0.plus(Duration.ofDays(1))));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    double b = rs.getDouble(1);
                    rows.add(new String[] { String.format(Locale.ROOT, "%.1f–%.1f", b, b + 0.1),
                            String.valueOf(rs.getInt(2)), String.format(Locale.ROOT, "%.2f",
                                    (double) rs.getInt(3) / rs.getInt(2)) });
                }
            }
        }
        return rows;
    }

    private static String minute(Instant at) {
        long s = Duration.between(T0, at).getSeconds();
        return String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    private static String report(PredictionAccuracy.Accuracy score, List<String[]> rows, List<String[]> calibration,
            List<String[]> providerLevel, double tickMillis) {
        StringBuilder md = new StringBuilder("# Failure prediction: scenario suite\n\n");
        md.append("Generated by `PredictionScenarioSuiteTest` (scenarios in `PredictionScenarios`): ")
                .append(rows.size()).append(" scenarios replayed side by side on the test clock through `POST")
                .append(" /api/v1/calls`, one tick per minute (").append(PredictionScenarios.WARMUP)
                .append(" min of normal traffic first, calls until minute ").append(PredictionScenarios.END)
                .append("). Minimum lead for recall: ").append(score.minLead()).append(".\n\n");
        md.append("| failure type | hits | prevented | false alarms | precision | failures | announced | recall |")
                .append(" median lead (s) | lead p25–p75 (s) |\n|---|---|---|---|---|---|---|---|---|---|\n");
        List<PredictionAccuracy.TypeAccuracy> all = new ArrayList<>(score.types());
        all.add(score.overall());
        for (PredictionAccuracy.TypeAccuracy t : all) {
            PredictionAccuracy.LeadTimes l = t.leadTimeSeconds();
            md.append("| ").append(t.failureType()).append(" | ").append(t.hits()).append(" | ").append(t.prevented())
                    .append(" | ").append(t.falseAlarms()).append(" | ").append(fmt(t.precision())).append(" | ")
                    .append(t.failures()).append(" | ").append(t.announced()).append(" | ").append(fmt(t.recall()))
                    .append(" | ").append(fmt(l.median())).append(" | ").append(fmt(l.p25())).append("–")
                    .append(fmt(l.p75())).append(" |\n");
        }
        md.append("\nTargets: precision ≥ 0.8, recall ≥ 0.7, median lead ≥ 120 s. Mean tick time in this run: ")
                .append(String.format(Locale.ROOT, "%.1f ms", tickMillis)).append(" (")
                .append(rows.size()).append(" deployments).\n\n");
        md.append("## Calibration (resolved predictions by peak confidence)\n\n| confidence | predictions | right |\n")
                .append("|---|---|---|\n");
        for (String[] r : calibration) {
            md.append("| ").append(String.join(" | ", r)).append(" |\n");
        }
        md.append("\n## Scenarios (times are minutes:seconds of the replayed timeline)\n\n")
                .append("| scenario | provider | expected | predictions (status, peak confidence) | first prediction |")
                .append(" observed failures |\n|---|---|---|---|---|---|\n");
        for (String[] r : rows) {
            md.append("| ").append(String.join(" | ", r)).append(" |\n");
        }
        md.append("\n## Provider-level predictions (deployment `*`), every provider of the suite\n\n")
                .append("| provider | type | status | created | lead | peak confidence | indicator | figures |\n")
                .append("|---|---|---|---|---|---|---|---|\n");
        for (String[] r : providerLevel) {
            md.append("| ").append(String.join(" | ", r)).append(" |\n");
        }
        return md.toString();
    }

    private static String fmt(Double v) {
        return v == null ? "–" : String.format(Locale.ROOT, "%.2f", v);
    }
}
