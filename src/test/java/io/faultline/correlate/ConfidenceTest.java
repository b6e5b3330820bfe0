package io.faultline.correlate;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The confidence formulas: what raises and what lowers them. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ConfidenceTest {

    private static final Duration W = Duration.ofMinutes(5);
    private static final Duration L = Duration.ofDays(7);
    private static final Instant T = Instant.parse("2029-01-01T00:00:00Z");

    private static Confidence.Onset onset(String provider, String deployment, long secondsAfter, long prior) {
        return new Confidence.Onset(provider, deployment, provider + "|" + deployment, T.plusSeconds(secondsAfter),
                prior);
    }

    @Test
    void three_fresh_providers_within_90_seconds_score_tightness_times_breadth() {
        Confidence.Scored s = Confidence.temporal(List.of(onset("openai", "a", 0, 0), onset("anthropic", "b", 40, 0),
                onset("gemini", "c", 90, 0)), W, L);
        assertThat(s.confidence()).isCloseTo(0.85 * 0.75, within(1e-4));
        assertThat((double) s.evidence().get("p_chance")).isLessThan(1e-5);
    }

    @Test
    void more_providers_tighter_onsets_and_rarer_fingerprints_raise_confidence() {
        double two = Confidence.temporal(List.of(onset("openai", "a", 0, 0), onset("anthropic", "b", 30, 0)), W, L)
                .confidence();
        double three = Confidence.temporal(List.of(onset("openai", "a", 0, 0), onset("anthropic", "b", 30, 0),
                onset("gemini", "c", 30, 0)), W, L).confidence();
        double extraDeployment = Confidence.temporal(List.of(onset("openai", "a", 0, 0), onset("openai", "a2", 0, 0),
                onset("anthropic", "b", 30, 0)), W, L).confidence();
        double loose = Confidence.temporal(List.of(onset("openai", "a", 0, 0), onset("anthropic", "b", 240, 0)), W, L)
                .confidence();
        double common = Confidence.temporal(List.of(onset("openai", "a", 0, 0), onset("anthropic", "b", 30, 2000)),
                W, L).confidence();
        assertThat(three).isGreaterThan(extraDeployment).isGreaterThan(two);
        assertThat(loose).isLessThan(two);
        // 2000 episodes a week: one starts in any 10-minute span with probability 1 - exp(-2001/1008) = 0.86
        assertThat(common).isLessThan(two * 0.2);
    }

    @Test
    void the_chance_of_a_coincidence_is_weighed_against_the_prior_of_a_shared_upstream() {
        // anthropic's fingerprint starts 70 episodes a week (10 a day): pi = 1 - exp(-71/604800 * 600) = 0.068
        double pi = 1 - Math.exp(-71 / 604_800.0 * 600);
        Confidence.Scored everyDay = Confidence.temporal(List.of(onset("openai", "a", 0, 0),
                onset("anthropic", "b", 30, 70)), W, L, 0.02);
        assertThat(everyDay.confidence()).isCloseTo(0.02 / (0.02 + 0.98 * pi) * 0.95 * 0.5, within(1e-6));
        assertThat(everyDay.confidence()).as("a daily failure meeting another by chance is no incident")
                .isLessThan(0.4);
        // A fingerprint that never failed like this in the lookback: the coincidence is hard to explain by chance.
        Confidence.Scored rare = Confidence.temporal(List.of(onset("openai", "a", 0, 0), onset("anthropic", "b", 0, 0)),
                W, L, 0.02);
        assertThat(rare.confidence()).isGreaterThan(0.4);
        assertThat(rare.evidence()).containsEntry("prior", 0.02).containsKey("posterior");
        // The old reading, 1 - P_chance, is about the posterior under a prior of one half.
        assertThat(Confidence.temporal(List.of(onset("openai", "a", 0, 0), onset("anthropic", "b", 30, 70)), W, L,
                0.5).confidence()).isCloseTo((1 - pi) * 0.95 * 0.5, within(0.01));
        assertThat(Confidence.temporal(List.of(onset("openai", "a", 0, 0), onset("anthropic", "b", 0, 0)), W, L, 0)
                .confidence()).isZero();
    }

    @Test
    void one_provider_is_no_upstream_signal() {
        assertThat(Confidence.temporal(List.of(onset("openai", "a", 0, 0), onset("openai", "b", 0, 0)), W, L)
                .confidence()).isZero();
    }

    @Test
    void caused_confidence_is_the_attributable_fraction_of_the_rate_lift() {
        double clean = Confidence.caused(5, 5, 100, 0, 0.02, 4).confidence();
        double noHistory = Confidence.caused(5, 5, 0, 0, 0.02, 4).confidence();
        double anyway = Confidence.caused(5, 5, 100, 100, 0.02, 4).confidence();
        double half = Confidence.caused(10, 5, 100, 50, 0.02, 4).confidence();
        assertThat(clean).isCloseTo((1 - 0.08 / 104) * 5 / 6.0, within(1e-9));
        assertThat(noHistory).isCloseTo(0.98 * 5 / 6.0, within(1e-9));
        assertThat(anyway).isLessThan(0.05);
        assertThat(half).as("same rate on fallback traffic as before: nothing attributable").isLessThan(0.05);
        assertThat(Confidence.caused(1, 1, 100, 0, 0.02, 4).confidence()).isLessThan(clean);
    }

    @Test
    void strength_is_the_noisy_or_of_the_edges_and_fallbacks_grow_with_traces() {
        assertThat(Confidence.strength(List.of(0.5, 0.5))).isCloseTo(0.75, within(1e-12));
        assertThat(Confidence.strength(List.of())).isZero();
        assertThat(Confidence.fallback(1)).isEqualTo(0.5);
        assertThat(Confidence.fallback(4)).isEqualTo(1 - 1 / 16.0);
    }
}
