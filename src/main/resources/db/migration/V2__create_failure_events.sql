-- Failure episodes: one row per fingerprint (category, type, provider, deployment) and burst. A repeat within the
-- dedup window updates the open row instead of adding one, so a storm of 10,000 429s is one row.
create table failure_events (
    failure_id        uuid        primary key,
    fingerprint       text        not null,
    category          text        not null,
    type              text        not null,
    severity          text        not null check (severity in ('P1', 'P2', 'P3', 'P4')),
    provider          text        not null,
    deployment        text,
    detection_method  text        not null,
    evidence          jsonb       not null,
    impact_scope      jsonb       not null,
    first_seen        timestamptz not null,
    last_seen         timestamptz not null,
    occurrences       bigint      not null,
    affected_requests bigint      not null,
    affected_users    bigint      not null
);

create index failure_events_open on failure_events (fingerprint, last_seen desc);
create index failure_events_recent on failure_events (last_seen desc, failure_id desc);
create index failure_events_provider_type on failure_events (provider, category, type, last_seen desc);

-- Which calls an episode covers (for impact and drill-down) and which distinct users it touched.
create table failure_event_calls (
    failure_id uuid        not null references failure_events (failure_id) on delete cascade,
    call_id    text        not null,
    seen_at    timestamptz not null,
    primary key (failure_id, call_id)
);

create table failure_event_users (
    failure_id uuid not null references failure_events (failure_id) on delete cascade,
    user_ref   text not null,
    primary key (failure_id, user_ref)
);
