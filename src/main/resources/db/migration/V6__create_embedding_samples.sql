-- Embedding drift (README: "Embedding drift"). A space is the model or collection vectors belong to; its first
-- reference-size vectors are its reference, kept until an operator resets it, so that a restart can never replace
-- the reference with already drifted data. Later vectors form the current window and are pruned past it.
create table embedding_spaces (
    space            text        primary key,
    -- New on every (re)creation of the space, so that cached reference summaries of a reset space are not reused.
    reference_id     uuid        not null default gen_random_uuid(),
    dimensions       integer     not null check (dimensions > 0),
    reference_n      integer     not null default 0,
    reference_since  timestamptz,
    last_seen_at     timestamptz not null
);

-- One row per accepted signal: posted to the API (client-supplied id) or read from a LiteLLM embedding call (its
-- call id). The primary key makes a resend a no-op. Kept past a reset of the space, so old resends stay duplicates.
create table embedding_signals (
    source       text        not null check (source in ('api', 'litellm')),
    signal_id    text        not null,
    space        text        not null,
    vectors      integer     not null,
    received_at  timestamptz not null,
    primary key (source, signal_id)
);

create index embedding_signals_received on embedding_signals (received_at);

create table embedding_samples (
    sample_id    bigint      generated always as identity primary key,
    space        text        not null references embedding_spaces (space) on delete cascade,
    source       text        not null,
    signal_id    text        not null,
    ordinal      integer     not null,
    observed_at  timestamptz not null,
    reference    boolean     not null,
    vector       real[]      not null,
    unique (source, signal_id, ordinal)
);

create index embedding_samples_reference on embedding_samples (space, sample_id) where reference;
create index embedding_samples_current on embedding_samples (space, observed_at desc, sample_id desc)
    where not reference;
