-- How far the impact run has looked for attempts received (llm_calls.received_at) of closed subjects' requests
-- (README "Impact"): the next run reads from here, less fold-overlap, so that an attempt received while no run ran
-- (every replica down, a pause) is still found. Before, a run read only the last two intervals. One row; the run
-- writes it in its transaction.
create table impact_run_state (
    state_key        integer     primary key check (state_key = 1),
    attempts_through timestamptz not null
);
