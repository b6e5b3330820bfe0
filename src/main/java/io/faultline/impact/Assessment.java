package io.faultline.impact;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * What one episode or correlation cluster cost, per dimension, with the figures behind each and how they were
 * computed (README: "Impact"). Money is in US dollars. {@code episodes}: the episodes the figures cover (1 for an
 * episode, a cluster's members when it was assessed; a member that joined since is not in them until the next one).
 */
public record Assessment(UUID subjectId, String kind, String fingerprint, String provider, String category,
        String type, String modelGroup, Instant firstSeen, Instant lastSeen, Instant assessedAt, int episodes,
        UserImpact userImpact, CostImpact costImpact, QualityImpact qualityImpact, SlaImpact slaImpact, Total total) {

    /**
     * Requests are LiteLLM call ids (every attempt of one proxy request shares it); a failed response is a request
     * none of whose attempts succeeded; a recovered request failed at first and was answered by a retry or fallback.
     */
    public record UserImpact(long affectedRequests, long failedResponses, long recoveredRequests, long attempts,
            long affectedUsers, long apiKeys, long teams) {
    }

    /**
     * {@code wastedCostUsd}: what the failed attempts (and answers a non-cost episode flagged) were billed;
     * {@code fallbackExtraCostUsd}: what the answering fallbacks cost minus what the original model would have cost
     * for the same tokens (its prices from the failed attempt's payload; negative when the fallback is cheaper);
     * {@code spikeExtraCostUsd}: for token spikes raised per call, the share of each flagged call's cost above the
     * p99 tokens, plus for spikes raised on a window total, each spiking window's tokens over its p99 at the window's
     * cost per token ({@code tokenSpikeWindows}); for a cluster, each token-spike member on its own deployment;
     * {@code cacheMissExtraCostUsd}: for cache-miss storms, what the misses over the baseline hit ratio cost
     * ({@code cacheMissStorm} shows how); {@code batchOverrunCostUsd}: for batch overruns, the actual batch cost minus
     * the expected one ({@code batchOverrun}). {@code memberCosts}: for a cluster, its members priced by their
     * windows (window token spikes, cache-miss storms), summed into the two terms above. Batch overruns never join a
     * cluster (no correlation rule links them), so a cluster has no batch term.
     */
    public record CostImpact(double wastedCostUsd, long wastedTokens, long fallbacks, double fallbackCostUsd,
            double fallbackAtOriginalPricesUsd, double fallbackExtraCostUsd, long unpricedFallbacks,
            double spikeExtraCostUsd, double cacheMissExtraCostUsd, double batchOverrunCostUsd,
            CacheStormCost cacheMissStorm, BatchOverrunCost batchOverrun, WindowSpikeCost tokenSpikeWindows,
            List<MemberCost> memberCosts, double totalUsd) {
    }

    /**
     * How a token spike raised on a window total was priced: the calls of the deployment {@code subject} that ended in
     * its spiking windows in {@code [from, to)} (5-minute windows, aligned as the detector's; a window spikes when its
     * tokens exceed {@code factor} × {@code p99WindowTokens}, the p99 of the earlier windows the detector judged it
     * against); each such window's tokens over the p99 at that window's cost per token. {@code zeroCostCalls}: calls
     * of those windows that carried no cost (failed attempts, or a model LiteLLM has no price for).
     */
    public record WindowSpikeCost(String subject, Instant from, Instant to, long p99WindowTokens, double factor,
            long spikingWindows, long calls, long tokens, long extraTokens, double extraCostUsd, long zeroCostCalls,
            String formula) {
    }

    /**
     * For a cluster: a member episode priced by its windows or totals (a window token spike, a cache-miss storm), as
     * it is priced alone. Each member's windows hold its own subject's calls, so members never share one.
     */
    public record MemberCost(UUID failureId, String type, String provider, double extraCostUsd,
            WindowSpikeCost tokenSpikeWindows, CacheStormCost cacheMissStorm) {
    }

    /**
     * How a cache-miss storm was priced: the calls of {@code subject} that ended in {@code [from, to)}; for the
     * prompt cache, {@code volume} is their prompt tokens, {@code hits} their cached tokens and {@code extraMisses}
     * the tokens that missed over the {@code baselineHitRatio}; for LiteLLM's cache, calls with a known outcome, cache
     * hits and missed calls over the baseline. {@code unpricedCalls}: calls without an input or cached-token price.
     */
    public record CacheStormCost(String signal, String scope, String subject, Instant from, Instant to,
            double baselineHitRatio, long calls, long volume, long hits, Double hitRatio, double extraMisses,
            double extraCostUsd, long unpricedCalls, String formula) {
    }

    /** How a batch overrun was priced: the batch's stored calls' cost minus its expected cost (and where that's from). */
    public record BatchOverrunCost(String batchId, double expectedCostUsd, String expectedSource, double actualCostUsd,
            long calls, double overrunUsd) {
    }

    /**
     * Quality failures on the affected traffic's answers (for a quality episode: its own answers) against the same
     * deployments' rate in the window before; {@code excessFailures} = max(0, rate − baseline rate) × answers.
     */
    public record QualityImpact(long answers, long qualityFailures, Double rate, long baselineAnswers,
            long baselineFailures, Double baselineRate, double excessFailures) {
    }

    /**
     * The share of the model groups' error budgets (failed responses the SLO allows in its period) consumed; with a
     * latency SLO, the share of the latency budget ({@code (1 − quantile) × answered requests} in the period) that the
     * subject's answered requests slower than the target ({@code slowRequests}, end to end across attempts, evaluated
     * at {@code latencyEvaluatedAtMs}) consumed. Each request spends the budgets of the group its first attempt began
     * in ({@code budgetByGroup} when not all are the subject's own group, whose target and budgets are shown).
     * {@code answeredRequests}: the subject's requests one attempt answered. {@code budgetCoverage}: when the SLO's
     * period before the subject reaches past the minutes the rollup keeps (an old subject assessed now), the share of
     * the period whose requests were counted; the budgets are then that share's traffic over the whole period. Null
     * when the whole period was counted.
     */
    public record SlaImpact(String modelGroup, Double availabilityTarget, String period, Double budgetRequests,
            Double budgetConsumed, Double budgetRemaining, Double latencyTargetMs, Double latencyQuantile,
            long answeredRequests, Double latencyEvaluatedAtMs, Long slowRequests, Double latencyBudgetRequests,
            Double latencyBudgetConsumed, List<GroupBudget> budgetByGroup, Double budgetCoverage) {
    }

    /**
     * The failed responses whose requests began in one model group (their first attempt's), and the share of that
     * group's availability budget they consumed; with a latency SLO on the group, its answered requests slower than
     * the group's target and the share of its latency budget they consumed (else nulls). Listed when they are not all
     * in the subject's own group.
     */
    public record GroupBudget(String modelGroup, long failedResponses, Double budgetRequests, Double budgetConsumed,
            Long slowRequests, Double latencyBudgetRequests, Double latencyBudgetConsumed) {
    }

    /** The total business impact and each of its terms, so an operator sees why one failure outranks another. */
    public record Total(double totalUsd, double costUsd, double failedResponsesUsd, double usersUsd,
            double errorBudgetUsd, String formula) {
    }
}
