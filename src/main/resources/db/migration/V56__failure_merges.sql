-- Where an episode absorbed by a merge went (EpisodeStore: a late failure whose time lies within the dedup window of
-- two stored episodes of its fingerprint joins them; the older survives, the newer's calls, users, counts,
-- correlation memberships and edges and alerts move to it and its row goes), so that its address answers with the
-- episode that absorbed it, a permanent redirect naming it, as a merged cluster's does (V53). Kept flat: an episode
-- absorbed in turn hands its own absorbed episodes on to its heir. Pruned by Retention with the calls.
create table failure_merges (
    failure_id  uuid primary key,
    merged_into uuid not null,
    merged_at   timestamptz not null
);

create index failure_merges_merged_into on failure_merges (merged_into);
create index failure_merges_merged_at on failure_merges (merged_at);

-- A merge re-points the absorbed episode's cost alerts: by index, not a scan of every alert raised.
create index budget_alerts_failure on budget_alerts (failure_id);
create index batch_alerts_failure on batch_alerts (failure_id);
