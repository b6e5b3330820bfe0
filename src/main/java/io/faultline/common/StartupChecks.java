package io.faultline.common;

import io.faultline.call.IngestConfig;
import io.faultline.content.FaithfulnessJudge;
import io.faultline.content.InjectionConfig;
import io.faultline.content.InjectionDetector;
import io.faultline.content.JudgeConfig;
import io.faultline.content.LanguageConfig;
import io.faultline.content.LanguageIdentifier;
import io.faultline.correlate.CorrelateConfig;
import io.faultline.data.EmbeddingDriftConfig;
import io.faultline.impact.ImpactConfig;
import io.faultline.impact.SloConfig;
import io.faultline.impact.SloService;
import io.faultline.predict.PredictConfig;
import io.faultline.signals.SignalsConfig;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.runtime.configuration.MemorySize;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Settings that the config mappings' constraints cannot judge, checked at start-up: a bad one fails the start with
 * the key's name instead of every request of the bean that reads it (built on first use) or every tick of a job.
 * Numbers and durations are bounded by the constraints on the mappings themselves.
 */
@Singleton
public class StartupChecks {

    void check(@Observes @Priority(0) StartupEvent start, LanguageConfig language, InjectionConfig injection,
            JudgeConfig judge, SloConfig slo, PredictConfig predict, ImpactConfig impact, CorrelateConfig correlate,
            IngestConfig ingest, SignalsConfig signals, EmbeddingDriftConfig embeddings,
            @ConfigProperty(name = "quarkus.http.limits.max-body-size") MemorySize backstop) {
        // The HTTP server's backstop answers a bare 413 before the endpoint's own limit, with its problem, is reached.
        bodyLimit("faultline.ingest.max-body-bytes", ingest.maxBodyBytes(), backstop);
        bodyLimit("faultline.signals.max-body-bytes", signals.maxBodyBytes(), backstop);
        bodyLimit("faultline.embedding-drift.max-body-bytes", embeddings.maxBodyBytes(), backstop);
        LanguageIdentifier.requireSupported(language.languages());
        InjectionDetector.scripts(injection.modelScripts());
        if (judge.enabled()) {
            FaithfulnessJudge.baseUrl(judge);
        }
        interval("faultline.slo.interval", slo.interval());
        SloService.requireSoundDefaults(slo);
        interval("faultline.predict.interval", predict.interval());
        interval("faultline.impact.interval", impact.interval());
        interval("faultline.correlate.close-every", correlate.closeEvery());
    }

    private static void bodyLimit(String key, long limit, MemorySize backstop) {
        if (limit > backstop.asLongValue()) {
            throw new IllegalArgumentException(key + " (" + limit + ") is above quarkus.http.limits.max-body-size ("
                    + backstop.asLongValue() + "), which would refuse such bodies first without a problem body:"
                    + " raise both");
        }
    }

    private static void interval(String key, String value) {
        try {
            ClusterJobs.every(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(key + ": " + e.getMessage(), e);
        }
    }
}
