package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;

/** How one provider's API puts successes and failures on the wire. */
interface ProviderWire {

    /** Limits reported when the script sets none; null if the provider sends no rate-limit headers. */
    RateLimit defaultLimits();

    boolean streams(JsonNode request, Route route);

    int thinkingTokens(JsonNode request, int scripted);

    Reply success(Call call);

    /** Any fault but the provider-neutral ones (malformed, empty, hang). */
    Reply fault(FaultKind kind, Call call);

    Reply invalidRequest(String message);
}
