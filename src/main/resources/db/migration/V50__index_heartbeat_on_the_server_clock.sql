-- When the newest report of an index was received, on the server's clock. The scheduled check measures a heartbeat's
-- silence from it: measured from the reporter's `at`, a reporter clock 10 minutes behind made every silence 10 minutes
-- longer, and a report every 25 minutes against a 30-minute timeout raised heartbeat_missing before every report.
-- heartbeat_raised_for now remembers the receipt a silence followed; the rows' existing marks are report times, which
-- the receipts start from here.
alter table index_freshness add column last_report_seen_at timestamptz;
update index_freshness set last_report_seen_at = last_report_at;
alter table index_freshness alter column last_report_seen_at set not null;
