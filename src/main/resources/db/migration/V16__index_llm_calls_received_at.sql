-- The prediction tick keeps its window of calls in memory and tops it up each tick with the calls received since its
-- last read (WindowCache): a late call (LiteLLM's spool delivers late) is found by when it arrived, not when it started.
-- Per partition, so the tick's `started_at >= window start` prunes the old partitions and probes only the recent ones.
create index llm_calls_received_at on llm_calls (received_at);
