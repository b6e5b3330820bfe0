-- A slow answered request spends the latency budget of the model group of its request's first attempt (README
-- "Impact"), as the SLO rollup counts it, not the subject's: a fallback deployment's episode holds requests that began
-- in other groups. The answered requests are counted per first group and latency bucket in impact_distinct (dim 'l',
-- value 'bucket:group', refs = requests). And a request whose first attempt names no model group is the model's, as
-- the rollup counts it (first_group). Existing fold state lacks both: it is dropped, and the next assessment folds
-- anew.
delete from impact_state;
