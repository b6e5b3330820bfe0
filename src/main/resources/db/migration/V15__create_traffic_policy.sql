-- The traffic policy (TrafficPolicy): per deployment the share of requests LiteLLM may still route to it, published at
-- GET /api/v1/traffic-policy and applied by the plugin's routing hook. A deployment without a row keeps all its
-- traffic. Rows are written by the prediction tick's leader (state reduced / recovering) or by an operator (pinned).
create table traffic_policy (
    deployment      text             primary key,
    provider        text             not null,
    model_group     text,
    keep_share      double precision not null check (keep_share >= 0 and keep_share <= 1),
    state           text             not null check (state in ('reduced', 'recovering', 'pinned')),
    reason          text             not null,
    prediction_id   uuid,
    predicted_type  text,
    confidence      double precision,
    since           timestamptz      not null,
    -- reduced: the prediction's horizon end; recovering: the next step up; pinned: the operator's end (null: none).
    until           timestamptz,
    -- The first tick at which no prediction of this deployment fired any more (recovery waits for healthy-for).
    healthy_since   timestamptz,
    -- The model group had only this deployment in the predictor's window (the plugin then leaves it alone).
    sole_deployment boolean          not null default false,
    updated_at      timestamptz      not null
);

-- Every change of the policy, by the predictor or an operator: GET /api/v1/traffic-policy/actions.
create table traffic_policy_actions (
    action_id         uuid             primary key,
    at                timestamptz      not null,
    deployment        text             not null,
    action            text             not null check (action in ('reduce', 'deepen', 'step_up', 'restore', 'pin',
                                                                  'unpin', 'expire')),
    keep_share_before double precision not null,
    keep_share_after  double precision not null,
    prediction_id     uuid,
    reason            text             not null,
    actor             text             not null check (actor in ('predictor', 'operator'))
);

create index traffic_policy_actions_recent on traffic_policy_actions (at desc, action_id desc);
create index traffic_policy_actions_deployment on traffic_policy_actions (deployment, at desc, action_id desc);
