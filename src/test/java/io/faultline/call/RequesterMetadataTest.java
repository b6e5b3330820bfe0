package io.faultline.call;

import io.faultline.content.ContentConfig;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.Payloads;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** What of {@code requester_metadata} a call keeps, with the operator's allow-list. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RequesterMetadataTest {

    private static final Instant AT = Instant.parse("2029-01-01T00:00:00Z");

    @Test
    void an_operator_chosen_key_is_kept_with_its_text_masked_and_the_retrieval_reduced_to_its_sample() {
        CallMapper mapper = new CallMapper(Payloads.JSON, ConfigMappings.defaults(ContentConfig.class),
                List.of("batch_id", "retrieval", "ticket"));
        LlmCall call = mapper.map(Payloads.success("openai", "gpt-4o", "d", AT).metadata(Map.of(
                "ticket", Map.of("from", "jane.doe@example.org", "card", "4111 1111 1111 1111"),
                "note", "not on the list",
                "retrieval", Map.of("index", "kb-products", "top_score", 0.82, "mean_score", 0.5, "hits", 5, "k", 8,
                        "query", "where is my refund", "documents", List.of("Refunds take 14 days.")))).node());

        Map<String, Object> kept = call.requesterMetadata();
        assertThat(kept).containsOnlyKeys("ticket", "retrieval");
        assertThat(kept.get("ticket")).isEqualTo(Map.of("from", "[email]", "card", "[number]"));
        assertThat(kept.get("retrieval")).isEqualTo(Map.of("index", "kb-products", "top_score", 0.82,
                "mean_score", 0.5, "hits", 5, "k", 8));
    }

    @Test
    void a_retrieval_that_is_not_an_object_is_kept_as_other_values_are_masked() {
        CallMapper mapper = new CallMapper(Payloads.JSON, ConfigMappings.defaults(ContentConfig.class));
        LlmCall call = mapper.map(Payloads.success("openai", "gpt-4o", "d", AT).metadata(Map.of(
                "retrieval", "mail ops@example.org")).node());
        assertThat(call.requesterMetadata()).isEqualTo(Map.of("retrieval", "mail [email]"));
    }
}
