-- A cluster's token-spike members each price the flagged calls on their own deployment against their own p99
-- (SpikeRule, README: "Impact"): one p99 per subject no longer says what was folded. The state keeps the rule's
-- encoded form; a state folded under the old column folds anew once (its rule reads as '').
alter table impact_state add column spike_rule text not null default '';
alter table impact_state drop column spike_p99;
