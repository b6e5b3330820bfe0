-- The prediction list pages on (created_at, prediction_id), a key that never changes: on updated_at, which every
-- tick renews for each active row, a walk over the pages that spanned a tick skipped the rest.
create index failure_predictions_newest on failure_predictions (created_at desc, prediction_id desc);
