-- Per-minute request counts per model group, the SLOs' only source (SloRollup): a request is one LiteLLM call id
-- (every attempt of one proxy request, retries and fallbacks included, shares it); it is counted in the minute and the
-- model group of its first attempt, and it is a failed response when none of its attempts succeeded. Every window
-- (5 m to the 30 d budget period) is a sum over at most period / 1 min rows of one group, never a scan of llm_calls.
create table slo_minutes (
    model_group      text        not null,
    minute           timestamptz not null,
    requests         bigint      not null check (requests >= 0),
    failed_responses bigint      not null check (failed_responses >= 0 and failed_responses <= requests),
    primary key (model_group, minute)
);

-- The rollup re-derives and prunes by minute across groups.
create index slo_minutes_by_minute on slo_minutes (minute);

-- Where the rollup got to: minutes before rolled_through are derived (those newer than the settle time are derived
-- again on every run, for the attempts LiteLLM's spool delivers late). One row; the leader writes it.
create table slo_rollup_state (
    state_key      integer     primary key check (state_key = 1),
    rolled_through timestamptz not null,
    last_run       timestamptz not null
);

-- SLOs set through PUT /api/v1/slos/{modelGroup}; a model group without a row has the configured default.
create table slo_targets (
    model_group         text             primary key,
    availability_target double precision not null check (availability_target >= 0.5 and availability_target <= 0.99999),
    period_seconds      bigint           not null check (period_seconds >= 3600 and period_seconds <= 7776000),
    latency_target_ms   double precision check (latency_target_ms > 0),
    latency_quantile    double precision check (latency_quantile > 0 and latency_quantile < 1),
    updated_at          timestamptz      not null
);
