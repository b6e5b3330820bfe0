package io.faultline.signals;

import io.agroal.api.AgroalDataSource;
import io.faultline.call.StorageException;
import io.faultline.episode.FailureSink;
import io.faultline.taxonomy.DataFailure;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Applies signals exactly once: a signal is stored (keyed by kind and signalId) and its state updated in one
 * transaction; only signals that were new feed the windows and raise failures, after the commit.
 */
@ApplicationScoped
public class SignalService {

    static final String INDEX_REPORT = "signals.index_report";
    static final String INGESTION_RUN = "signals.ingestion_run";

    private final AgroalDataSource dataSource;
    private final SignalStore store;
    private final RetrievalTracker retrieval;
    private final FailureSink sink;
    private final SignalsConfig config;
    private final Clock clock;

    public SignalService(AgroalDataSource dataSource, SignalStore store, RetrievalTracker retrieval, FailureSink sink,
            SignalsConfig config, Clock clock) {
        this.dataSource = dataSource;
        this.store = store;
        this.retrieval = retrieval;
        this.sink = sink;
        this.config = config;
        this.clock = clock;
    }

    /** What a batch did: new signals, resends, and the failures it raised. */
    public record Outcome(int accepted, int duplicates, int failures) {
    }

    public Outcome retrieval(List<Signal.Retrieval> samples) {
        return retrieval(samples, null);
    }

    /** A retrieval sample from a call's metadata; {@code scope} is the call's. */
    public Outcome retrieval(List<Signal.Retrieval> samples, ImpactScope scope) {
        List<Signal.Retrieval> fresh = newOnly(samples, (c, s) -> {
        });
        List<Failure> failures = new ArrayList<>();
        for (Signal.Retrieval sample : fresh) {
            retrieval.record(sample, scope).ifPresent(failures::add);
        }
        sink.raise(failures);
        return new Outcome(fresh.size(), samples.size() - fresh.size(), failures.size());
    }

    public Outcome index(List<Signal.IndexReport> reports) {
        List<Failure> failures = new ArrayList<>();
        Map<String, java.time.Instant> stale = new LinkedHashMap<>();
        List<Signal.IndexReport> fresh = newOnly(reports, (c, r) -> {
            SignalStore.Freshness f = store.report(c, r,
                    r.maxAge() != null ? r.maxAge() : config.index().maxAge(),
                    r.heartbeatTimeout() != null ? r.heartbeatTimeout() : config.index().heartbeatTimeout());
            Duration age = Duration.between(f.lastUpdatedAt(), r.at());
            if (age.compareTo(f.maxAge()) > 0 && !f.lastUpdatedAt().equals(f.staleRaisedFor())
                    && !f.lastUpdatedAt().equals(stale.get(f.index()))) {
                stale.put(f.index(), f.lastUpdatedAt());
                failures.add(SignalChecks.tooOld(f, r.at(), config.index().staleSeverity(), INDEX_REPORT));
            }
        });
        sink.raise(failures);
        if (!stale.isEmpty()) {
            // Marked only after the raise: a crash in between leaves it to the scheduled check, never lost.
            transaction(c -> {
                for (Map.Entry<String, java.time.Instant> e : stale.entrySet()) {
                    store.markStale(c, e.getKey(), e.getValue());
                }
            });
        }
        return new Outcome(fresh.size(), reports.size() - fresh.size(), failures.size());
    }

    public Outcome ingestion(List<Signal.IngestionRun> runs) {
        List<Failure> failures = new ArrayList<>();
        List<Signal.IngestionRun> fresh = newOnly(runs, (c, r) -> {
            store.run(c, r);
            if (r.failed()) {
                failures.add(failedRun(r));
            }
        });
        sink.raise(failures);
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

    /** Stores the signals, applies {@code apply} to the new ones in time order, commits; returns the new ones. */
    private <T extends Signal> List<T> newOnly(List<T> signals, Apply<T> apply) {
        if (signals.isEmpty()) {
            return List.of();
        }
        List<T> fresh = new ArrayList<>(signals.size());
        transaction(c -> {
            Set<String> inserted = new HashSet<>(store.insert(c, signals, clock.instant()));
            List<T> sorted = new ArrayList<>(signals);
            sorted.sort(Comparator.comparing(Signal::at));
            for (T signal : sorted) {
                if (inserted.remove(signal.signalId())) {
                    apply.apply(c, signal);
                    fresh.add(signal);
                }
            }
        });
        return fresh;
    }

    private void transaction(Work work) {
        try {
            QuarkusTransaction.requiringNew().run(() -> {
                try (Connection c = dataSource.getConnection()) {
                    work.run(c);
                } catch (SQLException e) {
                    throw new StorageException("could not store the signals", e);
                }
            });
        } catch (StorageException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new StorageException("could not store the signals", e);
        }
    }
}
