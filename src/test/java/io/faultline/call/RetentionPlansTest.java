package io.faultline.call;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import io.faultline.data.EmbeddingStore;
import io.faultline.impact.SloRollup;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every hourly retention delete finds its rows through an index that starts with its time column: without one each
 * run reads the whole table (data signals and observed failures did until V45). Checked on the plan PostgreSQL makes,
 * with sequential scans priced out so that the answer does not hang on the seeded tables' statistics: the scan of the
 * table deleted from must be an index scan, of an index whose first column is the one compared with the cut-off (an
 * index merely containing it, such as {@code (kind, at)}, is read whole).
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RetentionPlansTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The time column each delete of {@link Retention} compares with the cut-off. */
    private static final Map<String, String> TIME_COLUMNS = new LinkedHashMap<>();

    static {
        TIME_COLUMNS.put("llm_calls_default", "started_at");
        TIME_COLUMNS.put("failure_event_users", "seen_at");
        TIME_COLUMNS.put("failure_event_calls", "seen_at");
        TIME_COLUMNS.put("failure_events", "last_seen");
        TIME_COLUMNS.put("correlation_clusters", "last_seen");
        TIME_COLUMNS.put("correlation_merges", "merged_at");
        TIME_COLUMNS.put("failure_merges", "merged_at");
        TIME_COLUMNS.put("failure_impacts", "last_seen");
        TIME_COLUMNS.put("impact_state", "last_seen");
        TIME_COLUMNS.put("failure_inbox", "occurred_at");
        TIME_COLUMNS.put("observed_failures", "last_seen");
        TIME_COLUMNS.put("data_signals", "at");
        TIME_COLUMNS.put("failure_predictions", "horizon_ends_at");
        TIME_COLUMNS.put("traffic_policy_actions", "at");
        TIME_COLUMNS.put("provider_baselines", "measured_at");
        TIME_COLUMNS.put("budget_alerts", "crossed_at");
        TIME_COLUMNS.put("budget_spend", "period_start");
        TIME_COLUMNS.put("batches", "updated_at");
        TIME_COLUMNS.put("batch_alerts", "crossed_at");
    }

    /** Other jobs' deletes by age: table, statement, time column (the signal checks' delete is the retention's). */
    private static final List<String[]> OTHER_DELETES = List.of(
            new String[] {"slo_minutes", SloRollup.PRUNE, "minute"},
            new String[] {"embedding_signals", EmbeddingStore.PRUNE_SIGNALS, "received_at"});

    @Inject
    AgroalDataSource dataSource;

    @Test
    void every_retention_delete_but_the_queue_has_a_time_column_to_check() {
        List<String> expected = new ArrayList<>(TIME_COLUMNS.keySet());
        // The queue's delete has no cut-off: it removes the rows of episodes deleted just before (an anti-join).
        expected.add("correlation_queue");
        // The fold state of subjects whose links go: found by the links' time (failure_event_calls_seen) among the
        // subjects of the last fold-kept-for, a small table read whole.
        expected.add("impact_state_of_dropped_calls");
        assertThat(Retention.tables()).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void every_retention_delete_reads_an_index_led_by_its_time_column() throws Exception {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                // A few thousand rows over a year in the two tables that had no such index, as an hourly run sees
                // them: all but the oldest are kept.
                st.execute("insert into data_signals (kind, signal_id, subject, at, received_at, payload) select"
                        + " 'retrieval', 'plan-' || g, 'index-' || (g % 7), timestamptz '2019-01-01' + g * interval"
                        + " '1 hour', now(), '{}'::jsonb from generate_series(1, 8000) g");
                st.execute("insert into observed_failures (failure_id, failure_type, provider, deployment, onset,"
                        + " last_seen) select gen_random_uuid(), 'rate_limit', 'openai', 'dep-plan-' || (g % 50),"
                        + " timestamptz '2019-01-01' + g * interval '1 hour', timestamptz '2019-01-01' + g * interval"
                        + " '1 hour' + interval '5 minutes' from generate_series(1, 8000) g");
                st.execute("analyze data_signals");
                st.execute("analyze observed_failures");
                st.execute("set local enable_seqscan = off");
            }
            Instant cutoff = Instant.parse("2019-01-15T00:00:00Z");
            List<String> problems = new ArrayList<>();
            for (Map.Entry<String, String> delete : Retention.statements().entrySet()) {
                String column = TIME_COLUMNS.get(delete.getKey());
                if (column != null) {
                    check(c, delete.getKey(), delete.getValue(), column, cutoff, problems);
                }
            }
            for (String[] other : OTHER_DELETES) {
                check(c, other[0], other[1], other[2], cutoff, problems);
            }
            c.rollback();
            assertThat(problems).as("retention deletes without an index led by their time column").isEmpty();
        }
    }

    private static void check(Connection c, String table, String sql, String column, Instant cutoff,
            List<String> problems) throws Exception {
        JsonNode plan;
        try (PreparedStatement st = c.prepareStatement("explain (format json) " + sql)) {
            int parameters = st.getParameterMetaData().getParameterCount();
            for (int i = 1; i <= parameters; i++) {
                st.setTimestamp(i, Timestamp.from(cutoff));
            }
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                plan = JSON.readTree(rs.getString(1)).get(0).get("Plan");
            }
        }
        assertThat(plan.path("Node Type").asText()).as(table).isEqualTo("ModifyTable");
        String alias = plan.path("Alias").asText();
        List<JsonNode> scans = new ArrayList<>();
        collectScans(plan.path("Plans"), table, alias, scans);
        assertThat(scans).as("the scan of %s in %s", table, plan).isNotEmpty();
        for (JsonNode scan : scans) {
            List<String> indexes = new ArrayList<>();
            if (scan.has("Index Name")) {
                indexes.add(scan.get("Index Name").asText());
            }
            for (JsonNode child : scan.path("Plans")) {
                if (child.has("Index Name")) {
                    indexes.add(child.get("Index Name").asText());
                }
            }
            if (indexes.isEmpty()) {
                problems.add(table + ": " + scan.path("Node Type").asText() + " for " + sql);
            }
            for (String index : indexes) {
                String first = firstColumn(c, index);
                if (!column.equals(first)) {
                    problems.add(table + ": index " + index + " starts with " + first + ", not " + column);
                }
            }
        }
    }

    /** The scans of the table deleted from (by its alias: a subquery may read the same table). */
    private static void collectScans(JsonNode plans, String table, String alias, List<JsonNode> scans) {
        for (JsonNode node : plans) {
            if (table.equals(node.path("Relation Name").asText()) && alias.equals(node.path("Alias").asText())) {
                scans.add(node);
            } else {
                collectScans(node.path("Plans"), table, alias, scans);
            }
        }
    }

    private static String firstColumn(Connection c, String index) throws Exception {
        try (PreparedStatement st = c.prepareStatement("select a.attname from pg_index i join pg_class x"
                + " on x.oid = i.indexrelid join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]"
                + " where x.relname = ?")) {
            st.setString(1, index);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }
}
