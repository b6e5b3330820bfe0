package io.faultline.content;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;
import java.util.Optional;

/**
 * The optional LLM-as-judge faithfulness check ({@link FaithfulnessJudge}): a sample of grounded calls is sent, after
 * it is stored, to a judge model through the operator's own LiteLLM, under a daily cap of calls and of cost. Off by
 * default: it sends prompts, answers and grounding to a model, and it costs money.
 */
@ConfigMapping(prefix = "faultline.faithfulness.judge")
public interface JudgeConfig {

    /** Off by default. When on, {@link #baseUrl()} must be set. */
    @WithDefault("false")
    boolean enabled();

    /** The LiteLLM proxy's base URL (its {@code /chat/completions} is called), e.g. {@code http://litellm:4000}. */
    Optional<String> baseUrl();

    /** A LiteLLM key for the judge's calls (env {@code FAULTLINE_JUDGE_API_KEY}); none when the proxy needs none. */
    Optional<String> apiKey();

    /**
     * The model (LiteLLM model group) that judges. Calls of this model group are never judged themselves: the judge's
     * own calls come back to Faultline through the proxy's logger.
     */
    @WithDefault("faultline-judge")
    String model();

    /** Share of the grounded, answered calls that are judged, 0 to 1; chosen by a hash of the call id. */
    @WithDefault("0.01")
    @DecimalMin("0")
    @DecimalMax("1")
    double sampleRate();

    /** Judge calls per UTC day, across all replicas (counted in the database); 0 sends none. */
    @WithDefault("1000")
    @Min(0)
    int maxCallsPerDay();

    /**
     * Judge spend per UTC day in USD, across all replicas: a call is sent only while the day's spend is under it; 0
     * sends none, whatever {@link #assumedCostPerCallUsd()} is.
     */
    @WithDefault("1.0")
    @DecimalMin("0")
    double maxCostPerDayUsd();

    /**
     * What a judge call is reserved at before it is sent (at least: the day's highest settled cost when higher), and
     * what it is counted at when the proxy does not say what it cost (LiteLLM's {@code x-litellm-response-cost}
     * header). Whatever it is, one judge call at a time is out across the replicas until the day's first one is
     * priced.
     */
    @WithDefault("0.002")
    @DecimalMin("0")
    double assumedCostPerCallUsd();

    /** Time for one judge call, connection and the whole reply's body included. */
    @WithDefault("20s")
    @DurationMin(millis = 1)
    Duration timeout();

    /** Sampled calls waiting for the judge; when full, a sampled call is skipped (reason {@code queue_full}). */
    @WithDefault("64")
    @Min(1)
    int queueCapacity();

    /** At most this much grounding text is sent, in characters. */
    @WithDefault("16384")
    @Min(1)
    int maxContextChars();

    /** At most this much of the answer is sent, in characters. */
    @WithDefault("4096")
    @Min(1)
    int maxAnswerChars();
}
