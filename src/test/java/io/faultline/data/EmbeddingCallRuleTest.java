package io.faultline.data;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The buffer of vectors followed from LiteLLM calls, when a flush could not write what it took. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class EmbeddingCallRuleTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    // Room for 40 components: five calls of two 4-dimensional vectors.
    private final EmbeddingCallRule rule = new EmbeddingCallRule(new SmallRyeConfigBuilder()
            .withMapping(EmbeddingDriftConfig.class).withConverter(Duration.class, 200, new DurationConverter())
            .withDefaultValues(Map.of("faultline.embedding-drift.buffer-values", "40")).build()
            .getConfigMapping(EmbeddingDriftConfig.class), registry);

    private static EmbeddingCallRule.Pending call(String id) {
        return new EmbeddingCallRule.Pending(id, "text-embedding-3-small", Instant.parse("2026-12-06T08:00:00Z"),
                List.of(new float[4], new float[4]), 8);
    }

    private double dropped() {
        return registry.get("faultline.embedding.vectors.dropped").tag("reason", "buffer_full").counter().count();
    }

    @Test
    void what_a_flush_could_not_write_is_taken_again_by_the_next_one_in_its_order() {
        rule.requeue(List.of(call("a"), call("b"), call("c")));
        assertThat(rule.drain()).extracting(EmbeddingCallRule.Pending::callId).containsExactly("a", "b", "c");
        assertThat(rule.drain()).isEmpty();
        assertThat(dropped()).isZero();
    }

    @Test
    void what_no_longer_fits_the_buffer_is_dropped_and_counted() {
        rule.requeue(List.of(call("a"), call("b"), call("c"), call("d"), call("e"), call("f"), call("g")));
        assertThat(rule.drain()).extracting(EmbeddingCallRule.Pending::callId)
                .containsExactly("a", "b", "c", "d", "e");
        assertThat(dropped()).isEqualTo(4); // two calls of two vectors
    }
}
