-- A batch's latest run is found by walking back from its latest call, one probe per stretch of
-- faultline.cost.batch-run-gap, and summed over that run's calls only: a job id reused every night no longer reads
-- every night it ever ran. Covers the batch lookups of llm_calls_batch (V8), which it replaces; cost_usd is included
-- so a run's sum reads the index alone. The expression must stay identical to CostStore.BATCH_ID.
create index llm_calls_batch_ended on llm_calls
    ((coalesce(requester_metadata ->> 'batch_id', requester_metadata ->> 'job_id')), ended_at) include (cost_usd)
    where coalesce(requester_metadata ->> 'batch_id', requester_metadata ->> 'job_id') is not null;
drop index llm_calls_batch;
