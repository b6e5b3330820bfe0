-- The traffic policy is keyed on (provider, deployment), as predictions are (V54): LiteLLM's model_info.id is each
-- proxy operator's to choose, and the policy is one for every proxy. Keyed on the id alone, a prediction for proxy
-- B's Azure `primary` thinned proxy A's healthy OpenAI `primary`, and the two providers' entries were one row.
alter table traffic_policy drop constraint traffic_policy_pkey;

-- Pins set before any call of their deployment were stored with provider 'unknown' (and then thinned every proxy's
-- deployment of that id). Where calls have been seen since, the pin becomes the pin of each provider seen: of the
-- only one, or one copy per provider (what it thinned before, now named).
update traffic_policy t set provider = d.provider
from (select deployment, min(provider) as provider from provider_deployments group by deployment
      having count(*) = 1) d
where t.provider = 'unknown' and t.state = 'pinned' and d.deployment = t.deployment;

insert into traffic_policy (deployment, provider, model_group, keep_share, state, reason, prediction_id,
                            predicted_type, confidence, since, until, healthy_since, sole_deployment, updated_at)
select t.deployment, d.provider, t.model_group, t.keep_share, t.state, t.reason, t.prediction_id, t.predicted_type,
       t.confidence, t.since, t.until, t.healthy_since, t.sole_deployment, t.updated_at
from traffic_policy t join provider_deployments d on d.deployment = t.deployment and d.provider <> 'unknown'
where t.provider = 'unknown' and t.state = 'pinned';

delete from traffic_policy t
where t.provider = 'unknown' and t.state = 'pinned'
  and exists (select 1 from provider_deployments d where d.deployment = t.deployment and d.provider <> 'unknown')
  and not exists (select 1 from provider_deployments d where d.deployment = t.deployment and d.provider = 'unknown');

alter table traffic_policy add primary key (provider, deployment);

-- Every change names its provider. Backfilled from the prediction that made it, else from the one entry of its
-- deployment in the policy, else from the one provider its deployment's calls came from; null where none tells.
alter table traffic_policy_actions add column provider text;

update traffic_policy_actions a set provider = p.provider
from failure_predictions p
where a.prediction_id = p.prediction_id;

update traffic_policy_actions a set provider = t.provider
from (select deployment, min(provider) as provider from traffic_policy group by deployment having count(*) = 1) t
where a.provider is null and a.deployment = t.deployment;

update traffic_policy_actions a set provider = d.provider
from (select deployment, min(provider) as provider from provider_deployments group by deployment
      having count(*) = 1) d
where a.provider is null and a.deployment = d.deployment;

-- A pin still 'unknown' names a deployment no call was ever seen from (a pin at 0 ahead of its first call keeps it
-- so): it cannot say which proxy's deployment it is for, and the plugin, matching (provider, id), applies it to
-- none. It ends here, recorded as an expiry the operator sees in GET /api/v1/traffic-policy/actions; pin it again
-- with its provider (README "Preemptive traffic policy").
insert into traffic_policy_actions (action_id, at, provider, deployment, action, keep_share_before, keep_share_after,
                                    prediction_id, reason, actor)
select gen_random_uuid(), now(), t.provider, t.deployment, 'expire', t.keep_share, 1.0, null,
       'V55: pinned before any call of the deployment, so its provider was never known; pin it again with its'
           || ' provider', 'operator'
from traffic_policy t
where t.provider = 'unknown' and t.state = 'pinned'
  and not exists (select 1 from provider_deployments d where d.deployment = t.deployment);

delete from traffic_policy t
where t.provider = 'unknown' and t.state = 'pinned'
  and not exists (select 1 from provider_deployments d where d.deployment = t.deployment);

drop index traffic_policy_actions_deployment;
create index traffic_policy_actions_deployment on traffic_policy_actions (deployment, provider, at desc,
                                                                           action_id desc);
