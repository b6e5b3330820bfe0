-- Deployments seen per provider, so that severity can tell "one deployment fails" from "all of them do".
create table provider_deployments (
    provider   text        not null,
    deployment text        not null,
    last_seen  timestamptz not null,
    primary key (provider, deployment)
);
