package io.faultline.predict;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.Min;

import java.time.Duration;

/** How predictions turn into a traffic policy that LiteLLM's plugin applies (README: "Preemptive traffic policy"). */
@ConfigMapping(prefix = "faultline.traffic")
public interface TrafficConfig {

    /** Reduce traffic on predictions at all. Off, the published policy is empty and the plugin reduces nothing. */
    @WithDefault("true")
    boolean preemption();

    /** A prediction reduces its deployment's traffic when its confidence is above this. */
    @WithDefault("0.8")
    double actAbove();

    /**
     * The share of requests a deployment at risk keeps. Never 0: the remaining traffic keeps the indicators readable
     * (recovery is seen on it) and judges whether the reduction prevented the failure.
     */
    @WithDefault("0.2")
    double keepShare();

    /** Recovery starts once no prediction of the deployment fired and no failure of it was observed for this long. */
    @WithDefault("2m")
    Duration healthyFor();

    /** Each recovery step gives back this share of traffic ... */
    @WithDefault("0.2")
    double recoveryStep();

    /** ... and the next step follows this long after, unless a prediction fires again. */
    @WithDefault("1m")
    Duration stepEvery();

    /** How often the plugin should poll the policy (published as refreshSeconds). */
    @WithDefault("15s")
    Duration refresh();

    /**
     * How long the plugin may keep using its last good policy when polls fail (published as staleAfterSeconds);
     * after that it reduces nothing. The predictor's own rows are published only while a tick renewed them this
     * recently, so a stopped predictor never keeps traffic away either.
     */
    @WithDefault("3m")
    Duration staleAfter();

    /** At most this many operator pins (a PUT beyond it is a 409). */
    @WithDefault("1000")
    @Min(1)
    int maxPins();
}
