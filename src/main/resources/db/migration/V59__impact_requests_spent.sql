-- A failed response spends its group's error budget only when its last attempt failed on the service's side
-- (SloRollup.SERVICE_FAILURE; README "SLOs and error budgets"): a caller's own 4xx (a context overflow, an unknown
-- virtual key) does not. Each folded request keeps whether it spends; existing fold state lacks it: it is dropped,
-- and the next assessment folds anew. The stored slo_minutes keep their counts until the rollup derives them again.
delete from impact_state;
alter table impact_requests add column spent boolean not null default false;
