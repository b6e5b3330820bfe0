-- One row per LLM call LiteLLM logged. Time-partitioned by day (PartitionMaintenance creates partitions ahead
-- and drops those past retention); the default partition catches calls outside the prepared range, e.g. backfills.
-- The primary key must contain the partition key; a LiteLLM call id always comes with the same start time, so
-- (call_id, started_at) is the idempotency key of a resend.
create table llm_calls (
    call_id            text             not null,
    started_at         timestamptz      not null,
    ended_at           timestamptz      not null,
    trace_id           text,
    provider           text             not null,
    model              text,
    model_group        text,
    deployment         text             not null,
    api_base           text,
    call_type          text,
    stream             boolean          not null,
    success            boolean          not null,
    http_status        integer,
    error_class        text,
    error_code         text,
    error_message      text,
    latency_ms         double precision not null,
    ttft_ms            double precision,
    prompt_tokens      bigint           not null,
    completion_tokens  bigint           not null,
    reasoning_tokens   bigint           not null,
    cached_tokens      bigint           not null,
    cost_usd           double precision not null,
    cache_hit          boolean,
    finish_reason      text,
    response_chars     integer          not null,
    user_ref           text,
    team_id            text,
    api_key_hash       text,
    rate_limit_headers jsonb            not null,
    requester_metadata jsonb            not null,
    received_at        timestamptz      not null,
    primary key (call_id, started_at)
) partition by range (started_at);

create table llm_calls_default partition of llm_calls default;

create index llm_calls_provider_time on llm_calls (provider, started_at);
create index llm_calls_deployment_time on llm_calls (deployment, started_at);
