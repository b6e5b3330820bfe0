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
    void oneKeyInventingEntriesEvictsOnlyItsOwnAndNeverAnotherKeys() {
        BoundedMap<String, int[]> map = new BoundedMap<>(10, 3);
        map.get("openai|gpt-4o", "key-a", k -> new int[] { 1 });
        map.get("anthropic|claude", "key-b", k -> new int[] { 2 });
        map.get("gemini|flash", null, k -> new int[] { 3 }); // rebuilt from stored calls: nobody's
        for (int i = 0; i < 10_000; i++) {
            map.get("litellm|invented-model-" + i, "key-evil", k -> new int[] { -1 });
        }

        assertThat(map.size()).isEqualTo(6); // the three real ones and the flooder's last three
        assertThat(map.evictions()).as("never the global LRU").isZero();
        assertThat(map.ownerEvictions()).isEqualTo(10_000 - 3);
        assertThat(map.get("openai|gpt-4o", "key-x", k -> new int[] { 0 })[0]).isEqualTo(1);
        assertThat(map.get("anthropic|claude", "key-x", k -> new int[] { 0 })[0]).isEqualTo(2);
        assertThat(map.get("gemini|flash", "key-x", k -> new int[] { 0 })[0]).isEqualTo(3);
        assertThat(map.get("litellm|invented-model-9999", "key-x", k -> new int[] { 0 })[0]).isEqualTo(-1);
        assertThat(map.get("litellm|invented-model-0", "key-x", k -> new int[] { 0 })[0]).as("evicted").isZero();
    }

    @Test
    void theGlobalCapStillHoldsAndForgetsTheOwnershipOfWhatItEvicts() {
        BoundedMap<String, int[]> map = new BoundedMap<>(4, 3);
        for (String owner : new String[] { "a", "b", "c" }) {
            for (int i = 0; i < 2; i++) {
                map.get(owner + i, owner, k -> new int[] { 1 });
            }
        }
        assertThat(map.size()).isEqualTo(4);
        assertThat(map.evictions()).isEqualTo(2); // a0 and a1
        // "a" lost both of its entries to the global cap: it may create three again before evicting its own.
        for (int i = 2; i < 5; i++) {
            map.get("a" + i, "a", k -> new int[] { 1 });
        }
        assertThat(map.ownerEvictions()).isZero();
        assertThat(map.size()).isEqualTo(4);
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
