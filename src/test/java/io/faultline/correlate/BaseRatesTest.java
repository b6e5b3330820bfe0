package io.faultline.correlate;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BaseRatesTest {

    static final Instant T0 = Instant.parse("2026-12-03T00:00:00Z");

    @Test
    void a_count_is_reused_within_the_period_and_counted_again_after_it() {
        BaseRates rates = new BaseRates(Duration.ofSeconds(60), 100);
        UUID episode = UUID.randomUUID();
        rates.put(episode, 5, 7, T0);
        assertThat(rates.get(episode, 5, T0)).isEqualTo(7);
        assertThat(rates.get(episode, 5, T0.plusSeconds(59))).isEqualTo(7);
        assertThat(rates.get(episode, 5, T0.plusSeconds(60))).as("the period is over").isNull();
        assertThat(rates.get(episode, 5, T0.plusSeconds(1))).as("an expired entry is gone").isNull();
        assertThat(rates.get(UUID.randomUUID(), 5, T0)).isNull();
    }

    @Test
    void a_count_is_kept_only_for_the_occurrences_it_was_counted_at() {
        BaseRates rates = new BaseRates(Duration.ofMinutes(10), 100);
        UUID episode = UUID.randomUUID();
        rates.put(episode, 5, 7, T0);
        assertThat(rates.get(episode, 5, T0.plusSeconds(300))).isEqualTo(7);
        assertThat(rates.get(episode, 6, T0.plusSeconds(1))).as("the episode grew: its count may have fallen")
                .isNull();
        rates.put(episode, 6, 4, T0.plusSeconds(2));
        assertThat(rates.get(episode, 6, T0.plusSeconds(3))).isEqualTo(4);
        assertThat(rates.get(episode, 5, T0.plusSeconds(3))).as("only the latest count is kept").isNull();
    }

    @Test
    void a_clock_that_went_back_does_not_reuse_a_count_from_its_future() {
        BaseRates rates = new BaseRates(Duration.ofSeconds(60), 100);
        UUID episode = UUID.randomUUID();
        rates.put(episode, 5, 3, T0);
        assertThat(rates.get(episode, 5, T0.minusSeconds(1))).isNull();
    }

    @Test
    void a_full_memo_starts_over_and_a_zero_period_keeps_nothing() {
        BaseRates rates = new BaseRates(Duration.ofSeconds(60), 2);
        UUID a = UUID.randomUUID();
        UUID b = UUID.randomUUID();
        UUID c = UUID.randomUUID();
        rates.put(a, 5, 1, T0);
        rates.put(b, 5, 2, T0);
        rates.put(c, 5, 3, T0);
        assertThat(rates.get(a, 5, T0)).isNull();
        assertThat(rates.get(b, 5, T0)).isNull();
        assertThat(rates.get(c, 5, T0)).isEqualTo(3);

        BaseRates off = new BaseRates(Duration.ZERO, 2);
        off.put(a, 5, 1, T0);
        assertThat(off.get(a, 5, T0)).isNull();
    }
}
