-- A DELETE of a baseline run can reach a replica that does not send it: it records the cancel here, and the replica
-- sending the run reads it at its next heartbeat and stops.
alter table baseline_runs add column cancel_requested boolean not null default false;
