package io.faultline.classify;

import io.faultline.call.LlmCall;
import io.faultline.taxonomy.Failure;
import io.quarkus.logging.Log;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;

import java.util.ArrayList;
import java.util.List;

/** Runs every {@link CallRule} over a call and returns the failures it shows. */
@ApplicationScoped
public class FailureClassifier {

    private final List<CallRule> rules;

    public FailureClassifier(Instance<CallRule> rules) {
        this.rules = rules.stream().toList();
    }

    public List<Failure> classifyFailure(LlmCall call) {
        List<Failure> failures = new ArrayList<>(1);
        for (CallRule rule : rules) {
            try {
                failures.addAll(rule.apply(call));
            } catch (RuntimeException e) {
                // A broken rule must not lose the call; it is stored either way and stays countable.
                Log.errorf(e, "Rule %s failed on call %s", rule.getClass().getSimpleName(), call.callId());
            }
        }
        return failures;
    }
}
