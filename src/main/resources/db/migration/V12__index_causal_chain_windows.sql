-- Index-backed windows of the causal chains (CausalChains), never a scan of history:
-- the retrieval samples of one index over a period (calls that carry the index in their metadata),
create index if not exists data_signals_subject_window on data_signals (kind, subject, at);
-- and an episode's calls by time (its most recent calls, or those after a budget crossing).
create index if not exists failure_event_calls_episode_seen on failure_event_calls (failure_id, seen_at);
