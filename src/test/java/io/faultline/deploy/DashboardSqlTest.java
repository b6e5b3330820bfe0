package io.faultline.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Every SQL panel of every dashboard runs against the real schema (Flyway-migrated PostgreSQL). */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class DashboardSqlTest {

    @Inject
    AgroalDataSource dataSource;

    /** Grafana's macros, expanded the way its PostgreSQL datasource does for a 24-hour range. */
    static String concrete(String sql) {
        return sql.replaceAll("\\$__timeFilter\\(([^)]+)\\)",
                "$1 BETWEEN now() - interval '24 hours' AND now()")
                .replace("$__timeFrom()", "(now() - interval '24 hours')").replace("$__timeTo()", "now()");
    }

    static Map<String, String> sqlPanels() throws Exception {
        ObjectMapper json = new ObjectMapper();
        Map<String, String> panels = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(Path.of("dashboards"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".json")).sorted().toList()) {
                for (JsonNode panel : json.readTree(file.toFile()).path("panels")) {
                    for (JsonNode target : panel.path("targets")) {
                        if (target.hasNonNull("rawSql")) {
                            panels.put(file.getFileName() + " '" + panel.path("title").asText() + "'",
                                    target.get("rawSql").asText());
                        }
                    }
                }
            }
        }
        return panels;
    }

    /** The SQL panels of one dashboard and its annotations' queries, by panel or annotation name. */
    static Map<String, String> queriesOf(Path dashboard) throws Exception {
        Map<String, String> queries = new LinkedHashMap<>();
        sqlPanels().forEach((panel, sql) -> {
            if (panel.startsWith(dashboard.getFileName().toString() + " ")) {
                queries.put(panel, sql);
            }
        });
        for (JsonNode annotation : new ObjectMapper().readTree(dashboard.toFile()).path("annotations").path("list")) {
            if (annotation.path("target").hasNonNull("rawSql")) {
                queries.put("annotation '" + annotation.path("name").asText() + "'",
                        annotation.path("target").path("rawSql").asText());
            }
        }
        return queries;
    }

    /** Every row a panel's query returns (macros expanded), column label to text value. */
    static List<Map<String, String>> rows(Statement st, String sql) throws Exception {
        List<Map<String, String>> rows = new ArrayList<>();
        try (ResultSet rs = st.executeQuery(concrete(sql))) {
            ResultSetMetaData meta = rs.getMetaData();
            while (rs.next()) {
                Map<String, String> row = new LinkedHashMap<>();
                for (int i = 1; i <= meta.getColumnCount(); i++) {
                    row.put(meta.getColumnLabel(i), rs.getString(i));
                }
                rows.add(row);
            }
        }
        return rows;
    }

    /** The rows of a query as text, each timestamptz as its instant (not as the session's zone renders it). */
    static List<String> instantRows(Statement st, String sql) throws Exception {
        List<String> rows = new ArrayList<>();
        try (ResultSet rs = st.executeQuery(concrete(sql))) {
            ResultSetMetaData meta = rs.getMetaData();
            while (rs.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= meta.getColumnCount(); i++) {
                    Object value = meta.getColumnTypeName(i).equals("timestamptz")
                            ? rs.getObject(i, OffsetDateTime.class) : rs.getString(i);
                    row.append(meta.getColumnLabel(i)).append('=')
                            .append(value instanceof OffsetDateTime o ? o.toInstant() : value).append(';');
                }
                rows.add(row.toString());
            }
        }
        return rows;
    }

    /** The columns of a panel's query as {@code label:type,...}, what Grafana's panel type relies on. */
    static String columns(Statement st, String sql) throws Exception {
        try (ResultSet rs = st.executeQuery(concrete(sql))) {
            ResultSetMetaData meta = rs.getMetaData();
            List<String> columns = new ArrayList<>();
            for (int i = 1; i <= meta.getColumnCount(); i++) {
                columns.add(meta.getColumnLabel(i) + ":" + meta.getColumnTypeName(i));
            }
            return String.join(",", columns);
        }
    }

    @Test
    void every_sql_panel_runs_against_the_real_schema() throws Exception {
        Map<String, String> panels = sqlPanels();
        assertThat(panels).hasSizeGreaterThanOrEqualTo(4);
        List<String> broken = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            for (Map.Entry<String, String> panel : panels.entrySet()) {
                assertThat(panel.getValue()).as(panel.getKey() + " has no unexpanded variable")
                        .doesNotContain("$provider");
                try (ResultSet rs = st.executeQuery(concrete(panel.getValue()))) {
                    assertThat(rs.getMetaData().getColumnCount()).isGreaterThanOrEqualTo(2);
                    while (rs.next()) {
                        // read through: a panel whose rows fail to convert would fail here
                    }
                } catch (Exception e) {
                    broken.add(panel.getKey() + ": " + e.getMessage());
                }
            }
        }
        assertThat(broken).isEmpty();
    }

    /**
     * Grafana's PostgreSQL data source may run in any time zone: every SQL panel answers the same rows, times compared
     * as instants, in UTC and in Asia/Kolkata (+05:30, where an hour truncated in the session's zone starts at half
     * past the UTC hour). One transaction, so now() is the same for both.
     */
    @Test
    void every_sql_panel_answers_the_same_rows_in_any_session_time_zone() throws Exception {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                for (Map.Entry<String, String> panel : sqlPanels().entrySet()) {
                    st.execute("set local time zone 'UTC'");
                    List<String> utc = instantRows(st, panel.getValue());
                    st.execute("set local time zone 'Asia/Kolkata'");
                    assertThat(instantRows(st, panel.getValue())).as(panel.getKey() + " in Asia/Kolkata")
                            .containsExactlyInAnyOrderElementsOf(utc);
                }
            } finally {
                c.rollback();
            }
        }
    }

    @Test
    void time_series_panels_return_a_time_column_first() throws Exception {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            for (Map.Entry<String, String> panel : sqlPanels().entrySet()) {
                if (panel.getValue().startsWith("select measured_at as time")
                        || panel.getValue().startsWith("select last_seen as time")) {
                    try (ResultSet rs = st.executeQuery(concrete(panel.getValue()))) {
                        assertThat(rs.getMetaData().getColumnLabel(1)).as(panel.getKey()).isEqualTo("time");
                        assertThat(rs.getMetaData().getColumnTypeName(1)).as(panel.getKey()).isEqualTo("timestamptz");
                    }
                }
            }
        }
    }
}
