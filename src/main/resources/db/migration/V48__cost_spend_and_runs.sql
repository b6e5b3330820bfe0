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

-- The judge's daily cost cap across replicas: a call is reserved at the highest cost a judge call was settled at
-- that day (or the assumed cost, if higher), and while no call of the day has been priced and the assumed cost is 0,
-- only one call may be out at a time (until unpriced_until, its timeout: a replica that died with it out holds the
-- others back no longer). At an assumed cost of 0 each replica passed the cap by a call.
alter table faithfulness_judge_spend add column max_call_usd double precision,
    add column unpriced_until timestamptz;

-- A batch id reused by each run of a job (nightly-embed every night) is judged per run: calls more than
-- faultline.cost.batch-run-gap after the batch's previous call start a new run, whose spend starts from zero and whose
-- thresholds fire again. An alert is of one run; an alert stored before runs existed is of the run it was raised in.
alter table batch_alerts add column run_start timestamptz not null default '-infinity';
alter table batch_alerts drop constraint batch_alerts_pkey;
alter table batch_alerts add primary key (batch_id, expected_cost_usd, threshold, run_start);
