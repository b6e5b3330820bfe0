package io.faultline.data;

import io.agroal.api.AgroalDataSource;
import io.faultline.common.AdvisoryLocks;
import io.faultline.episode.FailureInbox;
import io.faultline.taxonomy.Failure;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;

/** Spaces, signals and vectors of embedding drift in PostgreSQL: the reference survives restarts here. */
@ApplicationScoped
public class EmbeddingStore {

    /** Vectors of one signal, all of one dimension. */
    public record Signal(String source, String signalId, String space, Instant at, List<float[]> vectors) {
    }

    /**
     * What storing a signal did.
     *
     * @param duplicate   the signal id was seen before: nothing was stored
     * @param reference   how many of its vectors went into the reference
     * @param referenceN  the space's reference size after it
     * @param evicted     spaces evicted to make room for a new one
     */
    public record Stored(boolean duplicate, int reference, int referenceN, int evicted) {
    }

    /**
     * A space as stored, with the result of its latest check (all null before the first one).
     *
     * @param checkState the state the latest check found: {@code collecting_reference}, {@code insufficient_current},
     *                   {@code ok} or {@code drift}
     */
    public record Space(String space, UUID referenceId, int dimensions, int referenceN, Instant referenceSince,
            Instant lastSeen, Instant checkedAt, String checkState, Integer currentN, Double distance,
            Double threshold) {
    }

    /** The vectors of a signal do not have the dimension of the space's reference. */
    public static class DimensionMismatch extends RuntimeException {

        final int expected;
        final int actual;

        DimensionMismatch(String space, int expected, int actual) {
            super("space " + space + " holds " + expected + "-dimensional vectors, these have " + actual);
            this.expected = expected;
            this.actual = actual;
        }
    }

    /**
     * A new space would go beyond the cap while every space holds a complete reference: none may be evicted for it.
     * The transaction rolls back, so the signal stored nothing.
     */
    public static class SpaceLimit extends RuntimeException {

        SpaceLimit(String space, int maxSpaces) {
            super("all " + maxSpaces + " embedding spaces hold a complete reference, so no space " + space
                    + " can be opened");
        }
    }

    /** The advisory lock of the drift check ("embdrift" in ASCII), one replica at a time. */
    private static final long LOCK_KEY = 0x656d626472696674L;

    /** The advisory lock that new spaces take in turn to count the spaces and evict ("FlEmbSpc" in ASCII). */
    private static final long SPACES_LOCK_KEY = 0x466C_456D_6253_7063L;

    private final AgroalDataSource dataSource;
    private final FailureInbox inbox;

    public EmbeddingStore(AgroalDataSource dataSource, FailureInbox inbox) {
        this.dataSource = dataSource;
        this.inbox = inbox;
    }

    /**
     * Stores a signal in one transaction: a duplicate id stores nothing; otherwise the space is created (evicting the
     * least recently seen beyond {@code maxSpaces}) and locked, its reference filled first, the rest kept as current.
     */
    public Stored store(Signal signal, int referenceSize, int maxSpaces, Instant now) {
        return QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                return store(c, signal, referenceSize, maxSpaces, now);
            }
        });
    }

    private Stored store(Connection c, Signal signal, int referenceSize, int maxSpaces, Instant now)
            throws SQLException {
        int dimensions = signal.vectors().get(0).length;
        try (PreparedStatement st = c.prepareStatement("insert into embedding_signals (source, signal_id, space,"
                + " vectors, received_at) values (?, ?, ?, ?, ?) on conflict do nothing")) {
            st.setString(1, signal.source());
            st.setString(2, signal.signalId());
            st.setString(3, signal.space());
            st.setInt(4, signal.vectors().size());
            st.setTimestamp(5, Timestamp.from(now));
            if (st.executeUpdate() == 0) {
                return new Stored(true, 0, 0, 0);
            }
        }
        int expected;
        int referenceN;
        boolean created;
        // The row lock serialises writers of one space (replicas included), so the reference is exactly the first
        // referenceSize vectors whichever replica received them. One upsert creates or locks the row: a space reset
        // or evicted while this waited for its lock is created anew (a select for update found it gone: a 500).
        try (PreparedStatement st = c.prepareStatement("insert into embedding_spaces as s (space, dimensions,"
                + " last_seen_at) values (?, ?, ?) on conflict (space) do update set last_seen_at = s.last_seen_at"
                + " returning dimensions, reference_n, xmax = 0")) {
            st.setString(1, signal.space());
            st.setInt(2, dimensions);
            st.setTimestamp(3, Timestamp.from(now));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                expected = rs.getInt(1);
                referenceN = rs.getInt(2);
                created = rs.getBoolean(3);
            }
        }
        int evicted = created ? evictBeyond(c, maxSpaces, referenceSize, signal.space()) : 0;
        if (expected != dimensions) {
            throw new DimensionMismatch(signal.space(), expected, dimensions);
        }
        int toReference = Math.max(0, Math.min(referenceSize - referenceN, signal.vectors().size()));
        try (PreparedStatement st = c.prepareStatement("insert into embedding_samples (space, source, signal_id,"
                + " ordinal, observed_at, reference, vector) values (?, ?, ?, ?, ?, ?, ?)")) {
            for (int i = 0; i < signal.vectors().size(); i++) {
                st.setString(1, signal.space());
                st.setString(2, signal.source());
                st.setString(3, signal.signalId());
                st.setInt(4, i);
                st.setTimestamp(5, Timestamp.from(signal.at()));
                st.setBoolean(6, i < toReference);
                // pgjdbc binds a primitive float[] as float4[] directly, without boxing every component.
                st.setObject(7, signal.vectors().get(i));
                st.addBatch();
            }
            st.executeBatch();
        }
        try (PreparedStatement st = c.prepareStatement("update embedding_spaces set reference_n = reference_n + ?,"
                + " reference_since = case when ? > 0 then coalesce(reference_since, ?) else reference_since end,"
                + " last_seen_at = greatest(last_seen_at, ?), mismatch_vectors = 0, mismatch_since = null"
                + " where space = ?")) {
            st.setInt(1, toReference);
            st.setInt(2, toReference);
            st.setTimestamp(3, Timestamp.from(signal.at()));
            st.setTimestamp(4, Timestamp.from(now));
            st.setString(5, signal.space());
            st.executeUpdate();
        }
        return new Stored(false, toReference, referenceN + toReference, evicted);
    }

    /**
     * A run of vectors of another dimension than the space's, as counted so far by every replica.
     *
     * @param crossed this call's vectors took the run to {@code window} vectors: the one moment to raise it
     */
    public record Mismatch(long vectors, Instant since, boolean crossed) {
    }

    /**
     * Adds {@code vectors} dropped for their dimension to the space's run (which a stored vector of its dimension
     * ends); the row lock makes exactly one caller, on any replica, see the run cross {@code window}. That caller's
     * failure ({@code crossing} makes it) goes into the failure inbox in the transaction that stores the count: an
     * outage after the commit cannot lose it, as the count will never cross again. Returns that failure, to fold; empty
     * when the run did not cross or the space is gone.
     */
    public Optional<Failure> mismatched(String space, int vectors, Instant at, int window,
            Function<Mismatch, Failure> crossing) {
        return QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                Optional<Mismatch> run = mismatched(c, space, vectors, at, window);
                if (run.isEmpty() || !run.get().crossed()) {
                    return Optional.<Failure>empty();
                }
                Failure failure = crossing.apply(run.get());
                inbox.add(c, List.of(failure));
                return Optional.of(failure);
            } catch (SQLException e) {
                throw new IllegalStateException("could not count the mismatched vectors of " + space, e);
            }
        });
    }

    private static Optional<Mismatch> mismatched(Connection c, String space, int vectors, Instant at, int window)
            throws SQLException {
        try (PreparedStatement st = c.prepareStatement(
                "update embedding_spaces set mismatch_vectors = mismatch_vectors + ?,"
                        + " mismatch_since = coalesce(mismatch_since, ?) where space = ?"
                        + " returning mismatch_vectors, mismatch_since")) {
            st.setInt(1, vectors);
            st.setTimestamp(2, Timestamp.from(at));
            st.setString(3, space);
            try (ResultSet rs = st.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                long run = rs.getLong(1);
                return Optional.of(new Mismatch(run, rs.getTimestamp(2).toInstant(),
                        run >= window && run - vectors < window));
            }
        }
    }

    /**
     * Makes room for the new space {@code keep}. Only spaces still collecting their reference are evicted, those with
     * the fewest vectors first, then the least recently seen: a flood of never-seen names (one vector each) evicts its
     * own kind, never a space whose reference is complete nor one further along than the junk. When every other space
     * is complete the new one is refused ({@link SpaceLimit}).
     */
    private static int evictBeyond(Connection c, int maxSpaces, int referenceSize, String keep) throws SQLException {
        // New spaces count and evict one at a time (replicas included), the lock held to the commit: counted apart,
        // two new spaces each found one too many and chose the same one to evict, and the second, finding it gone,
        // was refused as if every space held a complete reference. Writers of existing spaces never take it.
        AdvisoryLocks.xact(c, SPACES_LOCK_KEY);
        int excess;
        try (PreparedStatement st = c.prepareStatement("select count(*) from embedding_spaces")) {
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                excess = rs.getInt(1) - maxSpaces;
            }
        }
        if (excess <= 0) {
            return 0;
        }
        int evicted;
        try (PreparedStatement st = c.prepareStatement("delete from embedding_spaces where space in (select space"
                + " from embedding_spaces where space <> ? and reference_n < ?"
                + " order by reference_n, last_seen_at, space limit ?)")) {
            st.setString(1, keep);
            st.setInt(2, referenceSize);
            st.setInt(3, excess);
            evicted = st.executeUpdate();
        }
        if (evicted < excess) {
            throw new SpaceLimit(keep, maxSpaces);
        }
        return evicted;
    }

    private static final String SPACE_COLUMNS = "select space, reference_id, dimensions, reference_n,"
            + " reference_since, last_seen_at, checked_at, check_state, current_n, distance, threshold"
            + " from embedding_spaces";

    /** Every space (at most {@code maxSpaces} rows): no vectors are read. */
    public List<Space> spaces() {
        return query(SPACE_COLUMNS + " order by space", null);
    }

    public Optional<Space> space(String space) {
        return query(SPACE_COLUMNS + " where space = ?", space).stream().findFirst();
    }

    /**
     * Keeps the result of a check of the space, unless the space was reset (its reference id changed) meanwhile.
     */
    public void recordCheck(String space, UUID referenceId, String state, int currentN, Double distance,
            Double threshold, Instant at) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "update embedding_spaces set checked_at = ?, check_state = ?, current_n = ?, distance = ?,"
                        + " threshold = ? where space = ? and reference_id = ?")) {
            st.setTimestamp(1, Timestamp.from(at));
            st.setString(2, state);
            st.setInt(3, currentN);
            st.setObject(4, distance);
            st.setObject(5, threshold);
            st.setString(6, space);
            st.setObject(7, referenceId);
            st.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("could not record the drift check of " + space, e);
        }
    }

    private List<Space> query(String sql, String space) {
        List<Space> out = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            if (space != null) {
                st.setString(1, space);
            }
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    Timestamp since = rs.getTimestamp(5);
                    Timestamp checked = rs.getTimestamp(7);
                    out.add(new Space(rs.getString(1), rs.getObject(2, UUID.class), rs.getInt(3), rs.getInt(4),
                            since == null ? null : since.toInstant(), rs.getTimestamp(6).toInstant(),
                            checked == null ? null : checked.toInstant(), rs.getString(8),
                            rs.getObject(9, Integer.class), rs.getObject(10, Double.class),
                            rs.getObject(11, Double.class)));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read embedding spaces", e);
        }
        return out;
    }

    /** The space's reference vectors, in the order they were received. */
    public List<float[]> reference(String space) {
        return vectors("select vector from embedding_samples where space = ? and reference order by sample_id",
                space, null, null, 0);
    }

    /** The most recent {@code limit} current vectors observed in (from, to]. */
    public List<float[]> current(String space, Instant from, Instant to, int limit) {
        return vectors("select vector from embedding_samples where space = ? and not reference and observed_at > ?"
                + " and observed_at <= ? order by observed_at desc, sample_id desc limit ?", space, from, to, limit);
    }

    private List<float[]> vectors(String sql, String space, Instant from, Instant to, int limit) {
        List<float[]> out = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            st.setString(1, space);
            if (from != null) {
                st.setTimestamp(2, Timestamp.from(from));
                st.setTimestamp(3, Timestamp.from(to));
                st.setInt(4, limit);
            }
            st.setFetchSize(1000);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    out.add(floats(rs.getArray(1)));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read embedding vectors of " + space, e);
        }
        return out;
    }

    private static float[] floats(Array array) throws SQLException {
        Object values = array.getArray();
        if (values instanceof float[] primitive) {
            return primitive;
        }
        Float[] boxed = (Float[]) values;
        float[] out = new float[boxed.length];
        for (int i = 0; i < boxed.length; i++) {
            out[i] = boxed[i];
        }
        return out;
    }

    /**
     * Deletes current vectors that left the window: older than {@code before}, or beyond the newest {@code keep}.
     * References are never pruned. Returns the rows deleted.
     */
    public int prune(String space, Instant before, int keep) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "delete from embedding_samples where space = ? and not reference and (observed_at <= ? or sample_id in"
                        + " (select sample_id from embedding_samples where space = ? and not reference"
                        + " order by observed_at desc, sample_id desc offset ?))")) {
            st.setString(1, space);
            st.setTimestamp(2, Timestamp.from(before));
            st.setString(3, space);
            st.setInt(4, keep);
            return st.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("could not prune embedding vectors of " + space, e);
        }
    }

    /** The statement of {@link #pruneSignals}. */
    public static final String PRUNE_SIGNALS = "delete from embedding_signals where received_at < ?";

    /** Forgets signal ids received before {@code before}. */
    public int pruneSignals(Instant before) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(PRUNE_SIGNALS)) {
            st.setTimestamp(1, Timestamp.from(before));
            return st.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("could not prune embedding signal ids", e);
        }
    }

    /** Deletes the space with its reference and window; its next vectors start a new reference. */
    public boolean reset(String space) {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(
                "delete from embedding_spaces where space = ?")) {
            st.setString(1, space);
            return st.executeUpdate() == 1;
        } catch (SQLException e) {
            throw new IllegalStateException("could not reset embedding space " + space, e);
        }
    }

    /**
     * Runs {@code work} only if no other replica is checking: a session advisory lock, released before the
     * connection goes back to the pool.
     */
    public boolean exclusively(Runnable work) {
        try (Connection c = dataSource.getConnection()) {
            boolean locked;
            try (PreparedStatement st = c.prepareStatement("select pg_try_advisory_lock(" + LOCK_KEY + ")")) {
                try (ResultSet rs = st.executeQuery()) {
                    locked = rs.next() && rs.getBoolean(1);
                }
            }
            if (!locked) {
                return false;
            }
            try {
                work.run();
                return true;
            } finally {
                try (PreparedStatement st = c.prepareStatement("select pg_advisory_unlock(" + LOCK_KEY + ")")) {
                    st.execute();
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not take the embedding drift lock", e);
        }
    }
}
