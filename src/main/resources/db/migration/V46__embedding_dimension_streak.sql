-- The vectors of LiteLLM calls dropped in a row for a dimension other than the space's, counted where every replica
-- and a restart see them: counted in each replica's memory, a restart mid-way started again and two replicas each
-- needed a window's worth of their own (and each raised it). A vector of the space's dimension ends the run.
alter table embedding_spaces
    add column mismatch_vectors bigint      not null default 0,
    add column mismatch_since   timestamptz;
