package io.faultline.detect;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Metrics;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The latency metrics carry the calls' real durations in seconds: calls with known start, end and first-token times
 * go in through the API and the scrape must show exactly their sum, count and bucket placement. A seconds versus
 * milliseconds mix-up anywhere between the payload and the exposition is off by 1000 and fails here.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ProviderLatencyMetricsTest {

    /** Binary fractions of a second: exact in the payload's epoch-seconds doubles, so the sums are exact too. */
    private static final double[] LATENCIES = { 0.125, 0.25, 1.5, 3.0 };

    @Inject
    AgroalDataSource dataSource;

    @Test
    void summary_and_histogram_hold_the_exact_latencies_of_known_calls_in_seconds() throws Exception {
        String provider = "latency-" + UUID.randomUUID().toString().substring(0, 8);
        Instant start = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        double startSeconds = start.getEpochSecond();
        List<String> callIds = new ArrayList<>();
        Payloads[] calls = new Payloads[LATENCIES.length];
        for (int i = 0; i < LATENCIES.length; i++) {
            calls[i] = Payloads.success(provider, "m", "dep-" + provider, start).set("stream", true)
                    .set("startTime", startSeconds).set("endTime", startSeconds + LATENCIES[i])
                    .set("completionStartTime", startSeconds + LATENCIES[i] / 2)
                    .set("response_time", LATENCIES[i]);
            callIds.add(calls[i].node().get("litellm_call_id").asText());
        }
        Api.ingest(Payloads.array(calls)).statusCode(200);

        String scrape = Metrics.scrape();
        double sum = 4.875;
        assertThat(Metrics.value(scrape, "llm_provider_latency_seconds_count", "provider", provider)).isEqualTo(4);
        assertThat(Metrics.value(scrape, "llm_provider_latency_seconds_sum", "provider", provider))
                .isCloseTo(sum, within(1e-9));
        assertThat(Metrics.value(scrape, "llm_provider_latency_seconds_max", "provider", provider))
                .isCloseTo(3.0, within(1e-9));
        // The summary's quantiles come from a bucketed estimate: close to the true values, never a factor 1000 off.
        assertThat(Metrics.value(scrape, "llm_provider_latency_seconds", "provider", provider, "quantile", "0.99"))
                .isCloseTo(3.0, within(0.3));
        assertThat(Metrics.value(scrape, "llm_provider_call_duration_seconds_count", "provider", provider))
                .isEqualTo(4);
        assertThat(Metrics.value(scrape, "llm_provider_call_duration_seconds_sum", "provider", provider))
                .isCloseTo(sum, within(1e-9));

        // Every cumulative bucket holds exactly the calls at or under its bound.
        Pattern bucket = Pattern.compile("^llm_provider_call_duration_seconds_bucket\\{(.*)} (\\S+)$");
        Pattern le = Pattern.compile("le=\"([^\"]+)\"");
        int buckets = 0;
        for (String line : scrape.split("\n")) {
            Matcher m = bucket.matcher(line);
            if (!m.matches() || !m.group(1).contains("provider=\"" + provider + "\"")) {
                continue;
            }
            Matcher bound = le.matcher(m.group(1));
            assertThat(bound.find()).isTrue();
            double upper = bound.group(1).equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(bound
                    .group(1));
            long expected = java.util.Arrays.stream(LATENCIES).filter(l -> l <= upper).count();
            assertThat(Double.parseDouble(m.group(2))).as("bucket le=%s", bound.group(1)).isEqualTo(expected);
            buckets++;
        }
        assertThat(buckets).isGreaterThan(10);

        // The stored call keeps milliseconds: latency and time to first token of streamed calls.
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "select latency_ms, ttft_ms from llm_calls where call_id = ?")) {
            for (int i = 0; i < LATENCIES.length; i++) {
                st.setString(1, callIds.get(i));
                try (ResultSet rs = st.executeQuery()) {
                    assertThat(rs.next()).isTrue();
                    assertThat(rs.getDouble(1)).isCloseTo(LATENCIES[i] * 1000, within(1e-6));
                    assertThat(rs.getDouble(2)).isCloseTo(LATENCIES[i] * 500, within(1e-6));
                }
            }
        }
    }
}
