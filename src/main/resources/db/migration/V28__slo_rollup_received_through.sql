-- The SLO rollup re-derives only the minutes that calls received since its last run touch (SloRollup): it keeps how
-- far it has read by arrival time, and the snapshot its last incremental run started from (a call received before
-- then that the snapshot already showed was derived by that run; one it did not show committed late and is read
-- again). Both null until the first run after this migration, which re-derives the settle window as before.
alter table slo_rollup_state add column received_through timestamptz;
alter table slo_rollup_state add column snapshot text;
