-- Retrieval indexes an operator registered (PUT /api/v1/retrieval-indexes/{name}). Retrieval samples that calls carry
-- in requester_metadata (written by the caller) count only for these: anyone holding a LiteLLM key could otherwise
-- fake or hide a quality drop of any index, or push real indexes out of the in-memory cap with invented names.
create table retrieval_indexes (
    index_name    text        primary key,
    registered_at timestamptz not null
);

-- Expectations a call carried used to be believed (source 'metadata'): they were written by callers, so they go.
delete from batches where source = 'metadata';

-- The retention job deletes episode rows by age; these keep it from scanning whole tables.
create index budget_alerts_crossed on budget_alerts (crossed_at);
create index batch_alerts_crossed on batch_alerts (crossed_at);
