-- What the Prometheus counters failure_impact_cost_usd_total and failure_impact_affected_users_total have counted
-- of each episode: the most its figures ever reached. A re-assessment adds only what goes beyond it, so a figure that
-- fell (a late free fallback) and rose again is not counted twice. Existing rows counted up to their current figures.
alter table failure_impacts add column counted_cost_usd double precision;
alter table failure_impacts add column counted_users bigint;
update failure_impacts set counted_cost_usd = cost_impact_usd, counted_users = affected_users
    where subject_kind = 'episode';
