package io.faultline.cost;

import io.faultline.call.LlmCall;
import io.faultline.taxonomy.Severity;
import io.faultline.testing.ConfigMappings;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CostUnitTest {

    private static final Instant NOW = Instant.parse("2031-02-28T23:59:59Z");

    /**
     * A million calls of $0.0079, summed one by one as the ledger and PostgreSQL's running sum do, come to
     * 7,899.999999833: the drift of a sum grows with it, so the $7,900 budget is reached there, not one call later.
     * The tolerance stays far below a call's cost, and a spend clearly short of the limit is not taken for it.
     */
    @Test
    void a_large_spend_reaches_its_limit_within_the_drift_of_its_sum() {
        double spent = 0;
        for (int i = 0; i < 1_000_000; i++) {
            spent += 0.0079;
        }
        assertThat(spent).isLessThan(7900.0);
        assertThat(CostStore.reached(spent, 7900.0)).isTrue();
        assertThat(CostStore.passed(spent, 7900.0)).isFalse();
        assertThat(CostStore.reached(7900.0 - 0.0079, 7900.0)).as("one call short").isFalse();
        assertThat(CostStore.passed(7900.0 + 0.0079, 7900.0)).as("one call past").isTrue();
        assertThat(CostStore.reached(0.9999999999999999, 1.0)).as("ten calls of $0.10").isTrue();
        assertThat(CostStore.passed(1.0000000000000002, 1.0)).isFalse();
    }

    @Test
    void evidence_keeps_six_decimals_and_never_caps_a_large_amount() {
        assertThat(CostAlerts.round(0.12345678)).isEqualTo(0.123457);
        assertThat(CostAlerts.round(2.5e13)).as("Math.round capped this at 9.2e12").isEqualTo(2.5e13);
        assertThat(CostAlerts.round(1.7e308)).isEqualTo(1.7e308);
    }

    @Test
    void the_lru_keeps_at_most_its_capacity_and_evicts_the_least_recently_used() {
        BoundedLru<String, Integer> lru = new BoundedLru<>(2);
        lru.put("a", 1);
        lru.put("b", 2);
        lru.get("a");
        lru.put("c", 3);
        assertThat(lru).containsOnlyKeys("a", "c");
        assertThat(lru.evictions()).isEqualTo(1);
    }

    @Test
    void thresholds_map_a_fraction_to_the_severity_at_or_below_it() {
        Thresholds t = Thresholds.parse("k", List.of("0.8:P3", "1.0:p2"));
        assertThat(t.fractions()).containsExactly(0.8, 1.0);
        assertThat(t.severity(0.5)).isEqualTo(Severity.P4);
        assertThat(t.severity(0.8)).isEqualTo(Severity.P3);
        assertThat(t.severity(0.9)).isEqualTo(Severity.P3);
        assertThat(t.severity(1.5)).isEqualTo(Severity.P2);
        assertThatThrownBy(() -> Thresholds.parse("faultline.cost.warn-at", List.of("0.8=P3")))
                .hasMessageContaining("faultline.cost.warn-at");
    }

    @Test
    void periods_are_utc_calendar_days_and_months() {
        assertThat(Period.DAY.start(NOW)).isEqualTo(Instant.parse("2031-02-28T00:00:00Z"));
        assertThat(Period.MONTH.start(NOW)).isEqualTo(Instant.parse("2031-02-01T00:00:00Z"));
        assertThat(Period.MONTH.end(Period.MONTH.start(NOW))).isEqualTo(Instant.parse("2031-03-01T00:00:00Z"));
        assertThat(Period.DAY.start(NOW.plusSeconds(1))).isEqualTo(Instant.parse("2031-03-01T00:00:00Z"));
    }

    @Test
    void tracked_batches_are_capped_and_an_evicted_batch_is_rebuilt_from_stored_calls() {
        FakeStore store = new FakeStore();
        BatchTracker tracker = new BatchTracker(store, null, Clock.fixed(NOW, ZoneOffset.UTC), config(2));
        for (String id : List.of("a", "b", "c")) {
            store.stored.put(id, new CostStore.Sum(1.0, 1));
            store.rows.put(id, new CostStore.BatchRow(id, 100.0, "api", NOW));
            tracker.observe(List.of(call(id, 100.0, 1.0)));
        }
        assertThat(tracker.tracked()).isEqualTo(2);
        assertThat(tracker.evictions()).isEqualTo(1);
        assertThat(store.sumQueries).isEqualTo(3);

        // "a" was evicted: its return reloads it from the store, which holds both of its calls.
        store.stored.put("a", new CostStore.Sum(2.0, 2));
        tracker.observe(List.of(call("a", 100.0, 1.0)));
        assertThat(store.sumQueries).isEqualTo(4);
        assertThat(tracker.heldSpent("a")).isEqualTo(2.0);
        assertThat(tracker.tracked()).isEqualTo(2);

        // A tracked batch accumulates in memory, without a query.
        tracker.observe(List.of(call("a", 100.0, 1.5)));
        assertThat(store.sumQueries).isEqualTo(4);
        assertThat(tracker.heldSpent("a")).isEqualTo(3.5);
        // A read sums the stored calls (the other replicas' too).
        assertThat(tracker.get("a").orElseThrow().spentUsd()).isEqualTo(2.0);
    }

    @Test
    void a_batch_without_any_expectation_is_looked_up_once_not_per_call() {
        FakeStore store = new FakeStore();
        BatchTracker tracker = new BatchTracker(store, null, Clock.fixed(NOW, ZoneOffset.UTC), config(10));
        for (int i = 0; i < 5; i++) {
            tracker.observe(List.of(call("x", null, 1.0)));
        }
        assertThat(store.batchLookups).isEqualTo(1);
        assertThat(tracker.tracked()).isZero();
    }

    private static LlmCall call(String batch, Double expected, double cost) {
        Map<String, Object> meta = new HashMap<>();
        meta.put("batch_id", batch);
        if (expected != null) {
            // Believed from no call: the tests that want an expectation put a row, as the API does.
            meta.put("batch_expected_cost_usd", expected);
        }
        return new LlmCall("c-" + System.nanoTime(), null, NOW, NOW, "openai", "m", "m", "d", null, null, false, true,
                200, null, null, null, 1, null, 1, 1, 0, 0, cost, null, "stop", 1, true, null, "t", null, Map.of(),
                meta, 0, null, null, null, null, null, null, null);
    }

    /** Only what BatchTracker reads; nothing crosses, so confirm never runs. */
    static final class FakeStore extends CostStore {
        final Map<String, Sum> stored = new HashMap<>();
        final Map<String, BatchRow> rows = new HashMap<>();
        int sumQueries;
        int batchLookups;

        FakeStore() {
            super(null, null, null);
        }

        @Override
        public Map<String, Run> batchRuns(Map<String, Instant> since, Duration gap) {
            sumQueries++;
            Map<String, Run> runs = new HashMap<>();
            since.keySet().stream().filter(stored::containsKey).forEach(id -> runs.put(id, new Run(NOW,
                    stored.get(id).spentUsd(), stored.get(id).calls(), NOW)));
            return runs;
        }

        @Override
        public Optional<BatchRow> batch(String batchId) {
            batchLookups++;
            return Optional.ofNullable(rows.get(batchId));
        }

        @Override
        public BatchRow putBatch(String batchId, double expected, String source, Instant now) {
            rows.putIfAbsent(batchId, new BatchRow(batchId, expected, source, now));
            return rows.get(batchId);
        }

        @Override
        public List<BatchRow> batches(Collection<String> ids) {
            return new ArrayList<>(ids.stream().map(rows::get).filter(r -> r != null).toList());
        }
    }

    private static CostConfig config(int maxBatches) {
        return ConfigMappings.withDurations(CostConfig.class, Map.of("faultline.cost.max-budgets", "10",
                "faultline.cost.max-tracked-batches", String.valueOf(maxBatches)));
    }
}
