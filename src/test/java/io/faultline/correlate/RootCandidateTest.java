package io.faultline.correlate;

import io.faultline.correlate.FailureCorrelationEngine.EdgeRow;
import io.faultline.correlate.FailureCorrelationEngine.Episode;
import io.faultline.correlate.FailureCorrelationEngine.Root;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** The root-cause candidate and the sentence that explains it. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RootCandidateTest {

    private static final Instant T = Instant.parse("2029-04-01T08:00:00Z");

    private static Episode episode(String category, String type, String provider, String deployment, long after) {
        return new Episode(UUID.randomUUID(), provider + "|" + type, category, type, provider, deployment,
                T.plusSeconds(after), T.plusSeconds(after + 300), 5);
    }

    private static EdgeRow caused(Episode from, Episode to) {
        return new EdgeRow(from.id(), to.id(), "caused", 0.6, Map.of("quality_type", to.type()));
    }

    @Test
    void the_earliest_member_nothing_causal_points_into_began_first() {
        Episode timeout = episode("provider", "timeout", "openai", "oa-1", 0);
        Episode format = episode("quality", "format_non_compliance", "anthropic", "an-1", 30);

        Root root = FailureCorrelationEngine.root(List.of(timeout, format), List.of(caused(timeout, format)),
                List.of());

        assertThat(root.id()).isEqualTo(timeout.id());
        assertThat(root.reason()).startsWith("openai timeout on oa-1 began first, at " + T)
                .contains("no causal edge points into it").contains("format_non_compliance (confidence 0.6)");
    }

    @Test
    void a_root_after_a_member_it_caused_is_not_said_to_have_begun_first() {
        // The fallback target's format failures had begun a minute before the timeout, and the timeout's fallback
        // traffic is what the causal edge credits: the root is the timeout, which did not begin first.
        Episode format = episode("quality", "format_non_compliance", "anthropic", "an-1", 0);
        Episode timeout = episode("provider", "timeout", "openai", "oa-1", 60);

        Root root = FailureCorrelationEngine.root(List.of(format, timeout), List.of(caused(timeout, format)),
                List.of());

        assertThat(root.id()).isEqualTo(timeout.id());
        assertThat(root.reason()).doesNotContain("began first")
                .startsWith("openai timeout on oa-1 began at " + T.plusSeconds(60)
                        + ", the earliest member no causal edge points into (anthropic format_non_compliance on an-1"
                        + " began earlier, at " + T + ", but a causal edge points into it)");
    }

    @Test
    void when_every_member_is_caused_the_earliest_is_named_with_the_cycle() {
        Episode a = episode("provider", "rate_limit", "openai", "oa-1", 0);
        Episode b = episode("cost", "token_spike", "openai", "oa-1", 20);

        Root root = FailureCorrelationEngine.root(List.of(a, b), List.of(caused(a, b), caused(b, a)), List.of());

        assertThat(root.id()).isEqualTo(a.id());
        assertThat(root.reason()).contains("began first").contains("though a causal edge points into it (a cycle)");
    }
}
