-- Where a cluster absorbed by a merge went (FailureCorrelationEngine: its members and edges move to the older
-- cluster and its row goes), so that its address answers with the cluster that absorbed it, a permanent redirect
-- naming it (README: "Correlation", the API table), where it was a bare 404. Kept flat: a cluster absorbed in turn
-- hands its own absorbed clusters on to its heir, so one read finds the survivor. Pruned by Retention with the calls.
create table correlation_merges (
    cluster_id uuid primary key,
    merged_into uuid not null,
    merged_at timestamptz not null
);

create index correlation_merges_merged_into on correlation_merges (merged_into);
create index correlation_merges_merged_at on correlation_merges (merged_at);
