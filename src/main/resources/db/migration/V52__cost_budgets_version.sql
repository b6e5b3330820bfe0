-- A version of the budgets set through the API, moved by every change to them (whichever replica or operator made
-- it): a replica reads this one row now and then instead of asking, on every ingest, whether the scopes of its calls
-- have a budget, and reloads the budgets when it moved.
create table budgets_version (
    one     boolean primary key default true check (one),
    version bigint  not null
);
insert into budgets_version (version) values (0);

create function budgets_changed() returns trigger language plpgsql as $$
begin
    update budgets_version set version = version + 1;
    return null;
end $$;

create trigger budgets_changed after insert or update or delete or truncate on budgets
    for each statement execute function budgets_changed();
