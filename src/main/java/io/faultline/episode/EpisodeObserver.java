package io.faultline.episode;

import io.faultline.episode.EpisodeStore.EpisodeChange;

import java.util.List;

/**
 * Something that follows the episodes a fold opened or updated (correlation). It runs after the fold's commit, outside
 * the folding lock, and must not throw: a fold is never undone by what follows it. What it derives it keeps in the
 * database, so a replica that missed a notification catches up on the episode's next change.
 */
public interface EpisodeObserver {

    /** The episodes one committed fold opened or updated. */
    void folded(List<EpisodeChange> changes);
}
