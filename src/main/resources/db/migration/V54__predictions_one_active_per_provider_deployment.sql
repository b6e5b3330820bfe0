-- A deployment is its provider's: LiteLLM's model_info.id is the operator's to choose in each proxy, so the same id
-- may name a deployment under two providers. One active prediction per (provider, deployment) and type, as the
-- predictor keys its windows, failures and hits; with the old index the two providers' predictions were one row, and
-- either provider's failure was scored as the other's hit.
drop index failure_predictions_one_active;
create unique index failure_predictions_one_active on failure_predictions (provider, deployment, predicted_type)
    where status = 'active' and deployment <> '*';
