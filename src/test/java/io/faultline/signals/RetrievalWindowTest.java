package io.faultline.signals;

import io.faultline.taxonomy.ImpactScope;
import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Memory bounds of the retrieval windows: fixed buckets per index, a capped number of indexes. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RetrievalWindowTest {

    private static final Instant T0 = Instant.parse("2026-11-20T09:00:00Z");

    @Test
    void a_window_holds_a_fixed_number_of_buckets_however_many_samples_arrive() {
        RetrievalWindow window = new RetrievalWindow(Duration.ofMinutes(1), Duration.ofMinutes(5),
                Duration.ofHours(1));
        assertThat(window.capacity()).isEqualTo(65);
        for (int i = 0; i < 100_000; i++) { // ten days of a sample every ~9 s
            window.add(T0.plusSeconds(i * 9L), 0.8, 5);
        }
        Instant end = T0.plusSeconds(99_999 * 9L);
        RetrievalWindow.Comparison c = window.compare(end);
        assertThat(window.capacity()).isEqualTo(65);
        // Only the last 65 minutes count: about 6.7 samples a minute.
        assertThat(c.currentSamples() + c.baselineSamples()).isBetween(430L, 440L);
        assertThat(c.currentTop()).isEqualTo(0.8, org.assertj.core.data.Offset.offset(1e-9));
    }

    @Test
    void a_sample_older_than_the_kept_span_is_dropped() {
        RetrievalWindow window = new RetrievalWindow(Duration.ofMinutes(1), Duration.ofMinutes(5),
                Duration.ofHours(1));
        window.add(T0, 0.9, null);
        window.add(T0.minus(Duration.ofMinutes(65)), 0.1, null); // the same ring slot, 65 minutes older
        RetrievalWindow.Comparison c = window.compare(T0);
        assertThat(c.currentSamples()).isEqualTo(1);
        assertThat(c.currentTop()).isEqualTo(0.9);
        assertThat(c.baselineSamples()).isZero();
    }

    @Test
    void the_least_recently_reported_index_is_evicted_beyond_the_cap() {
        // Quarkus converts "5m"-style durations; a bare SmallRye config needs its converter.
        SignalsConfig config = new SmallRyeConfigBuilder().withMapping(SignalsConfig.class)
                .withConverter(Duration.class, 200, new DurationConverter())
                .withDefaultValues(Map.of("faultline.signals.retrieval.max-indexes", "3")).build()
                .getConfigMapping(SignalsConfig.class);
        RetrievalTracker tracker = new RetrievalTracker(config, Clock.fixed(T0, ZoneOffset.UTC), null, null);
        ImpactScope none = new ImpactScope(null, null, null, null, null);
        for (String index : new String[] { "a", "b", "c", "a", "d", "e" }) {
            tracker.record(new Signal.Retrieval(Signal.Retrieval.API, index + T0, index, T0, 0.8, null, 5, 10),
                    none);
        }
        assertThat(tracker.trackedIndexes()).isEqualTo(3);
        assertThat(tracker.evictions()).isEqualTo(2); // b, then c; a was reported again before d came
        assertThat(tracker.bucketsPerIndex()).isEqualTo(65);
    }
}
