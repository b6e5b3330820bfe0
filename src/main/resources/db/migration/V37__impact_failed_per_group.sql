-- A failed response spends the error budget of the model group of its request's first attempt (README "Impact"),
-- not the subject's: a fallback deployment's overload episode holds requests that began in other groups. Each
-- request's first group is kept with it; the failed ones are counted per group in impact_distinct (dim 'g', refs =
-- failed requests). Existing fold state lacks them: it is dropped, and the next assessment folds anew.
delete from impact_state;
alter table impact_requests add column first_group text;
