package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.classify.FailureClassifier;
import io.faultline.episode.EpisodeStore;
import io.faultline.episode.EpisodeStore.EpisodeChange;
import io.faultline.taxonomy.Failure;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Stores a batch of calls and the episodes their failures open or extend, in one transaction. The caller
 * acknowledges only after this returns, i.e. after the commit.
 */
@ApplicationScoped
public class IngestService {

    private final AgroalDataSource dataSource;
    private final CallStore calls;
    private final EpisodeStore episodes;
    private final FailureClassifier classifier;
    private final Clock clock;

    public IngestService(AgroalDataSource dataSource, CallStore calls, EpisodeStore episodes,
            FailureClassifier classifier, Clock clock) {
        this.dataSource = dataSource;
        this.calls = calls;
        this.episodes = episodes;
        this.classifier = classifier;
        this.clock = clock;
    }

    /** The outcome of one stored batch: new calls (resends excluded), their failures and the episodes touched. */
    public record Stored(List<LlmCall> inserted, List<Failure> failures, List<EpisodeChange> episodes) {
    }

    @Transactional
    public Stored store(List<LlmCall> batch) {
        if (batch.isEmpty()) {
            return new Stored(List.of(), List.of(), List.of());
        }
        try (Connection connection = dataSource.getConnection()) {
            Set<String> newIds = calls.insert(connection, batch, clock.instant());
            List<LlmCall> inserted = new ArrayList<>(newIds.size());
            List<Failure> failures = new ArrayList<>();
            for (LlmCall call : batch) {
                if (newIds.remove(call.callId())) {
                    inserted.add(call);
                    failures.addAll(classifier.classifyFailure(call));
                }
            }
            touchDeployments(connection, inserted);
            List<EpisodeChange> changes = failures.isEmpty() ? List.of() : episodes.record(connection, failures);
            return new Stored(inserted, failures, changes);
        } catch (SQLException e) {
            throw new StorageException("could not store the batch", e);
        }
    }

    /** Keeps provider → deployment activity current, for the "provider-wide" severity rule. */
    private static void touchDeployments(Connection connection, List<LlmCall> inserted) throws SQLException {
        Map<String, Instant> lastSeen = new TreeMap<>();
        for (LlmCall call : inserted) {
            lastSeen.merge(call.provider() + "\u0000" + call.deployment(), call.endedAt(),
                    (a, b) -> a.isAfter(b) ? a : b);
        }
        if (lastSeen.isEmpty()) {
            return;
        }
        try (PreparedStatement upsert = connection.prepareStatement("insert into provider_deployments (provider,"
                + " deployment, last_seen) values (?, ?, ?) on conflict (provider, deployment)"
                + " do update set last_seen = greatest(provider_deployments.last_seen, excluded.last_seen)")) {
            for (Map.Entry<String, Instant> entry : lastSeen.entrySet()) {
                String[] key = entry.getKey().split("\u0000", 2);
                upsert.setString(1, key[0]);
                upsert.setString(2, key[1]);
                upsert.setTimestamp(3, Timestamp.from(entry.getValue()));
                upsert.addBatch();
            }
            upsert.executeBatch();
        }
    }
}
