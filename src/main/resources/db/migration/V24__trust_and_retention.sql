-- Retrieval indexes an operator registered (PUT /api/v1/retrieval-indexes/{name}). Retrieval samples that calls carry
-- in requester_metadata (written by the caller) count only for these: anyone holding a LiteLLM key could otherwise
-- fake or hide a quality drop of any index, or push real indexes out of the in-memory cap with invented names.
create table retrieval_indexes (
    index_name    text        primary key,
    registered_at timestamptz not null
);

-- Expectations a call carried used to be believed (source 'metadata'): they were written by callers, so they go.
delete from batches where source = 'metadata';

-- The retention job deletes episode rows by age; these keep it from scanning whole tables.
create index budget_alerts_crossed on budget_alerts (crossed_at);
create index batch_alerts_crossed on batch_alerts (crossed_at);

-- When a user was first linked to an episode, so that the retention job can forget user ids older than the call
-- retention even while a long episode goes on. Existing links take their episode's last sighting.
alter table failure_event_users add column seen_at timestamptz;
update failure_event_users u set seen_at = e.last_seen from failure_events e where e.failure_id = u.failure_id;
alter table failure_event_users alter column seen_at set not null;
create index failure_event_users_seen on failure_event_users (seen_at);
create index failure_event_calls_seen on failure_event_calls (seen_at);
create index failure_impacts_last_seen on failure_impacts (last_seen);
create index failure_inbox_occurred on failure_inbox (occurred_at);
