-- Budgets set through the API (configured budgets live in application.properties; a row here overrides one with the
-- same scope and id). Spend is not stored: it is rebuilt from llm_calls, the one source every replica shares.
create table budgets (
    scope       text             not null check (scope in ('team', 'key', 'user', 'model')),
    scope_id    text             not null,
    period      text             not null check (period in ('day', 'month')),
    amount_usd  double precision not null check (amount_usd > 0),
    -- null: the configured faultline.cost.warn-at fractions
    warn_at     double precision[],
    updated_at  timestamptz      not null,
    primary key (scope, scope_id)
);

-- One row per threshold that fired, so that neither a restart's rebuild nor a second replica raises it again.
-- The amount is part of the key: raising a budget re-arms its warnings, re-sending the same PUT does not.
create table budget_alerts (
    scope        text             not null,
    scope_id     text             not null,
    period       text             not null,
    period_start timestamptz      not null,
    amount_usd   double precision not null,
    threshold    double precision not null,
    spent_usd    double precision not null,
    crossed_at   timestamptz      not null,
    failure_id   uuid             not null,
    primary key (scope, scope_id, period, period_start, amount_usd, threshold)
);

-- Expected cost of a batch job, from PUT /api/v1/batches/{id} (source 'api', wins) or from the first call whose
-- requester_metadata carried batch_expected_cost_usd (source 'metadata').
create table batches (
    batch_id          text             primary key,
    expected_cost_usd double precision not null check (expected_cost_usd > 0),
    source            text             not null check (source in ('api', 'metadata')),
    created_at        timestamptz      not null,
    updated_at        timestamptz      not null
);

create index batches_updated on batches (updated_at);

create table batch_alerts (
    batch_id          text             not null,
    expected_cost_usd double precision not null,
    threshold         double precision not null,
    spent_usd         double precision not null,
    crossed_at        timestamptz      not null,
    failure_id        uuid             not null,
    primary key (batch_id, expected_cost_usd, threshold)
);

-- A batch's spend is rebuilt from its calls. Partial, so untagged calls (most of them) cost the index nothing; the
-- expression must stay identical to the one CostStore queries with (batch_id first, then job_id).
create index llm_calls_batch on llm_calls ((coalesce(requester_metadata ->> 'batch_id', requester_metadata ->> 'job_id')))
    where coalesce(requester_metadata ->> 'batch_id', requester_metadata ->> 'job_id') is not null;
