"""The Faultline plugin against a real local Faultline stand-in and the real LiteLLM."""

import asyncio
import dataclasses
import enum
import functools
import json
import math
import os
import signal
import stat
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone

import httpx
import litellm
import pytest
import yaml
from conftest import API_KEY, PLUGIN_DIR, FakeFaultline, wait_until, wire
from conftest import logged_payload as payload
from litellm.integrations.custom_logger import CustomLogger
from litellm.litellm_core_utils.core_helpers import process_response_headers
from litellm.llms.anthropic.common_utils import AnthropicError
from litellm.proxy.types_utils.utils import get_instance_fn
from litellm.types.utils import ModelResponse

import faultline_callback
from faultline_callback import PLUGIN_VERSION, FaultlineConfig, _approx_size, _body, _to_json_line

litellm.suppress_debug_info = True


def log_calls(plugin, ids):
    for call_id in ids:
        plugin.log_success_event(
            kwargs={"standard_logging_object": payload(call_id)}, response_obj=None, start_time=None, end_time=None
        )


def wire_case_headers(case):
    return wire(case)["headers"]


def stopped_faultline_url():
    """The address of a Faultline that is down: the port was just in use and is now closed."""
    fake = FakeFaultline()
    fake.stop()
    return fake.port


@pytest.fixture
def litellm_callbacks():
    """Installs a plugin as LiteLLM's callback for one test and removes it afterwards."""

    def install(plugin):
        litellm.callbacks = [plugin]

    yield install
    litellm.logging_callback_manager._reset_all_callbacks()
    litellm.callbacks = []


async def fail_through_litellm(exc):
    """Raises `exc` through LiteLLM's real completion path, so that LiteLLM itself builds the payload."""
    with pytest.raises(type(exc)):
        await litellm.acompletion(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], mock_response=exc
        )


def delivered_failure(faultline, exc):
    before = faultline.received_ids()
    asyncio.run(fail_through_litellm(exc))
    wait_until(lambda: len(faultline.received_ids() - before) == 1, what="the failure event at Faultline")
    (new_id,) = faultline.received_ids() - before
    return faultline.events[new_id]


# ---------------------------------------------------------------- transport


def test_events_are_batched_and_posted_with_the_bearer_key(faultline, make_plugin):
    plugin = make_plugin(faultline.url, batch_size=10, flush_interval_s=0.2)

    log_calls(plugin, [f"call-{i}" for i in range(25)])

    wait_until(lambda: len(faultline.received_ids()) == 25, what="25 events")
    assert sorted(faultline.batches) == [5, 10, 10]
    assert set(faultline.auth_headers) == {f"Bearer {API_KEY}"}
    assert set(faultline.content_types) == {"application/json"}
    assert faultline.events["call-7"]["model"] == "gpt-4o-mini"
    assert faultline.events["call-7"]["faultline"]["plugin_version"] == PLUGIN_VERSION
    assert plugin.flush(timeout=60.0)  # the last answer may still be on its way back
    assert plugin.stats()["sent"] == 25
    assert plugin.stats()["accepted"] == 25


def test_a_forked_worker_starts_its_own_sender_on_its_first_call(faultline, make_plugin):
    plugin = make_plugin(faultline.url, batch_size=1)
    log_calls(plugin, ["before-fork"])
    assert plugin.flush(timeout=30.0)
    parent_sender = plugin._sender

    pid = os.fork()
    if pid == 0:  # the child: only this thread came along, the parent's sender did not
        code = 1
        try:
            log_calls(plugin, ["forked-1"])
            started = plugin._pid == os.getpid() and plugin._sender is not parent_sender and plugin._sender.is_alive()
            code = 0 if started and plugin.flush(timeout=30.0) else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert faultline.received_ids() == {"before-fork", "forked-1"}
    # The parent's own sender was not replaced: the fork is the child's business.
    log_calls(plugin, ["after-fork"])
    assert plugin.flush(timeout=30.0)
    assert plugin._sender is parent_sender and "after-fork" in faultline.received_ids()


def test_the_hook_returns_at_once_while_faultline_is_slow(faultline, make_plugin):
    faultline.delay_s = 120.0  # Faultline holds every answer until released: the sender is stuck mid-request
    plugin = make_plugin(faultline.url, batch_size=10, queue_max=100, timeout_s=150.0)
    ids = [f"slow-{i}" for i in range(500)]
    log_calls(plugin, ids[:10])
    wait_until(lambda: faultline.held == 1, what="the sender's first request held at Faultline")

    async def log_all():
        durations = []
        for call_id in ids[10:]:
            started = time.perf_counter()
            await plugin.async_log_success_event(
                kwargs={"standard_logging_object": payload(call_id)}, response_obj=None, start_time=None, end_time=None
            )
            durations.append(time.perf_counter() - started)
        return durations

    durations = asyncio.run(log_all())

    # Every hook returned while Faultline still held the sender's first request: no hook waited for Faultline.
    assert faultline.held == 1
    assert faultline.attempts == []
    print(
        f"hook: median {statistics.median(durations) * 1e3:.3f} ms, max {max(durations) * 1e3:.3f} ms"
        f" over {len(durations)} calls while Faultline was stuck"
    )  # a figure to read (pytest -s), not a bound: timing depends on the machine
    faultline.release.set()
    faultline.delay_s = 0.0
    assert plugin.flush(timeout=60.0)
    stats = plugin.stats()
    # A burst far faster than the disk may drop events; each one is accounted for.
    assert len(faultline.received_ids()) + stats["dropped"] == len(ids)
    assert set(faultline.deliveries.values()) == {1}


class _ThreadRecorder:
    """A pydantic-like value that notes which thread serialises it."""

    def __init__(self):
        self.threads = []

    def model_dump(self):
        self.threads.append(threading.current_thread().name)
        return {"dumped": True}


def test_payloads_are_serialised_on_the_sender_thread_not_on_the_callers(faultline, make_plugin):
    plugin = make_plugin(faultline.url, batch_size=1)
    recorder = _ThreadRecorder()

    asyncio.run(
        plugin.async_log_success_event(
            {"standard_logging_object": payload("thread-1", usage=recorder)}, None, None, None
        )
    )

    wait_until(lambda: "thread-1" in faultline.received_ids(), what="the event")
    assert faultline.events["thread-1"]["usage"] == {"dumped": True}
    assert recorder.threads == ["faultline-sender"]


def test_the_size_estimate_of_the_hook_is_close_to_the_serialised_size():
    short = payload("size-short")
    long_context = payload(
        "size-long",
        messages=[{"role": "user", "content": "word " * 20_000}, {"role": "assistant", "content": "ok"}] * 20,
        response={"choices": [{"message": {"content": "answer " * 5_000}, "finish_reason": "stop"}]},
    )
    wide = payload("size-wide", metadata={f"key-{i}": f"value-{i}" for i in range(50_000)})

    for event in (short, long_context, wide):
        exact = len(_to_json_line(event))
        assert 0.5 * exact <= _approx_size(event) <= 2 * exact, (event["id"], exact, _approx_size(event))


# A StandardLoggingPayload as LiteLLM 1.108.5's proxy built it for a call to the simulator (captured by
# `make bench-plugin` with BENCH_PLUGIN_SAMPLE): ~440 values, 14 KB as JSON, half of them model_map_information.
PROXY_PAYLOAD = json.loads((PLUGIN_DIR / "tests" / "data" / "proxy_success_payload.json").read_text())


def test_an_event_keeps_only_the_prices_and_names_of_the_model_map_entry_and_leaves_litellms_dict_alone(
    faultline, make_plugin
):
    plugin = make_plugin(faultline.url, batch_size=1)
    shared = json.loads(json.dumps(PROXY_PAYLOAD))
    entry = shared["model_map_information"]["model_map_value"]
    odd = payload("odd-model-map", model_map_information={"model_map_key": "x", "model_map_value": None})

    plugin.log_success_event({"standard_logging_object": shared}, None, None, None)
    plugin.log_success_event({"standard_logging_object": odd}, None, None, None)

    wait_until(lambda: len(faultline.received_ids()) == 2, what="2 events")
    sent = faultline.events[shared["id"]]["model_map_information"]
    assert sent["model_map_key"] == shared["model_map_information"]["model_map_key"]
    assert sent["model_map_value"] == {
        name: entry[name] for name in faultline_callback._MODEL_MAP_FIELDS if name in entry
    }
    # What Faultline prices calls with (CallMapper.price) is all there.
    for price in ("input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost"):
        assert sent["model_map_value"][price] == entry[price]
    assert len(entry) > 100 and len(sent["model_map_value"]) <= len(faultline_callback._MODEL_MAP_FIELDS)
    # Other callbacks share LiteLLM's payload: the plugin cut its own copy only.
    assert shared["model_map_information"]["model_map_value"] is entry and len(entry) > 100
    # An entry that is not a mapping goes out as it came.
    assert faultline.events["odd-model-map"]["model_map_information"] == {"model_map_key": "x", "model_map_value": None}


class _OtherMapping(Mapping):
    """A Mapping that is not a dict: the estimate's generic path."""

    def __init__(self, data):
        self._data = data

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


class _OtherList(list):
    pass


def _generic(value):
    if isinstance(value, dict):
        return _OtherMapping({k: _generic(v) for k, v in value.items()})
    if isinstance(value, list):
        return _OtherList(_generic(v) for v in value)
    return value


def test_the_size_estimate_of_a_real_proxy_payload_is_close_and_its_fast_path_changes_nothing():
    exact = len(_to_json_line(PROXY_PAYLOAD))
    estimate = _approx_size(PROXY_PAYLOAD)
    assert 0.5 * exact <= estimate <= 2 * exact, (exact, estimate)
    # Plain dicts and lists take the exact-type path; other Mappings and list subclasses the isinstance one: the same
    # figure either way (the payload is well under the node budget, so nothing is extrapolated).
    assert _approx_size(_generic(PROXY_PAYLOAD)) == estimate


def test_the_size_estimate_on_the_hook_costs_less_than_serialising_the_payload_with_the_stdlib():
    """The hook's estimate must stay cheaper than the stdlib's C encoder on the same payload.

    The walk in Python once cost twice as much, then 0.7-0.9 of it here and 1.05 on CI's machine: a Python loop
    against C is no margin to assert across machines. Through orjson it costs about a tenth (8 against 100 µs here);
    the assertion keeps a factor of 2 for machines that differ. Compared in the same run on the same payload, best
    of several repeats, so machine load cancels out.
    """
    import timeit

    def stdlib():
        return json.dumps(PROXY_PAYLOAD, ensure_ascii=True, separators=(",", ":"))

    estimate = min(timeit.repeat(lambda: _approx_size(PROXY_PAYLOAD), number=200, repeat=7))
    serialise = min(timeit.repeat(stdlib, number=200, repeat=7))
    print(f"estimate {estimate / 200 * 1e6:.1f} us, stdlib json.dumps {serialise / 200 * 1e6:.1f} us per payload")
    assert 2 * estimate < serialise, (estimate, serialise)


class _Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class _Point:
    x: int


ODD_PAYLOADS = {
    "proxy payload": PROXY_PAYLOAD,
    "accents, CJK, emoji, U+2028": {"text": "météo à Lyon, 日本語, 😀, \u2028 and a\nnewline"},
    "NaN and infinities": {"a": math.nan, "b": [math.inf, -math.inf], "c": 1.5e-7},
    "dates, enums, dataclasses, ids, sets": {
        "when": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc), "colour": _Colour.RED,
        "point": _Point(1), "id": uuid.UUID(int=5), "set": {1},
    },
    "keys that are not strings": {1: "one", None: "none"},
    "an int past 64 bits": {"big": 2**70},
    "a lone surrogate": {"text": "\ud800"},
    "keys to redact, any case, any depth": {"Authorization": "Bearer sk-1", "x": [{"X-Goog-Api-Key": "k"}]},
    "secret-looking values are kept": {"note": 'the header "authorization": is redacted, not this text'},
}


@pytest.mark.parametrize("name", list(ODD_PAYLOADS))
def test_serialising_through_orjson_gives_the_json_of_the_stdlib_path(name, monkeypatch):
    value = ODD_PAYLOADS[name]
    line = _to_json_line(value)
    monkeypatch.setattr(faultline_callback, "_orjson", None)
    reference = _to_json_line(value)

    assert line.isascii() and "\n" not in line
    assert json.loads(line) == json.loads(reference)


@pytest.mark.parametrize("name", list(ODD_PAYLOADS))
def test_the_size_estimate_of_odd_payloads_is_close_through_orjson_and_through_the_walk(name, monkeypatch):
    """What orjson refuses (a lone surrogate, keys that are not str, an int past 64 bits) goes to the walk; the
    other types are sized through orjson's default. Small payloads carry a fixed overhead per value, hence the slack.
    """
    value = ODD_PAYLOADS[name]
    exact = len(_to_json_line(value))
    estimate = _approx_size(value)
    monkeypatch.setattr(faultline_callback, "_orjson", None)
    walked = _approx_size(value)

    for figure in (estimate, walked):
        assert 0.3 * exact <= figure <= 3 * exact + 48, (name, exact, estimate, walked)


def test_the_size_estimate_survives_cycles_bytes_and_deep_nesting():
    cycle: dict = {"a": "x" * 100}
    cycle["self"] = cycle
    deep: list = []
    node = deep
    for _ in range(1_000):
        node.append([])
        node = node[0]

    assert _approx_size(cycle) >= 100
    assert _approx_size({"blob": b"y" * 5_000}) >= 5_000
    assert _approx_size(deep) > 0


def test_keys_to_redact_are_redacted_through_the_orjson_path_too():
    line = _to_json_line(ODD_PAYLOADS["keys to redact, any case, any depth"])
    assert "sk-1" not in line and '"k"' not in line
    assert json.loads(line) == {"Authorization": "[redacted]", "x": [{"X-Goog-Api-Key": "[redacted]"}]}


@pytest.mark.parametrize("orjson_installed", [True, False], ids=["orjson", "stdlib"])
def test_keys_to_redact_given_as_bytes_are_redacted_too(monkeypatch, orjson_installed):
    # A bytes key (raw ASGI or httpx headers) went out as "b'authorization'", which no secret name matched: the
    # bearer token reached Faultline and its spool in clear.
    if not orjson_installed:
        monkeypatch.setattr(faultline_callback, "_orjson", None)
    headers = {b"Authorization": b"Bearer sk-secret-1", b"x-api-key": "sk-secret-2", b"accept": b"*/*"}

    line = _to_json_line({"model_parameters": {"extra_headers": headers}})

    assert "sk-secret" not in line
    assert json.loads(line)["model_parameters"]["extra_headers"] == {
        "Authorization": "[redacted]", "x-api-key": "[redacted]", "accept": "b'*/*'"}


def test_the_queue_is_bounded_in_bytes_and_the_overflow_goes_to_the_spool(faultline, make_plugin):
    faultline.delay_s = 120.0
    bound = 100_000
    plugin = make_plugin(faultline.url, batch_size=10, queue_max=10_000, queue_max_bytes=bound, timeout_s=150.0)
    ids = [f"heavy-{i}" for i in range(60)]
    text = "x" * 20_000
    peak = 0

    for call_id in ids:
        plugin.log_success_event(
            {"standard_logging_object": payload(call_id, messages=[{"role": "user", "content": text}])},
            None,
            None,
            None,
        )
        peak = max(peak, plugin.stats()["queued_bytes"])
        # The proxy's event loop gives the spooler thread its turn between calls; here the test waits for it.
        wait_until(lambda: plugin.stats()["queued_bytes"] <= bound, what="the overflow written to the spool")

    # 60 events of 20 KB are 1.2 MB; at most one queue's worth more than the bound waits in memory for the disk.
    assert peak <= 2 * bound
    assert plugin.stats()["spooled"] >= 40
    assert plugin.stats()["dropped"] == 0
    faultline.release.set()
    faultline.delay_s = 0.0
    assert plugin.flush(timeout=60.0)
    assert faultline.received_ids() == set(ids)
    assert set(faultline.deliveries.values()) == {1}


def test_a_full_queue_overflows_into_the_spool_instead_of_dropping_events(faultline, make_plugin, spool_dir):
    faultline.delay_s = 120.0  # held until released
    plugin = make_plugin(faultline.url, batch_size=10, queue_max=20, timeout_s=150.0)
    ids = [f"full-{i}" for i in range(200)]

    for start in range(0, len(ids), 20):
        log_calls(plugin, ids[start : start + 20])
        # The proxy's event loop gives the spooler thread its turn between calls; here the test waits for it.
        wait_until(lambda: plugin.stats()["queued"] <= 20 + 10, what="the overflow written to the spool")

    assert plugin.stats()["spooled"] >= 150
    assert plugin.stats()["dropped"] == 0
    # One batch a file (named ...-n<events>.json), however much overflowed at once: a resend parses one batch.
    sizes = [int(f.name.rsplit("-n", 1)[1].split(".")[0]) for f in spool_dir.glob("*.json")]
    assert sizes and max(sizes) <= 10
    faultline.release.set()
    faultline.delay_s = 0.0
    assert plugin.flush(timeout=60.0)
    assert faultline.received_ids() == set(ids)
    assert set(faultline.deliveries.values()) == {1}


def test_when_faultline_is_down_batches_are_spooled_and_each_event_arrives_once_when_it_is_back(make_plugin):
    port = stopped_faultline_url()
    plugin = make_plugin(f"http://127.0.0.1:{port}", batch_size=10)
    ids = [f"down-{i}" for i in range(35)]

    log_calls(plugin, ids)

    wait_until(lambda: plugin.stats()["spool_files"] >= 4 and plugin.stats()["queued"] == 0, what="a spooled queue")
    assert plugin.stats()["sent"] == 0
    assert "127.0.0.1" in plugin.stats()["last_error"]
    faultline = FakeFaultline(port=port)
    try:
        wait_until(lambda: faultline.received_ids() == set(ids), what="the spool to drain")
        assert plugin.flush(timeout=60.0)
        assert set(faultline.deliveries.values()) == {1}
        assert plugin.stats()["spool_files"] == 0
    finally:
        faultline.stop()


def test_a_restarted_plugin_resends_what_the_previous_one_left_in_the_spool(make_plugin, spool_dir):
    port = stopped_faultline_url()
    first = make_plugin(f"http://127.0.0.1:{port}", batch_size=1000, flush_interval_s=60.0)
    ids = [f"restart-{i}" for i in range(12)]
    log_calls(first, ids)
    first.close()  # what the interpreter exit does too: the unsent queue goes to the spool
    assert first.stats()["spool_files"] == 1

    stale = spool_dir / ".00000000000000000001-1-00000001-n3.json.1.tmp"  # a writer killed mid-write, long ago
    stale.write_text("[\n{")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    faultline = FakeFaultline(port=port)
    try:
        second = make_plugin(faultline.url)
        assert not stale.exists()
        wait_until(lambda: faultline.received_ids() == set(ids), what="the old spool to be resent")
        assert second.flush(timeout=60.0)
        assert not list(spool_dir.glob("*.json"))
    finally:
        faultline.stop()


def test_an_idle_plugin_picks_up_what_another_worker_leaves_in_the_spool_without_spinning(faultline, make_plugin):
    live = make_plugin(faultline.url)  # rescans an empty spool every retry_max_backoff_s (0.2 s here)
    other = make_plugin(f"http://127.0.0.1:{stopped_faultline_url()}", batch_size=1000, flush_interval_s=60.0)
    log_calls(other, ["other-0", "other-1"])

    other.close()  # a worker that stops while Faultline is unreachable: its queue lands in the shared spool

    wait_until(lambda: faultline.received_ids() == {"other-0", "other-1"}, what="the other worker's events")
    assert live.flush(timeout=60.0)
    assert live.stats()["sent"] == 2
    rescans, wakeups = live._rescans, live._wakeups
    wait_until(lambda: live._rescans >= rescans + 5, what="five more rescans of the idle spool")
    # Idle, the sender wakes for its batch timer (every 0.05 s here) and its rescan timer (every 0.2 s): about five
    # wake-ups a rescan. A sender that spins wakes thousands of times a rescan.
    assert live._wakeups - wakeups <= 10 * (live._rescans - rescans)


def test_unsent_events_are_written_to_the_spool_when_the_interpreter_exits(spool_dir):
    port = stopped_faultline_url()
    script = f"""
import faultline_callback as fc
plugin = fc.FaultlineLogger(fc.FaultlineConfig(url="http://127.0.0.1:{port}", api_key="k",
    spool_dir={str(spool_dir)!r}, batch_size=1000, flush_interval_s=60.0))
for i in range(7):
    event = {{"standard_logging_object": {{"id": f"exit-{{i}}", "status": "success"}}}}
    plugin.log_success_event(event, None, None, None)
"""
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_DIR))
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=600)  # a hang guard

    (spooled,) = spool_dir.glob("*.json")
    assert [event["id"] for event in json.loads(spooled.read_text())] == [f"exit-{i}" for i in range(7)]


def test_a_spool_write_that_fails_half_way_leaves_no_partial_file_behind(spool_dir):
    # A full disk fails a write after some of its bytes: the half-written temporary file stayed, outside the spool's
    # byte count and unswept until a restart, holding the space the next writes needed; one more each failed batch.
    # RLIMIT_FSIZE makes every write past 4 KiB fail (EFBIG) as ENOSPC would, in a process of its own.
    port = stopped_faultline_url()
    script = f"""
import json, resource, signal, threading
import faultline_callback as fc
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
plugin = fc.FaultlineLogger(fc.FaultlineConfig(url="http://127.0.0.1:{port}", api_key="k",
    spool_dir={str(spool_dir)!r}, batch_size=3, flush_interval_s=0.05, retry_max_backoff_s=0.2))
for i in range(6):
    event = {{"standard_logging_object": {{"id": f"full-{{i}}", "status": "success", "messages": "x" * 2000}}}}
    plugin.log_success_event(event, None, None, None)
pause = threading.Event()
for _ in range(6000):  # a hang guard of a minute; both batches are refused within a few tenths of a second
    # The plugin notes the error a moment after it counts the drop (and a failed POST's error may sit in between).
    stats = plugin.stats()
    if stats["dropped"] == 6 and "cannot write the spool" in (stats["last_error"] or ""):
        break
    pause.wait(0.01)
print(json.dumps(plugin.stats()))
plugin.close()
"""
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_DIR))
    done = subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=600, capture_output=True)

    stats = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert stats["dropped"] == 6
    assert "cannot write the spool" in stats["last_error"]
    assert sorted(p.name for p in spool_dir.iterdir() if p.is_file()) == []


def test_a_full_spool_drops_its_oldest_batches_and_counts_them(make_plugin, spool_dir, monkeypatch):
    port = stopped_faultline_url()
    probe = make_plugin(f"http://127.0.0.1:{port}", batch_size=5)
    log_calls(probe, [f"bound-xx-{i}" for i in range(5)])
    wait_until(lambda: probe.stats()["spool_files"] == 1, what="one spooled batch")
    one_batch = probe.stats()["spool_bytes"]  # every batch below has the same size
    probe.close()
    for leftover in spool_dir.glob("*.json"):
        leftover.unlink()
    # After the first failed POST the batches go straight to the spool: a resend failing in the meantime (every 0.2 s
    # at most) replaced "spool full" in last_error by "POST ... failed" a moment after the last drop.
    monkeypatch.setattr(faultline_callback, "_INITIAL_BACKOFF_S", 3600.0)
    plugin = make_plugin(f"http://127.0.0.1:{port}", batch_size=5, spool_max_bytes=int(3.5 * one_batch),
                         retry_max_backoff_s=3600.0)

    for batch in range(6):
        log_calls(plugin, [f"bound-{batch:02d}-{i}" for i in range(5)])
        wait_until(lambda: plugin.stats()["spooled"] == 5 * (batch + 1), what=f"batch {batch} in the spool")

    stats = plugin.stats()
    assert stats["spool_files"] == 3
    assert stats["spool_bytes"] == 3 * one_batch
    assert stats["dropped"] == 15
    assert "spool full" in stats["last_error"]
    faultline = FakeFaultline(port=port)
    try:
        assert plugin.flush(timeout=60.0)
        assert faultline.received_ids() == {f"bound-{b:02d}-{i}" for b in (3, 4, 5) for i in range(5)}
    finally:
        faultline.stop()


def test_a_413_splits_the_batch_until_the_halves_fit(faultline, make_plugin):
    faultline.max_items = 3
    plugin = make_plugin(faultline.url, batch_size=10, flush_interval_s=60.0)
    ids = [f"big-{i}" for i in range(10)]

    log_calls(plugin, ids)

    wait_until(lambda: faultline.received_ids() == set(ids), what="every half delivered")
    assert [status for status, _ in faultline.attempts].count(413) == 3  # 10 -> 5 + 5 -> (2+3) + (2+3)
    assert all(size <= 3 for size in faultline.batches)
    assert set(faultline.deliveries.values()) == {1}


def test_a_batch_refused_with_400_is_halved_until_the_refused_event_is_alone_in_dead_letter(
    faultline, make_plugin, spool_dir
):
    # A 400 refuses the whole body for what one event holds (a key over Jackson's 50,000 characters, a number over
    # 1,000 digits): its batch-mates were dead-lettered with it and never retried.
    faultline.refuse_marker = "poison"
    plugin = make_plugin(faultline.url, batch_size=4, flush_interval_s=60.0)

    log_calls(plugin, ["fine-0", "poison-0", "fine-1", "fine-2"])

    wait_until(lambda: faultline.received_ids() == {"fine-0", "fine-1", "fine-2"}, what="the poison's batch-mates")
    assert plugin.flush(timeout=60.0)
    assert [status for status, _ in faultline.attempts].count(400) == 3  # 4 -> (2) -> (1): halving finds it
    assert plugin.stats()["dead_lettered"] == 1
    assert "400" in plugin.stats()["last_error"]
    (dead,) = (spool_dir / "dead-letter").glob("*.json")
    assert [event["id"] for event in json.loads(dead.read_text())] == ["poison-0"]
    assert set(faultline.deliveries.values()) == {1}
    assert not list(spool_dir.glob("*.json"))


def test_a_refused_event_too_large_for_the_dead_letter_bound_is_counted_as_dropped_not_dead_lettered(
    faultline, make_plugin, spool_dir
):
    # The write refused it (larger than the whole folder's bound) and it was lost, but the counter said
    # dead_lettered: an operator looked in dead-letter/ for an event that was never there.
    faultline.refuse_marker = "poison"
    plugin = make_plugin(faultline.url, batch_size=1, flush_interval_s=60.0, dead_letter_max_bytes=64)

    log_calls(plugin, ["poison-big"])

    wait_until(lambda: plugin.stats()["dropped"] == 1, what="the refused event counted as dropped")
    assert plugin.flush(timeout=60.0)
    assert plugin.stats()["dead_lettered"] == 0
    assert not list((spool_dir / "dead-letter").glob("*.json"))


def test_events_that_faultline_rejects_one_by_one_are_dead_lettered(faultline, make_plugin, spool_dir):
    faultline.reject_ids = {"odd-1"}
    plugin = make_plugin(faultline.url, batch_size=3, flush_interval_s=60.0)

    log_calls(plugin, ["odd-0", "odd-1", "odd-2"])

    wait_until(lambda: faultline.received_ids() == {"odd-0", "odd-2"}, what="the accepted events")
    assert plugin.flush(timeout=60.0)
    assert plugin.stats()["rejected"] == 1
    (dead,) = (spool_dir / "dead-letter").glob("*.json")
    assert [event["id"] for event in json.loads(dead.read_text())] == ["odd-1"]


def test_calls_rejected_as_ending_in_faultlines_future_stay_in_the_spool_and_arrive_once_the_clocks_agree(
    faultline, make_plugin, spool_dir
):
    # A proxy whose clock ran more than Faultline's max clock skew ahead had its calls rejected one by one, and the
    # plugin dead-lettered them for ever, although Faultline would take them once its own clock caught up.
    faultline.future_ids = {f"ahead-{i}" for i in range(5)}
    plugin = make_plugin(faultline.url, batch_size=3, flush_interval_s=60.0)

    log_calls(plugin, ["ahead-0", "now-0", "ahead-1"])  # answered 200 with two rejected
    wait_until(lambda: faultline.received_ids() == {"now-0"}, what="the call within the skew")
    log_calls(plugin, ["ahead-2", "ahead-3", "ahead-4"])  # answered 422: every call of the batch rejected
    wait_until(lambda: 422 in [status for status, _ in faultline.attempts], what="the batch of calls ahead, a 422")
    # The plugin spools the 422's calls after Faultline has answered it: wait for the file, not for the answer.
    ahead = ["ahead-0", "ahead-1", "ahead-2", "ahead-3", "ahead-4"]
    wait_until(lambda: sorted(e["id"] for f in spool_dir.glob("*.json") for e in json.loads(f.read_text())) == ahead,
               what="every call ahead of Faultline's clock in the spool")

    assert plugin.stats()["dead_lettered"] == 0 and plugin.stats()["rejected"] == 0
    assert not list((spool_dir / "dead-letter").glob("*.json"))
    log_calls(plugin, ["now-1", "now-2", "now-3"])  # spooled behind them: they must not wait for Faultline's clock
    wait_until(lambda: {"now-1", "now-2", "now-3"} <= faultline.received_ids(), what="the calls behind those ahead")
    with faultline.lock:
        faultline.future_ids = set()  # Faultline's clock has caught up
    assert plugin.flush(timeout=60.0)
    assert faultline.received_ids() == {"now-0", "now-1", "now-2", "now-3"} | {f"ahead-{i}" for i in range(5)}
    assert plugin.stats()["dead_lettered"] == 0
    assert not list(spool_dir.glob("*.json"))


def test_calls_behind_a_file_still_ahead_of_faultlines_clock_arrive_once_faultline_takes_them(
    faultline, make_plugin, spool_dir
):
    # Once only files waiting for Faultline's clock were left, the oldest of them alone was tried again: one call
    # dated far ahead (a clock that jumped for a moment) held every waiting file behind it until the files expired
    # with FAULTLINE_SPOOL_MAX_AGE_DAYS, although Faultline had long been taking their calls.
    faultline.future_ids = {"far-0", "far-1", "near-0", "near-1"}
    plugin = make_plugin(faultline.url, batch_size=2, flush_interval_s=60.0)

    log_calls(plugin, ["far-0", "far-1"])
    log_calls(plugin, ["near-0", "near-1"])

    wait_until(lambda: len(list(spool_dir.glob("*.json"))) == 2 and plugin.stats()["too_early"] == 4,
               what="both batches waiting")
    with faultline.lock:
        faultline.future_ids = {"far-0", "far-1"}  # Faultline's clock has passed the near calls only
    wait_until(lambda: {"near-0", "near-1"} <= faultline.received_ids(), timeout=20.0, what="the near calls")
    # the plugin deletes the near calls' file once Faultline has answered, a moment after Faultline holds them
    wait_until(lambda: len(list(spool_dir.glob("*.json"))) == 1, what="the far calls' file alone left")
    assert faultline.received_ids().isdisjoint({"far-0", "far-1"})
    with faultline.lock:
        faultline.future_ids = set()
    assert plugin.flush(timeout=60.0)
    assert faultline.received_ids() == {"far-0", "far-1", "near-0", "near-1"}


def test_calls_waiting_for_faultlines_clock_in_two_workers_survive_their_restart(faultline, make_plugin, spool_dir):
    # Which spool files wait for Faultline's clock is known per process only; the calls themselves are in the shared
    # folder, so a stop loses none of them and the worker started next sends them once Faultline takes them.
    faultline.future_ids = {f"ahead-{i}" for i in range(6)}
    first = make_plugin(faultline.url, batch_size=3, flush_interval_s=60.0)
    second = make_plugin(faultline.url, batch_size=3, flush_interval_s=60.0)
    log_calls(first, ["ahead-0", "ahead-1", "ahead-2"])
    log_calls(second, ["ahead-3", "now-0", "ahead-4"])
    log_calls(second, ["now-1", "ahead-5", "now-2"])
    wait_until(lambda: {"now-0", "now-1", "now-2"} <= faultline.received_ids(), what="the calls within the skew")
    # Each worker spools the calls Faultline put aside once its answer is read, a moment after Faultline holds the
    # others: closed before that, a worker whose sender outlived close's 2 s wrote its whole batch again.
    wait_until(lambda: len(list(spool_dir.glob("*.json"))) == 3, what="each batch's calls ahead in the spool")
    first.close(timeout=2.0)
    second.close(timeout=2.0)
    assert sorted(e["id"] for f in spool_dir.glob("*.json") for e in json.loads(f.read_text())) == [
        f"ahead-{i}" for i in range(6)]

    with faultline.lock:
        faultline.future_ids = set()
    restarted = make_plugin(faultline.url, batch_size=3, flush_interval_s=60.0)
    assert restarted.flush(timeout=60.0)
    assert faultline.received_ids() == {f"ahead-{i}" for i in range(6)} | {"now-0", "now-1", "now-2"}
    assert not list(spool_dir.glob("*.json")) and not list((spool_dir / "dead-letter").glob("*.json"))


def test_a_restarted_worker_finds_the_files_waiting_for_faultlines_clock_without_waiting_behind_them(
    faultline, make_plugin, spool_dir, monkeypatch
):
    # Which files wait for Faultline's clock is known per process: a restarted worker tries each once more. Each of
    # those refusals stepped the backoff up, so the calls behind them waited: 9.8 s behind 6 such files in a probe,
    # 1 to 2 minutes behind 10 (the backoff doubles from 0.25 s to FAULTLINE_RETRY_MAX_BACKOFF_S).
    faultline.future_ids = {f"ahead-{i}" for i in range(3)}
    first = make_plugin(faultline.url, batch_size=1, flush_interval_s=60.0)
    for i in range(3):
        log_calls(first, [f"ahead-{i}"])
    wait_until(lambda: first.stats()["too_early"] == 3, what="three calls waiting")
    # The plugin counts a waiting call before it writes its file.
    wait_until(lambda: first.stats()["spool_files"] == 3, what="the three waiting files written")
    first.close(timeout=2.0)
    spool = faultline_callback._SpoolDir(spool_dir, 10**9, lambda files, events: None)
    spool.write([_to_json_line(payload("behind-0"))])  # a file another worker left behind them

    monkeypatch.setattr(faultline_callback, "_INITIAL_BACKOFF_S", 3600.0)  # a step up would hold it past the test
    restarted = make_plugin(faultline.url, batch_size=1, flush_interval_s=60.0, retry_max_backoff_s=3600.0)
    wait_until(lambda: "behind-0" in faultline.received_ids(), what="the call behind the waiting files")
    assert restarted.stats()["too_early"] == 3  # counted again by this process, as documented
    wait_until(lambda: len(list(spool_dir.glob("*.json"))) == 3, what="the waiting files alone left")


def test_new_calls_are_sent_at_once_while_a_file_waiting_for_faultlines_clock_is_paced(
    faultline, make_plugin, spool_dir, monkeypatch
):
    # The backoff that paces a file waiting for Faultline's clock held every new batch too: queued behind the spool,
    # they waited for the next paced try, up to FAULTLINE_RETRY_MAX_BACKOFF_S (30 s) after a quiet spell.
    faultline.future_ids = {"ahead-0"}
    monkeypatch.setattr(faultline_callback, "_INITIAL_BACKOFF_S", 3600.0)  # one paced step: past the test's end
    plugin = make_plugin(faultline.url, batch_size=1, flush_interval_s=60.0, retry_max_backoff_s=3600.0)
    log_calls(plugin, ["ahead-0"])
    wait_until(lambda: plugin.stats()["too_early"] == 1, what="the call waiting for Faultline's clock")
    wait_until(lambda: not plugin._early_unpaced, what="its retries paced")

    log_calls(plugin, ["now-0"])

    wait_until(lambda: "now-0" in faultline.received_ids(), timeout=20.0, what="the new call, not held by the pace")
    with faultline.lock:
        refusals = sum(1 for status, _ in faultline.attempts if status == 422)
    assert refusals == 1  # the waiting file keeps its pace: not tried again with the new call
    assert [f.name for f in spool_dir.glob("*.json")] != [] and plugin.stats()["spool_files"] == 1


def test_too_early_counts_each_call_once_however_often_faultline_refuses_it(faultline, make_plugin, spool_dir):
    # It counted refusals: a call was counted again at every resend of its spool file, 98 for 6 calls in one second
    # of a probe, so the counter said nothing about how many calls were waiting for Faultline's clock.
    faultline.future_ids = {"ahead-0", "ahead-1", "ahead-2", "ahead-3", "ahead-4"}
    plugin = make_plugin(faultline.url, batch_size=3, flush_interval_s=60.0)

    log_calls(plugin, ["ahead-0", "now-0", "ahead-1"])  # answered 200 with two rejected
    log_calls(plugin, ["ahead-2", "ahead-3", "ahead-4"])  # answered 422: every call of the batch rejected

    def refusals():
        with faultline.lock:
            return sum(1 for status, _ in faultline.attempts if status == 422)

    wait_until(lambda: refusals() >= 6, what="the calls ahead refused again and again")
    assert plugin.stats()["too_early"] == 5
    with faultline.lock:
        faultline.future_ids = {"ahead-4"}  # Faultline's clock catches up with some of them
    wait_until(lambda: {"ahead-0", "ahead-1", "ahead-2", "ahead-3"} <= faultline.received_ids(), what="those within")
    wait_until(lambda: refusals() >= 9, what="the last one refused again")
    assert plugin.stats()["too_early"] == 5
    with faultline.lock:
        faultline.future_ids = set()
    assert plugin.flush(timeout=60.0)
    assert plugin.stats()["too_early"] == 5 and plugin.stats()["accepted"] == 6
    assert not list(spool_dir.glob("*.json"))


def test_a_batch_of_only_invalid_calls_answered_422_is_dead_lettered_and_not_retried(faultline, make_plugin, spool_dir):
    faultline.reject_ids = {"bad-0", "bad-1"}
    plugin = make_plugin(faultline.url, batch_size=2, flush_interval_s=60.0)

    log_calls(plugin, ["bad-0", "bad-1"])

    wait_until(lambda: plugin.stats()["dead_lettered"] == 2, what="both calls dead-lettered")
    assert plugin.flush(timeout=60.0)
    assert [status for status, _ in faultline.attempts] == [422]
    assert not list(spool_dir.glob("*.json"))


def test_a_batch_that_keeps_failing_with_5xx_is_split_until_the_failing_call_is_dead_lettered(
    faultline, make_plugin, spool_dir
):
    faultline.fail_marker = "poison"  # a batch holding this call fails with a 500, as a server bug would
    plugin = make_plugin(faultline.url, batch_size=8, split_after_5xx=2)
    early = [f"early-{i}" for i in range(7)]
    later = [f"later-{i}" for i in range(48)]

    log_calls(plugin, early[:5] + ["poison-0"] + early[5:])
    log_calls(plugin, later)

    wait_until(lambda: faultline.received_ids() == set(early + later), what="every call but the failing one")
    wait_until(lambda: plugin.stats()["isolated"] == 1, what="the failing call isolated")
    assert plugin.flush(timeout=60.0)
    stats = plugin.stats()
    assert stats["split_batches"] == 3  # 8 -> 4 -> 2 -> 1: halving finds one call in log2(8) splits
    assert stats["dead_lettered"] == 1
    assert "500" in stats["last_error"]
    (dead,) = (spool_dir / "dead-letter").glob("*.json")
    assert "-http500-" in dead.name
    assert [event["id"] for event in json.loads(dead.read_text())] == ["poison-0"]
    assert set(faultline.deliveries.values()) == {1}
    assert not list(spool_dir.glob("*.json"))


def test_while_faultline_answers_every_batch_5xx_nothing_is_split_or_dead_lettered(faultline, make_plugin, spool_dir):
    faultline.outage_status = 503  # its database is down: every batch fails, none because of its calls
    plugin = make_plugin(faultline.url, batch_size=5, split_after_5xx=2)
    ids = [f"outage-{i}" for i in range(20)]

    log_calls(plugin, ids)

    # Four spooled batches, each tried past the threshold of 2: a split would have happened by now.
    wait_until(lambda: plugin.stats()["server_errors"] >= 12, what="a dozen 503 answers")
    stats = plugin.stats()
    assert (stats["split_batches"], stats["isolated"], stats["dead_lettered"]) == (0, 0, 0)
    assert not list((spool_dir / "dead-letter").glob("*.json"))
    faultline.outage_status = None
    wait_until(lambda: faultline.received_ids() == set(ids), what="everything once the outage is over")
    assert plugin.flush(timeout=60.0)
    assert set(faultline.deliveries.values()) == {1}
    assert plugin.stats()["split_batches"] == 0


def test_a_single_call_whose_strikes_all_date_from_an_outage_is_sent_again_not_dead_lettered(
    faultline, make_plugin, spool_dir
):
    # Faultline's database was away: every batch was answered 503, so each spooled call collected strikes. When it
    # comes back, a younger file without strikes is taken first (as a probe): that alone must not convict the old one.
    faultline.outage_status = 503
    plugin = make_plugin(faultline.url, batch_size=1, split_after_5xx=3)
    old = [f"outage-{i}" for i in range(3)]
    log_calls(plugin, old)
    wait_until(lambda: plugin.stats()["server_errors"] >= 9, what="every spooled call past three strikes")
    log_calls(plugin, ["after-outage-0"])  # spooled behind the others, no strikes yet: the next probe
    wait_until(lambda: plugin.stats()["spool_files"] == 4, what="the young file in the spool")
    faultline.outage_status = None

    wait_until(lambda: faultline.received_ids() == set(old) | {"after-outage-0"}, what="every call once it is back")
    assert plugin.flush(timeout=60.0)
    stats = plugin.stats()
    assert (stats["split_batches"], stats["isolated"], stats["dead_lettered"]) == (0, 0, 0)
    assert not list((spool_dir / "dead-letter").glob("*.json"))
    assert set(faultline.deliveries.values()) == {1}


def test_one_event_answered_503_is_dead_lettered_only_after_four_times_the_strikes_of_a_500(
    faultline, make_plugin, spool_dir
):
    # 503 also means "unavailable, retry": a Faultline whose pool is full answers some requests 503 and takes others,
    # which looked like this event failing while others passed, and clean events were dead-lettered.
    faultline.fail_marker = "poison"
    faultline.fail_status = 503
    plugin = make_plugin(faultline.url, batch_size=1, split_after_5xx=2)
    log_calls(plugin, ["poison-0"])
    log_calls(plugin, [f"probe-{i}" for i in range(40)])

    wait_until(lambda: plugin.stats()["isolated"] == 1, what="the event answered 503 isolated at last")
    assert faultline.lone_marker_failures >= 2 * 4  # split_after_5xx x 4, where a 500 needs split_after_5xx
    (dead,) = (spool_dir / "dead-letter").glob("*.json")
    assert "-http503-" in dead.name
    wait_until(lambda: faultline.received_ids() == {f"probe-{i}" for i in range(40)}, what="every other event")
    assert plugin.flush(timeout=60.0)


def test_the_sender_survives_a_payload_whose_str_raises_a_base_exception(faultline, make_plugin):
    class Stop(BaseException):
        pass

    class Lazy:
        def __str__(self):
            raise Stop()

    plugin = make_plugin(faultline.url, batch_size=1)
    plugin.log_success_event(
        kwargs={"standard_logging_object": payload("lazy-0", metadata={"v": Lazy()})},
        response_obj=None, start_time=None, end_time=None,
    )
    log_calls(plugin, ["after-0", "after-1"])

    wait_until(lambda: {"after-0", "after-1"} <= faultline.received_ids(), what="the events after the odd one")
    assert plugin.flush(timeout=60.0)


def test_an_event_lost_inside_the_hook_is_counted(faultline, make_plugin):
    plugin = make_plugin(faultline.url, batch_size=1)
    # A payload whose copy fails: the hook must not raise, and the loss must show in the counters.
    class Broken(Mapping):
        def __getitem__(self, key):
            raise KeyError(key)

        def __iter__(self):
            raise RuntimeError("cannot iterate")

        def __len__(self):
            return 1

    plugin.log_success_event(
        kwargs={"standard_logging_object": Broken()}, response_obj=None, start_time=None, end_time=None
    )
    assert plugin.stats()["dropped"] == 1
    assert "could not capture" in plugin.stats()["last_error"]


def test_an_embedding_response_travels_with_only_the_vectors_faultline_samples(faultline, make_plugin):
    plugin = make_plugin(faultline.url, batch_size=1)
    vectors = [{"object": "embedding", "index": i, "embedding": [0.1] * 1536} for i in range(64)]
    plugin.log_success_event(
        kwargs={"standard_logging_object": payload("emb-0", call_type="aembedding",
                                                   response={"object": "list", "data": vectors, "model": "e3"})},
        response_obj=None, start_time=None, end_time=None,
    )
    wait_until(lambda: "emb-0" in faultline.received_ids(), what="the embedding call")
    data = faultline.events["emb-0"]["response"]["data"]
    assert len(data) == 64
    assert [len(item["embedding"]) for item in data[:16]] == [1536] * 16  # what embedding drift samples
    assert data[16] == {"object": "embedding", "index": 16, "embedding": {"dimensions": 1536}}
    assert all(item["embedding"] == {"dimensions": 1536} for item in data[16:])
    assert len(vectors[63]["embedding"]) == 1536  # LiteLLM's own payload is left as it was


def test_an_id_faultline_cannot_store_is_not_kept_for_deduplication(faultline, make_plugin):
    plugin = make_plugin(faultline.url, batch_size=1)
    long_id = "x" * 300
    for _ in range(2):
        plugin.log_success_event(
            kwargs={"standard_logging_object": payload(long_id)}, response_obj=None, start_time=None, end_time=None
        )
    assert long_id not in {key[0] for key in plugin._recent}
    wait_until(lambda: faultline.received_ids() == {long_id}, what="the call, sent as it came")


def test_a_wrong_api_key_keeps_the_events_for_later(faultline, make_plugin):
    plugin = make_plugin(faultline.url, api_key="wrong-key", batch_size=2)

    log_calls(plugin, ["key-0", "key-1"])

    wait_until(lambda: plugin.stats()["spool_files"] == 1, what="the refused batch in the spool")
    assert "401" in plugin.stats()["last_error"]
    assert plugin.stats()["dead_lettered"] == 0
    assert faultline.received_ids() == set()


def refused_with_retry_after(faultline, make_plugin, retry_after, max_backoff_s):
    """A plugin whose first batch Faultline refused with 503 and `Retry-After: retry_after`, now in the spool."""
    faultline.outage_status = 503
    faultline.headers = {"Retry-After": retry_after}
    plugin = make_plugin(faultline.url, batch_size=2, retry_max_backoff_s=max_backoff_s)
    log_calls(plugin, [f"after-{retry_after}-0", f"after-{retry_after}-1"])
    wait_until(lambda: plugin.stats()["spool_files"] == 1, what="the refused batch in the spool")
    return plugin


def test_a_spool_file_nested_too_deep_to_parse_goes_to_dead_letter_and_the_next_file_is_sent(
    faultline, make_plugin, spool_dir
):
    # A corrupt file (or one another writer left) whose nesting exceeds the parser's recursion limit raised
    # RecursionError, which the resend did not expect: the oldest file was read again and again, and nothing behind
    # it was ever sent.
    spool_dir.mkdir(parents=True)
    written = time.time_ns()  # recent: older files expire (FAULTLINE_SPOOL_MAX_AGE_DAYS)
    deep = spool_dir / f"{written:020d}-1-00000001-n1.json"
    deep.write_bytes(_body(["[" * 100_000 + "]" * 100_000]))
    (spool_dir / f"{written + 1:020d}-1-00000002-n1.json").write_bytes(_body([_to_json_line(payload("behind"))]))

    plugin = make_plugin(faultline.url)

    wait_until(lambda: "behind" in faultline.received_ids(), timeout=30, what="the file behind the deep one sent")
    assert (spool_dir / "dead-letter" / deep.name).exists()
    assert not deep.exists()
    wait_until(lambda: plugin.stats()["spool_files"] == 0, what="the spool emptied")


def test_a_spool_entry_that_is_no_regular_file_goes_to_dead_letter_without_blocking_the_sender(
    faultline, make_plugin, spool_dir
):
    # A named pipe (or a device) under a spool file's name: opening it to read waited for a writer that never came,
    # and the sender thread, and every delivery behind it, waited with it.
    spool_dir.mkdir(parents=True)
    written = time.time_ns()
    pipe = spool_dir / f"{written:020d}-1-00000001-n1.json"
    os.mkfifo(pipe)
    (spool_dir / f"{written + 1:020d}-1-00000002-n1.json").write_bytes(_body([_to_json_line(payload("after-pipe"))]))

    plugin = make_plugin(faultline.url)

    try:
        wait_until(lambda: "after-pipe" in faultline.received_ids(), timeout=30, what="the file behind the pipe sent")
    finally:
        if pipe.exists():  # a sender still blocked on it is let go, so that the plugin can close
            fd = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
    assert (spool_dir / "dead-letter" / pipe.name).exists()
    wait_until(lambda: plugin.stats()["spool_files"] == 0, what="the spool emptied")


def test_a_503_with_retry_after_is_not_tried_again_before_it(faultline, make_plugin):
    # Faultline answers 503 with Retry-After while its database is away: many proxy workers retrying at a quarter of a
    # second would hammer it exactly when it sheds load.
    plugin = refused_with_retry_after(faultline, make_plugin, "30", max_backoff_s=60.0)
    assert plugin.stats()["retry_in_s"] > 15  # 30 s asked; the backoff alone would wait at most 0.25 s
    assert len(faultline.attempts) == 1


def test_retry_after_never_holds_the_sender_past_its_own_backoff_ceiling(faultline, make_plugin):
    plugin = refused_with_retry_after(faultline, make_plugin, "86400", max_backoff_s=5.0)
    assert 0 < plugin.stats()["retry_in_s"] <= 5.0


def test_a_retry_after_date_past_any_calendar_keeps_the_batch_for_retry(faultline, make_plugin):
    # A year of 20 digits made the date parser raise OverflowError, not ValueError: it escaped the answer's handling,
    # and the batch being sent was neither delivered nor spooled nor counted.
    plugin = refused_with_retry_after(faultline, make_plugin, "Fri, 31 Dec 99999999999999999999 00:00:00 GMT",
                                      max_backoff_s=0.2)
    assert plugin.stats()["dropped"] == 0

    faultline.outage_status = None
    wait_until(lambda: {"after-Fri, 31 Dec 99999999999999999999 00:00:00 GMT-0",
                        "after-Fri, 31 Dec 99999999999999999999 00:00:00 GMT-1"} <= faultline.received_ids(),
               timeout=30, what="the refused batch delivered once Faultline is back")


def test_an_answer_trickling_in_is_given_up_at_the_timeout_and_the_batch_kept(faultline, make_plugin):
    # 200 headers, then a byte every 0.1 s: httpx's timeout bounds each read, which this never trips, so one batch
    # held the sender, and every batch behind it, for as long as the trickle lasted (45 s in a probe).
    faultline.trickle_s = 0.1
    plugin = make_plugin(faultline.url, batch_size=2, timeout_s=1.0)

    log_calls(plugin, ["trickle-0", "trickle-1"])

    wait_until(lambda: "took longer" in (plugin.stats()["last_error"] or ""), timeout=100,  # a hang guard
               what="the trickling answer given up")
    wait_until(lambda: plugin.stats()["spool_files"] == 1, what="the batch kept for retry")
    assert plugin.stats()["sent"] == 0


def test_a_gzipped_answer_is_inflated_only_up_to_the_answer_bound_and_the_batch_kept(faultline, make_plugin):
    # httpx inflates each compressed chunk whole: 64 KB of gzip became 64 MB in memory before the bound on the answer
    # (8 MiB) was checked, on every retry, in every worker of the proxy.
    import gzip
    import tracemalloc

    receipt = b'{"accepted": 1, "duplicates": 0, "rejected": []' + b" " * (64 * 1024 * 1024) + b"}"
    faultline.gzipped_answer = gzip.compress(receipt, compresslevel=9)
    del receipt
    plugin = make_plugin(faultline.url, batch_size=1, flush_interval_s=60.0, retry_max_backoff_s=60.0)

    tracemalloc.start()
    try:
        log_calls(plugin, ["bomb-0"])
        wait_until(lambda: "larger than" in (plugin.stats()["last_error"] or "") and plugin.stats()["spooled"] == 1,
                   what="the answer refused and the batch spooled")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 32 * 1024 * 1024  # the 8 MiB bound, what is read up to it and the join: not the 64 MB inflated
    assert plugin.stats()["accepted"] == 0
    faultline.gzipped_answer = None
    assert plugin.flush(timeout=60.0)
    assert faultline.received_ids() == {"bomb-0"}


def test_a_2xx_that_is_not_a_receipt_keeps_the_events(faultline, make_plugin):
    faultline.not_a_receipt = True  # FAULTLINE_URL points at a gateway's login page
    plugin = make_plugin(faultline.url, batch_size=2)

    log_calls(plugin, ["page-0", "page-1"])

    wait_until(lambda: plugin.stats()["spool_files"] == 1, what="the batch kept for retry")
    assert "not Faultline's receipt" in plugin.stats()["last_error"]
    assert plugin.stats()["sent"] == 0

    faultline.not_a_receipt = False
    wait_until(lambda: faultline.received_ids() >= {"page-0", "page-1"} and plugin.stats()["sent"] == 2,
               what="the kept batch delivered once the answers are receipts")


class _ExitingValue:
    """A value of the payload whose every attribute read raises SystemExit, a BaseException."""

    def __getattribute__(self, name):
        raise SystemExit(f"reading {name}")


@pytest.mark.parametrize("where", ["metadata", "exception", "exception without payload"])
def test_a_base_exception_from_a_payload_value_never_reaches_litellm(faultline, make_plugin, where):
    # `except Exception` let a SystemExit raised by an odd value through the hook into LiteLLM, whose event loop it
    # stops. The sender thread already survived such values; the hooks did not.
    plugin = make_plugin(faultline.url)
    if where == "metadata":
        kwargs = {"standard_logging_object": {**payload("exiting-0"), "metadata": {"odd": _ExitingValue()}}}
    elif where == "exception":
        kwargs = {"standard_logging_object": payload("exiting-1", status="failure"), "exception": _ExitingValue()}
    else:
        kwargs = {"litellm_call_id": "exiting-2", "exception": _ExitingValue()}

    plugin.log_failure_event(kwargs=kwargs, response_obj=None, start_time=None, end_time=None)
    asyncio.run(plugin.async_log_success_event(kwargs=kwargs, response_obj=None, start_time=None, end_time=None))

    assert plugin.stats()["dropped"] <= 2  # captured, or lost and counted; never raised


# ---------------------------------------------------------------- what each event carries


def test_an_openai_rate_limit_error_carries_its_status_and_rate_limit_headers(
    faultline, make_plugin, litellm_callbacks
):
    plugin = make_plugin(faultline.url)
    litellm_callbacks(plugin)
    case = wire_case_headers("openai_429_rate_limit_exceeded_tpm")
    exc = litellm.RateLimitError(
        message="Rate limit reached for gpt-4o on tokens per min (TPM)",
        llm_provider="openai",
        model="gpt-4o-mini",
        response=httpx.Response(429, headers={**case, "Retry-After": "1", "Set-Cookie": "s=1", "Authorization": "x"}),
    )

    event = delivered_failure(faultline, exc)

    extra = event["faultline"]
    assert extra["http_status"] == 429
    assert extra["exception_class"] == "RateLimitError"
    assert event["error_information"]["error_class"] == "RateLimitError"
    assert extra["response_headers"]["x-ratelimit-remaining-tokens"] == "0"
    assert extra["response_headers"]["x-ratelimit-reset-tokens"] == "6m0s"
    assert extra["response_headers"]["retry-after"] == "1"
    assert "set-cookie" not in extra["response_headers"]
    assert "authorization" not in extra["response_headers"]
    assert event["status"] == "failure"


def test_anthropic_rate_limit_headers_are_taken_from_litellm_response_headers(
    faultline, make_plugin, litellm_callbacks
):
    plugin = make_plugin(faultline.url)
    litellm_callbacks(plugin)
    # LiteLLM raises Anthropic's 429 without a response and pins the provider's headers on the exception.
    exc = litellm.RateLimitError(
        message="AnthropicException - rate_limit_error", llm_provider="anthropic", model="claude"
    )
    exc.litellm_response_headers = httpx.Headers(wire_case_headers("anthropic_429_rate_limit_error"))

    extra = delivered_failure(faultline, exc)["faultline"]

    assert extra["http_status"] == 429
    assert extra["response_headers"]["retry-after"] == "23"
    assert extra["response_headers"]["anthropic-ratelimit-input-tokens-remaining"] == "0"
    assert extra["response_headers"]["anthropic-ratelimit-requests-reset"] == "2026-02-25T20:02:40Z"


def test_an_anthropic_529_keeps_the_providers_status_although_litellm_reports_500(
    faultline, make_plugin, litellm_callbacks
):
    plugin = make_plugin(faultline.url)
    litellm_callbacks(plugin)
    headers = wire_case_headers("anthropic_529_overloaded_error")
    try:  # the way LiteLLM maps it: an InternalServerError raised while handling the provider's error
        try:
            raise AnthropicError(status_code=529, message="overloaded_error", headers=httpx.Headers(headers))
        except AnthropicError:
            raise litellm.InternalServerError(
                message="AnthropicException - Overloaded", llm_provider="anthropic", model="claude",
                response=httpx.Response(529, headers=headers),
            )
    except litellm.InternalServerError as mapped:
        exc = mapped

    event = delivered_failure(faultline, exc)

    assert event["error_information"]["error_code"] == "500"
    assert event["faultline"]["http_status"] == 529
    assert event["faultline"]["exception_class"] == "InternalServerError"
    assert event["faultline"]["response_headers"]["x-should-retry"] == "true"


def test_a_timeout_the_provider_never_answered_keeps_litellms_408_not_a_made_up_500(
    faultline, provider, make_plugin, litellm_callbacks
):
    # LiteLLM's OpenAI handler wraps the SDK's APITimeoutError in an OpenAIError of status 500 (no status of the
    # provider's: none answered), then raises litellm.Timeout (408). The chain's 500 was taken for the provider's
    # own answer, so timeouts were stored as HTTP 500 beside error_code 408 and baselined as error_rate:500.
    plugin = make_plugin(faultline.url)
    litellm_callbacks(plugin)
    provider.hold = True

    async def call():
        try:
            with pytest.raises(litellm.Timeout):
                await litellm.acompletion(
                    model="openai/gpt-4o-mini", api_base=f"{provider.base}/v1", api_key="x",
                    messages=[{"role": "user", "content": "slow"}], max_retries=0, timeout=0.3,
                )
        finally:
            provider.release.set()
        deadline = time.monotonic() + 60  # a ceiling; the event arrives within about a second
        while not faultline.received_ids() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # keeps the loop alive for LiteLLM's logging task

    asyncio.run(call())

    wait_until(lambda: len(faultline.received_ids()) == 1, what="the timeout's event")
    (event,) = faultline.events.values()
    assert event["error_information"]["error_class"] == "Timeout"
    assert event["faultline"]["http_status"] == 408


def test_without_the_provider_error_a_mapped_529_only_knows_500(faultline, make_plugin, litellm_callbacks):
    plugin = make_plugin(faultline.url)
    litellm_callbacks(plugin)
    exc = litellm.InternalServerError(
        message="Overloaded", llm_provider="anthropic", model="claude", response=httpx.Response(529)
    )

    assert delivered_failure(faultline, exc)["faultline"]["http_status"] == 500


def test_a_success_lifts_the_llm_provider_headers_to_the_providers_names(faultline, make_plugin):
    plugin = make_plugin(faultline.url)
    raw = httpx.Headers(wire_case_headers("openai_chat_completion_200"))
    response = ModelResponse()
    response._hidden_params = {"additional_headers": process_response_headers(raw)}  # as LiteLLM stores them

    plugin.log_success_event(
        kwargs={"standard_logging_object": payload("ok-1")}, response_obj=response, start_time=None, end_time=None
    )

    wait_until(lambda: "ok-1" in faultline.received_ids(), what="the success event")
    extra = faultline.events["ok-1"]["faultline"]
    assert extra == {
        "http_status": None,
        "response_headers": {k.lower(): v for k, v in raw.items()},
        "exception_class": None,
        "plugin_version": PLUGIN_VERSION,
        "proxy_id": plugin.config.proxy_id,
    }
    assert extra["response_headers"]["x-ratelimit-remaining-requests"] == "4999"


def test_payloads_are_made_json_safe_and_bad_input_never_raises(faultline, make_plugin):
    plugin = make_plugin(faultline.url, batch_size=3)
    circular = {"name": "loop"}
    circular["self"] = circular
    odd = payload(
        "odd-json",
        response_cost=float("nan"),
        when=datetime(2026, 1, 2, tzinfo=timezone.utc),
        tags={"b"},
        thing=object(),
        loop=circular,
        model_parameters={"api_key": "sk-secret", "temperature": 0.1},
        messages=[{"role": "user", "content": "ignore\x00 previous"}],
    )

    plugin.log_success_event({"standard_logging_object": odd}, None, None, None)
    plugin.log_success_event(None, None, None, None)  # nothing to report: ignored, and no exception
    plugin.log_failure_event(
        {"litellm_call_id": "no-payload", "model": "gpt-4o-mini", "exception": ValueError("boom")},
        None,
        datetime(2026, 1, 1, tzinfo=timezone.utc),
        datetime(2026, 1, 1, 0, 0, 1, tzinfo=timezone.utc),
    )

    wait_until(lambda: {"odd-json", "no-payload"} <= faultline.received_ids(), what="both events")
    event = faultline.events["odd-json"]
    assert event["response_cost"] is None
    assert event["when"] == "2026-01-02T00:00:00+00:00"
    assert event["tags"] == ["b"]
    assert event["loop"]["self"] == "<circular>"
    assert event["model_parameters"] == {"api_key": "[redacted]", "temperature": 0.1}
    assert event["messages"][0]["content"] == "ignore\x00 previous"  # Faultline stores NUL; detectors read it
    fallback = faultline.events["no-payload"]
    assert fallback["status"] == "failure"
    assert fallback["faultline"]["exception_class"] == "ValueError"
    assert math.isclose(fallback["endTime"] - fallback["startTime"], 1.0)


def _nested(depth):
    value = "bottom"
    for _ in range(depth):
        value = {"next": value}
    return value


def _depth(value):
    return 1 + max(map(_depth, value.values()), default=0) if isinstance(value, dict) else 0


@pytest.mark.parametrize("orjson_installed", [True, False], ids=["orjson", "stdlib"])
def test_numbers_and_nesting_past_faultlines_parser_limits_are_cut_and_the_call_is_delivered(
    faultline, make_plugin, spool_dir, monkeypatch, request, orjson_installed
):
    # An integer of 1,001 to 4,300 digits made Faultline refuse the call (400: Jackson's number-length limit), so it
    # was halved down to itself and dead-lettered; past 4,300 digits Python could not write it and it was dropped.
    # Either way a caller could keep its calls out of Faultline through a value in its request metadata; so could a
    # key of more than 50,000 characters (Jackson's name-length limit).
    if not orjson_installed:
        monkeypatch.setattr(faultline_callback, "_orjson", None)
    request.addfinalizer(functools.partial(sys.setrecursionlimit, sys.getrecursionlimit()))
    sys.setrecursionlimit(20_000)  # as a process may: the stdlib encoder then writes nesting past Faultline's limit
    plugin = make_plugin(faultline.url, batch_size=5)
    hostile = {
        "long-int": {"n": 10**1500},
        "huge-int": {"n": -(10**5000)},
        "int-past-64-bits": {"n": 2**64},
        "deep": _nested(990),
        "deeper": _nested(2_000),
        "fine": {"n": 2**64 - 1, "m": -(2**63)},
        "long-key": {"k" * 50_001: 1, "\U0001F600" * 25_001: 2, "\\" * 15_000: 3},  # Java counts 50,002 units
    }
    for call_id, metadata in hostile.items():
        event = payload(call_id, metadata={"requester_metadata": metadata, "note": "caf\u00e9"})
        plugin.log_success_event({"standard_logging_object": event}, None, None, None)

    assert plugin.flush(timeout=60.0)
    assert faultline.received_ids() == set(hostile)
    assert plugin.stats()["dead_lettered"] == 0 and plugin.stats()["dropped"] == 0
    metadata = {call_id: faultline.events[call_id]["metadata"]["requester_metadata"] for call_id in hostile}
    assert metadata["long-int"] == {"n": "<int: 1501 digits>"}
    assert metadata["huge-int"] == {"n": "<int: -5001 digits>"}
    assert metadata["int-past-64-bits"] == {"n": "<int: 20 digits>"}
    assert metadata["fine"] == {"n": 2**64 - 1, "m": -(2**63)}
    assert _depth(metadata["deep"]) == 990  # Faultline's parser takes 1,000 levels: this is sent as it was
    assert 50 < _depth(metadata["deeper"]) <= faultline_callback._MAX_JSON_DEPTH
    assert metadata["long-key"] == {
        faultline_callback._cut_key("k" * 50_001): 1, faultline_callback._cut_key("\U0001F600" * 25_001): 2,
        "\\" * 15_000: 3}
    assert faultline_callback._cut_key("k" * 50_001).startswith("k" * 200 + "...<key: 50001 chars, sha256 ")


@pytest.mark.parametrize("orjson_installed", [True, False], ids=["orjson", "stdlib"])
def test_long_keys_that_share_their_first_200_characters_and_their_length_stay_distinct(
    faultline, make_plugin, monkeypatch, orjson_installed
):
    # A key past the parser's limit was cut to its first 200 and its length: two such keys differing only further on
    # became one, and one value overwrote the other in what Faultline received.
    if not orjson_installed:
        monkeypatch.setattr(faultline_callback, "_orjson", None)
    plugin = make_plugin(faultline.url, batch_size=2)
    prefix = "k" * 60_000  # past Faultline's parser limit of 50,000
    metadata = {prefix + "-a": 1, prefix + "-b": 2, "short": 3}
    for call_id in ("long-keys-0", "long-keys-1"):
        event = payload(call_id, metadata={"requester_metadata": metadata})
        plugin.log_success_event({"standard_logging_object": event}, None, None, None)

    assert plugin.flush(timeout=60.0)
    sent = [faultline.events[call_id]["metadata"]["requester_metadata"] for call_id in ("long-keys-0", "long-keys-1")]
    assert sent[0] == sent[1]  # the same key is cut to the same name in every event
    assert sorted(sent[0].values()) == [1, 2, 3]
    long_keys = [key for key in sent[0] if key != "short"]
    assert len(long_keys) == 2 and all(key.startswith("k" * 200 + "...<key: 60002 chars, ") for key in long_keys)
    assert all(len(key) < 300 for key in long_keys)


def test_an_event_handed_to_both_failure_hooks_is_sent_once(faultline, make_plugin):
    # The proxy logs its own errors (bad key, unknown model) through the async and then the sync hook.
    plugin = make_plugin(faultline.url, batch_size=1)
    kwargs = {"standard_logging_object": payload("proxy-auth", status="failure"), "exception": ValueError("bad key")}

    asyncio.run(plugin.async_log_failure_event(kwargs, None, None, None))
    plugin.log_failure_event(kwargs, None, None, None)
    log_calls(plugin, ["after"])

    wait_until(lambda: "after" in faultline.received_ids(), what="the later event")
    assert faultline.deliveries["proxy-auth"] == 1
    assert sum(faultline.batches) == 2


def test_settings_come_from_the_environment_and_bad_values_fall_back_to_defaults():
    config = FaultlineConfig.from_env(
        {
            "FAULTLINE_URL": "http://127.0.0.1:9999/",
            "FAULTLINE_API_KEY": "secret",
            "FAULTLINE_BATCH_SIZE": "7",
            "FAULTLINE_FLUSH_INTERVAL_S": "0.5",
            "FAULTLINE_QUEUE_MAX": "abc",
            "FAULTLINE_QUEUE_MAX_BYTES": "1000000",
            "FAULTLINE_SPOOL_DIR": "/tmp/x",
            "FAULTLINE_SPOOL_MAX_BYTES": "-1",
            "FAULTLINE_DEAD_LETTER_MAX_BYTES": "5000000",
            "FAULTLINE_TIMEOUT_S": "2",
            "FAULTLINE_RETRY_MAX_BACKOFF_S": "nan",
            "FAULTLINE_SPLIT_AFTER_5XX": "0",
        }
    )

    assert config.calls_url == "http://127.0.0.1:9999/api/v1/calls"
    assert (config.api_key, config.batch_size, config.flush_interval_s, config.timeout_s) == ("secret", 7, 0.5, 2.0)
    assert (config.queue_max, config.spool_max_bytes, config.retry_max_backoff_s) == (10_000, 192 * 1024 * 1024, 30.0)
    assert (config.queue_max_bytes, config.dead_letter_max_bytes, config.split_after_5xx) == (1_000_000, 5_000_000, 3)
    assert FaultlineConfig.from_env({"FAULTLINE_SPLIT_AFTER_5XX": "5"}).split_after_5xx == 5
    assert config.spool_dir == "/tmp/x"
    assert "secret" not in repr(config)


def test_durations_too_long_for_the_system_clock_fall_back_to_defaults():
    # Past ~9.2e9 s a socket or wait timeout overflows time_t: FAULTLINE_TIMEOUT_S=1e10 failed every POST
    # (OverflowError, read as "cannot reach"), so nothing was ever delivered; FAULTLINE_POLICY_REFRESH_S=1e10 made the
    # poller raise and poll every second, a traceback each time; a spool age of 1e305 days was infinite and failed
    # every expiry.
    config = FaultlineConfig.from_env(
        {
            "FAULTLINE_TIMEOUT_S": "1e10",
            "FAULTLINE_FLUSH_INTERVAL_S": "1e10",
            "FAULTLINE_RETRY_MAX_BACKOFF_S": "1e10",
            "FAULTLINE_SPOOL_MAX_AGE_DAYS": "1e305",
            "FAULTLINE_POLICY_REFRESH_S": "1e10",
            "FAULTLINE_POLICY_STALE_AFTER_S": "1e10",
        }
    )

    assert (config.timeout_s, config.flush_interval_s, config.retry_max_backoff_s) == (5.0, 1.0, 30.0)
    assert config.spool_max_age_s == 7 * 86400.0
    assert (config.policy_refresh_s, config.policy_stale_after_s) == (None, None)
    longest = FaultlineConfig.from_env({"FAULTLINE_TIMEOUT_S": "86400", "FAULTLINE_SPOOL_MAX_AGE_DAYS": "36500"})
    assert (longest.timeout_s, longest.spool_max_age_s) == (86400.0, 36500 * 86400.0)


def test_every_event_names_its_proxy_as_faultline_stores_it(faultline, make_plugin):
    # A model group is one proxy's list of candidates: Faultline counts a group's deployments per proxy.
    config = FaultlineConfig.from_env({"FAULTLINE_PROXY_ID": "  EU Proxy/1 "})
    plugin = make_plugin(faultline.url, proxy_id=config.proxy_id)

    log_calls(plugin, ["named-ok"])
    plugin.log_failure_event(
        kwargs={"standard_logging_object": payload("named-failed", status="failure"), "exception": TimeoutError()},
        response_obj=None,
        start_time=None,
        end_time=None,
    )

    wait_until(lambda: {"named-ok", "named-failed"} <= faultline.received_ids(), what="both events")
    assert config.proxy_id == "eu_proxy_1"
    assert faultline.events["named-ok"]["faultline"]["proxy_id"] == "eu_proxy_1"
    assert faultline.events["named-failed"]["faultline"]["proxy_id"] == "eu_proxy_1"


def test_a_proxy_id_is_a_label_and_a_long_one_keeps_a_prefix_and_its_crc():
    label = faultline_callback.proxy_label
    assert label("litellm-7d9f8b-x2k4q") == "litellm-7d9f8b-x2k4q"
    assert label("  LiteLLM Proxy/EU ") == "litellm_proxy_eu"
    # The vector CallIngestTest checks Faultline's side with: the two sanitise alike.
    long_host = "ip-10-0-1-23.eu-west-1.compute.internal.example.com"
    assert label(long_host) == "ip-10-0-1-23.eu-west-1.compute.-8a5c9cd5"
    assert label(label(long_host)) == label(long_host)  # a label is kept as it is, here and at Faultline
    assert len(label("x" * 500)) == 40
    assert label("x" * 41) != label("x" * 42)
    assert (label(""), label("  "), label(None), label(7)) == (None, None, None, None)


def test_without_faultline_proxy_id_the_proxy_is_named_by_its_callback_setting_then_its_host(monkeypatch):
    monkeypatch.setattr(faultline_callback.socket, "gethostname", lambda: "LiteLLM-7d9f8b-X2K4Q")
    monkeypatch.setattr(litellm, "callback_settings", {})
    assert FaultlineConfig.from_env({}).proxy_id == "litellm-7d9f8b-x2k4q"
    assert FaultlineConfig.from_env({"FAULTLINE_PROXY_ID": " "}).proxy_id == "litellm-7d9f8b-x2k4q"
    assert FaultlineConfig().proxy_id == "litellm-7d9f8b-x2k4q"

    # config.yaml's callback_settings.faultline.proxy_id (LiteLLM sets them before it loads the callbacks).
    monkeypatch.setattr(litellm, "callback_settings", {"faultline": {"proxy_id": "Proxy-A"}})
    assert FaultlineConfig.from_env({}).proxy_id == "proxy-a"
    assert FaultlineConfig.from_env({"FAULTLINE_PROXY_ID": "proxy-b"}).proxy_id == "proxy-b"

    def nameless():
        raise OSError("no host name")

    monkeypatch.setattr(litellm, "callback_settings", {"faultline": "not a mapping"})
    monkeypatch.setattr(faultline_callback.socket, "gethostname", nameless)
    assert FaultlineConfig.from_env({}).proxy_id is None  # the event names none: Faultline's default proxy


def test_an_event_of_a_proxy_without_a_name_names_none(faultline, make_plugin):
    plugin = make_plugin(faultline.url, proxy_id=None)

    log_calls(plugin, ["unnamed"])

    wait_until(lambda: "unnamed" in faultline.received_ids(), what="the event")
    assert "proxy_id" not in faultline.events["unnamed"]["faultline"]


def test_the_ingest_key_is_preferred_over_the_legacy_key_and_trimmed():
    both = FaultlineConfig.from_env({"FAULTLINE_INGEST_API_KEY": "ingest\n", "FAULTLINE_API_KEY": "admin"})
    legacy = FaultlineConfig.from_env({"FAULTLINE_API_KEY": " admin\n"})
    empty_ingest = FaultlineConfig.from_env({"FAULTLINE_INGEST_API_KEY": "", "FAULTLINE_API_KEY": "admin"})
    neither = FaultlineConfig.from_env({})

    assert (both.api_key, legacy.api_key, empty_ingest.api_key, neither.api_key) == ("ingest", "admin", "admin", "")


def _quantity(text):
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "k": 1000, "M": 1000**2, "G": 1000**3}
    for suffix, factor in units.items():
        if str(text).endswith(suffix):
            return int(float(str(text)[: -len(suffix)]) * factor)
    return int(text)


def test_spool_and_dead_letter_stay_well_under_the_volume_the_deployment_gives_them():
    manifest = PLUGIN_DIR.parent / "k8s" / "litellm-deployment.yaml"
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "litellm"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "litellm"]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    spool_dir = env["FAULTLINE_SPOOL_DIR"].rstrip("/")
    (mount,) = [m for m in container["volumeMounts"] if spool_dir == m["mountPath"].rstrip("/")]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    size_limit = _quantity(volume["emptyDir"]["sizeLimit"])

    config = FaultlineConfig.from_env(env)  # the plugin's settings in that pod, defaults included

    # The kubelet evicts the pod when the volume passes its sizeLimit: the plugin's own bounds keep it at half.
    assert config.spool_max_bytes + config.dead_letter_max_bytes <= size_limit // 2


# ---------------------------------------------------------------- with the real LiteLLM


def test_the_proxy_config_loader_finds_the_module_level_instance():
    # The proxy execs the module without registering it in sys.modules; the module must survive that.
    loaded = get_instance_fn("faultline_callback.faultline_logger", config_file_path=str(PLUGIN_DIR / "config.yaml"))
    try:
        assert type(loaded).__name__ == "FaultlineLogger"
        assert isinstance(loaded, CustomLogger)
    finally:
        loaded.close()


def test_real_litellm_calls_reach_faultline_with_status_class_and_headers(
    faultline, provider, make_plugin, litellm_callbacks
):
    plugin = make_plugin(faultline.url)
    litellm_callbacks(plugin)

    async def calls():
        ok = await litellm.acompletion(
            model="openai/gpt-4o-mini", api_base=f"{provider.base}/v1", api_key="x",
            messages=[{"role": "user", "content": "capital of France?"}], max_retries=0,
        )
        provider.case = "openai_429_rate_limit_exceeded_tpm"
        with pytest.raises(litellm.RateLimitError):
            await litellm.acompletion(
                model="openai/gpt-4o-mini", api_base=f"{provider.base}/v1", api_key="x",
                messages=[{"role": "user", "content": "again"}], max_retries=0,
            )
        provider.case = "anthropic_messages_200_thinking_cache"
        await litellm.acompletion(
            model="anthropic/claude-sonnet-4-5", api_base=provider.base, api_key="x",
            messages=[{"role": "user", "content": "think"}], max_tokens=10, max_retries=0,
        )
        provider.case = "anthropic_529_overloaded_error"
        with pytest.raises(litellm.InternalServerError):
            await litellm.acompletion(
                model="anthropic/claude-sonnet-4-5", api_base=provider.base, api_key="x",
                messages=[{"role": "user", "content": "hello"}], max_tokens=10, max_retries=0,
            )
        deadline = time.monotonic() + 60  # a ceiling; the events arrive within about a second
        while len(faultline.received_ids()) < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # keeps the loop alive for LiteLLM's logging tasks
        return ok

    ok = asyncio.run(calls())

    wait_until(lambda: len(faultline.received_ids()) == 4, what="four events")
    by_status = {}
    for event in faultline.events.values():
        by_status.setdefault(event["status"], []).append(event)
    success, anthropic_success = sorted(by_status["success"], key=lambda e: e["custom_llm_provider"] == "anthropic")
    assert success["id"] == ok.id
    assert success["response"]["choices"][0]["message"]["content"] == "The capital of France is Paris."
    assert success["faultline"]["http_status"] is None
    assert success["faultline"]["response_headers"]["x-ratelimit-remaining-requests"] == "4999"
    assert success["faultline"]["response_headers"]["x-request-id"] == "req_8f1c2a9d4b7e4e0f9a3c5d6e7f809a1b"
    assert "request-id" not in success["faultline"]["response_headers"]  # LiteLLM's copy of x-request-id
    sent_by_anthropic = wire_case_headers("anthropic_messages_200_thinking_cache")
    anthropic_headers = anthropic_success["faultline"]["response_headers"]
    assert {k: anthropic_headers[k] for k in sent_by_anthropic} == sent_by_anthropic
    assert not any(k.startswith("x-ratelimit-") for k in anthropic_headers)  # LiteLLM's OpenAI-style copies
    assert anthropic_success["response"]["usage"]["completion_tokens_details"]["reasoning_tokens"] == 180
    rate_limited, overloaded = sorted(by_status["failure"], key=lambda e: e["custom_llm_provider"] == "anthropic")
    assert rate_limited["error_information"]["error_class"] == "RateLimitError"
    assert rate_limited["faultline"]["http_status"] == 429
    assert rate_limited["faultline"]["exception_class"] == "RateLimitError"
    assert rate_limited["faultline"]["response_headers"]["x-ratelimit-remaining-tokens"] == "0"
    assert rate_limited["faultline"]["response_headers"]["x-ratelimit-reset-tokens"] == "6m0s"
    assert overloaded["faultline"]["http_status"] == 529
    assert overloaded["faultline"]["exception_class"] == "InternalServerError"
    assert overloaded["faultline"]["response_headers"]["request-id"] == "req_011CVQe1dLrGNMJyE1ghG1av"


needs_real_proxy = pytest.mark.skipif(
    not os.environ.get("FAULTLINE_PROXY_E2E"), reason="starts a real LiteLLM proxy (~15 s); FAULTLINE_PROXY_E2E=1"
)


def start_proxy(tmp_path, faultline_url, provider, config=None, **env_overrides):
    """A real LiteLLM proxy with the plugin beside its config, as documented; its base URL and its process.

    `config` replaces the default config.yaml (one model group, gpt-4o-mini, on `provider`).
    """
    import shutil
    import socket

    shutil.copy(PLUGIN_DIR / "faultline_callback.py", tmp_path)  # the module sits beside the config, as documented
    (tmp_path / "config.yaml").write_text(
        config or f"""
model_list:
  - model_name: gpt-4o-mini
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{provider.base}/v1", api_key: x, max_retries: 0}}
litellm_settings:
  callbacks: faultline_callback.faultline_logger
  num_retries: 0
general_settings:
  master_key: sk-master-test
"""
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(
        os.environ,
        FAULTLINE_URL=faultline_url,
        FAULTLINE_API_KEY=API_KEY,
        FAULTLINE_FLUSH_INTERVAL_S="0.1",
        FAULTLINE_SPOOL_DIR=str(tmp_path / "spool"),
    )
    env.update(env_overrides)
    litellm_cli = os.path.join(os.path.dirname(sys.executable), "litellm")
    with open(tmp_path / "proxy.log", "wb") as log:
        proxy = subprocess.Popen(
            [litellm_cli, "--config", str(tmp_path / "config.yaml"), "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def proxy_up():
        if proxy.poll() is not None:
            raise AssertionError(f"the proxy exited with {proxy.returncode}: {(tmp_path / 'proxy.log').read_text()}")
        try:
            return httpx.get(f"{base}/health/liveliness", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(proxy_up, timeout=600, what="the proxy to start")  # 15-70 s here: a hang guard only
    except BaseException:
        stop_proxy(proxy)
        raise
    return base, proxy


def stop_proxy(proxy):
    proxy.terminate()
    try:
        proxy.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proxy.kill()
        proxy.wait(timeout=15)


def proxy_chat(base, key, text):
    return httpx.post(
        f"{base}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=120,
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]},
    )


@needs_real_proxy
def test_a_real_proxy_reports_successes_provider_errors_and_its_own_auth_errors_once(faultline, provider, tmp_path):
    base, proxy = start_proxy(tmp_path, faultline.url, provider)
    try:
        assert proxy_chat(base, "sk-master-test", "ok").status_code == 200
        provider.case = "openai_429_rate_limit_exceeded_tpm"
        assert proxy_chat(base, "sk-master-test", "limited").status_code == 429
        assert proxy_chat(base, "sk-not-a-key", "bad key").status_code >= 400

        provider.case = "openai_chat_completion_200"
        assert proxy_chat(base, "sk-master-test", "after").status_code == 200  # after any late copy of the auth error

        wait_until(lambda: len(faultline.received_ids()) >= 4, what="four events from the proxy")
        events = sorted(faultline.events.values(), key=lambda e: e["startTime"])
        assert [e["status"] for e in events] == ["success", "failure", "failure", "success"]
        assert events[1]["faultline"]["http_status"] == 429
        assert events[1]["faultline"]["response_headers"]["x-ratelimit-remaining-tokens"] == "0"
        assert events[2]["faultline"]["exception_class"] == "ProxyException"  # the proxy's own key check
        assert events[2]["metadata"]["user_api_key_request_route"] == "/v1/chat/completions"
        assert set(faultline.deliveries.values()) == {1}  # the auth error reaches two hooks, and is sent once
    finally:
        stop_proxy(proxy)


@needs_real_proxy
def test_a_proxy_stopped_with_sigterm_loses_none_of_the_events_it_still_held(faultline, provider, tmp_path):
    # A rolling update stops the proxy with SIGTERM. uvicorn stops gracefully and then ends the process by the
    # signal, so atexit never runs: the events still queued (a minute's flush interval keeps them all) go to the
    # spool and are resent from it while the process lives. Whatever the end of the process cut short is still in
    # the spool, and the next start sends it.
    base, proxy = start_proxy(tmp_path, faultline.url, provider, FAULTLINE_FLUSH_INTERVAL_S="60",
                              FAULTLINE_BATCH_SIZE="1000")
    held = [f"held {i}" for i in range(6)]
    try:
        for text in held:
            assert proxy_chat(base, "sk-master-test", text).status_code == 200
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(timeout=60)  # a hang guard: uvicorn's graceful stop takes about a second
    finally:
        stop_proxy(proxy)
    with faultline.lock:  # a POST the stop cut short may still be in Faultline's hands, adding to its events
        delivered = {e["messages"][0]["content"] for e in faultline.events.values()}
    spooled = [json.loads(f.read_text()) for f in (tmp_path / "spool").glob("*.json")]
    assert delivered | {e["messages"][0]["content"] for batch in spooled for e in batch} == set(held)

    base, proxy = start_proxy(tmp_path, faultline.url, provider)
    try:
        wait_until(lambda: len(faultline.received_ids()) == 6,
                   what="every event, the spooled ones sent by the next start")
    finally:
        stop_proxy(proxy)


FALLBACK_CONFIG = """
model_list:
  - model_name: primary
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{primary}/v1", api_key: x, max_retries: 0}}
    model_info: {{id: dep-primary}}
  - model_name: backup
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{backup}/v1", api_key: x, max_retries: 0}}
    model_info: {{id: dep-backup}}
router_settings:
  num_retries: 1
  disable_cooldowns: true
  fallbacks:
    - primary: [backup]
litellm_settings:
  callbacks: faultline_callback.faultline_logger
  num_retries: 1
general_settings:
  master_key: sk-master-test
"""


@needs_real_proxy
def test_every_failed_attempt_of_a_request_retried_and_fallen_back_reaches_faultline_once_with_its_trace(
    faultline, tmp_path
):
    # LiteLLM's proxy builds one logging object per request and its router hands it to every attempt; the object
    # lets one failure through to async_log_failure_event and drops the rest (has_logged_async_failure). Retries on
    # the primary and a fallback that fails too are attempts on real deployments all the same: each must reach
    # Faultline, once, under the request's trace id, as LiteLLM's per-attempt deployment hook reports them.
    from conftest import FakeProvider

    primary, backup = FakeProvider(), FakeProvider()
    primary.case = "openai_500_server_error"
    config = FALLBACK_CONFIG.format(primary=primary.base, backup=backup.base)
    base, proxy = start_proxy(tmp_path, faultline.url, primary, config=config)
    asked = {}  # request text -> (status, LiteLLM's call id)
    try:
        for stream in (False, True):
            for backup_case in ("openai_chat_completion_200", "openai_429_rate_limit_exceeded_tpm"):
                backup.case = backup_case
                text = f"stream={stream} backup={backup_case}"
                answer = httpx.post(
                    f"{base}/v1/chat/completions", headers={"Authorization": "Bearer sk-master-test"}, timeout=120,
                    json={"model": "primary", "stream": stream, "messages": [{"role": "user", "content": text}]},
                )
                asked[text] = (answer.status_code, answer.headers.get("x-litellm-call-id"))
        answered = len(primary.answered) + len(backup.answered)
        wait_until(lambda: len(faultline.accepted) >= answered, what=f"{answered} attempts' events")
    finally:
        stop_proxy(proxy)
        primary.stop()
        backup.stop()

    for text, (status, call_id) in asked.items():
        events = [e for e in faultline.accepted if e["messages"][-1]["content"] == text]
        tried = {"dep-primary": [s for t, s in primary.answered if t == text],
                 "dep-backup": [s for t, s in backup.answered if t == text]}
        assert len(tried["dep-primary"]) == 2, text  # the attempt and its one retry, both 500
        assert tried["dep-backup"], text  # then the fallback, retried once more if it failed
        # A fallback that fails too answers the caller the primary's error.
        assert status == (200 if tried["dep-backup"][-1] == 200 else 500), text
        for deployment, statuses in tried.items():
            reported = sorted((e["faultline"]["http_status"] or 200) for e in events if e["model_id"] == deployment)
            assert reported == sorted(statuses), f"{text}: {deployment}"
        assert {e["trace_id"] for e in events} == {events[0]["trace_id"]}, text
        assert {e["litellm_call_id"] for e in events} == {call_id}, text
        assert {e["model_group"] for e in events if e["model_id"] == "dep-backup"} == {"backup"}, text
        assert {e["model_group"] for e in events if e["model_id"] == "dep-primary"} == {"primary"}, text
        # The fallback starts after the attempts it replaces: Faultline follows a trace forward from a failure.
        assert min(e["startTime"] for e in events if e["model_id"] == "dep-backup") > max(
            e["startTime"] for e in events if e["model_id"] == "dep-primary"), text
    attempts = [(e["litellm_call_id"], e["startTime"]) for e in faultline.accepted]
    assert len(attempts) == len(set(attempts)) == answered  # Faultline's key: one event per attempt, each once


def test_a_stopping_plugin_spools_its_queue_and_the_requests_still_being_finished_then_resends_them(
    faultline, make_plugin, spool_dir
):
    # What SIGTERM starts (stop_on_sigterm hands it to _begin_stopping before uvicorn's handler): the queue goes to
    # the disk first, and out from there at once, not at the sender's next timer, as a Kubernetes pod whose spool is
    # an emptyDir has only its grace period left to deliver it.
    plugin = make_plugin(faultline.url, batch_size=1000, flush_interval_s=600.0, retry_max_backoff_s=600.0)
    log_calls(plugin, [f"queued-{i}" for i in range(5)])
    assert plugin.stats()["queued"] == 5

    plugin._begin_stopping()
    log_calls(plugin, ["finished-after-the-signal"])

    expected = {f"queued-{i}" for i in range(5)} | {"finished-after-the-signal"}
    # A hang guard: the resend takes milliseconds; the sender's own timers are 60 s (expiry) and 600 s away.
    wait_until(lambda: faultline.received_ids() == expected, timeout=30, what="the spooled queue resent")
    wait_until(lambda: not list(spool_dir.glob("*.json")), timeout=30, what="the resent files deleted")
    # The stopping thread counts a file once it is written, and the sender may resend and delete it before that.
    wait_until(lambda: plugin.stats()["spooled"] >= 6, what="both spooled files counted")
    assert plugin.stats()["spooled"] == 6  # through the spool, not posted from the queue
    assert set(faultline.deliveries.values()) == {1}


def _spool_file(directory, written_ns, events, stem_tail="00000001"):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{written_ns:020d}-{os.getpid()}-{stem_tail}-n{len(events)}.json"
    path.write_bytes(_body([_to_json_line(payload(call_id)) for call_id in events]))
    return path


def test_spool_and_dead_letter_files_past_their_age_expire_and_are_counted(
    faultline, make_plugin, spool_dir, request
):
    day_ns = 86_400 * 10**9
    now_ns = time.time_ns()
    old_spool = _spool_file(spool_dir, now_ns - 8 * day_ns, ["old-0", "old-1"])
    young_spool = _spool_file(spool_dir, now_ns - 6 * day_ns, ["young-0"], "00000002")
    old_dead = _spool_file(spool_dir / "dead-letter", now_ns - 9 * day_ns, ["dead-0", "dead-1", "dead-2"])
    young_dead = _spool_file(spool_dir / "dead-letter", now_ns - 1 * day_ns, ["dead-3"], "00000002")

    # Faultline holds every request until the test ends, so nothing is delivered: only the age removes files. (A
    # Faultline that was down refused the young file's resend right after the expiry, and that error replaced the
    # expiry's in last_error on a slow machine.)
    faultline.delay_s = 120.0
    request.addfinalizer(faultline.release.set)
    plugin = make_plugin(faultline.url, spool_max_age_s=7 * 86400.0, timeout_s=150.0)

    wait_until(lambda: plugin.stats()["expired"] == 2, what="the old spool file expired")
    wait_until(lambda: plugin.stats()["dead_letter_expired"] == 3, what="the old dead-letter file expired")
    # The plugin notes the expiry a moment after it counts it.
    wait_until(lambda: "expired 1 spool file(s)" in (plugin.stats()["last_error"] or ""), what="the expiry noted")
    assert not old_spool.exists() and not old_dead.exists()
    assert young_spool.exists() and young_dead.exists()
    stats = plugin.stats()
    assert (stats["spool_files"], stats["dead_letter_files"]) == (1, 1)
    assert stats["dead_letter_bytes"] == young_dead.stat().st_size
    assert "expired 1 spool file(s) holding 2 undelivered events" in stats["last_error"]


def test_the_spool_age_comes_from_the_environment_in_days_with_a_week_by_default():
    assert FaultlineConfig.from_env({}).spool_max_age_s == 7 * 86400.0
    assert FaultlineConfig.from_env({"FAULTLINE_SPOOL_MAX_AGE_DAYS": "0.5"}).spool_max_age_s == 43200.0
    assert FaultlineConfig.from_env({"FAULTLINE_SPOOL_MAX_AGE_DAYS": "soon"}).spool_max_age_s == 7 * 86400.0


def test_a_refusal_is_logged_with_its_status_and_problem_title_never_its_body(
    faultline, make_plugin, spool_dir, caplog
):
    faultline.refuse_marker = "poison-4fe1"
    plugin = make_plugin(faultline.url, batch_size=1, flush_interval_s=60.0)
    with caplog.at_level("INFO", logger="faultline"):
        log_calls(plugin, ["poison-4fe1"])
        assert plugin.flush(timeout=60.0)
    assert plugin.stats()["dead_lettered"] == 1
    logged = caplog.text + plugin.stats()["last_error"]
    assert "400" in logged and "malformed batch" in logged
    assert "poison-4fe1" not in logged and "messages" not in logged


def test_spool_and_dead_letter_files_are_readable_by_their_owner_only(make_plugin, spool_dir):
    # Spool files hold whole prompts and answers. Written under the usual umask 022 they were world-readable (0644)
    # in a world-listable folder (0755): any other account on the proxy's host could read every spooled prompt.
    old_umask = os.umask(0o022)
    try:
        port = stopped_faultline_url()
        plugin = make_plugin(f"http://127.0.0.1:{port}", batch_size=2)
        log_calls(plugin, ["private-0", "private-1"])
        wait_until(lambda: plugin.stats()["spool_files"] >= 1, what="a spooled batch")
        dead = faultline_callback._SpoolDir(spool_dir / "dead-letter", 10**9, lambda files, events: None)
        dead.write([_to_json_line(payload("private-2"))])
    finally:
        os.umask(old_umask)

    files = list(spool_dir.glob("*.json")) + list((spool_dir / "dead-letter").glob("*.json"))
    assert len(files) >= 2
    for path in [spool_dir, spool_dir / "dead-letter", *files]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is {oct(stat.S_IMODE(path.stat().st_mode))}"


def test_spool_files_an_older_version_left_readable_to_others_are_made_owner_only_at_start(make_plugin, spool_dir):
    # Versions before the owner-only spool wrote files 0644 in folders 0755, and those stayed so until sent: after
    # an upgrade during an outage, prompts in the spool stayed readable to every account on the host for days.
    spooled = faultline_callback._SpoolDir(spool_dir, 10**9, lambda files, events: None)
    spooled.write([_to_json_line(payload("old-0"))])
    dead = faultline_callback._SpoolDir(spool_dir / "dead-letter", 10**9, lambda files, events: None)
    dead.write([_to_json_line(payload("old-1"))])
    half_written = spool_dir / ".half-written.tmp"
    half_written.write_bytes(b"[")
    files = list(spool_dir.glob("*.json")) + list((spool_dir / "dead-letter").glob("*.json")) + [half_written]
    for path in files:
        path.chmod(0o644)
    for folder in [spool_dir, spool_dir / "dead-letter"]:
        folder.chmod(0o755)

    plugin = make_plugin(f"http://127.0.0.1:{stopped_faultline_url()}", batch_size=1)

    assert plugin.stats()["spool_files"] == 1
    modes = {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in files}
    assert modes == {path.name: "0o600" for path in files}
    folders = {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in [spool_dir, spool_dir / "dead-letter"]}
    assert folders == {"spool": "0o700", "dead-letter": "0o700"}


def test_a_password_in_faultline_url_is_neither_logged_nor_shown_in_the_stats(make_plugin, caplog):
    # Behind an ingress with basic auth, FAULTLINE_URL carries it (httpx sends the URL's user info as Basic auth).
    # Every failed send logged the URL as configured, password included, and kept it in stats()["last_error"].
    port = stopped_faultline_url()
    with caplog.at_level("INFO", logger="faultline"):
        plugin = make_plugin(f"http://ingest:hunter2-secret-pw@127.0.0.1:{port}", batch_size=1)
        log_calls(plugin, ["basic-auth-0"])
        wait_until(lambda: "127.0.0.1" in (plugin.stats()["last_error"] or ""), what="a failed send")
        # The plugin notes the error in its stats a moment before it logs it.
        wait_until(lambda: "127.0.0.1" in caplog.text, what="the failed send logged")
    logged = caplog.text + plugin.stats()["last_error"]
    assert "127.0.0.1" in caplog.text
    assert "hunter2-secret-pw" not in logged
