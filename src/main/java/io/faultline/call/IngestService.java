package io.faultline.call;

import io.agroal.api.AgroalDataSource;
import io.faultline.classify.FailureClassifier;
import io.faultline.common.LogText;
import io.faultline.detect.ProviderDetection;
import io.faultline.episode.EpisodeFolder;
import io.faultline.episode.EpisodeFolder.DeploymentSeen;
import io.faultline.episode.FailureInbox;
import io.faultline.taxonomy.Failure;
import io.quarkus.logging.Log;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import org.postgresql.util.PSQLException;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.List;
import java.util.Set;

/**
 * Stores a batch of calls, then folds their failures into episodes. The first transaction (calls, what the
 * {@link StoredCallsWriter}s keep with them, and the failures of both, into the inbox) runs in parallel across requests
 * and is what makes the batch durable; the fold is combined across requests by {@link EpisodeFolder}. The caller
 * acknowledges only after both.
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
    private final List<StoredCallsWriter> writers;
    private final IngestMetrics metrics;

    public IngestService(AgroalDataSource dataSource, CallStore calls, FailureInbox inbox, EpisodeFolder folder,
            FailureClassifier classifier, Clock clock, ProviderDetection detection,
            Instance<StoredCallsObserver> observers, Instance<StoredCallsWriter> writers, IngestMetrics metrics) {
        this.metrics = metrics;
        this.detection = detection;
        this.observers = observers.stream().toList();
        this.writers = writers.stream().toList();
        this.dataSource = dataSource;
        this.calls = calls;
        this.inbox = inbox;
        this.folder = folder;
        this.classifier = classifier;
        this.clock = clock;
    }

    /**
     * The outcome of one stored batch: new calls (resends excluded), the failures they were classified as, the
     * episodes it opened, and the failures the {@link StoredCallsWriter}s raised beside them (an index's retrieval
     * drop: stored and folded with the calls', not counted as theirs).
     */
    public record Stored(List<LlmCall> inserted, List<Failure> failures, int episodesOpened, List<Refused> refused,
            List<Failure> raised) {

        public Stored(List<LlmCall> inserted, List<Failure> failures, int episodesOpened) {
            this(inserted, failures, episodesOpened, List.of(), List.of());
        }

        /** The calls' failures and those raised beside them: what goes into the inbox and the fold. */
        List<Failure> allFailures() {
            if (raised.isEmpty()) {
                return failures;
            }
            List<Failure> all = new ArrayList<>(failures);
            all.addAll(raised);
            return all;
        }
    }

    /** A call the database refused on its own (a data error), by its position in the batch given to {@link #store}. */
    public record Refused(int position, String callId, String reason) {
    }

    public Stored store(List<LlmCall> batch) {
        if (batch.isEmpty()) {
            return new Stored(List.of(), List.of(), 0);
        }
        // NUL and lone surrogates in stored fields would make PostgreSQL refuse the whole statement; the call's
        // content (read by the detectors) is left raw.
        StorableText text = new StorableText();
        List<LlmCall> storable = new ArrayList<>(batch.size());
        for (LlmCall call : batch) {
            storable.add(text.call(call));
        }
        // Resends (the plugin retries whatever was not acknowledged) are already stored: they are neither classified
        // again nor written. One primary-key lookup for the batch.
        Set<LlmCall.Attempt> resent = alreadyStored(storable);
        List<LlmCall> fresh = new ArrayList<>(storable.size() - resent.size());
        List<Integer> positions = new ArrayList<>(storable.size() - resent.size());
        for (int i = 0; i < storable.size(); i++) {
            if (!resent.contains(storable.get(i).attemptKey())) {
                fresh.add(storable.get(i));
                positions.add(i);
            }
        }
        // Classification (content detectors included) is CPU work: it runs before the transaction, so that a
        // connection is held only for the writes.
        Map<LlmCall.Attempt, List<Failure>> classified = new HashMap<>();
        for (LlmCall call : fresh) {
            List<Failure> failures = classifier.classifyFailure(call);
            if (!failures.isEmpty()) {
                List<Failure> clean = new ArrayList<>(failures.size());
                for (Failure failure : failures) {
                    clean.add(text.failure(failure));
                }
                classified.put(call.attemptKey(), clean);
            }
        }
        metrics.sanitized(text.replaced());
        if (fresh.isEmpty()) {
            return new Stored(List.of(), List.of(), 0);
        }
        Stored stored = write(fresh, positions, classified);
        observe(stored, classified);
        notifyObservers(stored.inserted());
        List<DeploymentSeen> seen = new ArrayList<>();
        for (LlmCall call : stored.inserted()) {
            seen.add(new DeploymentSeen(call.provider(), call.deployment(), call.endedAt()));
        }
        List<DeploymentSeen> due = folder.touch(seen);
        List<Failure> failures = stored.allFailures();
        if (failures.isEmpty() && due.isEmpty()) {
            return stored;
        }
        int opened = folder.fold(failures, due);
        return new Stored(stored.inserted(), stored.failures(), opened, stored.refused(), stored.raised());
    }

    private Set<LlmCall.Attempt> alreadyStored(List<LlmCall> batch) {
        try (Connection connection = dataSource.getConnection()) {
            return calls.alreadyStored(connection, batch);
        } catch (SQLException e) {
            if (dataError(e) != null) {
                // A start time the database cannot compare: classify everything; the insert finds the culprit.
                return Set.of();
            }
            throw new StorageException("could not look up resent calls", e);
        }
    }

    /**
     * One transaction for the whole batch, the calls written by COPY. When that fails on the data (a concurrent resend
     * or an item the database refuses), the batch is written again with INSERT ... ON CONFLICT; when the database
     * refuses that too for what one item holds (a data error, not an outage), the batch is written again in a new
     * transaction with the culprits isolated by halving in savepoints: they are refused by position, everything else
     * is stored. Outages stay a retryable failure. What the {@link StoredCallsWriter}s counted in memory for a
     * transaction (or savepoint) that rolled back is taken back out, so that the resend counts once.
     */
    private Stored write(List<LlmCall> fresh, List<Integer> positions, Map<LlmCall.Attempt, List<Failure>> classified) {
        try {
            // The resend lookup found these calls new: one binary COPY. It fails whole when a concurrent request
            // stored one of them meanwhile (or when the database refuses an item); the batch is then written again
            // with INSERT ... ON CONFLICT DO NOTHING, which settles both.
            return transaction(undo -> writeCalls(fresh, classified, true, undo));
        } catch (RuntimeException e) {
            if (dataError(e) == null) {
                throw e instanceof StorageException ? e : new StorageException("could not store the batch", e);
            }
            Log.debugf("COPY of %d calls refused (SQLSTATE %s); writing them with INSERT ... ON CONFLICT",
                    fresh.size(), dataError(e).getSQLState());
        }
        try {
            return transaction(undo -> writeCalls(fresh, classified, false, undo));
        } catch (RuntimeException e) {
            SQLException refused = dataError(e);
            if (refused == null) {
                throw e instanceof StorageException ? e : new StorageException("could not store the batch", e);
            }
            Log.warnf("The database refused a batch of %d calls (SQLSTATE %s); isolating the items it refuses",
                    fresh.size(), refused.getSQLState());
        }
        try {
            return transaction(undo -> {
                try (Connection connection = dataSource.getConnection()) {
                    Isolation isolation = new Isolation(connection, fresh, positions, classified, undo);
                    // INSERT ... ON CONFLICT here: a call stored meanwhile is a resend, never a refused item.
                    isolation.write(0, fresh.size());
                    return new Stored(isolation.inserted, isolation.failures, 0, isolation.refused,
                            isolation.raised);
                }
            });
        } catch (RuntimeException e) {
            throw e instanceof StorageException ? e : new StorageException("could not store the batch", e);
        }
    }

    private interface Write {
        Stored run(List<Runnable> undo) throws Exception;
    }

    /** Runs {@code write} in a new transaction; when it does not commit, undoes what it changed in memory. */
    private static Stored transaction(Write write) {
        List<Runnable> undo = new ArrayList<>();
        try {
            return QuarkusTransaction.requiringNew().call(() -> write.run(undo));
        } catch (RuntimeException e) {
            undo(undo);
            throw e;
        }
    }

    private static void undo(List<Runnable> undo) {
        for (int i = undo.size() - 1; i >= 0; i--) {
            undo.get(i).run();
        }
        undo.clear();
    }

    /** Halves a refused part of the batch until the items the database refuses on their own are found. */
    private final class Isolation {

        private final Connection connection;
        private final List<LlmCall> batch;
        private final List<Integer> positions;
        private final Map<LlmCall.Attempt, List<Failure>> classified;
        private final List<LlmCall> inserted = new ArrayList<>();
        private final List<Failure> failures = new ArrayList<>();
        private final List<Failure> raised = new ArrayList<>();
        private final List<Refused> refused = new ArrayList<>();
        private final List<Runnable> undo;

        Isolation(Connection connection, List<LlmCall> batch, List<Integer> positions,
                Map<LlmCall.Attempt, List<Failure>> classified, List<Runnable> undo) {
            this.undo = undo;
            this.connection = connection;
            this.batch = batch;
            this.positions = positions;
            this.classified = classified;
        }

        /** Writes {@code batch[from, to)}; recursion depth is log2 of the batch size. */
        void write(int from, int to) throws SQLException {
            // SQL savepoints: the pool refuses Connection.rollback(Savepoint) on a connection enlisted in JTA.
            sql("savepoint ingest_part");
            Stored part;
            List<Runnable> partUndo = new ArrayList<>();
            try {
                part = writeWith(connection, batch.subList(from, to), classified, false, partUndo);
            } catch (RuntimeException e) {
                undo.addAll(partUndo); // the whole transaction rolls back
                throw e;
            } catch (SQLException e) {
                if (dataError(e) == null) {
                    undo.addAll(partUndo); // the whole transaction rolls back
                    throw e;
                }
                undo(partUndo);
                sql("rollback to savepoint ingest_part");
                sql("release savepoint ingest_part");
                if (to - from == 1) {
                    LlmCall call = batch.get(from);
                    refused.add(new Refused(positions.get(from), call.callId(), reason(e)));
                    Log.warnf("Refused call %s: the database does not take it (SQLSTATE %s)", LogText.of(call.callId()),
                            dataError(e).getSQLState());
                    return;
                }
                int middle = (from + to) >>> 1;
                write(from, middle);
                write(middle, to);
                return;
            }
            undo.addAll(partUndo);
            sql("release savepoint ingest_part");
            inserted.addAll(part.inserted());
            failures.addAll(part.failures());
            raised.addAll(part.raised());
        }

        private void sql(String command) throws SQLException {
            try (Statement statement = connection.createStatement()) {
                statement.execute(command);
            }
        }
    }

    /**
     * The SQL error behind a failed write when it is about the data (SQLSTATE class 22 data exception, 23 integrity
     * constraint, 54 program limit such as an oversized index row), else null: connection loss, shutdown, lack of
     * resources and serialisation failures are the database's state, not the item's, and stay retryable.
     */
    static SQLException dataError(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SQLException sql) {
                for (SQLException e = sql; e != null; e = e.getNextException()) {
                    String state = e.getSQLState();
                    if (state != null && (state.startsWith("22") || state.startsWith("23")
                            || state.startsWith("54"))) {
                        return e;
                    }
                }
            }
        }
        return null;
    }

    /** The database's own words without its detail line, which may quote the value. */
    private static String reason(SQLException e) {
        SQLException cause = dataError(e);
        String message = cause instanceof PSQLException p && p.getServerErrorMessage() != null
                ? p.getServerErrorMessage().getMessage() : null;
        String text = "the database refused this call (SQLSTATE " + cause.getSQLState()
                + (message == null ? "" : ": " + message) + ")";
        return text.length() <= 300 ? text : text.substring(0, 300);
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

    /**
     * Provider metrics from the newly stored calls, each with its own failures; resends were counted the first time.
     * By attempt, not by call id: the attempts of one request (a retry, a fallback) share LiteLLM's call id, and keyed
     * by it a timeout was also charged to the fallback that answered in the same batch (a probe through the real
     * proxy: 6 fallbacks, 5 timeouts counted for the provider that answered every one of them).
     */
    private void observe(Stored stored, Map<LlmCall.Attempt, List<Failure>> classified) {
        Instant now = clock.instant();
        for (LlmCall call : stored.inserted()) {
            detection.observe(call, classified.getOrDefault(call.attemptKey(), List.of()), now);
        }
    }

    /** The order every request writes its calls in: (call id, start), the primary key's order. */
    static final Comparator<LlmCall> KEY_ORDER = Comparator.comparing(LlmCall::callId)
            .thenComparing(LlmCall::startedAt);

    private Stored writeCalls(List<LlmCall> batch, Map<LlmCall.Attempt, List<Failure>> classified, boolean copy,
            List<Runnable> undo) throws Exception {
        try (Connection connection = dataSource.getConnection()) {
            return writeWith(connection, batch, classified, copy, undo);
        }
    }

    private Stored writeWith(Connection connection, List<LlmCall> batch, Map<LlmCall.Attempt, List<Failure>> classified,
            boolean copy, List<Runnable> undo) throws SQLException {
        // Rows in key order: two requests holding the same calls in different orders then take their primary-key
        // entries in one order, never each waiting for the other's (a probe: a batch and its reverse, sent together,
        // deadlocked in 13 of 15 rounds, and one of them was answered 503 a second later).
        List<LlmCall> inKeyOrder = new ArrayList<>(batch);
        inKeyOrder.sort(KEY_ORDER);
        boolean inboxFirst = false;
        if (copy) {
            // The COPY writes every call or fails whole (and the transaction with it), so the calls' failures are
            // those of the inserted calls: into the inbox first, where the insert carries the transaction's BEGIN.
            // After it, the COPY would wait for a BEGIN of its own, a round trip with nothing else in it.
            List<Failure> ahead = new ArrayList<>();
            Set<LlmCall.Attempt> seen = new HashSet<>();
            for (LlmCall call : batch) {
                if (seen.add(call.attemptKey())) {
                    ahead.addAll(classified.getOrDefault(call.attemptKey(), List.of()));
                }
            }
            if (!ahead.isEmpty()) {
                inbox.add(connection, ahead);
                inboxFirst = true;
            }
        }
        Set<LlmCall.Attempt> newIds = copy ? calls.copy(connection, inKeyOrder, clock.instant())
                : calls.insert(connection, inKeyOrder, clock.instant());
        List<LlmCall> inserted = new ArrayList<>(newIds.size());
        List<Failure> failures = new ArrayList<>();
        for (LlmCall call : batch) {
            // Only new calls are classified: a resend must not count a failure twice.
            if (newIds.remove(call.attemptKey())) {
                inserted.add(call);
                failures.addAll(classified.getOrDefault(call.attemptKey(), List.of()));
            }
        }
        List<Failure> raised = new ArrayList<>();
        if (!inserted.isEmpty()) {
            for (StoredCallsWriter writer : writers) {
                writer.write(connection, inserted, raised, undo);
            }
        }
        Stored stored = new Stored(inserted, failures, 0, List.of(), raised);
        List<Failure> rest = inboxFirst ? raised : stored.allFailures();
        if (!rest.isEmpty()) {
            inbox.add(connection, rest);
        }
        return stored;
    }
}
