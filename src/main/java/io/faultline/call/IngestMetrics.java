package io.faultline.call;

import io.faultline.taxonomy.Failure;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.Startup;
import jakarta.inject.Singleton;

import java.util.Map;

/** Counters of the ingest path; labels are low-cardinality (outcome, category, type, severity). */
// Registered at start so that a scrape shows the counters at zero before the first batch.
@Startup
@Singleton
public class IngestMetrics {

    private final MeterRegistry registry;
    private final Counter accepted;
    private final Counter duplicates;
    private final Counter rejected;
    private final Counter episodesOpened;

    public IngestMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.accepted = calls(registry, "accepted");
        this.duplicates = calls(registry, "duplicate");
        this.rejected = calls(registry, "rejected");
        this.episodesOpened = Counter.builder("faultline.episodes.opened")
                .description("Failure episodes opened").register(registry);
    }

    private static Counter calls(MeterRegistry registry, String outcome) {
        return Counter.builder("faultline.ingest.calls").description("Calls received by the ingest endpoint")
                .tag("outcome", outcome).register(registry);
    }

    void rejected(int count) {
        rejected.increment(count);
    }

    void stored(IngestService.Stored stored) {
        accepted.increment(stored.inserted().size());
        for (Failure failure : stored.failures()) {
            Counter.builder("faultline.failures").description("Failures classified from ingested calls")
                    .tag("category", failure.category().name()).tag("type", failure.type().code())
                    .tag("severity", failure.severity().name()).register(registry).increment();
        }
        episodesOpened.increment(stored.episodesOpened());
    }

    /**
     * Characters PostgreSQL would refuse (NUL, lone surrogates) replaced by U+FFFD before storage, by stored field
     * (a fixed set of column names and {@code evidence}).
     */
    void sanitized(Map<String, Integer> byField) {
        byField.forEach((field, count) -> Counter.builder("faultline.ingest.sanitized.chars")
                .description("Characters replaced by U+FFFD before storage because PostgreSQL refuses them")
                .tag("field", field).register(registry).increment(count));
    }

    void duplicates(int count) {
        duplicates.increment(count);
    }
}
