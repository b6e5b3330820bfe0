-- Spend of each budget's scope per period, shared by all replicas: every ingest adds its calls here in the
-- transaction that stores them (only for a scope and period that has a budget), so an alert is judged at once against
-- what the whole cluster spent, and a budget read is one row, not a sum over the period's calls. The reconcile
-- restates it from llm_calls, which stays the source of truth.
create table budget_spend (
    scope        text             not null,
    scope_id     text             not null,
    period       text             not null,
    period_start timestamptz      not null,
    spent_usd    double precision not null,
    calls        bigint           not null,
    primary key (scope, scope_id, period, period_start)
);

-- The retention deletes the spend of periods that are over, as their calls go.
create index budget_spend_period_start on budget_spend (period_start);
