package io.faultline.detect;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator.ReplaceUnderscores;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/** Go durations in reset headers, read by one pass. */
@DisplayNameGeneration(ReplaceUnderscores.class)
class RateLimitHeadersTest {

    @Test
    void go_durations_and_plain_seconds_are_read() {
        assertThat(RateLimitHeaders.goDuration("6m0s")).isEqualTo(Duration.ofMinutes(6));
        assertThat(RateLimitHeaders.goDuration("1h2m3.5s")).isEqualTo(Duration.ofMillis(3_723_500));
        assertThat(RateLimitHeaders.goDuration("12ms")).isEqualTo(Duration.ofMillis(12));
        assertThat(RateLimitHeaders.goDuration("250us")).isEqualTo(Duration.ofNanos(250_000));
        assertThat(RateLimitHeaders.goDuration("250µs")).isEqualTo(Duration.ofNanos(250_000));
        assertThat(RateLimitHeaders.goDuration(" 2.5 ")).isEqualTo(Duration.ofMillis(2500));
        assertThat(RateLimitHeaders.goDuration("7")).isEqualTo(Duration.ofSeconds(7));
    }

    @Test
    void anything_else_is_unparseable() {
        for (String bad : new String[] {"", " ", "s", "1x", "1.s", "1s2", "m1s", "1..2s", "-1s", "1 s", ".5s"}) {
            assertThat(RateLimitHeaders.goDuration(bad)).as(bad).isNull();
        }
    }

    @Test
    void a_64_KiB_digit_run_without_a_unit_is_refused_within_the_ceiling() {
        String digits = "9".repeat(65_536) + "x";
        assertThat(assertTimeoutPreemptively(Duration.ofSeconds(2), () -> RateLimitHeaders.goDuration(digits)))
                .isNull();
    }
}
