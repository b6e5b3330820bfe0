-- Failures classified from stored calls, committed in the same transaction as the calls and deleted once folded
-- into episodes. Folding runs after that commit, combined across concurrent requests; if Faultline dies in between,
-- the recovery job folds what is left here, so a classified failure is never lost.
create table failure_inbox (
    failure_id       uuid        primary key,
    category         text        not null,
    type             text        not null,
    severity         text        not null,
    provider         text        not null,
    deployment       text,
    detection_method text        not null,
    evidence         jsonb       not null,
    occurred_at      timestamptz not null,
    call_id          text,
    user_ref         text,
    model            text,
    model_group      text,
    team_id          text,
    created_at       timestamptz not null default now()
);

create index failure_inbox_age on failure_inbox (created_at);
