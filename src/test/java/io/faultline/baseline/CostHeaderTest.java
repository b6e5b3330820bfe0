package io.faultline.baseline;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** LiteLLM's x-litellm-response-cost header comes from the network: only a cost goes into the cost baseline. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CostHeaderTest {

    @Test
    void a_cost_as_litellm_writes_it_is_read() {
        assertThat(BaselineProfiler.cost("0.000123")).isEqualTo(0.000123);
        assertThat(BaselineProfiler.cost("1.5e-05")).isEqualTo(1.5e-05);
        assertThat(BaselineProfiler.cost("0.0")).isZero();
    }

    @Test
    void a_header_that_is_no_cost_is_left_out_rather_than_poisoning_the_mean_and_percentiles() {
        for (String garbage : new String[] {"NaN", "Infinity", "-Infinity", "-0.5", "1e999", "None", "", "abc"}) {
            assertThat(BaselineProfiler.cost(garbage)).as(garbage).isNull();
        }
    }
}
