package io.faultline.content;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.Payloads;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class ContentExtractorTest {

    private static final Instant AT = Instant.parse("2026-11-28T10:00:00Z");

    private final CallMapper mapper = new CallMapper(Payloads.JSON, ConfigMappings.defaults(ContentConfig.class));

    @Test
    void groundingIsReadInTheDocumentedOrderOfItsKeysInEveryJvm() {
        // A Set.of iterates in an order drawn per JVM: once the character budget ran out, which document the
        // faithfulness check saw changed from one start to the next.
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-x", AT).answer("ok", "stop")
                .metadata(Map.of("retrieved_context", "From retrieval.", "grounding", "From grounding.",
                        "documents", List.of("From documents."), "context", "From context."));

        CallContent content = mapper.map(payload.node()).content();

        assertThat(ContentExtractor.GROUNDING_KEYS).containsExactly("context", "documents", "grounding",
                "retrieved_context");
        assertThat(content.grounding()).containsExactly("From context.", "From documents.", "From grounding.",
                "From retrieval.");
    }

    @Test
    void readsMessagesPartsAnswerFormatLanguageAndGrounding() {
        Payloads payload = Payloads.success("openai", "gpt-4o", "dep-x", AT).answer("{\"city\": \"Paris\"}", "stop")
                .metadata(Map.of("language", "en-US", "team", "search",
                        "documents", List.of("Paris is the capital of France.", Map.of("page_content", "Lyon too."))));
        ObjectNode node = payload.node();
        node.putArray("messages").add(Payloads.JSON.createObjectNode().put("role", "system").put("content", "Be brief."))
                .addObject().put("role", "user").putArray("content")
                .add(Payloads.JSON.createObjectNode().put("type", "text").put("text", "Capital?"))
                .add(Payloads.JSON.createObjectNode().put("type", "image_url"));
        ObjectNode format = ((ObjectNode) node.get("model_parameters")).putObject("response_format");
        format.put("type", "json_schema").putObject("json_schema").put("name", "city").put("strict", true)
                .putObject("schema").put("type", "object");

        LlmCall call = mapper.map(node);
        CallContent content = call.content();

        assertThat(content.messages()).extracting(CallContent.Message::role).containsExactly("system", "user");
        assertThat(content.lastUserText()).isEqualTo("Capital?");
        assertThat(content.answer()).isEqualTo("{\"city\": \"Paris\"}");
        assertThat(content.responseFormat().type()).isEqualTo("json_schema");
        assertThat(content.responseFormat().strict()).isTrue();
        assertThat(content.responseFormat().schema().path("type").asText()).isEqualTo("object");
        assertThat(content.expectedLanguage()).isEqualTo("en");
        assertThat(content.grounding()).containsExactly("Paris is the capital of France.", "Lyon too.");
        assertThat(content.truncated()).isFalse();
        // The detectors read language and grounding from the payload; the stored metadata keeps only the allow-listed
        // keys (batch_id, job_id, retrieval), so neither these nor the caller's own "team" label are stored.
        assertThat(call.requesterMetadata()).isEmpty();
    }

    @Test
    void boundsTheTextItReadsAndSaysSo() {
        ContentConfig small = ConfigMappings.with(ContentConfig.class,
                Map.of("faultline.content.max-request-chars", "10", "faultline.content.max-answer-chars", "5"));
        CallMapper bounded = new CallMapper(Payloads.JSON, small);
        LlmCall call = bounded.map(Payloads.success("openai", "gpt-4o", "dep-x", AT)
                .answer("a long answer indeed", "stop").node());

        assertThat(call.content().answer()).isEqualTo("a lon");
        assertThat(call.content().requestText()).hasSize(10);
        assertThat(call.content().truncated()).isTrue();
    }

    @Test
    void noContentIsReadWhenSwitchedOff() {
        ContentConfig off = ConfigMappings.with(ContentConfig.class, Map.of("faultline.content.enabled", "false"));
        LlmCall call = new CallMapper(Payloads.JSON, off).map(Payloads.success("openai", "gpt-4o", "d", AT).node());

        assertThat(call.content()).isSameAs(CallContent.NONE);
    }

    @Test
    void failedCallsAndOddShapesYieldNoAnswerRatherThanAnError() {
        LlmCall failed = mapper.map(Payloads.failure("openai", "gpt-4o", "d", AT, 429, "RateLimitError", "slow down")
                .node());
        assertThat(failed.content().hasAnswer()).isFalse();
        assertThat(failed.content().lastUserText()).isEqualTo("What is the capital of France?");

        LlmCall odd = mapper.map(Payloads.success("openai", "gpt-4o", "d", AT).set("messages", 42)
                .set("response", Map.of("choices", List.of(Map.of("text", "completion text")))).node());
        assertThat(odd.content().messages()).isEmpty();
        assertThat(odd.content().answer()).isEqualTo("completion text");
    }
}
