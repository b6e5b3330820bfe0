-- The correlation graph: failure episodes (failure_events) are the nodes, edges link two episodes (or an episode and
-- the deployment its traffic fell back to) with a kind and a confidence, and clusters group linked episodes into one
-- incident. Written by FailureCorrelationEngine under an advisory lock; read by GET /api/v1/failures/correlations.
create table correlation_clusters (
    cluster_id      uuid             primary key,
    type            text             not null check (type in ('upstream', 'cascade', 'mixed')),
    status          text             not null check (status in ('active', 'closed')),
    strength        double precision not null check (strength between 0 and 1),
    confidence      double precision not null check (confidence between 0 and 1),
    root_failure_id uuid,
    root_reason     text,
    providers       jsonb            not null,
    -- the figures behind the cluster's confidence (the temporal formula's terms, the strongest causal edge)
    evidence        jsonb            not null,
    first_seen      timestamptz      not null,
    last_seen       timestamptz      not null,
    -- the latest member activity (episode last_seen); the close job compares it with the clock
    last_activity   timestamptz      not null,
    opened_at       timestamptz      not null,
    closed_at       timestamptz
);

-- The close job and the metrics read active clusters by activity; the API pages by last_seen.
create index correlation_clusters_active on correlation_clusters (status, last_activity);
create index correlation_clusters_recent on correlation_clusters (last_seen desc, cluster_id desc);

create table correlation_members (
    cluster_id uuid        not null references correlation_clusters (cluster_id) on delete cascade,
    failure_id uuid        not null references failure_events (failure_id) on delete cascade,
    joined_at  timestamptz not null,
    primary key (cluster_id, failure_id)
);

-- "Which clusters is this episode in": every correlation step starts with it.
create index correlation_members_failure on correlation_members (failure_id);

create table correlation_edges (
    edge_id         bigserial        primary key,
    -- from|kind|to (or the fallback deployment when the target has no episode): upserts find their edge by it
    edge_key        text             not null unique,
    from_failure_id uuid             not null references failure_events (failure_id) on delete cascade,
    to_failure_id   uuid             references failure_events (failure_id) on delete cascade,
    kind            text             not null check (kind in ('temporal', 'fallback', 'caused')),
    confidence      double precision not null check (confidence between 0 and 1),
    evidence        jsonb            not null,
    cluster_id      uuid             references correlation_clusters (cluster_id) on delete set null,
    created_at      timestamptz      not null,
    updated_at      timestamptz      not null
);

create index correlation_edges_cluster on correlation_edges (cluster_id);
create index correlation_edges_from on correlation_edges (from_failure_id);
create index correlation_edges_to on correlation_edges (to_failure_id);

-- Index-backed window queries of the engine, never a scan of history:
-- episodes that started within the temporal window of another one,
create index failure_events_onset on failure_events (first_seen);
-- a fingerprint's episode count over the base-rate lookback,
create index failure_events_fingerprint_onset on failure_events (fingerprint, first_seen);
-- the episodes a (fallback) call belongs to,
create index failure_event_calls_call on failure_event_calls (call_id);
-- and the attempts of one request (LiteLLM's trace_id is shared by retries and fallbacks).
create index llm_calls_trace on llm_calls (trace_id, started_at) where trace_id is not null;
