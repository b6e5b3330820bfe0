package io.faultline.detect;

import io.faultline.call.LlmCall;
import io.faultline.classify.ProviderRules;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.List;

/**
 * Gemini's dialect: {@code RESOURCE_EXHAUSTED} quotas (LiteLLM's {@code RateLimitError}), safety blocks that arrive
 * as successful calls with {@code finish_reason=content_filter}, and {@code INVALID_ARGUMENT} token-limit overflows.
 * The Gemini API sends no rate-limit headers, so there is no headroom to read; thinking tokens
 * ({@code thoughtsTokenCount}) arrive as reasoning tokens.
 */
@ApplicationScoped
public class GeminiFailureDetector implements ProviderFailureDetector {

    @Override
    public boolean speaks(String provider) {
        return provider.equals("gemini") || provider.equals("vertex_ai") || provider.equals("vertex_ai_beta");
    }

    @Override
    public String errorType(LlmCall call, String classified) {
        // Its per-minute and per-day quotas answer alike; the quota id in the body tells them apart.
        return "rate_limit".equals(classified) && ProviderRules.isDailyLimit(call) ? "daily_quota_exhausted"
                : classified;
    }

    @Override
    public List<Headroom> headroom(LlmCall call) {
        return List.of();
    }
}
