package io.faultline.deploy;

import io.agroal.api.AgroalDataSource;
import io.faultline.predict.FailurePredictor;
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

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.IntToLongFunction;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The prediction dashboard shows a replayed half hour that ended minutes ago: one deployment whose drain was
 * predicted, reduced and restored in steps once its limit reset; one that drained to its 429s (a hit, announced
 * ahead); one whose drain is predicted at the end (active). Every SQL panel and the annotation return those rows
 * from the migrated schema. The PromQL panels are checked by promtool and a real Prometheus in ProviderMetricsIT.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PredictionDashboardTest {

    static final Path DASHBOARD = Path.of("dashboards", "prediction.json");

    @Inject
    AgroalDataSource dataSource;

    @Inject
    TestClock clock;

    @Inject
    FailurePredictor predictor;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void every_panel_of_the_prediction_dashboard_shows_the_replayed_half_hour() throws Exception {
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        String recovered = "dash-recovered-" + suffix;
        String failed = "dash-failed-" + suffix;
        String pending = "dash-pending-" + suffix;
        String group = "dash-group-" + suffix;
        Map<String, IntToLongFunction> remaining = new LinkedHashMap<>();
        remaining.put(recovered, m -> m < 7 ? 90_000 - 5_000L * m : 100_000);
        remaining.put(failed, m -> Math.max(0, 90_000 - 5_000L * m));
        remaining.put(pending, m -> m < 8 ? 100_000 : 100_000 - 5_000L * (m - 8));
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.MINUTES).minus(Duration.ofMinutes(40));
        for (int m = 0; m < 22; m++) {
            Instant start = t0.plus(Duration.ofMinutes(m));
            List<Payloads> calls = new ArrayList<>();
            for (Map.Entry<String, IntToLongFunction> d : remaining.entrySet()) {
                long left = d.getValue().applyAsLong(m);
                for (int i = 0; i < 10; i++) {
                    Instant at = start.plusSeconds(i * 6L);
                    Payloads p = left == 0
                            ? Payloads.failure("openai", group, d.getKey(), at, 429, "RateLimitError",
                                    "Rate limit reached for gpt-4o-mini on tokens per min (TPM)")
                            : Payloads.success("openai", group, d.getKey(), at).latency(0.5);
                    calls.add(p.header("x-ratelimit-limit-tokens", "100000")
                            .header("x-ratelimit-remaining-tokens", String.valueOf(left))
                            .header("x-ratelimit-reset-tokens", "3h0m0s"));
                }
            }
            clock.set(start.plus(Duration.ofMinutes(1)));
            Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
            predictor.predictFailure();
        }

        Map<String, String> queries = DashboardSqlTest.queriesOf(DASHBOARD);
        assertThat(queries.keySet()).hasSize(6);
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            for (Map.Entry<String, String> query : queries.entrySet()) {
                List<Map<String, String>> mine = rows(st, query.getValue(), suffix);
                String key = query.getKey();
                assertThat(mine).as(key + " shows the replay").isNotEmpty();
                if (key.contains("Active predictions")) {
                    assertThat(mine).extracting(r -> r.get("deployment")).contains(pending)
                            .doesNotContain(failed);
                    assertThat(mine).filteredOn(r -> pending.equals(r.get("deployment"))).singleElement()
                            .satisfies(r -> {
                                assertThat(r.get("type")).isEqualTo("rate_limit");
                                assertThat(Double.parseDouble(r.get("minutes_to_failure"))).isBetween(0.0, 15.0);
                            });
                }
                if (key.contains("Traffic share kept")) {
                    assertThat(DashboardSqlTest.columns(st, query.getValue())).startsWith("time:timestamptz,metric:text,value:float8");
                    // A series per provider and deployment: one id may be two providers' deployments (V55).
                    List<Double> shares = mine.stream().filter(r -> ("openai/" + recovered).equals(r.get("metric")))
                            .map(r -> Double.parseDouble(r.get("value"))).toList();
                    assertThat(shares.get(0)).as("reduced first").isLessThan(0.5);
                    assertThat(shares.get(shares.size() - 1)).as("restored last").isEqualTo(1.0);
                    assertThat(shares.subList(1, shares.size())).as("then only up, in steps").isSorted()
                            .hasSizeGreaterThanOrEqualTo(3);
                }
                if (key.contains("Traffic policy actions") && !key.startsWith("annotation")) {
                    assertThat(mine).filteredOn(r -> recovered.equals(r.get("deployment")))
                            .extracting(r -> r.get("action")).contains("reduce", "step_up", "restore");
                }
                if (key.contains("Predictions by outcome")) {
                    assertThat(mine).as("the drain that ran out is a hit").anySatisfy(r -> {
                        assertThat(r.get("type")).isEqualTo("rate_limit");
                        assertThat(r.get("status")).isEqualTo("hit");
                        assertThat(Double.parseDouble(r.get("median_lead_s"))).isPositive();
                    });
                }
                if (key.contains("Observed failures")) {
                    assertThat(mine).singleElement().satisfies(r -> {
                        assertThat(r.get("deployment")).isEqualTo(failed);
                        assertThat(r.get("announced")).isEqualTo("t");
                        assertThat(Double.parseDouble(r.get("lead_s"))).isGreaterThanOrEqualTo(120);
                    });
                }
                if (key.startsWith("annotation")) {
                    assertThat(mine).extracting(r -> r.get("text"))
                            .anyMatch(t -> t.startsWith("reduce openai/" + recovered))
                            .anyMatch(t -> t.startsWith("restore openai/" + recovered));
                }
            }
        }
    }

    /** The rows of a panel that name this run's deployments (the outcome table has none: all of its rows). */
    private static List<Map<String, String>> rows(Statement st, String sql, String suffix) throws Exception {
        boolean perDeployment = Arrays.stream(DashboardSqlTest.columns(st, sql).split(","))
                .map(c -> c.substring(0, c.indexOf(':'))).anyMatch(List.of("deployment", "metric", "text")::contains);
        return DashboardSqlTest.rows(st, sql).stream().filter(row -> !perDeployment
                || row.values().stream().anyMatch(v -> v != null && v.contains(suffix))).toList();
    }
}
