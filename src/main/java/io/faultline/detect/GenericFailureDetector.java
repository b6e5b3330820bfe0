package io.faultline.detect;

import io.faultline.call.LlmCall;

import java.util.List;

/** Any other provider: the common error types, and headroom if it speaks the x-ratelimit-* dialect. Never drops a call. */
final class GenericFailureDetector implements ProviderFailureDetector {

    @Override
    public boolean speaks(String provider) {
        return true;
    }

    @Override
    public String errorType(LlmCall call, String classified) {
        return classified;
    }

    @Override
    public List<Headroom> headroom(LlmCall call) {
        return OpenAIFailureDetector.openAiStyle(call);
    }
}
