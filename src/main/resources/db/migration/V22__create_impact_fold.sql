-- Incremental failure impact (ImpactFold, README: "Impact"). An assessment no longer re-reads every attempt of an
-- episode: each request's contribution is kept, and a re-assessment re-derives only the requests that something
-- touched since the last one (a new link to the subject's episodes or to one of its requests, a new attempt of one of
-- its requests). When a link was written, by the database's clock (existing rows predate every fold).
alter table failure_event_calls add column linked_at timestamptz not null default '-infinity';
alter table failure_event_calls alter column linked_at set default clock_timestamp();
create index failure_event_calls_linked on failure_event_calls (linked_at);

-- One row per assessed episode or cluster: which member episodes are folded in, how far the links (database time)
-- and the attempts (received_at, the service's clock) were read, and the running sums of its requests. Money sums
-- are numeric: each request's figures are added and taken away exactly, so no rounding drifts over many folds.
create table impact_state (
    subject_id           uuid        primary key,
    members              uuid[]      not null,
    links_through        timestamptz not null,
    attempts_through     timestamptz not null,
    spike_p99            double precision not null,
    last_seen            timestamptz not null,
    requests             bigint      not null default 0,
    failed               bigint      not null default 0,
    recovered            bigint      not null default 0,
    attempts             bigint      not null default 0,
    wasted_cost          numeric     not null default 0,
    wasted_tokens        bigint      not null default 0,
    fallbacks            bigint      not null default 0,
    fallback_cost        numeric     not null default 0,
    at_original          numeric     not null default 0,
    priced_fallback_cost numeric     not null default 0,
    unpriced             bigint      not null default 0,
    answers              bigint      not null default 0,
    quality_failures     bigint      not null default 0,
    flagged_answers      bigint      not null default 0,
    spike_extra          numeric     not null default 0
);

create index impact_state_last_seen on impact_state (last_seen);

-- Each request's contribution to its subject, as last derived (what a re-derivation takes away before adding anew).
create table impact_requests (
    subject_id           uuid             not null references impact_state (subject_id) on delete cascade,
    call_id              text             not null,
    ok                   boolean          not null,
    hit                  boolean          not null,
    attempts             integer          not null,
    user_ref             text,
    team_id              text,
    api_key_hash         text,
    wasted_cost          double precision not null,
    wasted_tokens        bigint           not null,
    fallbacks            integer          not null,
    fallback_cost        double precision not null,
    at_original          double precision not null,
    priced_fallback_cost double precision not null,
    unpriced             integer          not null,
    answers              integer          not null,
    quality_failures     integer          not null,
    flagged_answers      integer          not null,
    spike_extra          double precision not null,
    answer_deployments   text[]           not null,
    flagged_deployments  text[]           not null,
    primary key (subject_id, call_id)
);

-- The subject's distinct users (u), API keys (k), teams (t), answering (a) and flagged (f) deployments, each with
-- how many of its requests name it: exact distinct counts that a re-derived request can move either way.
create table impact_distinct (
    subject_id uuid    not null references impact_state (subject_id) on delete cascade,
    dim        char(1) not null,
    value      text    not null,
    refs       integer not null check (refs >= 0),
    primary key (subject_id, dim, value)
);
