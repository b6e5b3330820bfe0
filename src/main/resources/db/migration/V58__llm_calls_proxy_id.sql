-- The LiteLLM proxy that made each call (the plugin's faultline.proxy_id: FAULTLINE_PROXY_ID, else the proxy's host
-- name; README "The LiteLLM plugin"). A model group is one proxy's list of candidates, and the predictor counts a
-- group's deployments per proxy (README "Preemptive traffic policy"). Null for the calls stored before, and for
-- senders that name no proxy (older plugins, LiteLLM's generic_api logger): together they are one default proxy, so
-- a one-proxy setup counts its groups as before. Nullable and without a default: adding it rewrites no partition.
alter table llm_calls add column proxy_id text;
