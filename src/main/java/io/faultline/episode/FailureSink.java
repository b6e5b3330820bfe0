package io.faultline.episode;

import io.agroal.api.AgroalDataSource;
import io.faultline.taxonomy.Failure;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;

/**
 * Where detectors that are not part of a call's ingest (windows, budgets, signals, baselines) raise failures: first
 * durably into the inbox, then folded into episodes. A fold that fails is redone by the inbox recovery job.
 */
@ApplicationScoped
public class FailureSink {

    private final AgroalDataSource dataSource;
    private final FailureInbox inbox;
    private final EpisodeFolder folder;

    public FailureSink(AgroalDataSource dataSource, FailureInbox inbox, EpisodeFolder folder) {
        this.dataSource = dataSource;
        this.inbox = inbox;
        this.folder = folder;
    }

    /** Stores and folds {@code failures}; returns the number of episodes they opened. */
    public int raise(List<Failure> failures) {
        if (failures.isEmpty()) {
            return 0;
        }
        QuarkusTransaction.requiringNew().run(() -> {
            try (Connection c = dataSource.getConnection()) {
                inbox.add(c, failures);
            } catch (SQLException e) {
                throw new IllegalStateException("could not store " + failures.size() + " failures", e);
            }
        });
        return folder.fold(failures, List.of());
    }
}
