-- The "prevented" rule scales each tick's drain of a reduced deployment's headroom by the share of traffic the
-- policy kept during that tick (a share that stepped back up, a pin at 1.0, a deployment alone in its group count
-- as what they were), instead of scaling the whole drain since the action by the least share ever kept. The last
-- reading each tick started from, and the drain scaled back to full traffic so far.
alter table failure_predictions add column action_last_remaining double precision;
alter table failure_predictions add column action_unreduced_drain double precision;

-- Resolved predictions still in reach of a failure seen late (calls delivered after the horizon ended, or a failure
-- minute that filled up after it): a false alarm whose failure shows within its horizon becomes a hit.
create index failure_predictions_resolved_horizon on failure_predictions (horizon_ends_at)
    where status in ('false_alarm', 'prevented');
