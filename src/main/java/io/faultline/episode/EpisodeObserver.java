package io.faultline.episode;

import io.faultline.episode.EpisodeStore.EpisodeChange;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;

/**
 * Something that follows the episodes a fold opened or updated (correlation). It hears of them twice:
 * <ul>
 * <li>{@link #recordInFold} inside the fold's transaction, to write down durably what it must do later (a row or
 * two, no heavy work: the requests waiting on the fold wait on this too). Throwing fails the fold, whose failures
 * then stay in the inbox for the recovery job, so that what is recorded is never lost from a committed fold.</li>
 * <li>{@link #folded} after the commit, outside the folding lock; it must not throw: a fold is never undone by what
 * follows it.</li>
 * </ul>
 */
public interface EpisodeObserver {

    /** The episodes this fold opened or updated, on the fold's connection, before its commit. */
    default void recordInFold(Connection connection, List<EpisodeChange> changes) throws SQLException {
    }

    /** The episodes one committed fold opened or updated. */
    default void folded(List<EpisodeChange> changes) {
    }
}
