-- The LLM-as-judge faithfulness check's spend per UTC day, shared by all replicas: a judge call is reserved here
-- (calls + 1, its assumed cost) before it is sent, under the configured caps, and settled at its real cost after.
create table faithfulness_judge_spend (
    day      date primary key,
    calls    integer          not null,
    cost_usd double precision not null
);
