package io.faultline.detect;

import io.faultline.call.LlmCall;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.ArrayList;
import java.util.List;

/**
 * Anthropic's dialect: {@code anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}}
 * (RFC 3339 resets), and 529 {@code overloaded_error}, which LiteLLM hands over as an {@code InternalServerError}.
 * Extended-thinking tokens arrive as reasoning tokens in the usage and are counted by {@link ProviderDetection}.
 */
@ApplicationScoped
public class AnthropicFailureDetector implements ProviderFailureDetector {

    @Override
    public boolean speaks(String provider) {
        return provider.equals("anthropic");
    }

    @Override
    public String errorType(LlmCall call, String classified) {
        return classified;
    }

    @Override
    public List<Headroom> headroom(LlmCall call) {
        List<Headroom> readings = new ArrayList<>(4);
        for (LimitType type : LimitType.values()) {
            String prefix = "anthropic-ratelimit-" + type.label.replace('_', '-');
            Long remaining = RateLimitHeaders.number(call.rateLimitHeaders(), prefix + "-remaining");
            if (remaining == null) {
                continue;
            }
            Long limit = RateLimitHeaders.number(call.rateLimitHeaders(), prefix + "-limit");
            readings.add(new Headroom(type, remaining, limit == null ? -1 : limit,
                    RateLimitHeaders.until(call.header(prefix + "-reset"), call.endedAt()), call.endedAt()));
        }
        // LiteLLM also derives x-ratelimit-* from Anthropic's headers; use them only when the originals are missing.
        return readings.isEmpty() ? OpenAIFailureDetector.openAiStyle(call) : readings;
    }
}
