-- The result of each space's latest drift check. GET /api/v1/signals/embeddings reads these (one row per space)
-- instead of reloading vectors and rerunning the bootstrap on every request; the check, every minute on whichever
-- replica holds the check lock, writes them, so every replica answers the same.
alter table embedding_spaces
    add column checked_at   timestamptz,
    add column check_state  text,
    add column current_n    integer,
    add column distance     double precision,
    add column threshold    double precision;
