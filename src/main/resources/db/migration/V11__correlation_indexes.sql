-- The correlation engine follows an episode's most recent calls through their traces ("order by seen_at desc
-- limit N"). With only the primary key (failure_id, call_id), a 429 storm's episode read and sorted all of its
-- thousands of calls each time it changed; this index hands over the newest N directly (make bench: bench/RESULTS.md).
create index failure_event_calls_recent on failure_event_calls (failure_id, seen_at desc);
