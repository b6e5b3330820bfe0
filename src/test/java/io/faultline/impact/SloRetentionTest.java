package io.faultline.impact;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * An SLO's period fits in the minutes the rollup keeps: with a retention of 40 days, a 60-day SLO would have its
 * budget counted over the 40 days left, under the name of 60. And the most SLOs stored is a limit that concurrent
 * PUTs cannot pass.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(SloRetentionTest.ShortRetention.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SloRetentionTest {

    static final int MAX_SLOS = 6;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    SloService slos;

    public static class ShortRetention implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.slo.retention", "40d", "faultline.slo.max-slos", String.valueOf(MAX_SLOS));
        }
    }

    @Test
    void a_period_longer_than_the_retention_is_a_problem_naming_the_period() {
        String group = "slo-ret-" + UUID.randomUUID();
        for (String period : new String[] { "60d", "P41D" }) {
            given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                    .body(Map.of("availabilityTarget", 0.99, "period", period)).when().put("/api/v1/slos/" + group)
                    .then().log().ifValidationFails().statusCode(400).contentType("application/problem+json")
                    .body("errors[0].field", equalTo("period"));
        }
        given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body(Map.of("availabilityTarget", 0.99, "period", "40d")).when().put("/api/v1/slos/" + group)
                .then().log().ifValidationFails().statusCode(200).body("slo.period", equalTo("PT960H"));
    }

    /** The limit counts every stored SLO, other classes' too: each test starts from none. */
    @BeforeEach
    @AfterEach
    void noSlos() throws Exception {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.executeUpdate("delete from slo_targets");
        }
    }

    @Test
    void concurrent_puts_of_new_groups_never_store_more_than_max_slos() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        for (int i = 0; i < MAX_SLOS - 1; i++) {
            put("slo-max-" + run + "-" + i).statusCode(200);
        }
        ExecutorService pool = Executors.newFixedThreadPool(12);
        try {
            for (int round = 0; round < 20; round++) {
                CyclicBarrier start = new CyclicBarrier(12);
                List<Future<Boolean>> answers = new ArrayList<>();
                for (int k = 0; k < 12; k++) {
                    String group = "slo-max-" + run + "-r" + round + "-" + k;
                    answers.add(pool.submit(() -> {
                        start.await(30, TimeUnit.SECONDS);
                        return slos.put(group, 0.99, null, null, null).isPresent();
                    }));
                }
                int stored = 0;
                for (Future<Boolean> a : answers) {
                    stored += a.get(60, TimeUnit.SECONDS) ? 1 : 0;
                }
                assertThat(stored).as("round %d: one new group fits, the others are refused", round).isEqualTo(1);
                try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                        ResultSet rs = st.executeQuery("select count(*) from slo_targets")) {
                    rs.next();
                    assertThat(rs.getInt(1)).as("SLOs stored after round %d", round).isEqualTo(MAX_SLOS);
                }
                try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
                    st.executeUpdate("delete from slo_targets where model_group like 'slo-max-" + run + "-r%'");
                }
            }
        } finally {
            pool.shutdownNow();
        }
        // An existing group is still updated at the limit.
        put("slo-max-" + run + "-0").statusCode(200);
    }

    private static io.restassured.response.ValidatableResponse put(String group) {
        return given().header("Authorization", "Bearer " + Api.KEY).contentType(ContentType.JSON)
                .body(Map.of("availabilityTarget", 0.99)).when().put("/api/v1/slos/" + group).then();
    }
}
