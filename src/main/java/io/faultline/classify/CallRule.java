package io.faultline.classify;

import io.faultline.call.LlmCall;
import io.faultline.taxonomy.Failure;

import java.util.List;

/**
 * One family of classification rules over a single call. Content rules (quality, security) of later features plug in
 * as further beans beside the provider and access rules; the classifier runs them all.
 */
public interface CallRule {

    /** The failures this call shows, or an empty list. Must not throw on any well-formed {@link LlmCall}. */
    List<Failure> apply(LlmCall call);
}
