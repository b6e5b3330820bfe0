-- The hourly retention job (Retention) deletes by age. A delete whose time column leads no index read the whole table
-- at every run: data signals (only (kind, at): every kind's range read whole), observed failures, the new deletes of
-- predictions (by horizon end, whatever their status) and passive baselines, and closed clusters and the calls of the
-- default partition, whose only indexes lead with a status, a provider or a deployment. RetentionPlansTest checks
-- every retention delete's plan.
create index data_signals_at on data_signals (at);
create index observed_failures_last_seen on observed_failures (last_seen);
create index failure_predictions_horizon on failure_predictions (horizon_ends_at);
create index provider_baselines_passive_measured on provider_baselines (measured_at) where source = 'passive';
create index correlation_clusters_closed_last_seen on correlation_clusters (last_seen) where status = 'closed';
-- On the default partition only: the daily partitions are dropped whole, and their inserts pay for no extra index.
create index llm_calls_default_started_at on llm_calls_default (started_at);
