package io.faultline.cost;

import io.agroal.api.AgroalDataSource;
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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A budget set through the API waits for the ingests open here that chose their spend rows before it, at most as long
 * as such an ingest's transaction may stay open: the configured transaction timeout, not a 60 s kept beside it.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(BudgetSettleBoundTest.ShortTransactions.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BudgetSettleBoundTest {

    /** Transactions rolled back after 2 s. */
    public static class ShortTransactions implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkus.transaction-manager.default-transaction-timeout", "2s");
        }
    }

    @Inject
    BudgetTracker budgets;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    TestClock clock;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    @Test
    void the_settle_bound_is_the_configured_transaction_timeout() {
        assertThat(budgets.settleBound()).isEqualTo(Duration.ofSeconds(2));
    }

    /**
     * An ingest that chose its rows before the budget was set stays open (its end is held here): the budget's restate
     * gives up waiting for it at the configured bound, so the put answers before that ingest ended.
     */
    @Test
    void a_budget_set_while_an_ingest_stays_open_answers_at_the_configured_bound_before_the_ingest_ends()
            throws Exception {
        Instant now = Instant.parse("2031-12-02T10:00:00Z");
        clock.set(now);
        String team = "settle-" + java.util.UUID.randomUUID();
        AtomicReference<Runnable> ingestEnd = new AtomicReference<>();
        try (Connection c = dataSource.getConnection()) {
            budgets.toWrite(c, Map.of(new CostStore.SpendKey(BudgetScope.TEAM, team, Period.DAY,
                    Period.DAY.start(now)), new CostStore.Sum(1.0, 1)), ingestEnd::set);
        }
        assertThat(ingestEnd.get()).as("the ingest is open until its end runs").isNotNull();
        List<String> order = new ArrayList<>();
        BudgetTracker.BudgetView set = budgets.put(BudgetScope.TEAM, team, Period.DAY, 10, null);
        order.add("budget set");
        ingestEnd.get().run();
        order.add("ingest ended");
        assertThat(order).containsExactly("budget set", "ingest ended");
        assertThat(set.id()).isEqualTo(team);
        assertThat(set.amountUsd()).isEqualTo(10.0);
    }
}
