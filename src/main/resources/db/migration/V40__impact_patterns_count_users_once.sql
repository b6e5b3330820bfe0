-- Failure patterns (the episodes of one fingerprint together, README: "Impact") with each user counted once: a user
-- whom three episodes of one fingerprint hit is one affected user of the pattern, not three, and the users' term of
-- the total follows. Exact over the episodes whose impact state is kept (impact_distinct); an episode whose state
-- was pruned adds the count it stored. Requests are not merged: an episode's requests are its own but for a request
-- whose attempts straddle two episodes of one fingerprint. The ranked list (ImpactResource) and the impact dashboard
-- both read patterns here, for the episodes last seen in [active_from, active_to].
create function impact_patterns(active_from timestamptz, active_to timestamptz)
returns table (fingerprint text, provider text, category text, model_group text, episodes integer,
               first_seen timestamptz, last_seen timestamptz, affected_requests bigint, failed_responses bigint,
               affected_users bigint, total_usd double precision, cost_usd double precision,
               failed_responses_usd double precision, users_usd double precision, error_budget_usd double precision,
               cost_impact_usd double precision)
language sql stable as $$
    select p.fingerprint, p.provider, p.category, p.model_group, p.episodes, p.first_seen, p.last_seen, p.req,
           p.failed, u.users, p.total - p.users_usd + x.users_usd, p.cost, p.failed_usd, x.users_usd, p.budget_usd,
           p.cost_impact
    from (select i.fingerprint, min(i.provider) provider, min(i.category) category, min(i.model_group) model_group,
                 count(*)::int episodes, min(i.first_seen) first_seen, max(i.last_seen) last_seen,
                 sum(i.affected_requests)::bigint req, sum(i.failed_responses)::bigint failed,
                 sum(i.affected_users)::bigint summed_users, array_agg(i.subject_id) subjects,
                 sum(i.affected_users) filter (where s.subject_id is null)::bigint pruned_users,
                 sum(i.total_impact_usd) total, sum(i.cost_impact_usd) cost_impact,
                 sum((i.assessment -> 'total' ->> 'costUsd')::double precision) cost,
                 sum((i.assessment -> 'total' ->> 'failedResponsesUsd')::double precision) failed_usd,
                 sum((i.assessment -> 'total' ->> 'usersUsd')::double precision) users_usd,
                 sum((i.assessment -> 'total' ->> 'errorBudgetUsd')::double precision) budget_usd
          from failure_impacts i left join impact_state s on s.subject_id = i.subject_id
          where i.subject_kind = 'episode' and i.last_seen >= active_from and i.last_seen <= active_to
          group by i.fingerprint) p
    cross join lateral (select (select count(distinct d.value) from impact_distinct d
                                where d.dim = 'u' and d.subject_id = any (p.subjects))
                               + coalesce(p.pruned_users, 0) users) u
    -- Each episode's users' term is its users times the price it was assessed at: scaled to the users counted once.
    cross join lateral (select case when p.summed_users > 0 then p.users_usd * u.users / p.summed_users
                                    else p.users_usd end users_usd) x
$$;
