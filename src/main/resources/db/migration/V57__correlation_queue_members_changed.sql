-- An episode that absorbed another (EpisodeStore's merge, V56) belongs to the absorbed one's clusters and carries its
-- edges, but its correlation finds nothing new to link and only kept those clusters active: their summaries (first
-- seen, onsets, strength, root) still showed the absorbed episode. The merge queues the survivor with this flag, and
-- the drain summarises its clusters again; the row, and the flag with it, goes when the correlation commits.
alter table correlation_queue add column members_changed boolean not null default false;
