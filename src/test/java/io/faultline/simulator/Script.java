package io.faultline.simulator;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.ArrayList;
import java.util.List;

/**
 * How one deployment behaves: queued faults, added latency, rate-limit headroom and the answer it gives. Embedding
 * requests get deterministic vectors of {@code embeddingDimensions} around a centre turned by {@code embeddingShift}
 * radians (see {@link Embeddings}): a shift scripts a drift of the embedding distribution. {@code toolCalls}, when
 * set, are answered instead of text (see {@link ToolAnswers}).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Script(List<Fault> faults, long latencyMs, long latencyJitterMs, long seed,
                     RateLimit rateLimit, String content, int thinkingTokens, int cachedPromptTokens,
                     double embeddingShift, int embeddingDimensions, List<FunctionCall> toolCalls) {

    public static final String DEFAULT_CONTENT = "Sure - here is a short answer from the simulated model.";

    public Script {
        faults = List.copyOf(faults == null ? List.of() : faults);
        toolCalls = List.copyOf(toolCalls == null ? List.of() : toolCalls);
        content = content == null ? DEFAULT_CONTENT : content;
        embeddingDimensions = embeddingDimensions == 0 ? Embeddings.DEFAULT_DIMENSIONS : embeddingDimensions;
        if (latencyMs < 0 || latencyJitterMs < 0 || thinkingTokens < 0 || cachedPromptTokens < 0) {
            throw new IllegalArgumentException(
                    "latencyMs, latencyJitterMs, thinkingTokens and cachedPromptTokens must not be negative");
        }
        if (embeddingDimensions < 2 || embeddingDimensions > Embeddings.MAX_DIMENSIONS
                || !Double.isFinite(embeddingShift)) {
            throw new IllegalArgumentException("embeddingDimensions must be 2 to " + Embeddings.MAX_DIMENSIONS
                    + " and embeddingShift a finite number of radians");
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
                           @JsonProperty("cachedPromptTokens") Integer cachedPromptTokens,
                           @JsonProperty("embeddingShift") Double embeddingShift,
                           @JsonProperty("embeddingDimensions") Integer embeddingDimensions,
                           @JsonProperty("toolCalls") List<FunctionCall> toolCalls) {
        return new Script(faults,
                latencyMs == null ? 0 : latencyMs,
                latencyJitterMs == null ? 0 : latencyJitterMs,
                seed == null ? 0 : seed,
                rateLimit, content,
                thinkingTokens == null ? 0 : thinkingTokens,
                cachedPromptTokens == null ? 0 : cachedPromptTokens,
                embeddingShift == null ? 0 : embeddingShift,
                embeddingDimensions == null ? 0 : embeddingDimensions, toolCalls);
    }

    /** Every request succeeds immediately with the default answer. */
    public static Script success() {
        return new Script(List.of(), 0, 0, 0, null, null, 0, 0, 0, 0, List.of());
    }

    /** The given faults in order, then success. */
    public static Script faults(Fault... faults) {
        return success().thenFaults(faults);
    }

    public Script thenFaults(Fault... more) {
        List<Fault> all = new ArrayList<>(faults);
        all.addAll(List.of(more));
        return new Script(all, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens, embeddingShift, embeddingDimensions, toolCalls);
    }

    public Script withLatency(long latencyMs, long latencyJitterMs, long seed) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens, embeddingShift, embeddingDimensions, toolCalls);
    }

    public Script withRateLimit(RateLimit rateLimit) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens, embeddingShift, embeddingDimensions, toolCalls);
    }

    public Script withContent(String content) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens, embeddingShift, embeddingDimensions, toolCalls);
    }

    /** Prompt tokens the provider reports read from its prompt cache (capped at the prompt's tokens). */
    public Script withCachedPromptTokens(int cachedPromptTokens) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens, embeddingShift, embeddingDimensions, toolCalls);
    }

    public Script withThinkingTokens(int thinkingTokens) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens, embeddingShift, embeddingDimensions, toolCalls);
    }

    /** Embedding vectors around a centre turned by this many radians from the unshifted one: a scripted drift. */
    public Script withEmbeddingShift(double radians) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens, radians, embeddingDimensions, toolCalls);
    }

    public Script withEmbeddingDimensions(int dimensions) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens, embeddingShift, dimensions, toolCalls);
    }

    /** The model answers with these function calls instead of text (see {@link FunctionCall}). */
    public Script withToolCalls(FunctionCall... calls) {
        return new Script(faults, latencyMs, latencyJitterMs, seed, rateLimit, content, thinkingTokens,
                cachedPromptTokens, embeddingShift, embeddingDimensions, List.of(calls));
    }
}
