-- The indexes each ingestion pipeline feeds, as its runs name them (optional `indexes` of an ingestion signal).
-- It is what links a failed ingestion to the stale index, retrieval drop and unfaithful answers on an index it feeds
-- (CausalChains). A pair reported again moves last_reported_at; the causal chain only trusts pairs reported within
-- its lookback before the failure, so a pipeline that stopped feeding an index stops being blamed for it.
create table ingestion_pipeline_indexes (
    pipeline          text        not null,
    index_name        text        not null,
    first_reported_at timestamptz not null,
    last_reported_at  timestamptz not null,
    primary key (pipeline, index_name)
);

-- From an index to the pipelines feeding it (the chain found from the stale index or the quality episode's side).
create index ingestion_pipeline_indexes_by_index on ingestion_pipeline_indexes (index_name, pipeline);
