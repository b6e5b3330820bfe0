package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * With no partition prepared ahead ({@code days-ahead} 0, which the configuration allows), the first calls of a new
 * day land in the default partition before the job creates that day's partition; they must not keep the day's
 * partition from being created, or the whole day, and every later call of it, stays in the default partition.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(PartitionAheadTest.NoDaysAhead.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PartitionAheadTest {

    public static class NoDaysAhead implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.calls.days-ahead", "0");
        }
    }

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

    /** The partition holding each stored call of the deployment, in start order. */
    private List<String> partitionsOf(String deployment) throws Exception {
        List<String> partitions = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select tableoid::regclass::text from llm_calls where deployment = '"
                        + deployment + "' order by started_at")) {
            while (rs.next()) {
                partitions.add(rs.getString(1));
            }
        }
        return partitions;
    }

    @Test
    void calls_of_a_day_stored_before_its_partition_existed_move_into_it_when_it_is_created() throws Exception {
        String deployment = "dep-partition-ahead";
        clock.set(Instant.parse("2017-03-09T23:58:00Z"));
        maintenance.maintain();
        // A proxy clock 4 minutes fast (within the accepted skew): its call starts on a day with no partition yet.
        Api.ingest(Payloads.array(Payloads.success("openai", "gpt-4o-mini", deployment,
                Instant.parse("2017-03-10T00:02:00Z")))).statusCode(200).body("accepted", equalTo(1));
        assertThat(partitionsOf(deployment)).containsExactly("llm_calls_default");

        clock.set(Instant.parse("2017-03-10T00:30:00Z"));
        assertThat(maintenance.maintain()).contains("llm_calls_20170310");
        Api.ingest(Payloads.array(Payloads.success("openai", "gpt-4o-mini", deployment,
                Instant.parse("2017-03-10T00:29:00Z")))).statusCode(200).body("accepted", equalTo(1));

        assertThat(partitionsOf(deployment)).containsExactly("llm_calls_20170310", "llm_calls_20170310");
    }
}
