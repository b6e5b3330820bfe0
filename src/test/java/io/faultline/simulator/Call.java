package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;

/** One provider request as the wire formats need it: what was asked and what the script decided to answer. */
record Call(String model, JsonNode request, boolean stream, boolean sse, String answer, Usage usage,
            Headroom headroom, Fault fault, long processingMs) {

    long retryAfterSeconds() {
        return fault == null ? Fault.DEFAULT_RETRY_AFTER_SECONDS : fault.retryAfterSeconds();
    }
}
