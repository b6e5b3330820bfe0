-- Index-backed windows of the causal chains (CausalChains), never a scan of history:
-- the retrieval samples of one index over a period (calls that carry the index in their metadata).
-- An episode's calls by time (its most recent calls, or those after a budget crossing) use
-- failure_event_calls_recent of V11, which a backward or forward scan serves alike.
create index if not exists data_signals_subject_window on data_signals (kind, subject, at);
