package io.faultline.detect;

import io.faultline.call.LlmCall;
import io.faultline.classify.ProviderRules;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.ArrayList;
import java.util.List;

/**
 * OpenAI's dialect: {@code x-ratelimit-{limit,remaining,reset}-{requests,tokens}} with Go-duration resets, and 429s
 * that are either a passing {@code rate_limit_exceeded}, an {@code insufficient_quota} that will not pass, or a
 * request too large for the per-minute token limit ({@code request_too_large}), which no wait lets through.
 * Also the fallback for OpenAI-compatible providers that send the same headers.
 */
@ApplicationScoped
public class OpenAIFailureDetector implements ProviderFailureDetector {

    @Override
    public boolean speaks(String provider) {
        return provider.equals("openai") || provider.equals("azure") || provider.equals("text-completion-openai");
    }

    @Override
    public String errorType(LlmCall call, String classified) {
        if ("rate_limit".equals(classified) && ProviderRules.isQuotaExhausted(call)) {
            return "insufficient_quota";
        }
        if ("rate_limit".equals(classified) && ProviderRules.isDailyLimit(call)) {
            return "daily_quota_exhausted";
        }
        if ("rate_limit".equals(classified) && ProviderRules.isRequestTooLarge(call)) {
            return "request_too_large";
        }
        return classified;
    }

    @Override
    public List<Headroom> headroom(LlmCall call) {
        return openAiStyle(call);
    }

    /** Readings of the {@code x-ratelimit-*} family, which several providers besides OpenAI send. */
    static List<Headroom> openAiStyle(LlmCall call) {
        List<Headroom> readings = new ArrayList<>(2);
        for (LimitType type : new LimitType[] { LimitType.REQUESTS, LimitType.TOKENS }) {
            Long remaining = RateLimitHeaders.number(call.rateLimitHeaders(), "x-ratelimit-remaining-" + type.label);
            if (remaining == null) {
                continue;
            }
            Long limit = RateLimitHeaders.number(call.rateLimitHeaders(), "x-ratelimit-limit-" + type.label);
            readings.add(new Headroom(type, remaining, limit == null ? -1 : limit,
                    RateLimitHeaders.goDuration(call.header("x-ratelimit-reset-" + type.label)), call.endedAt()));
        }
        return readings;
    }
}
