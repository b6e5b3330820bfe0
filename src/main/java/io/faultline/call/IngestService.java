package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.classify.FailureClassifier;
import io.faultline.detect.ProviderDetection;
import io.faultline.episode.EpisodeFolder;
import io.faultline.episode.EpisodeFolder.DeploymentSeen;
import io.faultline.episode.FailureInbox;
import io.faultline.taxonomy.Failure;
import io.quarkus.logging.Log;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;

import java.sql.Connection;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.List;
import java.util.Set;

/**
 * Stores a batch of calls, then folds their failures into episodes. The first transaction (calls and the classified
 * failures, into the inbox) runs in parallel across requests and is what makes the batch durable; the fold is combined
 * across requests by {@link EpisodeFolder}. The caller acknowledges only after both.
 */
@ApplicationScoped
public class IngestService {

    private final AgroalDataSource dataSource;
    private final CallStore calls;
    private final FailureInbox inbox;
    private final EpisodeFolder folder;
    private final FailureClassifier classifier;
    private final Clock clock;
    private final ProviderDetection detection;
    private final List<StoredCallsObserver> observers;

    public IngestService(AgroalDataSource dataSource, CallStore calls, FailureInbox inbox, EpisodeFolder folder,
            FailureClassifier classifier, Clock clock, ProviderDetection detection,
            Instance<StoredCallsObserver> observers) {
        this.detection = detection;
        this.observers = observers.stream().toList();
        this.dataSource = dataSource;
        this.calls = calls;
        this.inbox = inbox;
        this.folder = folder;
        this.classifier = classifier;
        this.clock = clock;
    }

    /** The outcome of one stored batch: new calls (resends excluded), their failures and the episodes it opened. */
    public record Stored(List<LlmCall> inserted, List<Failure> failures, int episodesOpened) {
    }

    public Stored store(List<LlmCall> batch) {
        if (batch.isEmpty()) {
            return new Stored(List.of(), List.of(), 0);
        }
        // Classification (content detectors included) is CPU work: it runs before the transaction, so that a
        // connection is held only for the writes. Resends are classified too, and their failures dropped below.
        Map<String, List<Failure>> classified = new HashMap<>();
        for (LlmCall call : batch) {
            List<Failure> failures = classifier.classifyFailure(call);
            if (!failures.isEmpty()) {
                classified.put(call.callId(), failures);
            }
        }
        Stored stored;
        try {
            stored = QuarkusTransaction.requiringNew().call(() -> writeCalls(batch, classified));
        } catch (RuntimeException e) {
            throw e instanceof StorageException ? e : new StorageException("could not store the batch", e);
        }
        observe(stored);
        notifyObservers(stored.inserted());
        List<DeploymentSeen> seen = new ArrayList<>();
        for (LlmCall call : stored.inserted()) {
            seen.add(new DeploymentSeen(call.provider(), call.deployment(), call.endedAt()));
        }
        List<DeploymentSeen> due = folder.touch(seen);
        if (stored.failures().isEmpty() && due.isEmpty()) {
            return stored;
        }
        int opened = folder.fold(stored.failures(), due);
        return new Stored(stored.inserted(), stored.failures(), opened);
    }

    /**
     * Windows, accumulators and signal feeds over the newly stored calls. They run after the commit and must not fail
     * an ingest that is already durable; each rebuilds what it holds from the stored data on restart.
     */
    private void notifyObservers(List<LlmCall> inserted) {
        if (inserted.isEmpty()) {
            return;
        }
        for (StoredCallsObserver observer : observers) {
            try {
                observer.stored(inserted);
            } catch (RuntimeException e) {
                Log.errorf(e, "%s could not take %d stored calls", observer.getClass().getSimpleName(),
                        inserted.size());
            }
        }
    }

    /** Provider metrics from the newly stored calls; resends were counted the first time. */
    private void observe(Stored stored) {
        Map<String, List<Failure>> byCall = new HashMap<>();
        for (Failure failure : stored.failures()) {
            byCall.computeIfAbsent(failure.impactScope().callId(), k -> new ArrayList<>(1)).add(failure);
        }
        for (LlmCall call : stored.inserted()) {
            detection.observe(call, byCall.getOrDefault(call.callId(), List.of()));
        }
    }

    private Stored writeCalls(List<LlmCall> batch, Map<String, List<Failure>> classified) throws Exception {
        try (Connection connection = dataSource.getConnection()) {
            Set<String> newIds = calls.insert(connection, batch, clock.instant());
            List<LlmCall> inserted = new ArrayList<>(newIds.size());
            List<Failure> failures = new ArrayList<>();
            for (LlmCall call : batch) {
                // Only new calls are classified: a resend must not count a failure twice.
                if (newIds.remove(call.callId())) {
                    inserted.add(call);
                    failures.addAll(classified.getOrDefault(call.callId(), List.of()));
                }
            }
            if (!failures.isEmpty()) {
                inbox.add(connection, failures);
            }
            return new Stored(inserted, failures, 0);
        }
    }
}
