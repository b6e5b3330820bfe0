-- Failure predictions (FailurePredictor): one row per prediction. A deployment holds at most one ACTIVE prediction
-- per failure type, renewed by every tick that still sees the risk (horizon_ends_at moves on), so rows do not pile
-- up. When the horizon ends, or the failure shows earlier, the row is resolved: hit, false_alarm or prevented.
create table failure_predictions (
    prediction_id      uuid             primary key,
    predicted_type     text             not null,
    provider           text             not null,
    deployment         text             not null,
    model_group        text,
    confidence         double precision not null check (confidence >= 0 and confidence <= 1),
    peak_confidence    double precision not null check (peak_confidence >= 0 and peak_confidence <= 1),
    time_to_failure_ms bigint           not null,
    recommended_action text             not null,
    indicators         jsonb            not null,
    created_at         timestamptz      not null,
    updated_at         timestamptz      not null,
    horizon_ms         bigint           not null,
    horizon_ends_at    timestamptz      not null,
    status             text             not null check (status in ('active', 'hit', 'false_alarm', 'prevented')),
    resolved_at        timestamptz,
    failure_onset      timestamptz,
    lead_time_ms       bigint,
    -- What the traffic policy did on this prediction, for the "prevented" rule (README: "Accuracy"): the least
    -- share of traffic it kept, since when, the remaining headroom when it acted, and when the counterfactual
    -- (the remaining traffic's consumption scaled back to the full traffic) reached the failure threshold.
    kept_share         double precision check (kept_share >= 0 and kept_share <= 1),
    action_at          timestamptz,
    action_remaining   double precision,
    counterfactual_at  timestamptz
);

create unique index failure_predictions_one_active on failure_predictions (deployment, predicted_type)
    where status = 'active';
create index failure_predictions_recent on failure_predictions (updated_at desc, prediction_id desc);
create index failure_predictions_created on failure_predictions (predicted_type, created_at);
create index failure_predictions_deployment on failure_predictions (deployment, predicted_type, created_at);

-- Failures the predictor observed in the calls it reads (its ground truth for hits and misses): a run of failure
-- minutes of one type on one deployment, merged while the gap stays under the quiet period.
create table observed_failures (
    failure_id     uuid        primary key,
    failure_type   text        not null,
    provider       text        not null,
    deployment     text        not null,
    onset          timestamptz not null,
    last_seen      timestamptz not null,
    announced_by   uuid,
    lead_time_ms   bigint
);

create index observed_failures_open on observed_failures (deployment, failure_type, last_seen desc);
create index observed_failures_onset on observed_failures (failure_type, onset);

-- The last scheduled tick, so that replicas whose schedules run at different phases evaluate once per interval.
create table failure_prediction_ticks (
    tick_key   integer     primary key,
    last_tick  timestamptz not null
);
