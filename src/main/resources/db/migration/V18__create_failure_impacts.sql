-- Failure impact (FailureImpactAssessor). The prices per token LiteLLM's model map gave each call, so that a
-- fallback's extra cost is priced exactly as the payloads priced it (README: "Impact").
alter table llm_calls add column input_cost_per_token double precision;
alter table llm_calls add column output_cost_per_token double precision;

-- One assessment per episode or correlation cluster, refreshed while it is open.
create table failure_impacts (
    subject_id          uuid             primary key,
    subject_kind        text             not null check (subject_kind in ('episode', 'cluster')),
    fingerprint         text,
    provider            text,
    category            text,
    model_group         text,
    first_seen          timestamptz      not null,
    last_seen           timestamptz      not null,
    assessed_at         timestamptz      not null,
    affected_requests   bigint           not null,
    failed_responses    bigint           not null,
    affected_users      bigint           not null,
    cost_impact_usd     double precision not null,
    budget_consumed     double precision,
    total_impact_usd    double precision not null,
    assessment          jsonb            not null
);

create index failure_impacts_rank on failure_impacts (last_seen desc, total_impact_usd desc);
create index failure_impacts_total on failure_impacts (total_impact_usd desc);
