package io.faultline.deploy;

import io.agroal.api.AgroalDataSource;
import io.faultline.impact.FailureImpactAssessor;
import io.faultline.impact.ImpactTestData;
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
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The impact dashboard shows a replayed outage that fell back to a pricier model minutes ago: every SQL panel returns
 * its rows from the migrated schema once the scheduled assessment ran. The PromQL panels go through promtool and the
 * real Prometheus of ProviderMetricsIT like the other dashboards.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ImpactDashboardTest {

    static final Path DASHBOARD = Path.of("dashboards", "impact.json");

    @Inject
    AgroalDataSource dataSource;

    @Inject
    TestClock clock;

    @Inject
    FailureImpactAssessor assessor;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void every_sql_panel_of_the_impact_dashboard_shows_the_replayed_outage() throws Exception {
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.SECONDS).minus(Duration.ofMinutes(20));
        clock.set(t0.plus(Duration.ofMinutes(5)));
        ImpactTestData.Incident inc = ImpactTestData.replay(t0);
        assertThat(assessor.refreshOpen()).isGreaterThanOrEqualTo(2);

        Map<String, String> queries = DashboardSqlTest.queriesOf(DASHBOARD);
        assertThat(queries).hasSize(4);
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            for (Map.Entry<String, String> query : queries.entrySet()) {
                List<Map<String, String>> rows = DashboardSqlTest.rows(st, query.getValue());
                String key = query.getKey();
                assertThat(rows).as(key).isNotEmpty();
                if (key.contains("Top failures")) {
                    assertThat(rows).filteredOn(r -> inc.group().equals(r.get("model_group"))
                            && "PROVIDER".equals(r.get("category"))).first().satisfies(r -> {
                                assertThat(r.get("failed_responses")).isEqualTo("2");
                                assertThat(r.get("affected_users")).isEqualTo("3");
                                assertThat(Double.parseDouble(r.get("total_usd"))).isPositive();
                            });
                }
                if (key.contains("Top patterns")) {
                    assertThat(rows).extracting(r -> r.get("pattern")).anyMatch(p -> p.contains(inc.suffix()));
                }
                if (key.contains("Impact over time")) {
                    assertThat(rows).extracting(r -> r.get("metric")).contains("PROVIDER");
                }
                if (key.contains("Cost of failures")) {
                    assertThat(rows).extracting(r -> r.get("metric")).contains("openai PROVIDER");
                }
            }
        }
    }

    /**
     * The impact-over-time panel puts each episode's whole total at the hour it was last active (an assessment is one
     * row per episode, not a series): the figure is no rate. Titled "USD per hour", an episode priced at $1,000 read
     * as $1,000 an hour, however long it lasted.
     */
    @Test
    void the_impact_over_time_panel_is_titled_as_the_totals_it_sums_not_as_a_rate() throws Exception {
        assertThat(DashboardSqlTest.queriesOf(DASHBOARD).keySet()).filteredOn(k -> k.contains("Impact over time"))
                .singleElement().satisfies(title -> assertThat(title).doesNotContainIgnoringCase("per hour")
                        .contains("episodes last active in each hour"));
    }

    /**
     * Grafana's PostgreSQL data source may run in any time zone: a bucket truncated in the session's zone started at
     * half past the UTC hour in India (+05:30). Every query of the dashboard answers the same rows, times compared as
     * instants, in UTC and in Asia/Kolkata (one transaction, so now() is the same for both).
     */
    @Test
    void every_sql_panel_of_the_impact_dashboard_answers_the_same_buckets_in_any_session_time_zone()
            throws Exception {
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.SECONDS).minus(Duration.ofMinutes(20));
        clock.set(t0.plus(Duration.ofMinutes(5)));
        ImpactTestData.replay(t0);
        assertThat(assessor.refreshOpen()).isGreaterThanOrEqualTo(2);

        Map<String, String> queries = DashboardSqlTest.queriesOf(DASHBOARD);
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                for (Map.Entry<String, String> query : queries.entrySet()) {
                    st.execute("set local time zone 'UTC'");
                    List<String> utc = DashboardSqlTest.instantRows(st, query.getValue());
                    st.execute("set local time zone 'Asia/Kolkata'");
                    List<String> india = DashboardSqlTest.instantRows(st, query.getValue());
                    assertThat(utc).as(query.getKey()).isNotEmpty();
                    assertThat(india).as(query.getKey() + " in Asia/Kolkata").containsExactlyInAnyOrderElementsOf(utc);
                }
            } finally {
                c.rollback();
            }
        }
    }
}
