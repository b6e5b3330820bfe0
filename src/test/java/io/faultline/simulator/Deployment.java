package io.faultline.simulator;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Function;

/** Live state of one deployment: its script, what is left of its fault queue and headroom, and its counts. */
final class Deployment {

    /** The decision for one request, taken atomically so that fault counts stay exact under concurrency. */
    record Turn(Script script, Fault fault, long delayMs, Usage usage, Headroom headroom) {

        String outcome() {
            return fault == null ? "success" : fault.kind().wireName();
        }
    }

    private Script script;
    private final Deque<Fault> pending = new ArrayDeque<>();
    private int pendingCount;
    private long remainingRequests;
    private long remainingTokens;
    private Random jitter;
    private long requests;
    private final TreeMap<String, Long> outcomes = new TreeMap<>();

    Deployment() {
        apply(Script.success());
    }

    synchronized void apply(Script script) {
        this.script = script;
        pending.clear();
        pending.addAll(script.faults());
        pendingCount = pending.isEmpty() ? 0 : pending.peekFirst().count();
        if (script.rateLimit() != null) {
            remainingRequests = script.rateLimit().remainingRequests();
            remainingTokens = script.rateLimit().remainingTokens();
        }
        jitter = new Random(script.seed());
    }

    synchronized Script script() {
        return script;
    }

    /**
     * Takes the next request: pops a fault if one is queued, else drains the headroom.
     * {@code providerLimits} is what the provider reports when the script sets no rate limit (null: none).
     */
    synchronized Turn next(Function<Script, Usage> usageOf, RateLimit providerLimits) {
        Fault fault = takeFault();
        Usage usage = usageOf.apply(script);
        Headroom headroom = headroom(fault == null, usage, providerLimits);
        long delay = script.latencyMs()
                + (script.latencyJitterMs() == 0 ? 0 : (long) (jitter.nextDouble() * (script.latencyJitterMs() + 1)));
        Turn turn = new Turn(script, fault, delay, usage, headroom);
        requests++;
        outcomes.merge(turn.outcome(), 1L, Long::sum);
        return turn;
    }

    synchronized DeploymentStats stats() {
        return new DeploymentStats(requests, outcomes);
    }

    private Fault takeFault() {
        Fault head = pending.peekFirst();
        if (head == null || head.count() == Fault.UNTIL_RESET) {
            return head;
        }
        if (--pendingCount == 0) {
            pending.removeFirst();
            pendingCount = pending.isEmpty() ? 0 : pending.peekFirst().count();
        }
        return head;
    }

    private Headroom headroom(boolean success, Usage usage, RateLimit providerLimits) {
        RateLimit scripted = script.rateLimit();
        if (scripted == null) {
            return providerLimits == null ? null : new Headroom(
                    providerLimits.limitRequests(), providerLimits.limitRequests() - 1,
                    providerLimits.limitTokens(), Math.max(0, providerLimits.limitTokens() - usage.totalTokens()));
        }
        if (success) {
            long drainTokens = scripted.drainTokensPerCall() == null ? usage.totalTokens() : scripted.drainTokensPerCall();
            remainingRequests = Math.max(0, remainingRequests - scripted.drainRequestsPerCall());
            remainingTokens = Math.max(0, remainingTokens - drainTokens);
        }
        return new Headroom(scripted.limitRequests(), remainingRequests, scripted.limitTokens(), remainingTokens);
    }
}
