package io.faultline.call;

import io.faultline.classify.CallRule;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
import io.faultline.taxonomy.QualityFailure;
import io.faultline.taxonomy.Severity;
import jakarta.inject.Singleton;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A classification rule of the tests, active in every {@code @QuarkusTest} but acting only on calls of the models
 * named here: it counts the calls it is run on, breaks the way a buggy detector breaks, and quotes the raw prompt
 * into its evidence (as a content detector may), so that tests can see what the classifier and storage make of it.
 */
@Singleton
public class ProbeRule implements CallRule {

    /** Calls of this model are counted. */
    public static final String COUNTED = "probe-counted";
    /** Calls of this model throw a StackOverflowError. */
    public static final String OVERFLOWS = "probe-overflows";
    /** Calls of this model throw an IllegalStateException. */
    public static final String THROWS = "probe-throws";
    /** Calls of this model produce a failure whose evidence quotes the raw last user message. */
    public static final String QUOTES = "probe-quotes";

    private final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();

    @Override
    public List<Failure> apply(LlmCall call) {
        String model = call.model();
        if (model == null || !model.startsWith("probe-")) {
            return List.of();
        }
        runs.computeIfAbsent(call.callId(), k -> new AtomicInteger()).incrementAndGet();
        return switch (model) {
            case OVERFLOWS -> List.of(overflow(0));
            case THROWS -> throw new IllegalStateException("a broken detector");
            case QUOTES -> {
                String prompt = call.content().lastUserText();
                yield List.of(new QualityFailure(UUID.randomUUID(), call.endedAt(), Severity.P3, call.provider(),
                        call.deployment(), QualityFailure.Type.HALLUCINATION, "probe.quote",
                        Map.of("quote", prompt, "raw_prompt_has_nul", prompt.indexOf('\0') >= 0),
                        new ImpactScope(call.model(), call.modelGroup(), call.callId(), call.userRef(),
                                call.teamId())));
            }
            default -> List.of();
        };
    }

    /** How many times the rule ran on this call. */
    public int runs(String callId) {
        AtomicInteger n = runs.get(callId);
        return n == null ? 0 : n.get();
    }

    private static Failure overflow(int depth) {
        // Real recursion, so that the error comes from an exhausted stack like a runaway validator's.
        return depth < 0 ? null : overflow(depth + 1);
    }
}
