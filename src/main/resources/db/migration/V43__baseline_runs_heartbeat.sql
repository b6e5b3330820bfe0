-- A running baseline run's replica writes the time here every 10 seconds. A replica that starts, or admits a run,
-- releases only the runs whose replica stopped beating: releasing every running run at start also released the runs
-- another replica was still sending, which lifted their provider's lock and the caps on paid traffic.
alter table baseline_runs add column heartbeat_at timestamptz;
