package io.faultline.classify;

import io.faultline.call.LlmCall;
import io.faultline.common.LogText;
import io.faultline.taxonomy.Failure;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs every {@link CallRule} over a call and returns the failures it shows. A rule that throws costs only its own
 * verdict on that call: the call is stored either way, the error is counted per rule and logged at most once a
 * minute per rule.
 */
@ApplicationScoped
public class FailureClassifier {

    /** How often a failing rule's error is logged with its stack trace; the errors in between are counted. */
    static final Duration LOG_EVERY = Duration.ofMinutes(1);

    private final List<Guarded> rules;
    private final Clock clock;

    public FailureClassifier(Instance<CallRule> rules, MeterRegistry registry, Clock clock) {
        this.clock = clock;
        this.rules = rules.stream().map(rule -> new Guarded(rule, registry)).toList();
    }

    public List<Failure> classifyFailure(LlmCall call) {
        List<Failure> failures = new ArrayList<>(1);
        for (Guarded guarded : rules) {
            try {
                failures.addAll(guarded.rule.apply(call));
            } catch (RuntimeException | StackOverflowError e) {
                guarded.failed(e, call, clock.instant());
            } catch (VirtualMachineError e) {
                // Out of memory, or the VM itself broken: the heap or VM is shared by every request, so carrying on
                // would only move the failure elsewhere. The batch fails (503/500) and the sender retries it.
                throw e;
            } catch (Error e) {
                // A broken rule (an assertion, a class that failed to initialise, a library's own Error) is as local
                // as an exception. A stack overflow is too: the stack has unwound by the time it is caught here.
                guarded.failed(e, call, clock.instant());
            }
        }
        return failures;
    }

    /** One rule with its error counter and log throttle. */
    private static final class Guarded {

        private final CallRule rule;
        private final String name;
        private final Counter errors;
        private final AtomicReference<Instant> nextLog = new AtomicReference<>(Instant.MIN);
        private final AtomicLong unlogged = new AtomicLong();

        Guarded(CallRule rule, MeterRegistry registry) {
            this.rule = rule;
            this.name = ruleName(rule);
            this.errors = Counter.builder("faultline.detector.errors")
                    .description("Calls on which a classification rule threw; the call was stored without its verdict")
                    .tag("rule", name).register(registry);
        }

        void failed(Throwable e, LlmCall call, Instant now) {
            errors.increment();
            Instant due = nextLog.get();
            if (now.isBefore(due) || !nextLog.compareAndSet(due, now.plus(LOG_EVERY))) {
                unlogged.incrementAndGet();
                return;
            }
            long skipped = unlogged.getAndSet(0);
            // A StackOverflowError carries 1024 frames of the same recursion: its top frames say enough.
            if (e instanceof StackOverflowError) {
                StackTraceElement[] top = e.getStackTrace();
                Log.errorf("Rule %s failed on call %s with a stack overflow (at %s); %d more errors of this rule"
                        + " since the last report", name, LogText.of(call.callId()), top.length == 0 ? "?" : top[0],
                        skipped);
            } else {
                Log.errorf(e, "Rule %s failed on call %s; %d more errors of this rule since the last report", name,
                        LogText.of(call.callId()), skipped);
            }
        }
    }

    /** The rule's class name without the CDI proxy or subclass suffix: a fixed, low-cardinality label. */
    static String ruleName(CallRule rule) {
        String name = rule.getClass().getSimpleName();
        int suffix = name.indexOf('_');
        return suffix > 0 && (name.endsWith("_ClientProxy") || name.endsWith("_Subclass")) ? name.substring(0, suffix)
                : name;
    }
}
