"""The plugin against the real Faultline (the packaged jar on a real PostgreSQL), for the answers a stand-in fakes.

Run by PluginAgainstFaultlineIT (`make test`), which starts Faultline on an embedded PostgreSQL and sets:
  FAULTLINE_URL, FAULTLINE_API_KEY        where Faultline listens and its key
  FAULTLINE_TEST_DB_URL                   its database (a superuser URL: the tests take the database away)
  FAULTLINE_TEST_MAX_BATCH_ITEMS          the service's faultline.ingest.max-batch-items
Without them the module fails to import, so it can never pass by skipping. `make test`'s plain pytest line
leaves it out (--ignore).

Each case first checks its premise with a direct POST (that the service really answers 422, 413, 401, 503),
then drives the plugin into it and reads the database. Faultline has no rate limiter, so it never answers 429:
that case is covered by the stand-in only (test_faultline_callback.py keeps 401/408/429/5xx in the spool).
"""

import contextlib
import json
import os
import uuid

import httpx
import psycopg
from conftest import logged_payload as call
from conftest import wait_until

_REQUIRED = ("FAULTLINE_URL", "FAULTLINE_API_KEY", "FAULTLINE_TEST_DB_URL", "FAULTLINE_TEST_MAX_BATCH_ITEMS")
_missing = [name for name in _REQUIRED if not os.environ.get(name)]
if _missing:
    raise RuntimeError(
        f"test_against_faultline.py needs a running Faultline and its database; {_missing} not set."
        " PluginAgainstFaultlineIT runs it (mvn verify -Dit.test=PluginAgainstFaultlineIT)."
    )

URL = os.environ["FAULTLINE_URL"].rstrip("/")
KEY = os.environ["FAULTLINE_API_KEY"]
DB_URL = os.environ["FAULTLINE_TEST_DB_URL"]
MAX_ITEMS = int(os.environ["FAULTLINE_TEST_MAX_BATCH_ITEMS"])
RUN = uuid.uuid4().hex[:8]  # call ids of this run: a rerun on the same database sees only its own rows


def ids(prefix, n):
    return [f"{prefix}-{RUN}-{i}" for i in range(n)]


def log(plugin, events):
    for event in events:
        plugin.log_success_event({"standard_logging_object": event}, None, None, None)


def post(events, key=KEY):
    return httpx.post(
        f"{URL}/api/v1/calls",
        content=json.dumps(events),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=120,
    )


def rows(call_ids):
    """call_id -> rows stored for it."""
    with psycopg.connect(DB_URL) as db:
        found = db.execute(
            "select call_id, count(*) from llm_calls where call_id = any(%s) group by call_id", (list(call_ids),)
        ).fetchall()
    return dict(found)


def stored_once(call_ids):
    return rows(call_ids) == dict.fromkeys(call_ids, 1)


def dead_letters(spool_dir):
    folder = spool_dir / "dead-letter"
    return {path.name: [e["id"] for e in json.loads(path.read_text())] for path in folder.glob("*.json")}


@contextlib.contextmanager
def database_down():
    """Faultline's database refuses connections and drops the open ones, as in a failover, until the block ends."""
    admin = psycopg.conninfo.make_conninfo(DB_URL, dbname="postgres")
    name = psycopg.conninfo.conninfo_to_dict(DB_URL)["dbname"]
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'alter database "{name}" allow_connections false')
        db.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (name,))
        try:
            yield
        finally:
            db.execute(f'alter database "{name}" allow_connections true')


@contextlib.contextmanager
def database_refuses(prefix):
    """PostgreSQL refuses to store calls whose id starts with `prefix`: one bad row fails the insert of its batch."""
    with psycopg.connect(DB_URL, autocommit=True) as db:
        db.execute(
            f"""create or replace function refuse_{RUN}() returns trigger language plpgsql as $$
                begin
                  if new.call_id like '{prefix}%' then raise exception 'refused %', new.call_id; end if;
                  return new;
                end $$"""
        )
        db.execute(
            f"create trigger refuse_{RUN} before insert on llm_calls for each row execute function refuse_{RUN}()"
        )
        try:
            yield
        finally:
            db.execute(f"drop trigger refuse_{RUN} on llm_calls")
            db.execute(f"drop function refuse_{RUN}()")


def plugin_for(make_plugin, **overrides):
    # A freshly started Faultline takes seconds over its first batches; a shorter timeout would only add resends.
    settings = {"api_key": KEY, "batch_size": MAX_ITEMS, "timeout_s": 120.0, **overrides}
    return make_plugin(URL, **settings)


def test_calls_are_stored_once_and_a_resend_is_answered_as_duplicates(make_plugin, tmp_path):
    events = [call(i) for i in ids("once", 3 * MAX_ITEMS)]
    first = plugin_for(make_plugin)

    log(first, events)

    assert first.flush(timeout=120.0)
    assert first.stats()["accepted"] + first.stats()["duplicates"] == len(events)
    assert stored_once([e["id"] for e in events])
    again = plugin_for(make_plugin, spool_dir=str(tmp_path / "other-spool"))
    log(again, events)
    assert again.flush(timeout=120.0)
    assert (again.stats()["accepted"], again.stats()["duplicates"]) == (0, len(events))
    assert stored_once([e["id"] for e in events])


def test_a_batch_refused_whole_with_422_is_dead_lettered_and_later_calls_flow(make_plugin, spool_dir):
    premise = post([call(f"premise-422-{RUN}", status="weird")])
    assert premise.status_code == 422, premise.text
    assert premise.headers["content-type"].startswith("application/problem+json")
    bad = [call(i, status="weird") for i in ids("weird", 3)]
    good = [call(i) for i in ids("after-weird", 3)]
    plugin = plugin_for(make_plugin, batch_size=3, flush_interval_s=60.0)

    log(plugin, bad + good)

    wait_until(lambda: stored_once([e["id"] for e in good]), what="the good batch stored", poll=0.2)
    assert plugin.flush(timeout=120.0)
    assert plugin.stats()["dead_lettered"] == 3
    assert "422" in plugin.stats()["last_error"]
    ((name, dead),) = dead_letters(spool_dir).items()
    assert "-invalid-" in name
    assert dead == [e["id"] for e in bad]
    assert rows([e["id"] for e in bad]) == {}


def test_one_invalid_call_is_rejected_by_index_and_the_rest_of_its_batch_is_stored(make_plugin, spool_dir):
    first, odd, last = ids("mixed", 3)
    plugin = plugin_for(make_plugin, batch_size=3, flush_interval_s=60.0)

    log(plugin, [call(first), call(odd, status="weird"), call(last)])

    assert plugin.flush(timeout=120.0)
    assert stored_once([first, last])
    assert rows([odd]) == {}
    assert (plugin.stats()["accepted"], plugin.stats()["rejected"]) == (2, 1)
    ((name, dead),) = dead_letters(spool_dir).items()
    assert "-rejected-" in name
    assert dead == [odd]


def test_a_batch_over_faultlines_item_limit_is_answered_413_and_split_until_it_fits(make_plugin, caplog):
    premise = post([call(i) for i in ids("premise-413", MAX_ITEMS + 1)])
    assert premise.status_code == 413, premise.text
    events = [call(i) for i in ids("large", 4 * MAX_ITEMS)]
    plugin = plugin_for(make_plugin, batch_size=len(events), flush_interval_s=60.0)

    with caplog.at_level("INFO", logger="faultline"):
        log(plugin, events)
        assert plugin.flush(timeout=120.0)

    assert stored_once([e["id"] for e in events])
    assert plugin.stats()["dead_lettered"] == 0
    assert any("too large for Faultline, splitting it" in r.getMessage() for r in caplog.records)


def test_a_wrong_key_is_answered_401_and_the_calls_wait_in_the_spool_until_the_key_is_right(make_plugin):
    assert post([call(f"premise-401-{RUN}")], key="not-the-key").status_code == 401
    events = [call(i) for i in ids("key", 4)]
    wrong = plugin_for(make_plugin, api_key="not-the-key")

    log(wrong, events)

    wait_until(lambda: wrong.stats()["spool_files"] >= 1 and wrong.stats()["queued"] == 0, what="a spooled batch")
    assert "401" in wrong.stats()["last_error"]
    assert wrong.stats()["dead_lettered"] == 0
    assert rows([e["id"] for e in events]) == {}
    wrong.close()
    right = plugin_for(make_plugin)  # the same spool folder, as after fixing the key and restarting the proxy
    assert right.flush(timeout=120.0)
    assert stored_once([e["id"] for e in events])


def test_while_the_database_is_down_faultline_answers_503_and_every_call_arrives_once_it_is_back(
    make_plugin, spool_dir
):
    events = [call(i) for i in ids("outage", 3 * MAX_ITEMS)]
    plugin = plugin_for(make_plugin, split_after_5xx=2)

    with database_down():
        premise = post([call(f"premise-503-{RUN}")])
        assert premise.status_code == 503, premise.text
        log(plugin, events)
        # Three spooled batches, each tried past the threshold of 2: a split would have happened by now.
        wait_until(lambda: plugin.stats()["server_errors"] >= 8, what="eight 503 answers")
        stats = plugin.stats()
        assert (stats["split_batches"], stats["isolated"], stats["dead_lettered"]) == (0, 0, 0)

    assert plugin.flush(timeout=120.0)
    assert stored_once([e["id"] for e in events])
    assert plugin.stats()["split_batches"] == 0
    assert dead_letters(spool_dir) == {}


def test_a_call_the_database_refuses_is_isolated_and_dead_lettered_while_every_other_call_is_stored(
    make_plugin, spool_dir
):
    poison = f"refused-{RUN}-0"
    early = [call(i) for i in ids("early", MAX_ITEMS - 1)]
    later = [call(i) for i in ids("later", 6 * MAX_ITEMS)]
    plugin = plugin_for(make_plugin, split_after_5xx=2)

    with database_refuses(f"refused-{RUN}"):
        premise = post([call(f"premise-ok-{RUN}"), call(f"refused-{RUN}-premise")])
        # This Faultline answers 500 for the whole batch (the database refused it for what it holds, not an outage);
        # one that finds the bad item answers 200 and rejects it.
        assert premise.status_code in (200, 500), premise.text
        log(plugin, early[:2] + [call(poison)] + early[2:])
        log(plugin, later)
        everything_else = [e["id"] for e in early + later]
        wait_until(lambda: stored_once(everything_else), what="every call but the refused one", poll=0.2)
        wait_until(lambda: plugin.stats()["dead_lettered"] == 1, what="the refused call dead-lettered")
        assert plugin.flush(timeout=120.0)

    ((name, dead),) = dead_letters(spool_dir).items()
    assert dead == [poison]
    assert rows([poison]) == {}
    stats = plugin.stats()
    if premise.status_code == 500:
        assert "-http500-" in name
        assert stats["isolated"] == 1
        assert stats["split_batches"] >= 1
    else:
        assert "-rejected-" in name
        assert stats["rejected"] == 1
    assert not list(spool_dir.glob("*.json"))
