package io.faultline.call;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * After the retention job, nothing that names a user, a key or a team and is older than the call retention (30 days)
 * is left in any table: the test dumps every table of the schema and searches the dump. The dates sit years before
 * every other test's, so that the job deletes only what this test wrote.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RetentionTest {

    private static final Instant OLD = Instant.parse("2020-01-02T10:00:00Z");
    private static final Instant RECENT = OLD.plus(Duration.ofDays(40));

    @Inject
    TestClock clock;

    @Inject
    PartitionMaintenance maintenance;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    /** A burst of failing calls (an episode) and a user budget crossed, all naming one user, team and key. */
    private void traffic(Instant at, String user, String team, String key) {
        given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body("{\"period\":\"day\",\"amountUsd\":0.5}").when().put("/api/v1/budgets/user/" + user).then()
                .statusCode(200);
        List<Payloads> calls = new ArrayList<>();
        String deployment = "dep-retention-" + UUID.randomUUID();
        for (int i = 0; i < 6; i++) {
            Payloads p = i % 2 == 0
                    ? Payloads.failure("openai", "gpt-4o-mini", deployment, at.plusSeconds(i), 429, "RateLimitError",
                            "Rate limit reached for " + user)
                    : Payloads.success("openai", "gpt-4o-mini", deployment, at.plusSeconds(i)).set("response_cost",
                            0.3);
            p.user(user).endUser("label-" + user);
            ObjectNode metadata = (ObjectNode) p.node().get("metadata");
            metadata.put("user_api_key_team_id", team).put("user_api_key_hash", key);
            calls.add(p.metadata(Map.of("batch_id", "batch-" + user)));
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200).body("accepted", equalTo(6));
        // The operator removes the budget itself (configuration is not call data); its alert stays until retention.
        given().header("Authorization", "Bearer " + Api.KEY).when().delete("/api/v1/budgets/user/" + user).then()
                .statusCode(org.hamcrest.Matchers.anyOf(org.hamcrest.Matchers.is(200),
                        org.hamcrest.Matchers.is(204)));
    }

    /** Every row of every table of the schema, as text, by table. */
    private Map<String, String> dump() throws Exception {
        Map<String, String> tables = new LinkedHashMap<>();
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            List<String> names = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("select table_name from information_schema.tables where"
                    + " table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name")) {
                while (rs.next()) {
                    names.add(rs.getString(1));
                }
            }
            for (String name : names) {
                try (ResultSet rs = st.executeQuery("select coalesce(string_agg(t::text, E'\\n'), '') from \""
                        + name + "\" t")) {
                    rs.next();
                    tables.put(name, rs.getString(1));
                }
            }
        }
        return tables;
    }

    private static List<String> tablesContaining(Map<String, String> dump, String needle) {
        return dump.entrySet().stream().filter(e -> e.getValue().contains(needle)).map(Map.Entry::getKey).toList();
    }

    @Test
    void after_the_retention_job_no_user_key_or_team_older_than_the_call_retention_is_left_in_any_table()
            throws Exception {
        String id = UUID.randomUUID().toString().substring(0, 8);
        String oldUser = "old-user-" + id;
        String oldTeam = "old-team-" + id;
        String oldKey = "0ldkey" + id + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        String newUser = "new-user-" + id;

        clock.set(OLD);
        maintenance.maintain();
        traffic(OLD, oldUser, oldTeam, oldKey);
        Map<String, String> before = dump();
        // The old user is spread over calls, episodes, their user links and the budget alert before the job runs.
        assertThat(tablesContaining(before, oldUser)).contains("failure_event_users", "failure_events",
                "budget_alerts");
        assertThat(tablesContaining(before, oldTeam)).isNotEmpty();
        assertThat(tablesContaining(before, oldKey)).isNotEmpty();
        assertThat(before.get("llm_calls") + before.get("llm_calls_default")).contains(oldUser);

        clock.set(RECENT);
        traffic(RECENT, newUser, "new-team-" + id, "n3wkey" + id);
        String scrapeBefore = Metrics.scrape();
        maintenance.maintain();

        Map<String, String> after = dump();
        assertThat(tablesContaining(after, oldUser)).as("tables still naming the old user").isEmpty();
        assertThat(tablesContaining(after, oldTeam)).as("tables still naming the old team").isEmpty();
        assertThat(tablesContaining(after, oldKey.substring(0, 16))).as("tables still naming the old key").isEmpty();
        assertThat(tablesContaining(after, "label-" + oldUser)).isEmpty();
        // The recent traffic is untouched: the dump does see what it should.
        assertThat(tablesContaining(after, newUser)).contains("failure_event_users", "failure_events",
                "budget_alerts");
        double deletedUsers = Metrics.value(Metrics.scrape(), "faultline_retention_deleted_rows_total", "table",
                "failure_event_users") - Metrics.valueOrZero(scrapeBefore, "faultline_retention_deleted_rows_total",
                        "table", "failure_event_users");
        assertThat(deletedUsers).isGreaterThanOrEqualTo(1.0);
    }
}
