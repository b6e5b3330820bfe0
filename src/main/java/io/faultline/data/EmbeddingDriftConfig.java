package io.faultline.data;

import io.faultline.taxonomy.Severity;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

import java.time.Duration;

/** Embedding drift: the windows, the bootstrap threshold, severities and the memory and request bounds. */
@ConfigMapping(prefix = "faultline.embedding-drift")
public interface EmbeddingDriftConfig {

    /** Vectors that make a space's reference: the first ones it receives, kept until the reference is reset. */
    @WithDefault("500")
    @Min(1)
    int referenceSize();

    /** The current window holds at most this many of the space's most recent vectors... */
    @WithDefault("200")
    @Min(1)
    int windowSize();

    /** ...seen within this long before the check. Older vectors leave the window and are deleted. */
    @WithDefault("1h")
    @DurationMin(millis = 1)
    Duration window();

    /** Vectors the current window needs before it is compared: fewer make the mean too noisy to say anything. */
    @WithDefault("50")
    @Min(1)
    int minSamples();

    /** Bootstrap resamples of the reference behind each threshold. */
    @WithDefault("200")
    @Min(1)
    int resamples();

    /**
     * Quantile of the bootstrap distances that is the threshold: the expected false-alarm rate per check of an
     * unchanged space is about 1 - quantile.
     */
    @WithDefault("0.99")
    @DecimalMin("0")
    @DecimalMax("1")
    double quantile();

    /** Factor on the bootstrap quantile: above 1 trades sensitivity for fewer alarms on slightly noisy spaces. */
    @WithDefault("1.0")
    @DecimalMin("0")
    double margin();

    /** Seed of the bootstrap (mixed with the space's name), so that a threshold is reproducible. */
    @WithDefault("42")
    long seed();

    /**
     * A current window whose share of zero vectors exceeds the reference's by more than this is a drift (P2, reason
     * {@code zero_vectors}): an embedding service answering zeros, which the cosine of means cannot see.
     */
    @WithDefault("0.1")
    @DecimalMin("0.0")
    @DecimalMax("1.0")
    double zeroShare();

    /** Severity of a drift. */
    @WithDefault("P3")
    Severity severity();

    /** A distance above this multiple of the threshold is a severe drift... */
    @WithDefault("2.0")
    @DecimalMin(value = "0", inclusive = false)
    double severeFactor();

    /** ...of this severity. */
    @WithDefault("P2")
    Severity severeSeverity();

    /**
     * How often every space is checked. The scheduler reads the property itself, so application.properties sets
     * it too.
     */
    @WithDefault("60s")
    @DurationMin(millis = 1)
    Duration interval();

    /** How often vectors read from LiteLLM embedding calls are written (also before every check). */
    @WithDefault("5s")
    @DurationMin(millis = 1)
    Duration flushInterval();

    /** Whether vectors of LiteLLM embedding calls ({@code response.data[].embedding}) are followed. */
    @WithDefault("true")
    boolean fromCalls();

    /**
     * Spaces tracked at most: a bound on storage that an unbounded set of space names could otherwise grow without
     * end. A new space beyond it evicts a space still collecting its reference (the fewest vectors, then the least
     * recently seen), never one whose reference is complete; when all are complete the new space is refused (409;
     * a LiteLLM call's vectors are dropped, counted with reason {@code space_limit}).
     */
    @WithDefault("256")
    @Min(1)
    int maxSpaces();

    /** Dimensions of a vector at most (larger is a 413). */
    @WithDefault("4096")
    @Min(1)
    int maxDimensions();

    /** Vectors per request at most (more is a 413). */
    @WithDefault("1000")
    @Min(1)
    int maxVectorsPerRequest();

    /** Size of a request body at most (more is a 413): 1000 vectors of 1536 dimensions fit. */
    @WithDefault("33554432")
    @Min(1)
    long maxBodyBytes();

    /** Vector components read from LiteLLM calls waiting to be written at most (32 MiB); beyond, vectors drop. */
    @WithDefault("8388608")
    @Min(1)
    long bufferValues();

    /** How far in the future a signal's {@code at} may lie (clock skew between the sender and Faultline). */
    @WithDefault("5m")
    @DurationMin(millis = 0)
    Duration maxClockSkew();

    /** Signal ids are remembered this long: a resend within it is a duplicate. */
    @WithDefault("7d")
    @DurationMin(millis = 1)
    Duration signalRetention();
}
