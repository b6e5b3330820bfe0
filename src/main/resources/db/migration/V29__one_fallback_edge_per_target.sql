-- One fallback edge per cause episode and fallback target deployment. The key used to name the target's episode
-- (or the deployment while the target's calls were in no episode), so an edge written before the target's episode
-- appeared stayed beside the newer one with its first, smaller evidence, and a cluster showed both. The engine now
-- keys the edge by the target deployment and updates where it points; here the older rows of a target go and the
-- newest is given the new key.
delete from correlation_edges e
using correlation_edges n
where e.kind = 'fallback' and n.kind = 'fallback'
  and n.from_failure_id = e.from_failure_id
  and n.evidence ->> 'target_provider' is not distinct from e.evidence ->> 'target_provider'
  and n.evidence ->> 'target_deployment' is not distinct from e.evidence ->> 'target_deployment'
  and (n.updated_at, n.edge_id) > (e.updated_at, e.edge_id);

update correlation_edges
set edge_key = from_failure_id || '|fallback|' || coalesce(evidence ->> 'target_provider', '')
    || '/' || coalesce(evidence ->> 'target_deployment', '')
where kind = 'fallback';
