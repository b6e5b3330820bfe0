package io.faultline.content;

import io.faultline.call.LlmCall;
import io.faultline.classify.CallRule;
import io.faultline.taxonomy.Failure;

import java.util.List;

/**
 * A {@link CallRule} over what was asked and answered. Runs only when content detection is on and the call carries
 * content, and not on the calls of {@link ContentConfig#skippedModelGroups} (Faultline's own judge); which of its
 * types run is up to {@link ContentConfig#detects}. Subclasses are stateless {@code @Singleton} beans: no client
 * proxy is needed, and {@link #apply} stays final.
 */
public abstract class ContentRule implements CallRule {

    protected final ContentConfig config;

    protected ContentRule(ContentConfig config) {
        this.config = config;
    }

    @Override
    public final List<Failure> apply(LlmCall call) {
        if (!config.enabled() || call.content() == null || call.content() == CallContent.NONE
                || call.modelGroup() != null && config.skippedModelGroups().contains(call.modelGroup())) {
            return List.of();
        }
        return detect(call, call.content());
    }

    protected abstract List<Failure> detect(LlmCall call, CallContent content);
}
