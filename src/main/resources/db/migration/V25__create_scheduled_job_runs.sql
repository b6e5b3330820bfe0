-- The last run of every scheduled job that runs once per interval across all replicas (common/ClusterJobs, README:
-- "Two replicas"). A replica runs a job only after claiming its row with a conditional upsert: the interval (by the
-- service's clock) has passed since the stored start. Replicas ticking a few seconds apart thus run it once, not once
-- each. runs counts the claims since the row was created, across replicas.
create table scheduled_job_runs (
    job              text        primary key,
    last_started_at  timestamptz not null,
    last_finished_at timestamptz,
    owner            text        not null,
    runs             bigint      not null default 0
);
