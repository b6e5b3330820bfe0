package io.faultline.signals;

import io.agroal.api.AgroalDataSource;
import io.faultline.call.StorageException;
import io.faultline.common.DatabaseStartup;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.logging.Log;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The retrieval indexes an operator registered. Samples that calls carry in {@code requester_metadata} are written by
 * whoever holds a LiteLLM key, so they count only for these; the rest are ignored and counted
 * ({@code faultline_retrieval_samples_ignored_total}). At most {@code max-indexes} are registered, so registered
 * indexes alone fit the tracker's memory cap. Held in memory, reloaded from the table on every change here and every
 * 30 s (changes made on another replica).
 */
@Singleton
public class RetrievalIndexes {

    public record RegisteredIndex(String index, Instant registeredAt) {
    }

    private final AgroalDataSource dataSource;
    private final int max;
    private final Counter ignored;
    private volatile Set<String> registered;

    private final DatabaseStartup startup;

    public RetrievalIndexes(AgroalDataSource dataSource, SignalsConfig config, MeterRegistry registry,
            DatabaseStartup startup) {
        this.startup = startup;
        this.dataSource = dataSource;
        this.max = config.retrieval().maxIndexes();
        this.ignored = Counter.builder("faultline.retrieval.samples.ignored")
                .description("Retrieval samples in call metadata ignored because their index is not registered")
                .tag("reason", "unregistered_index").register(registry);
    }

    /** Whether samples from calls count for this index. */
    public boolean registered(String index) {
        Set<String> names = registered;
        if (names == null) {
            names = reload();
        }
        return names.contains(index);
    }

    /** Counts a sample that was dropped because its index is not registered. */
    void ignored() {
        ignored.increment();
    }

    /**
     * Registers an index (idempotent); true when it was new. The count and the insert are one transaction under a
     * lock that registrations take in turn (reads go on): counted apart, two registrations racing for the last free
     * place (two requests, or two replicas) both found it free, and the cap was passed.
     */
    public boolean register(String index, Instant now) {
        boolean added;
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                try (PreparedStatement lock = c.prepareStatement(
                        "lock table retrieval_indexes in share row exclusive mode")) {
                    lock.execute();
                }
                try (PreparedStatement count = c.prepareStatement("select count(*) from retrieval_indexes");
                        ResultSet rs = count.executeQuery()) {
                    rs.next();
                    if (rs.getLong(1) >= max && !list(c).stream().anyMatch(r -> r.index().equals(index))) {
                        throw new TooManyIndexes(max);
                    }
                }
                try (PreparedStatement st = c.prepareStatement("insert into retrieval_indexes (index_name,"
                        + " registered_at) values (?, ?) on conflict (index_name) do nothing")) {
                    st.setString(1, index);
                    st.setTimestamp(2, Timestamp.from(now));
                    added = st.executeUpdate() == 1;
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw new StorageException("could not register the index", e);
        }
        reload();
        return added;
    }

    /** Unregisters an index; true when it was registered. */
    public boolean delete(String index) {
        boolean removed;
        try (Connection c = dataSource.getConnection();
                PreparedStatement st = c.prepareStatement("delete from retrieval_indexes where index_name = ?")) {
            st.setString(1, index);
            removed = st.executeUpdate() == 1;
        } catch (SQLException e) {
            throw new StorageException("could not unregister the index", e);
        }
        reload();
        return removed;
    }

    public List<RegisteredIndex> list() {
        try (Connection c = dataSource.getConnection()) {
            return list(c);
        } catch (SQLException e) {
            throw new StorageException("could not list the indexes", e);
        }
    }

    private static List<RegisteredIndex> list(Connection c) throws SQLException {
        List<RegisteredIndex> indexes = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement("select index_name, registered_at from retrieval_indexes"
                + " order by index_name"); ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                indexes.add(new RegisteredIndex(rs.getString(1), rs.getTimestamp(2).toInstant()));
            }
        }
        return indexes;
    }

    /**
     * Reads the registered names from the table. One reload at a time, each reading and publishing under the lock:
     * the scheduled refresh could read the list before an unregistering committed and publish it after that
     * unregistering's own reload, so the index went on counting until the next refresh (seen in CI).
     */
    public synchronized Set<String> reload() {
        Set<String> names = new HashSet<>();
        for (RegisteredIndex index : list()) {
            names.add(index.index());
        }
        registered = Set.copyOf(names);
        return registered;
    }

    /** Per replica: the list of registered indexes this replica holds in memory, re-read from the database. */
    @Scheduled(every = "30s", delayed = "30s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void refresh() {
        if (!startup.migrated()) {
            return; // the schema is not migrated yet (the database was away at start)
        }
        try {
            reload();
        } catch (RuntimeException e) {
            Log.warnf(e, "Could not reload the registered retrieval indexes; keeping the last list");
        }
    }

    /** More indexes than the tracker holds in memory. */
    public static final class TooManyIndexes extends RuntimeException {
        TooManyIndexes(int max) {
            super("At most " + max + " retrieval indexes can be registered (faultline.signals.retrieval.max-indexes);"
                    + " delete one first.");
        }
    }
}
