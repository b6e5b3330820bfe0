package io.faultline.deploy;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Correlations;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The correlation dashboard shows a real incident: a timeout whose requests fell back (same LiteLLM trace) to a model
 * that then broke the JSON format, ingested through the API a few minutes ago. Every SQL panel and the annotation
 * return that cluster's rows from the migrated schema; the timeline's bands start and end where its episodes do.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CorrelationDashboardTest {

    static final Path DASHBOARD = Path.of("dashboards", "correlation.json");

    @Inject
    AgroalDataSource dataSource;

    /** Four requests time out on openai and fall back to anthropic, whose answers break the asked-for JSON. */
    static String cascade(Instant t0) {
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        String primary = "oa-dash-" + suffix;
        String fallback = "an-dash-" + suffix;
        Map<String, Object> json = Map.of("response_format", Map.of("type", "json_object"));
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            calls.add(Payloads.success("anthropic", "claude-3-5-haiku", fallback, t0.minusSeconds(2400 - i * 20))
                    .set("model_parameters", json).answer("{\"city\": \"Paris\"}", "stop"));
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        calls.clear();
        for (int i = 0; i < 4; i++) {
            String trace = UUID.randomUUID().toString();
            Instant at = t0.plusSeconds(i * 10);
            calls.add(Payloads.failure("openai", "gpt-4o-mini", primary, at, 408, "Timeout", "Request timed out.")
                    .set("trace_id", trace).set("model_parameters", json));
            calls.add(Payloads.success("anthropic", "claude-3-5-haiku", fallback, at.plusSeconds(2))
                    .set("trace_id", trace).set("model_parameters", json)
                    .answer("Sure! Here is the data you asked for: city Paris", "stop"));
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        Correlations.drain();
        return primary;
    }

    @Test
    void every_panel_of_the_correlation_dashboard_shows_the_cascade_cluster() throws Exception {
        // Inside the panels' 24 hours, but away from now: other classes raise episodes of other providers at the
        // wall clock (deviations, late data), which the engine rightly joins to this incident when they fall within
        // its 5 minutes (a CI run saw 48 timeline rows of one cluster where 6 were this test's).
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.SECONDS).minus(Duration.ofHours(17)).minusSeconds(1380);
        String primary = cascade(t0);
        String cluster;
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement("select"
                + " left(m.cluster_id::text, 8) from correlation_members m join failure_events e"
                + " on e.failure_id = m.failure_id where e.deployment = ?")) {
            st.setString(1, primary);
            try (ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).as("the timeout episode is in a cluster").isTrue();
                cluster = rs.getString(1);
            }
        }

        Map<String, String> queries = DashboardSqlTest.queriesOf(DASHBOARD);
        assertThat(queries.keySet()).hasSize(5).anyMatch(k -> k.contains("timeline"))
                .anyMatch(k -> k.contains("edges")).anyMatch(k -> k.startsWith("annotation"));
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            for (Map.Entry<String, String> query : queries.entrySet()) {
                List<Map<String, String>> mine = DashboardSqlTest.rows(st, query.getValue()).stream()
                        .filter(row -> row.values().stream().anyMatch(v -> v != null && v.contains(cluster))).toList();
                assertThat(mine).as(query.getKey() + " shows cluster " + cluster).isNotEmpty();
                if (query.getKey().contains("edges")) {
                    assertThat(mine).extracting(r -> r.get("kind")).containsExactlyInAnyOrder("fallback", "caused");
                    assertThat(mine).allSatisfy(r -> assertThat(Double.parseDouble(r.get("confidence")))
                            .isBetween(0.0, 1.0));
                    assertThat(mine).filteredOn(r -> "fallback".equals(r.get("kind")))
                            .extracting(r -> r.get("shared_traces")).containsExactly("4");
                    assertThat(mine).extracting(r -> r.get("from_episode")).allMatch(f -> f.startsWith(
                            "openai timeout @ " + primary));
                }
                if (query.getKey().contains("timeline")) {
                    assertThat(DashboardSqlTest.columns(st, query.getValue())).startsWith("time:timestamptz,metric:text,value:");
                    // cluster band and 2 member bands, each opened by a value and closed by a null
                    assertThat(mine).hasSize(6);
                    assertThat(mine).filteredOn(r -> r.get("value") == null).hasSize(3);
                    assertThat(mine).extracting(r -> r.get("metric")).anyMatch(m -> m.contains("cascade"))
                            .anyMatch(m -> m.contains("openai timeout @ " + primary + " (root)"))
                            .anyMatch(m -> m.contains("anthropic format_non_compliance"));
                }
                if (query.getKey().contains("Member episodes")) {
                    assertThat(mine).extracting(r -> r.get("type"))
                            .containsExactlyInAnyOrder("timeout", "format_non_compliance");
                }
                if (query.getKey().startsWith("annotation")) {
                    assertThat(mine).singleElement().satisfies(r -> {
                        assertThat(r.get("text")).startsWith("cascade cluster " + cluster).contains("fell back");
                        assertThat(r.get("tags")).startsWith("cascade,");
                    });
                }
            }
        }
    }
}
