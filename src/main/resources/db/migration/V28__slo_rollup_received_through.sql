-- The SLO rollup re-derives only the minutes that calls received since its last run touch (SloRollup): it keeps how
-- far it has read by arrival time. Null until the first run after this migration, which re-derives the settle window
-- as before and starts from there.
alter table slo_rollup_state add column received_through timestamptz;
