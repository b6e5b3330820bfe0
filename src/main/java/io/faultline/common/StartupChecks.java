package io.faultline.common;

import io.faultline.content.InjectionConfig;
import io.faultline.content.InjectionDetector;
import io.faultline.content.JudgeConfig;
import io.faultline.content.LanguageConfig;
import io.faultline.content.LanguageIdentifier;
import io.faultline.correlate.CorrelateConfig;
import io.faultline.impact.ImpactConfig;
import io.faultline.impact.SloConfig;
import io.faultline.predict.PredictConfig;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

/**
 * Settings that the config mappings' constraints cannot judge, checked at start-up: a bad one fails the start with
 * the key's name instead of every request of the bean that reads it (built on first use) or every tick of a job.
 * Numbers and durations are bounded by the constraints on the mappings themselves.
 */
@Singleton
public class StartupChecks {

    void check(@Observes @Priority(0) StartupEvent start, LanguageConfig language, InjectionConfig injection,
            JudgeConfig judge, SloConfig slo, PredictConfig predict, ImpactConfig impact, CorrelateConfig correlate) {
        LanguageIdentifier.requireSupported(language.languages());
        InjectionDetector.scripts(injection.modelScripts());
        if (judge.enabled() && judge.baseUrl().map(String::isBlank).orElse(true)) {
            throw new IllegalArgumentException("faultline.faithfulness.judge.enabled=true needs"
                    + " faultline.faithfulness.judge.base-url: the LiteLLM proxy the judge is called through");
        }
        interval("faultline.slo.interval", slo.interval());
        interval("faultline.predict.interval", predict.interval());
        interval("faultline.impact.interval", impact.interval());
        interval("faultline.correlate.close-every", correlate.closeEvery());
    }

    private static void interval(String key, String value) {
        try {
            ClusterJobs.every(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(key + ": " + e.getMessage(), e);
        }
    }
}
