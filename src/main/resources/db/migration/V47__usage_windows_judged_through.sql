-- Where the usage windows' tick last judged through: every window that ended before it was judged and raised what it
-- showed. A restart reads the windows back from llm_calls and judges again silently only those; a window that ended
-- after it (closed shortly before the restart, before a tick) had not been judged and is judged aloud, where before
-- every window read back was judged silently and such a window never raised.
create table usage_window_state (
    state_key       smallint    primary key check (state_key = 1),
    judged_through  timestamptz not null
);
