package io.faultline.detect;

import io.faultline.common.MetricLabels;
import io.faultline.predict.PredictionMetrics;
import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * Callers name providers, models and deployments: 1,000 invented names must not make 1,000 series per family. Runs
 * in an application of its own (a profile), so that the cap is filled by this test alone and no other test's
 * provider label turns into "other".
 */
@QuarkusTest
@TestProfile(MetricLabelCapTest.SmallCap.class)
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class MetricLabelCapTest {

    static final int CAP = 100;
    static final int CALLS = 1000;

    public static class SmallCap implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            // The prediction gauges re-read providers from the database: once, before the ingest below (refreshed by
            // the test itself), and not again during it.
            return Map.of("faultline.metrics.max-label-values", String.valueOf(CAP),
                    "faultline.predict.metrics-every", "24h");
        }
    }

    @Inject
    MetricLabels labels;

    @Inject
    PredictionMetrics predictionMetrics;

    @Test
    void a_thousand_invented_providers_models_and_deployments_stay_within_the_cap_with_the_rest_as_other() {
        // A read of the database takes no slot (only calls do), so the invented providers get the whole cap.
        predictionMetrics.refresh();
        int free = CAP - labels.admitted("provider");
        assertThat(free).as("provider slots left for the invented providers").isEqualTo(CAP);
        Instant now = Instant.now();
        for (int batch = 0; batch < CALLS / 500; batch++) {
            Payloads[] calls = new Payloads[500];
            for (int i = 0; i < 500; i++) {
                int n = batch * 500 + i;
                if (n % 2 == 0) {
                    Payloads call = Payloads.success("prov-" + n, "model-" + n, "deployment-" + n, now)
                            .header("x-ratelimit-limit-requests", "100").header("x-ratelimit-remaining-requests", "5");
                    call.node().withObject("/response").withObject("/usage").putObject("completion_tokens_details")
                            .put("reasoning_tokens", 3);
                    calls[i] = call;
                } else {
                    calls[i] = Payloads.failure("prov-" + n, "model-" + n, "deployment-" + n, now, 500,
                            "InternalServerError", "boom");
                }
            }
            Api.ingest(Payloads.array(calls)).statusCode(200).body("accepted", equalTo(500));
        }

        String scrape = Metrics.scrape();
        for (String family : new String[] { "llm_provider_latency_seconds_count", "llm_provider_call_duration_seconds_count" }) {
            Map<String, Double> byProvider = samples(scrape, family, "provider");
            assertThat(byProvider).as(family).hasSize(free + 1).containsKey("other");
            assertThat(byProvider.values().stream().mapToDouble(Double::doubleValue).sum()).as(family)
                    .isEqualTo(CALLS);
            // The first providers up to the cap keep their own series; every later one is counted under "other".
            assertThat(byProvider).as(family).containsKeys("prov-0", "prov-" + (free - 1));
            assertThat(byProvider.get("other")).as(family).isEqualTo(CALLS - free);
        }
        assertThat(samples(scrape, "llm_provider_errors_total", "provider")).hasSizeLessThanOrEqualTo(CAP + 1)
                .containsKey("other");
        Map<String, Double> models = samples(scrape, "llm_thinking_tokens_total", "model");
        assertThat(models).hasSize(CAP + 1).containsKey("other");
        assertThat(models.values().stream().mapToDouble(Double::doubleValue).sum()).isEqualTo(3.0 * CALLS / 2);
        assertThat(samples(scrape, "llm_provider_rate_limit_remaining", "provider"))
                .hasSizeLessThanOrEqualTo(CAP + 1);
        // No series of any family carries more than CAP + 1 distinct provider values.
        assertThat(distinct(scrape, "provider")).isLessThanOrEqualTo(CAP + 1);
        assertThat(distinct(scrape, "model")).isLessThanOrEqualTo(CAP + 1);
    }

    /** Sum of a family's samples by the value of one label. */
    private static Map<String, Double> samples(String scrape, String family, String label) {
        Pattern value = Pattern.compile(label + "=\"([^\"]*)\"");
        Map<String, Double> out = new HashMap<>();
        for (String line : scrape.split("\n")) {
            if (!line.startsWith(family + "{")) {
                continue;
            }
            Matcher m = value.matcher(line);
            if (m.find()) {
                double v = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                out.merge(m.group(1), v, Double::sum);
            }
        }
        return out;
    }

    private static long distinct(String scrape, String label) {
        Pattern value = Pattern.compile("[{,]" + label + "=\"([^\"]*)\"");
        return scrape.lines().filter(l -> !l.startsWith("#")).map(value::matcher).filter(Matcher::find)
                .map(m -> m.group(1)).distinct().count();
    }
}
