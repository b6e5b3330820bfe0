package io.faultline.simulator;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.LongSupplier;

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
    // Refill in whole units; the fractions earned so far wait here, so a slow rate still refills exactly.
    private double requestsCarry;
    private double tokensCarry;
    private long refilledAtNanos;
    private final LongSupplier nanoTime;
    private Random jitter;
    private long requests;
    private final TreeMap<String, Long> outcomes = new TreeMap<>();

    Deployment() {
        this(System::nanoTime);
    }

    /** {@code nanoTime} is the clock headroom refills by (the simulator's wall clock; tests step their own). */
    Deployment(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
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
        requestsCarry = tokensCarry = 0;
        refilledAtNanos = nanoTime.getAsLong();
        jitter = new Random(script.seed());
    }

    synchronized Script script() {
        return script;
    }

    /**
     * Takes the next request: pops a fault if one is queued, else answers a 429 when the scripted headroom is used
     * up, else drains the headroom. {@code providerLimits} is what the provider reports when the script sets no rate
     * limit (null: none).
     */
    synchronized Turn next(Function<Script, Usage> usageOf, RateLimit providerLimits) {
        refill();
        Fault fault = takeFault();
        if (fault == null) {
            fault = exhaustion();
        }
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

    /** The 429 of a deployment whose requests or tokens are used up; null while there is headroom. */
    private Fault exhaustion() {
        RateLimit scripted = script.rateLimit();
        if (scripted == null || (remainingRequests > 0 && remainingTokens > 0)) {
            return null;
        }
        // Retry-after: when the next unit of the exhausted limit comes back, or the providers' usual 20 s without a refill.
        double perSecond = remainingRequests == 0 ? scripted.refillRequestsPerSecond() : scripted.refillTokensPerSecond();
        double carry = remainingRequests == 0 ? requestsCarry : tokensCarry;
        long retryAfter = perSecond > 0
                ? Math.max(1, (long) Math.ceil((1 - carry) / perSecond))
                : Fault.DEFAULT_RETRY_AFTER_SECONDS;
        return Fault.of(FaultKind.RATE_LIMIT, 1).withRetryAfterSeconds(retryAfter);
    }

    private void refill() {
        long now = nanoTime.getAsLong();
        double seconds = Math.max(0, now - refilledAtNanos) / 1e9;
        refilledAtNanos = now;
        RateLimit scripted = script.rateLimit();
        if (scripted == null) {
            return;
        }
        if (scripted.refillRequestsPerSecond() > 0) {
            requestsCarry += seconds * scripted.refillRequestsPerSecond();
            long whole = (long) Math.min(requestsCarry, scripted.limitRequests());  // no overflow after a long idle spell
            requestsCarry -= whole;
            remainingRequests = Math.min(scripted.limitRequests(), remainingRequests + whole);
            if (remainingRequests == scripted.limitRequests()) {
                requestsCarry = 0;
            }
        }
        if (scripted.refillTokensPerSecond() > 0) {
            tokensCarry += seconds * scripted.refillTokensPerSecond();
            long whole = (long) Math.min(tokensCarry, scripted.limitTokens());  // no overflow after a long idle spell
            tokensCarry -= whole;
            remainingTokens = Math.min(scripted.limitTokens(), remainingTokens + whole);
            if (remainingTokens == scripted.limitTokens()) {
                tokensCarry = 0;
            }
        }
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
        return new Headroom(scripted.limitRequests(), remainingRequests, scripted.limitTokens(), remainingTokens,
                scripted.refillRequestsPerSecond(), scripted.refillTokensPerSecond());
    }
}
