package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * One provider request as the wire formats need it: what was asked and what the script decided to answer. With
 * {@code toolCalls} the answer is those function calls, and {@code answer} is not sent. {@code responsesApi}: the
 * request came to OpenAI's Responses API, which answers in its own shape.
 */
record Call(String model, JsonNode request, boolean stream, boolean sse, String answer, Usage usage,
            Headroom headroom, Fault fault, long processingMs, List<FunctionCall> toolCalls, boolean responsesApi) {

    Call {
        toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
    }

    long retryAfterSeconds() {
        return fault == null ? Fault.DEFAULT_RETRY_AFTER_SECONDS : fault.retryAfterSeconds();
    }
}
