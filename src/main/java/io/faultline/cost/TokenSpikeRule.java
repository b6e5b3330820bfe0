package io.faultline.cost;

import io.faultline.call.LlmCall;
import io.faultline.classify.CallFailures;
import io.faultline.classify.CallRule;
import io.faultline.taxonomy.CostFailure.Type;
import io.faultline.taxonomy.Failure;
import jakarta.inject.Singleton;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * COST {@code token_spike} of one call: its tokens, or its reasoning tokens counted apart (they grow silently: a
 * thinking model can spend ten times its usual budget on one answer), exceed the deployment's rolling p99 by
 * {@code faultline.token-spike.call-factor}. A call rule, so that the spike is stored with the call. Judging only
 * reads the history; a call joins it once stored ({@link UsageWindows} passes the stored calls on), so that neither
 * a resend nor a classify dry run moves it.
 */
@Singleton
public class TokenSpikeRule implements CallRule, io.faultline.common.BoundedState {

    private final TokenSpikeConfig config;
    private final BoundedMap<String, TokenHistory> histories;

    public TokenSpikeRule(TokenSpikeConfig config) {
        this.config = config;
        this.histories = new BoundedMap<>(config.maxKeys(), config.maxKeysPerApiKey());
    }

    @Override
    public List<Held> boundedMaps() {
        return List.of(new Held("cost.token-histories", config.maxKeys(), histories::size));
    }

    @Override
    public List<Failure> apply(LlmCall call) {
        long tokens = call.promptTokens() + call.completionTokens();
        if (!call.success() || tokens <= 0) {
            return List.of();
        }
        return judge(call, tokens, history(call.provider(), call.deployment(), call.apiKeyHash()));
    }

    /** Newly stored calls join their deployments' histories. */
    void record(List<LlmCall> stored) {
        for (LlmCall call : stored) {
            long tokens = call.promptTokens() + call.completionTokens();
            if (call.success() && tokens > 0) {
                history(call.provider(), call.deployment(), call.apiKeyHash()).add(tokens, call.reasoningTokens());
            }
        }
    }

    /** Seeds a deployment's history with stored calls (oldest first), after a restart. */
    void seed(String provider, String deployment, long tokens, long reasoningTokens) {
        history(provider, deployment, null).add(tokens, reasoningTokens);
    }

    void forget() {
        histories.clear();
    }

    private TokenHistory history(String provider, String deployment, String apiKeyHash) {
        return histories.get(provider + "|" + deployment, apiKeyHash, key -> new TokenHistory(config.historyCalls()));
    }

    private List<Failure> judge(LlmCall call, long tokens, TokenHistory history) {
        if (history.size() < config.minSamples()) {
            return List.of();
        }
        long p99 = history.p99Total();
        boolean totalSpike = tokens >= config.minTokens() && tokens > p99 * config.callFactor();
        long reasoning = call.reasoningTokens();
        boolean reasoningSpike = false;
        long p99Reasoning = 0;
        if (reasoning >= config.minTokens() && history.reasoningSamples() >= config.minSamples()) {
            p99Reasoning = history.p99Reasoning();
            reasoningSpike = reasoning > p99Reasoning * config.callFactor();
        }
        if (!totalSpike && !reasoningSpike) {
            return List.of();
        }
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("scope", "call");
        evidence.put("tokens", tokens);
        evidence.put("p99_tokens", p99);
        evidence.put("prompt_tokens", call.promptTokens());
        evidence.put("completion_tokens", call.completionTokens());
        evidence.put("reasoning_tokens", reasoning);
        if (reasoningSpike) {
            evidence.put("p99_reasoning_tokens", p99Reasoning);
        }
        evidence.put("spiked", totalSpike && reasoningSpike ? "tokens,reasoning_tokens"
                : totalSpike ? "tokens" : "reasoning_tokens");
        evidence.put("factor", config.callFactor());
        evidence.put("samples", history.size());
        evidence.put("cost_usd", call.costUsd());
        return List.of(CallFailures.of(Type.TOKEN_SPIKE, call, "cost.tokens.rolling_p99", config.severity(),
                evidence));
    }
}
