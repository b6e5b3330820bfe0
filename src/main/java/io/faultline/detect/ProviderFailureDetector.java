package io.faultline.detect;

import io.faultline.call.LlmCall;

import java.util.List;

/**
 * Knows one provider's dialect: which errors mean what, and which headers tell the remaining rate-limit headroom.
 * {@link ProviderDetection} routes every stored call to the detector that speaks for its provider.
 */
public interface ProviderFailureDetector {

    /** Whether this detector speaks for the provider family (LiteLLM's {@code custom_llm_provider}). */
    boolean speaks(String provider);

    /**
     * The {@code error_type} label of the call, refined in this provider's dialect from what the classifier found
     * ({@code classified}: a PROVIDER type code, "unauthorized", "client_error", or null for a clean success).
     */
    String errorType(LlmCall call, String classified);

    /** Rate-limit readings from the call's response headers. */
    List<Headroom> headroom(LlmCall call);
}
