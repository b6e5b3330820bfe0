package io.faultline.episode;

import io.faultline.episode.EpisodeStore.EpisodeChange;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import java.util.UUID;

/**
 * Something that follows the episodes a fold opened or updated (correlation). It hears of them twice:
 * <ul>
 * <li>{@link #foldWrite} inside the fold's transaction, to write down durably what it must do later: a statement
 * sent with the fold's own writes, in their round trip (a row or two, no heavy work: the requests waiting on the
 * fold wait on this too). Failing fails the fold, whose failures then stay in the inbox for the recovery job, so
 * that what is recorded is never lost from a committed fold.</li>
 * <li>{@link #folded} after the commit, outside the folding lock; it must not throw: a fold is never undone by what
 * follows it.</li>
 * </ul>
 */
public interface EpisodeObserver {

    /** What this observer writes in the fold's transaction, or null for nothing. */
    default FoldWrite foldWrite() {
        return null;
    }

    /** The episodes one committed fold opened or updated. */
    default void folded(List<EpisodeChange> changes) {
    }

    /** A statement of the fold's transaction, about the episodes the fold opened or updated. */
    interface FoldWrite {

        /** The statement (one; its parameters are bound by {@link #bind}). */
        String sql();

        /**
         * Binds the statement's parameters from {@code index} for these episodes (distinct); returns the index after
         * its last.
         */
        int bind(Connection connection, PreparedStatement st, int index, UUID[] episodes) throws SQLException;

        /**
         * A statement without parameters that the fold runs just before it merges episodes (rare: a late failure
         * bridged two), or null: a lock, so that work which read the absorbed episodes finishes before they go.
         */
        default String beforeMerge() {
            return null;
        }
    }
}
