-- The impact run finds closed episodes and clusters whose requests got an attempt after their last assessment (a
-- fallback the plugin's spool delivered late): from the calls received since its previous run to the subjects that
-- hold them.
create index impact_requests_call on impact_requests (call_id);
