package io.faultline.signals;

import io.agroal.api.AgroalDataSource;
import io.faultline.call.StorageException;
import io.faultline.episode.EpisodeFolder;
import io.faultline.episode.FailureInbox;
import io.faultline.taxonomy.DataFailure;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Applies signals exactly once: a signal is stored (keyed by kind and signalId), its state updated and the failures
 * it shows put into the failure inbox in one transaction, so that a signal is acknowledged with its failures or not at
 * all; they are folded into episodes after the commit. Retrieval samples are counted in the in-memory windows within
 * that transaction, and taken back out when it rolls back. Samples from call metadata are stored the same way in the
 * calls' own transaction ({@link #retrieval(Connection, List, Function, List, List)}).
 */
@ApplicationScoped
public class SignalService {

    static final String INDEX_REPORT = "signals.index_report";
    static final String INGESTION_RUN = "signals.ingestion_run";

    private final AgroalDataSource dataSource;
    private final SignalStore store;
    private final RetrievalTracker retrieval;
    private final FailureInbox inbox;
    private final EpisodeFolder folder;
    private final SignalsConfig config;
    private final Clock clock;

    public SignalService(AgroalDataSource dataSource, SignalStore store, RetrievalTracker retrieval,
            FailureInbox inbox, EpisodeFolder folder, SignalsConfig config, Clock clock) {
        this.dataSource = dataSource;
        this.store = store;
        this.retrieval = retrieval;
        this.inbox = inbox;
        this.folder = folder;
        this.config = config;
        this.clock = clock;
    }

    /** What a batch did: new signals, resends, and the failures it raised. */
    public record Outcome(int accepted, int duplicates, int failures) {
    }

    /**
     * Retrieval samples from calls' metadata, stored on the calls' {@code connection} in their transaction: a sample
     * is kept with its call or not at all, since the call's resend is a duplicate. The new ones are counted in the
     * windows; the drops they show are added to {@code failures} (the caller puts them in the inbox with the calls and
     * folds them), and what the windows counted to {@code undo}, for the caller to run when its transaction rolls back.
     */
    public void retrieval(Connection connection, List<Signal.Retrieval> samples,
            Function<Signal.Retrieval, ImpactScope> scopes, List<Failure> failures, List<Runnable> undo)
            throws SQLException {
        if (!samples.isEmpty()) {
            applyNew(connection, samples, (c, s) -> retrieval.record(s, scopes.apply(s), undo)
                    .ifPresent(failures::add));
        }
    }

    /** Retrieval samples sent to the signals API. */
    public Outcome retrieval(List<Signal.Retrieval> samples) {
        // The drops go into the inbox in the transaction that stores the samples: raised after its commit, a drop
        // whose raise failed was lost, the resend being a duplicate. The windows are memory: what a rolled-back
        // transaction counted in them is taken back out, so that the resend counts once.
        List<Failure> failures = new ArrayList<>();
        List<Runnable> undo = new ArrayList<>();
        List<Signal.Retrieval> fresh = newOnly(samples, (c, s) -> retrieval.record(s, null, undo)
                .ifPresent(failures::add), failures, () -> {
                    for (int i = undo.size() - 1; i >= 0; i--) {
                        undo.get(i).run();
                    }
                });
        return new Outcome(fresh.size(), samples.size() - fresh.size(), failures.size());
    }

    public Outcome index(List<Signal.IndexReport> reports) {
        List<Failure> failures = new ArrayList<>();
        Instant received = clock.instant();
        List<Signal.IndexReport> fresh = newOnly(reports, (c, r) -> {
            SignalStore.Freshness f = store.report(c, r,
                    r.maxAge() != null ? r.maxAge() : config.index().maxAge(),
                    r.heartbeatTimeout() != null ? r.heartbeatTimeout() : config.index().heartbeatTimeout(),
                    received, config.index().skewWindow(), config.index().skewFollow());
            // Both on the reporter's clock, so its skew cancels out.
            Duration age = Duration.between(f.lastUpdatedAt(), r.at());
            if (age.compareTo(f.maxAge()) > 0 && !f.lastUpdatedAt().equals(f.staleRaisedFor())) {
                failures.add(SignalChecks.tooOld(f, r.at(), age, config.index().staleSeverity(), INDEX_REPORT));
                // Marked with the raise in one transaction: a later report of this batch, or of a request waiting on
                // the row's lock, reads the mark and does not raise it again.
                store.markStale(c, f.index(), f.lastUpdatedAt());
            }
        }, failures);
        return new Outcome(fresh.size(), reports.size() - fresh.size(), failures.size());
    }

    public Outcome ingestion(List<Signal.IngestionRun> runs) {
        List<Failure> failures = new ArrayList<>();
        // A failed run counts once, however many signal ids report it: a reporter retrying under a new id per
        // attempt, or an orchestrator retrying the run under its run id, raised it once per report.
        Set<String> failedRuns = new HashSet<>();
        String[] batch = runs.stream().map(Signal::signalId).toArray(String[]::new);
        List<Signal.IngestionRun> fresh = newOnly(runs, (c, r) -> {
            store.run(c, r);
            if (r.failed() && failedRuns.add(r.pipeline() + '\n' + r.runId())
                    && !store.failedBefore(c, r.pipeline(), r.runId(), batch)) {
                failures.add(failedRun(r));
            }
        }, failures);
        return new Outcome(fresh.size(), runs.size() - fresh.size(), failures.size());
    }

    private Failure failedRun(Signal.IngestionRun r) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("pipeline", r.pipeline());
        evidence.put("reason", "run_failed");
        evidence.put("run_id", r.runId());
        evidence.put("started_at", r.startedAt().toString());
        if (r.finishedAt() != null) {
            evidence.put("finished_at", r.finishedAt().toString());
        }
        if (r.error() != null) {
            evidence.put("error", r.error());
        }
        if (!r.indexes().isEmpty()) {
            evidence.put("indexes", r.indexes());
        }
        return DataFailures.of(DataFailure.Type.INGESTION_FAILURE, r.at(), config.ingestion().failedSeverity(),
                r.pipeline(), INGESTION_RUN, evidence, null);
    }

    interface Apply<T> {
        void apply(Connection c, T signal) throws SQLException;
    }

    interface Work {
        void run(Connection c) throws SQLException;
    }

    /**
     * Stores the signals, applies {@code apply} to the new ones in time order, puts the {@code failures} it added into
     * the inbox, commits, then folds them; returns the new ones. Raised after the commit, a failure whose raise failed
     * (the database going away in between) was lost: the client's resend was a duplicate.
     */
    private <T extends Signal> List<T> newOnly(List<T> signals, Apply<T> apply, List<Failure> failures) {
        return newOnly(signals, apply, failures, () -> {
        });
    }

    /** As above; {@code rolledBack} runs when the transaction did not commit, before the error goes on. */
    private <T extends Signal> List<T> newOnly(List<T> signals, Apply<T> apply, List<Failure> failures,
            Runnable rolledBack) {
        if (signals.isEmpty()) {
            return List.of();
        }
        List<T> fresh = new ArrayList<>(signals.size());
        transaction(rolledBack, c -> {
            fresh.addAll(applyNew(c, signals, apply));
            inbox.add(c, failures);
        });
        if (!failures.isEmpty()) {
            folder.fold(failures, List.of()); // a fold that fails leaves them in the inbox for its recovery job
        }
        return fresh;
    }

    /** Stores the signals and applies {@code apply} to the new ones in time order; returns the new ones. */
    private <T extends Signal> List<T> applyNew(Connection c, List<T> signals, Apply<T> apply) throws SQLException {
        Set<String> inserted = new HashSet<>(store.insert(c, signals, clock.instant()));
        List<T> sorted = new ArrayList<>(signals);
        sorted.sort(Comparator.comparing(Signal::at));
        List<T> fresh = new ArrayList<>(inserted.size());
        for (T signal : sorted) {
            if (inserted.remove(signal.signalId())) {
                apply.apply(c, signal);
                fresh.add(signal);
            }
        }
        return fresh;
    }

    private void transaction(Runnable rolledBack, Work work) {
        try {
            QuarkusTransaction.requiringNew().run(() -> {
                try (Connection c = dataSource.getConnection()) {
                    work.run(c);
                } catch (SQLException e) {
                    throw new StorageException("could not store the signals", e);
                }
            });
        } catch (StorageException e) {
            rolledBack.run();
            throw e;
        } catch (RuntimeException e) {
            rolledBack.run();
            throw new StorageException("could not store the signals", e);
        }
    }
}
