-- Correlation runs off the ingest request (issue 11): the fold records "episode X changed" here, in its own
-- transaction, and a drain job correlates the pending episodes and deletes their rows in the correlation's
-- transaction. A row survives a crash or a restart until an episode's correlation commits; one row per episode
-- however often it changes before the drain gets to it.
create sequence correlation_queue_seq;

create table correlation_queue (
    failure_id    uuid primary key,
    -- Bumped on every change: the drain deletes a row only if no change arrived since it read it.
    seq           bigint not null,
    -- First change not yet correlated: the backlog's age, and the drain's order.
    pending_since timestamptz not null,
    -- Failed correlation steps since the last change, the earliest time of the next attempt, and the last error:
    -- a failing episode backs off and, after faultline.correlate.max-attempts, waits for its next change.
    attempts      int not null default 0,
    not_before    timestamptz not null,
    last_error    text
);

create index correlation_queue_due on correlation_queue (pending_since, failure_id);
