-- The failed attempt of each call an episode covers, kept with the call: its trace, when it started, its model.
-- LiteLLM gives every attempt of a request one call id, so that until now the correlation engine's trace walks looked
-- each call's attempt up among the stored calls (an index probe per call, on every step of an episode) before they
-- could follow its trace. The fold knows the attempt; the inbox carries it from the ingest to the fold.
--
-- Rows written before this migration (and by a replica of the previous version during a rolling upgrade) have no
-- call_started_at: the walks look their attempt up as before. Nothing is backfilled, so the migration is instant on
-- any size of table.
alter table failure_inbox
    add column trace_id        text,
    add column call_started_at timestamptz;

alter table failure_event_calls
    add column trace_id        text,
    add column call_started_at timestamptz,
    add column model           text;
