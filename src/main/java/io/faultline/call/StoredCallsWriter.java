package io.faultline.call;

import io.faultline.taxonomy.Failure;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;

/**
 * Something stored with the calls, in their transaction: what must be kept with a call or not at all, since a resend
 * of a stored call is a duplicate and what was lost after its commit would be lost for good. Unlike a
 * {@link StoredCallsObserver} it may fail the write (the call is then not acknowledged). Whatever it changes in memory
 * it adds to {@code undo}, run (last first) when the transaction or the savepoint around these calls rolls back.
 */
public interface StoredCallsWriter {

    /**
     * Writes for the calls just inserted on {@code connection}, in batch order; the failures it adds to {@code raised}
     * go into the inbox and the fold with the calls' own, without being counted as theirs.
     */
    void write(Connection connection, List<LlmCall> inserted, List<Failure> raised, List<Runnable> undo)
            throws SQLException;
}
