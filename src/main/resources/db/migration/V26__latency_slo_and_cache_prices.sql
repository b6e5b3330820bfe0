-- Latency SLOs (README: "SLOs and error budgets"). Per minute and model group, a cumulative latency histogram of the
-- answered requests (a request is answered when one of its attempts succeeded; its latency is end to end: from its
-- first attempt's start to its last attempt's end, what the user waited for the answer): latency_le[i] counts those
-- within LatencyBuckets.EDGES_MS[i] (100, 250, 500, 750 ms, 1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 15, 20, 30, 45, 60,
-- 90, 120, 300, 600 s) and the last element every answered request. Any target is evaluated from it (at the largest
-- edge not above the target: exact there), so changing a target needs no recount. Minutes rolled before this
-- migration have none (null) and count towards no latency SLO.
alter table slo_minutes add column latency_le bigint[] check (latency_le is null or cardinality(latency_le) = 23);

-- The cached prompt token's price LiteLLM's model map gave each call (model_map_value.cache_read_input_token_cost):
-- what a cache-miss storm's missed tokens would have cost had they hit (README: "Impact").
alter table llm_calls add column cache_read_cost_per_token double precision;

-- An episode's answered requests by end-to-end latency, the same histogram as slo_minutes (its latency budget share).
-- Existing fold state lacks them: it is dropped, and the next assessment of each subject folds it anew.
delete from impact_state;
alter table impact_requests add column latency_us bigint;
alter table impact_state add column latency_le bigint[] not null default array_fill(0::bigint, array[23]);
