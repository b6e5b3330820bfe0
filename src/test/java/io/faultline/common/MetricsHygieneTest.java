package io.faultline.common;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Quarkus puts the meter filters on Micrometer's JVM-wide global registry, which outlives the application (test
 * applications one after another, dev-mode reloads), and a filter cannot be taken off a registry again.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class MetricsHygieneTest {

    @Test
    void a_stopped_applications_full_label_cap_leaves_the_next_applications_labels_alone() {
        MeterRegistry global = new SimpleMeterRegistry();
        MetricsHygiene first = new MetricsHygiene();
        global.config().meterFilter(first.capCallerLabels(new MetricLabels(1)));
        Counter.builder("llm.calls").tag("provider", "prov-0").register(global).increment();
        Counter.builder("llm.calls").tag("provider", "prov-1").register(global).increment();
        assertThat(global.find("llm.calls").tag("provider", "other").counter()).as("the first cap is full").isNotNull();
        first.stop();
        global.clear();

        MetricsHygiene next = new MetricsHygiene();
        global.config().meterFilter(next.capCallerLabels(new MetricLabels(2)));
        Counter.builder("llm.calls").tag("provider", "openai").register(global).increment(2);
        Counter.builder("llm.calls").tag("provider", "gemini").register(global).increment();
        Counter.builder("llm.calls").tag("provider", "anthropic").register(global).increment();

        assertThat(calls(global, "openai")).isEqualTo(2);
        assertThat(calls(global, "gemini")).isEqualTo(1);
        // The running application's own cap still applies.
        assertThat(calls(global, "other")).isEqualTo(1);
    }

    private static double calls(MeterRegistry registry, String provider) {
        Counter counter = registry.find("llm.calls").tag("provider", provider).counter();
        return counter == null ? 0 : counter.count();
    }
}
