package io.faultline.impact;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * A request's spike price follows the subject's spike rule: an episode's one p99 prices every flagged attempt; a
 * cluster's per-deployment p99s price only the flagged attempts on their own deployment.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SpikeRuleTest {

    static final Instant T = Instant.parse("2030-01-01T00:00:00Z");

    /** Two flagged answers of one request: 4,000 tokens for $0.04 on spiky-a, 5,000 tokens for $0.05 on other-b. */
    static final List<ImpactFold.Attempt> ATTEMPTS = List.of(
            new ImpactFold.Attempt(T, T.plusSeconds(1), true, "m", "spiky-a", 0.04, 3000, 1000, "u", null, "k", null,
                    null, false, "m", false),
            new ImpactFold.Attempt(T.plusSeconds(2), T.plusSeconds(3), true, "m", "other-b", 0.05, 4000, 1000, "u",
                    null, "k", null, null, false, "m", false));
    static final Set<Instant> FLAGGED = Set.of(T.plusSeconds(1), T.plusSeconds(3));

    @Test
    void an_episodes_p99_prices_every_flagged_attempt() {
        ImpactFold.Req r = ImpactFold.derive("call", ATTEMPTS, FLAGGED, Set.of(), FLAGGED, SpikeRule.every(1000));
        // 0.04 x (1 - 1000/4000) + 0.05 x (1 - 1000/5000)
        assertThat(r.spikeExtra()).isCloseTo(0.03 + 0.04, within(1e-12));
    }

    @Test
    void a_clusters_spike_member_prices_only_the_flagged_attempts_on_its_own_deployment() {
        SpikeRule rule = new SpikeRule(new TreeMap<>(Map.of("spiky-a", 2000.0)));
        ImpactFold.Req r = ImpactFold.derive("call", ATTEMPTS, FLAGGED, Set.of(), FLAGGED, rule);
        assertThat(r.spikeExtra()).isCloseTo(0.04 * 0.5, within(1e-12));
        assertThat(ImpactFold.derive("call", ATTEMPTS, FLAGGED, Set.of(), FLAGGED, SpikeRule.NONE).spikeExtra())
                .isZero();
    }

    @Test
    void an_answer_a_quality_member_flagged_on_a_spike_members_deployment_is_wasted_not_priced_as_a_spike() {
        SpikeRule rule = new SpikeRule(new TreeMap<>(Map.of("spiky-a", 2000.0)));
        // spiky-a's answer was flagged by a quality member, not by the spike member: wasted whole, no spike price
        Set<Instant> quality = Set.of(T.plusSeconds(1));
        ImpactFold.Req r = ImpactFold.derive("call", ATTEMPTS.subList(0, 1), quality, quality, Set.of(), rule);
        assertThat(r.spikeExtra()).isZero();
        assertThat(r.wastedCost()).isCloseTo(0.04, within(1e-12));
        assertThat(r.wastedTokens()).isEqualTo(4000);
        // flagged by both: wasted whole, once; its excess is in that price already
        ImpactFold.Req both = ImpactFold.derive("call", ATTEMPTS.subList(0, 1), quality, quality, quality, rule);
        assertThat(both.spikeExtra()).isZero();
        assertThat(both.wastedCost()).isCloseTo(0.04, within(1e-12));
        // by the spike member only: its tokens over the p99, not wasted
        ImpactFold.Req spike = ImpactFold.derive("call", ATTEMPTS.subList(0, 1), quality, Set.of(), quality, rule);
        assertThat(spike.spikeExtra()).isCloseTo(0.02, within(1e-12));
        assertThat(spike.wastedCost()).isZero();
    }

    @Test
    void the_stored_form_changes_with_any_deployment_or_p99_so_the_subject_folds_anew() {
        SpikeRule one = new SpikeRule(new TreeMap<>(Map.of("a", 2000.0)));
        assertThat(one.encode()).isEqualTo(new SpikeRule(new TreeMap<>(Map.of("a", 2000.0))).encode());
        assertThat(one.encode()).isNotEqualTo(new SpikeRule(new TreeMap<>(Map.of("a", 2001.0))).encode())
                .isNotEqualTo(new SpikeRule(new TreeMap<>(Map.of("a", 2000.0, "b", 10.0))).encode())
                .isNotEqualTo(SpikeRule.every(2000).encode());
        // a name holding the separators cannot pass for two entries
        assertThat(new SpikeRule(new TreeMap<>(Map.of("a=1.0;1:b", 2.0))).encode())
                .isNotEqualTo(new SpikeRule(new TreeMap<>(Map.of("a", 1.0, "b", 2.0))).encode());
        // the derivation rules' version, also without a spike: a subject folded by older rules folds anew once
        assertThat(SpikeRule.NONE.encode()).isEqualTo(SpikeRule.VERSION).isNotEqualTo("");
        assertThat(SpikeRule.every(0)).isEqualTo(SpikeRule.NONE);
    }
}
