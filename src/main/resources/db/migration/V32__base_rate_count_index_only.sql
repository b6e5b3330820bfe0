-- The base-rate count of the correlation engine (a fingerprint's episodes over the lookback that grew at least as
-- large as the one it scores) filters on occurrences. The index had only (fingerprint, first_seen), so the count
-- visited the heap once per episode counted: 277 heap blocks for 290 episodes of a busy fingerprint (make bench).
-- With occurrences in the index it is an index-only scan wherever the visibility map is set, which autovacuum does
-- for the days-old episodes that make up most of a lookback. An update of failure_events is never HOT (last_seen,
-- which every fold moves, is indexed), so the wider entry adds no index writes.
drop index failure_events_fingerprint_onset;
create index failure_events_fingerprint_onset on failure_events (fingerprint, first_seen) include (occurrences);
