-- Baseline profiling runs (jobs) and the baselines they, or passive learning from live traffic, produce.
create table baseline_runs (
    run_id       uuid        primary key,
    provider     text        not null,
    model_group  text        not null,
    total        integer     not null,
    sent         integer     not null default 0,
    errors       integer     not null default 0,
    status       text        not null check (status in ('running', 'completed', 'cancelled', 'failed')),
    workload     text        not null,
    started_at   timestamptz not null,
    finished_at  timestamptz,
    detail       text
);

-- Only one running profile per provider, enforced by the database (several replicas may accept requests).
create unique index baseline_runs_one_running on baseline_runs (provider) where status = 'running';

-- One row per (scope, metric, source) measurement. Percentiles are exact (nearest rank) over sample_size samples.
create table provider_baselines (
    baseline_id  uuid             primary key,
    provider     text             not null,
    model        text,
    deployment   text,
    metric_name  text             not null,
    p50          double precision not null,
    p95          double precision not null,
    p99          double precision not null,
    mean         double precision not null,
    sample_size  integer          not null,
    source       text             not null check (source in ('profile', 'passive')),
    run_id       uuid             references baseline_runs (run_id),
    measured_at  timestamptz      not null
);

create index provider_baselines_current on provider_baselines (provider, metric_name, measured_at desc);
