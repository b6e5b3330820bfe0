package io.faultline.cost;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The memory bounds of the cost detectors' state: keys are capped and evicted, histories are rings. */
class BoundedStateTest {

    @Test
    void keysBeyondTheCapEvictTheLeastRecentlyUsed() {
        BoundedMap<String, int[]> map = new BoundedMap<>(3);
        map.get("a", k -> new int[] { 1 });
        map.get("b", k -> new int[] { 2 });
        map.get("c", k -> new int[] { 3 });
        map.get("a", k -> new int[] { 99 }); // touched: "b" is now the eldest
        map.get("d", k -> new int[] { 4 });

        assertThat(map.size()).isEqualTo(3);
        assertThat(map.evictions()).isEqualTo(1);
        assertThat(map.get("a", k -> new int[] { -1 })[0]).isEqualTo(1);
        assertThat(map.get("b", k -> new int[] { -1 })[0]).as("evicted, so created anew").isEqualTo(-1);
    }

    @Test
    void aHistoryKeepsOnlyItsLastCallsAndItsP99FollowsThem() {
        TokenHistory history = new TokenHistory(100);
        for (int i = 0; i < 1000; i++) {
            history.add(i < 900 ? 50_000 : 1_000, 0);
        }
        assertThat(history.size()).isEqualTo(100);
        assertThat(history.p99Total()).as("the 50,000-token calls left the ring").isEqualTo(1_000);
        assertThat(history.reasoningSamples()).isZero();
    }

    @Test
    void aSeriesKeepsAFixedNumberOfClosedWindows() {
        WindowSeries series = new WindowSeries("d|openai|x", "openai", "x", 60_000, 5);
        Instant t = Instant.parse("2026-11-28T00:00:00Z");
        List<WindowSeries.Window> closed = new ArrayList<>();
        for (int minute = 0; minute < 50; minute++) {
            series.windowFor(t.plusSeconds(60L * minute), closed).calls++;
        }
        WindowSeries.Window open = series.windowFor(t.plusSeconds(60L * 50), closed);

        assertThat(closed).hasSize(50);
        assertThat(series.before(open)).hasSize(5);
        assertThat(series.windowFor(t, closed)).as("older than the history").isNull();
    }
}
