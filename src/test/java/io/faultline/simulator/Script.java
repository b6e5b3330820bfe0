package io.faultline.simulator;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.ArrayList;
import java.util.List;

/** How one deployment behaves: queued faults, added latency, rate-limit headroom and the answer it gives. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Script(List<Fault> faults, long latencyMs, long latencyJitterMs, long seed,
                     RateLimit rateLimit, String content, int thinkingTokens, int cachedPromptTokens) {

    public static final String DEFAULT_CONTENT = "Sure - here is a short answer from the simulated model.";

    public Script {
        faults = List.copyOf(faults == null ? List.of() : faults);
        content = content == null ? DEFAULT_CONTENT : content;
        if (latencyMs < 0 || latencyJitterMs < 0 || thinkingTokens < 0 || cachedPromptTokens < 0) {
            throw new IllegalArgumentException(
                    "latencyMs, latencyJitterMs, thinkingTokens and cachedPromptTokens must not be negative");
        }
    }

    @JsonCreator
    static Script fromJson(@JsonProperty("faults") List<Fault> faults,
                           @JsonProperty("latencyMs") Long latencyMs,
                           @JsonProperty("latencyJitterMs") Long latencyJitterMs,
                           @JsonProperty("seed") Long seed,
                           @JsonProperty("rateLimit") RateLimit rateLimit,
                           @JsonProperty("content") String content,
                           @JsonProperty("thinkingTokens") Integer thinkingTokens,
                           @JsonProperty("cachedPromptTokens") Integer cachedPromptTokens) {
        return new Script(faults,
                latencyMs == null ? 0 : latencyMs,
                latencyJitterMs == null ? 0 : latencyJitterMs,
                seed == null ? 0 : seed,
                rateLimit, content,
                thinkingTokens == null ? 0 : thinkingTokens,
                cachedPromptTokens == null ? 0 : cachedPromptTokens);
    }

    /** Every request succeeds immediately with the default answer. */
    public static Script success() {
        return new Script(List.of(), 0, 0, 0, null, null, 0, 0);
    }

    /** The given faults in order, then success. */
    public static Script faults(Fault... faults) {
        return success().thenFaults(faults);
    }

    public Script thenFaults(Fault... more) {
        List<Fault> all = new ArrayList<>(faults);
        all.addAll(List.of(more));
        return new Script(all, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens);
    }

    public Script withLatency(long latencyMs, long latencyJitterMs, long seed) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens);
    }

    public Script withRateLimit(RateLimit rateLimit) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens);
    }

    public Script withContent(String content) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens);
    }

    /** Prompt tokens the provider reports read from its prompt cache (capped at the prompt's tokens). */
    public Script withCachedPromptTokens(int cachedPromptTokens) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens);
    }

    public Script withThinkingTokens(int thinkingTokens) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens);
    }
}
