-- DATA signals that applications report (retrieval scores, index freshness, ingestion runs) and the retrieval
-- samples read from call metadata. The durable record: idempotency keys, and what the in-memory retrieval windows
-- are rebuilt from after a restart. Rows older than faultline.signals.retention are deleted.
create table data_signals (
    kind        text        not null check (kind in ('retrieval', 'retrieval_call', 'index', 'ingestion')),
    signal_id   text        not null,
    subject     text        not null,
    at          timestamptz not null,
    received_at timestamptz not null,
    payload     jsonb       not null,
    primary key (kind, signal_id)
);

create index data_signals_window on data_signals (kind, at);

-- Freshness per index, from the latest reports. stale_raised_for and heartbeat_raised_for remember which
-- last_updated_at / last_report_at a failure was already raised for, so that a standing condition is raised once.
create table index_freshness (
    index_name           text        primary key,
    last_updated_at      timestamptz not null,
    last_report_at       timestamptz not null,
    max_age_seconds      bigint      not null check (max_age_seconds > 0),
    heartbeat_seconds    bigint      not null check (heartbeat_seconds > 0),
    stale_raised_for     timestamptz,
    heartbeat_raised_for timestamptz
);

-- Ingestion pipelines and their schedule. missed_slots counts the missed runs already raised since last_run_at.
create table ingestion_pipelines (
    pipeline               text        primary key,
    last_run_id            text        not null,
    last_run_at            timestamptz not null,
    last_status            text        not null check (last_status in ('succeeded', 'failed')),
    expected_every_seconds bigint      check (expected_every_seconds > 0),
    missed_slots           integer     not null default 0
);
