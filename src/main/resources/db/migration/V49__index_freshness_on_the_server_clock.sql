-- An index's last update on the server's clock: the reporter's lastUpdatedAt moved by the report's skew (its receipt
-- on the server's clock less its `at` on the reporter's). The scheduled check measures age on it: measured from the
-- reporter's timestamp, a reporter clock 10 minutes behind made every index 10 minutes older than it was.
alter table index_freshness add column updated_seen_at timestamptz;
update index_freshness set updated_seen_at = last_updated_at;
alter table index_freshness alter column updated_seen_at set not null;
