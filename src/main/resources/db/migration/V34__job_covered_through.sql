-- How far a job that judges windows of time has judged them (the deviation check: the end of the last window it
-- checked successfully). A check that could not run (the database away, every replica down) leaves it behind, and
-- the next one judges the windows it missed with the calls delivered since, dated as they would have been.
alter table scheduled_job_runs add column covered_through timestamptz;
