-- Provider-level predictions (README "Prediction", provider level): a prediction over all of a provider's
-- deployments is stored with deployment '*'. One active row per deployment and type stays the rule for deployment
-- rows; provider rows are one active row per provider and type (several providers each hold a '*' row, so the old
-- index on (deployment, predicted_type) would let only one of them be active).
drop index failure_predictions_one_active;
create unique index failure_predictions_one_active on failure_predictions (deployment, predicted_type)
    where status = 'active' and deployment <> '*';
create unique index failure_predictions_one_active_provider on failure_predictions (provider, predicted_type)
    where status = 'active' and deployment = '*';
-- The hit and announcement lookups of a provider row join the failures of the provider's deployments.
create index observed_failures_provider on observed_failures (provider, failure_type, onset);
