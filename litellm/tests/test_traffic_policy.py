"""The traffic policy: polled from a real local HTTP server, applied in the real LiteLLM router's filter hook.

Time is the plugin's injected clock: staleness and the log rate are stepped by the tests, never waited for. Polls
are triggered directly (`poll_policy`) unless a test is about the background poller itself.
"""

import asyncio
import json
import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import litellm
import pytest
from conftest import API_KEY, wait_until

from faultline_callback import (
    NO_REDUCTION,
    FaultlineConfig,
    deployment_provider,
    faultline_provider,
    parse_traffic_policy,
)

litellm.suppress_debug_info = True


class FakeClock:
    def __init__(self):
        self.now = 10_000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def policy_body(*entries, preemption=True, refresh=15, stale=180):
    return {
        "generatedAt": "2026-12-02T20:10:00Z",
        "preemption": preemption,
        "refreshSeconds": refresh,
        "staleAfterSeconds": stale,
        "deployments": [
            {
                "deployment": deployment,
                "modelGroup": "pair",
                "provider": "openai",
                "keepShare": share,
                "state": "reduced",
                "reason": "prediction",
                "predictionId": "9b0c",
                "predictedType": "rate_limit",
                "confidence": 0.91,
                "since": "2026-12-02T20:08:00Z",
                "until": "2026-12-02T20:23:00Z",
                "soleDeployment": False,
            }
            for deployment, share in entries
        ],
    }


class FakePolicyServer:
    """Faultline's GET /api/v1/traffic-policy: answers `body` (JSON-encoded unless bytes) with `status`."""

    def __init__(self):
        self.lock = threading.Lock()
        self.status = 200
        self.body = policy_body()
        self.hold = threading.Event()  # while clear and `slow` is set, requests wait (a hung Faultline)
        self.slow = False
        self.gets = 0
        self.auth_headers = []
        handler = type("Handler", (_PolicyHandler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def stop(self):
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


class _PolicyHandler(BaseHTTPRequestHandler):
    fake: FakePolicyServer

    def do_GET(self):
        fake = self.fake
        with fake.lock:
            fake.gets += 1
            fake.auth_headers.append(self.headers.get("Authorization"))
            status, body, slow = fake.status, fake.body, fake.slow
        if slow:
            fake.hold.wait(30)  # far past the plugin's 1 s timeout; released at teardown
        if self.path != "/api/v1/traffic-policy":
            status, body = 404, {"title": "not found"}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the plugin gave up waiting, as it should
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def policy_server():
    fake = FakePolicyServer()
    yield fake
    fake.stop()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def make_policy_plugin(make_plugin, clock):
    """A plugin whose poller thread is off: the tests poll when they mean to, on their clock."""

    def make(url, **overrides):
        settings = dict(policy_poll=False, policy_timeout_s=1.0)
        settings.update(overrides)
        return make_plugin(url, clock=clock, **settings)

    return make


def deployment(identifier, group="pair"):
    """A candidate as LiteLLM's router hands it to the hook."""
    return {
        "model_name": group,
        "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": f"http://127.0.0.1:1/{identifier}/v1"},
        "model_info": {"id": identifier},
    }


def route(plugin, candidates, times):
    """Runs the hook `times` times; how often each deployment id stayed a candidate."""

    async def run():
        kept = {}
        for _ in range(times):
            out = await plugin.async_filter_deployments(
                model="pair", healthy_deployments=candidates, messages=[{"role": "user", "content": "hi"}]
            )
            assert out, "the hook returned an empty candidate list"
            for d in out:
                kept[d["model_info"]["id"]] = kept.get(d["model_info"]["id"], 0) + 1
        return kept

    return asyncio.run(run())


A, B, C = deployment("dep-a"), deployment("dep-b"), deployment("dep-c")


# ---------------------------------------------------------------- poll and cache


def test_one_poll_serves_every_request_and_sends_the_api_key(policy_server, make_policy_plugin):
    policy_server.body = policy_body(("dep-a", 0.2))
    plugin = make_policy_plugin(policy_server.url)

    assert plugin.poll_policy() is True
    kept = route(plugin, [A, B], 1_000)

    assert policy_server.gets == 1
    assert policy_server.auth_headers == [f"Bearer {API_KEY}"]
    assert kept["dep-b"] == 1_000
    assert plugin.policy_stats()["shares"] == {"openai/dep-a": 0.2}


def test_the_background_poller_starts_with_the_first_routing_call_and_polls_at_the_refresh_interval(
    policy_server, make_plugin
):
    policy_server.body = policy_body(("dep-a", 0.5))
    plugin = make_plugin(policy_server.url, policy_refresh_s=0.05)
    plugin.log_success_event({"standard_logging_object": {"id": "c1", "status": "success"}}, None, None, None)
    assert plugin._policy_poller is None  # shipping calls alone starts no poller: nothing routes here

    route(plugin, [A, B], 1)

    wait_until(lambda: policy_server.gets >= 3, what="three polls by the background thread")
    assert plugin.current_policy().shares == {("openai", "dep-a"): 500_000}
    assert plugin._policy_poller.name == "faultline-policy"


def test_a_worker_forked_while_another_thread_was_routing_routes_in_the_child(policy_server, make_policy_plugin):
    """A fork (LiteLLM's workers, or any fork of a process whose threads route) can come while another thread is
    inside the hook, holding the share gate's lock: the child inherited it held, with no thread left to release it,
    and its first routing call hung the worker's event loop for good. The child routes with a lock of its own."""
    policy_server.body = policy_body(("dep-a", 0.5))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()
    inside, done = threading.Event(), threading.Event()

    def routing_when_the_fork_comes():
        with plugin._gate._lock:
            inside.set()
            done.wait()

    router = threading.Thread(target=routing_when_the_fork_comes, daemon=True)
    router.start()
    assert inside.wait(timeout=30.0)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            # Probed without blocking first: a lock still held would hang the routing below, and so this test.
            if not plugin._gate._lock.acquire(blocking=False):
                code = 2
            else:
                plugin._gate._lock.release()
                code = 0 if route(plugin, [A, B], 10) == {"dep-a": 5, "dep-b": 10} else 3
        finally:
            os._exit(code)
    done.set()
    router.join()
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert route(plugin, [A, B], 10) == {"dep-a": 5, "dep-b": 10}  # the parent's gate goes on as it was


def test_a_forked_worker_polls_with_one_poller_after_its_first_call_is_logged(policy_server, make_plugin):
    """In a forked worker a request is routed (which starts the worker's poller) before it is logged (which starts
    the worker's own sender): that start forgot the running poller, and the next routing call started a second one,
    each polling Faultline at the refresh interval for the worker's life."""
    policy_server.body = policy_body(("dep-a", 0.5))
    plugin = make_plugin(policy_server.url, policy_refresh_s=30.0)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            route(plugin, [A, B], 1)
            plugin.log_success_event({"standard_logging_object": {"id": "c1", "status": "success"}}, None, None, None)
            route(plugin, [A, B], 1)
            pollers = [t for t in threading.enumerate() if t.name == "faultline-policy" and t.is_alive()]
            code = 0 if len(pollers) == 1 else 10 + len(pollers)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0


def test_close_in_a_forked_worker_stops_the_poller_started_before_its_first_logged_call(policy_server, make_plugin):
    """The worker's poller, started by its first routing call, waited on the stop event that the first logged call
    then replaced: close() set the new one, and the poller slept on for up to its refresh interval."""
    policy_server.body = policy_body(("dep-a", 0.5))
    plugin = make_plugin(policy_server.url, policy_refresh_s=3600.0)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            route(plugin, [A, B], 1)
            wait_until(lambda: plugin._policy_counters["polls"] >= 1, what="the worker's first poll")
            plugin.log_success_event({"standard_logging_object": {"id": "c1", "status": "success"}}, None, None, None)
            poller = plugin._policy_poller
            plugin.close(timeout=1.0)
            code = 0 if poller is not None and not poller.is_alive() else 4
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0


def test_before_the_first_poll_nothing_is_reduced(policy_server, make_policy_plugin):
    plugin = make_policy_plugin(policy_server.url)

    assert route(plugin, [A, B], 10) == {"dep-a": 10, "dep-b": 10}
    assert plugin.current_policy() is NO_REDUCTION


# ---------------------------------------------------------------- the share


@pytest.mark.parametrize("share,expected", [(0.2, 200), (0.5, 500), (0.05, 50), (0.999, 999), (0.0, 0)])
def test_a_deployment_keeps_exactly_its_share_of_the_requests(policy_server, make_policy_plugin, share, expected):
    policy_server.body = policy_body(("dep-a", share))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()

    kept = route(plugin, [A, B, C], 1_000)

    assert kept.get("dep-a", 0) == expected
    assert kept["dep-b"] == kept["dep-c"] == 1_000
    assert plugin.policy_stats()["removed"] == 1_000 - expected


def test_the_kept_requests_are_spread_evenly_not_bunched(policy_server, make_policy_plugin):
    policy_server.body = policy_body(("dep-a", 0.25))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()

    kept_at = [i for i in range(40) if "dep-a" in route(plugin, [A, B], 1)]

    assert kept_at == list(range(3, 40, 4))


def test_two_reduced_deployments_each_keep_their_own_share(policy_server, make_policy_plugin):
    policy_server.body = policy_body(("dep-a", 0.2), ("dep-b", 0.7))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()

    kept = route(plugin, [A, B, C], 1_000)

    assert (kept.get("dep-a"), kept.get("dep-b"), kept.get("dep-c")) == (200, 700, 1_000)


def test_a_new_policy_changes_the_share_from_the_next_request(policy_server, make_policy_plugin):
    policy_server.body = policy_body(("dep-a", 0.2))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()
    assert route(plugin, [A, B], 100)["dep-a"] == 20

    policy_server.body = policy_body(("dep-a", 0.6))  # recovering: the share steps back up
    plugin.poll_policy()
    assert route(plugin, [A, B], 100)["dep-a"] == 60

    policy_server.body = policy_body()  # healthy: no longer listed
    plugin.poll_policy()
    assert route(plugin, [A, B], 100)["dep-a"] == 100


# ---------------------------------------------------------------- never empty, never a lone candidate


def test_when_every_candidate_is_at_risk_the_list_is_returned_whole(policy_server, make_policy_plugin):
    policy_server.body = policy_body(("dep-a", 0.0), ("dep-b", 0.0))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()

    kept = route(plugin, [A, B], 100)

    assert kept == {"dep-a": 100, "dep-b": 100}
    assert plugin.policy_stats()["untouched_all_at_risk"] == 100


def test_when_every_candidate_is_at_risk_each_keeps_its_share_relative_to_the_least_at_risk(
    policy_server, make_policy_plugin
):
    # A freshly reduced A beside a recovering B: B is the better bet, so it stays in every list and A in a quarter.
    policy_server.body = policy_body(("dep-a", 0.2), ("dep-b", 0.8))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()

    kept = route(plugin, [A, B], 1_000)

    assert kept == {"dep-a": 250, "dep-b": 1_000}
    assert plugin.policy_stats()["untouched_all_at_risk"] == 0


def test_when_every_candidate_is_at_risk_alike_the_list_is_returned_whole(policy_server, make_policy_plugin):
    policy_server.body = policy_body(("dep-a", 0.2), ("dep-b", 0.2))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()

    kept = route(plugin, [A, B], 100)

    assert kept == {"dep-a": 100, "dep-b": 100}
    assert plugin.policy_stats()["untouched_all_at_risk"] == 100


def test_a_single_candidate_is_never_touched(policy_server, make_policy_plugin):
    policy_server.body = policy_body(("dep-a", 0.0))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()

    assert route(plugin, [A], 100) == {"dep-a": 100}
    assert plugin.policy_stats()["removed"] == 0


def test_preemption_switched_off_reduces_nothing_whatever_the_list_says(policy_server, make_policy_plugin):
    policy_server.body = policy_body(("dep-a", 0.0), preemption=False)
    plugin = make_policy_plugin(policy_server.url)

    assert plugin.poll_policy() is True
    assert route(plugin, [A, B], 50) == {"dep-a": 50, "dep-b": 50}


def test_a_deployment_pinned_at_one_keeps_all_its_traffic(policy_server, make_policy_plugin):
    policy_server.body = policy_body(("dep-a", 1.0), ("dep-a", 0.1))  # an operator pin next to a stale duplicate
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()

    assert route(plugin, [A, B], 50) == {"dep-a": 50, "dep-b": 50}


# ---------------------------------------------------------------- Faultline down


def _make_faultline_fail(server, how):
    if how == "refused":
        server.stop()
    elif how == "timeout":
        server.slow = True
    elif how == "500":
        server.status, server.body = 500, {"title": "Internal Server Error"}
    elif how == "garbage":
        server.body = b"<html>proxy error</html>"
    elif how == "not the contract":
        server.body = {"preemption": True, "deployments": "dep-a"}


@pytest.mark.parametrize("how", ["refused", "timeout", "500", "garbage", "not the contract"])
def test_while_faultline_is_down_the_last_policy_holds_until_stale_then_nothing_is_reduced(
    policy_server, make_policy_plugin, clock, how
):
    policy_server.body = policy_body(("dep-a", 0.2), stale=180)
    plugin = make_policy_plugin(policy_server.url)
    assert plugin.poll_policy() is True

    _make_faultline_fail(policy_server, how)
    clock.advance(170)
    assert plugin.poll_policy() is False
    assert route(plugin, [A, B], 100)["dep-a"] == 20  # still the last good policy

    clock.advance(11)  # 181 s since the last good fetch
    assert plugin.poll_policy() is False
    assert route(plugin, [A, B], 100) == {"dep-a": 100, "dep-b": 100}
    stats = plugin.policy_stats()
    assert (stats["poll_errors"], stats["in_force"]) == (2, False)


def test_a_good_poll_after_an_outage_puts_the_policy_back_in_force(policy_server, make_policy_plugin, clock):
    policy_server.body = policy_body(("dep-a", 0.5), stale=60)
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()
    policy_server.status = 503
    clock.advance(61)
    plugin.poll_policy()
    assert plugin.current_policy() is NO_REDUCTION

    policy_server.status = 200
    assert plugin.poll_policy() is True
    assert route(plugin, [A, B], 10)["dep-a"] == 5


def test_an_environment_override_of_the_stale_time_wins(policy_server, make_policy_plugin, clock):
    policy_server.body = policy_body(("dep-a", 0.5), stale=180)
    plugin = make_policy_plugin(policy_server.url, policy_stale_after_s=30.0)
    plugin.poll_policy()

    clock.advance(31)

    assert plugin.current_policy() is NO_REDUCTION


def test_poll_errors_are_all_counted_but_logged_once_a_minute(policy_server, make_policy_plugin, clock, caplog):
    policy_server.status = 500
    plugin = make_policy_plugin(policy_server.url)

    with caplog.at_level(logging.WARNING, logger="faultline"):
        for _ in range(20):
            plugin.poll_policy()
        clock.advance(60)
        plugin.poll_policy()

    logged = [r for r in caplog.records if "traffic-policy" in r.getMessage()]
    assert len(logged) == 2
    assert plugin.policy_stats()["poll_errors"] == 21


# ---------------------------------------------------------------- hostile bodies and inputs

HOSTILE_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"policy"',
    b"{",
    b"[" * 100_000 + b"]" * 100_000,  # deeper than the decoder goes
    b'{"preemption": "true", "deployments": []}',
    b'{"preemption": true}',
    b'{"preemption": true, "deployments": {"dep-a": 0.1}}',
    b'{"preemption": true, "deployments": [1, "x", null, [], {}]}',
    b'{"preemption": true, "deployments": [{"deployment": "dep-a", "keepShare": NaN}]}',
    b'{"preemption": true, "deployments": [{"deployment": "dep-a", "keepShare": -Infinity}]}',
    b'{"preemption": true, "deployments": [{"deployment": "dep-a", "keepShare": -0.5}]}',
    b'{"preemption": true, "deployments": [{"deployment": "dep-a", "keepShare": 7}]}',
    b'{"preemption": true, "deployments": [{"deployment": "dep-a", "keepShare": "0.1"}]}',
    b'{"preemption": true, "deployments": [{"deployment": "dep-a", "keepShare": true}]}',
    b'{"preemption": true, "deployments": [{"deployment": "dep-a", "keepShare": 1e999}]}',
    b'{"preemption": true, "deployments": [{"deployment": 42, "keepShare": 0.1}]}',
    b'{"preemption": true, "deployments": [{"deployment": "", "keepShare": 0.1}]}',
    b'{"preemption": true, "deployments": [{"keepShare": 0.1}]}',
    b'{"preemption": true, "refreshSeconds": -1, "staleAfterSeconds": "x", "deployments": []}',
    b'{"preemption": true, "refreshSeconds": 1e308, "staleAfterSeconds": 1e308, "deployments": []}',
    json.dumps({"preemption": True, "deployments": [{"deployment": "d" * 10_000, "keepShare": 0.0}]}).encode(),
    # past the 10,000-entry cap, small enough to arrive: only the first 10,000 are read
    json.dumps({"preemption": True, "deployments": [{"deployment": f"d{i}", "keepShare": 0.0} for i in range(12_000)]})
    .encode(),
    b'{"preemption": true, "deployments": [' + b"0," * 3_000_000 + b"0]}",  # past the 4 MiB bound
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_a_hostile_policy_body_never_makes_the_hook_raise_or_empty_the_list(
    policy_server, make_policy_plugin, clock, body
):
    policy_server.body = policy_body(("dep-a", 0.5))
    plugin = make_policy_plugin(policy_server.url)
    assert plugin.poll_policy() is True
    policy_server.body = body

    plugin.poll_policy()
    kept = route(plugin, [A, B], 20)

    # Either the body was refused (the last good policy, 0.5, holds) or what it said that was usable applied;
    # never an empty list, never an exception, never more than the last good policy took away.
    assert kept["dep-b"] == 20
    assert kept["dep-a"] in (0, 10, 20)
    assert kept["dep-a"] == 10 or plugin.current_policy().preemption


def test_hostile_deployments_bodies_are_read_field_by_field():
    policy = parse_traffic_policy(
        {
            "preemption": True,
            "refreshSeconds": "soon",
            "deployments": [
                {"deployment": "dep-a", "provider": "openai", "keepShare": 0.25},
                {"deployment": "dep-b", "provider": "openai", "keepShare": float("nan")},
                {"deployment": "dep-c", "provider": "openai", "keepShare": 1.5},
                "dep-d",
                {"deployment": "dep-e", "provider": "openai", "keepShare": 0.1},
                {"deployment": "dep-e", "provider": "openai", "keepShare": 0.3},
            ],
        }
    )

    assert policy.shares == {("openai", "dep-a"): 250_000, ("openai", "dep-e"): 300_000}
    assert policy.ignored_entries == 3
    assert policy.refresh_s == 15.0


def test_an_integer_too_large_for_a_float_is_one_bad_field_not_a_bad_policy():
    # JSON integers have no bound: float() of one past ~1e308 raised OverflowError, which refused the whole body, so
    # one bad entry took the other deployments' reductions away with it.
    body = json.loads(
        '{"preemption": true, "refreshSeconds": 1' + "0" * 400 + ', "staleAfterSeconds": -1' + "0" * 400 + ","
        ' "deployments": [{"deployment": "dep-a", "provider": "openai", "keepShare": 1' + "0" * 400 + "},"
        ' {"deployment": "dep-b", "provider": "openai", "keepShare": 0.25}]}'
    )

    policy = parse_traffic_policy(body)

    assert policy.shares == {("openai", "dep-b"): 250_000}
    assert policy.ignored_entries == 1
    assert (policy.refresh_s, policy.stale_after_s) == (15.0, 180.0)


def test_only_the_first_ten_thousand_entries_are_read():
    entries = [{"deployment": f"d{i}", "provider": "openai", "keepShare": 0.5} for i in range(12_000)]

    policy = parse_traffic_policy({"preemption": True, "deployments": entries})

    assert len(policy.shares) == 10_000
    assert ("openai", "d9999") in policy.shares and ("openai", "d10000") not in policy.shares
    assert policy.ignored_entries == 2_000


@pytest.mark.parametrize(
    "candidates",
    [None, "dep-a", {"model_info": {"id": "dep-a"}}, [None, 3], [{"model_info": None}, {"model_info": {"id": 5}}]],
)
def test_hostile_candidate_lists_come_back_unchanged(policy_server, make_policy_plugin, candidates):
    policy_server.body = policy_body(("dep-a", 0.0))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()

    out = asyncio.run(
        plugin.async_filter_deployments(model="pair", healthy_deployments=candidates, messages=None)
    )

    assert out is candidates


# ---------------------------------------------------------------- settings


def test_policy_settings_come_from_the_environment_and_the_timeout_is_capped():
    config = FaultlineConfig.from_env(
        {
            "FAULTLINE_POLICY_POLL": "off",
            "FAULTLINE_POLICY_TIMEOUT_S": "30",
            "FAULTLINE_POLICY_REFRESH_S": "2.5",
            "FAULTLINE_POLICY_STALE_AFTER_S": "90",
        }
    )
    assert (config.policy_poll, config.policy_timeout_s, config.policy_refresh_s, config.policy_stale_after_s) == (
        False,
        1.0,
        2.5,
        90.0,
    )
    defaults = FaultlineConfig.from_env({"FAULTLINE_POLICY_POLL": "maybe", "FAULTLINE_POLICY_REFRESH_S": "x"})
    assert (defaults.policy_poll, defaults.policy_refresh_s, defaults.policy_stale_after_s) == (True, None, None)


# ---------------------------------------------------------------- inside the real LiteLLM router


def test_the_real_router_sends_nothing_to_a_deployment_whose_share_is_zero(
    policy_server, make_policy_plugin, provider, monkeypatch
):
    """LiteLLM's Router calls the hook before it picks: with dep-a at 0, every request lands on dep-b."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    policy_server.body = policy_body(("dep-a", 0.0))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()
    router = litellm.Router(
        model_list=[
            {
                "model_name": "pair",
                "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": f"{provider.base}/v1"},
                "model_info": {"id": identifier},
            }
            for identifier in ("dep-a", "dep-b")
        ],
        num_retries=0,
    )
    previous = litellm.callbacks
    litellm.callbacks = [plugin]
    try:

        async def run():
            answered = []
            for _ in range(30):
                response = await router.acompletion(model="pair", messages=[{"role": "user", "content": "hi"}])
                answered.append(response._hidden_params["model_id"])
            return answered

        answered = asyncio.run(run())
    finally:
        litellm.callbacks = previous

    assert answered == ["dep-b"] * 30
    assert plugin.policy_stats()["removed"] == 30


class _Exploding(dict):
    """A candidate whose every read fails, as a bug elsewhere in LiteLLM might hand one over."""

    def get(self, *args, **kwargs):
        raise RuntimeError("boom")


def test_an_error_inside_the_hook_returns_the_input_and_is_counted_not_raised(
    policy_server, make_policy_plugin, clock, caplog
):
    policy_server.body = policy_body(("dep-a", 0.0))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()
    candidates = [A, _Exploding(model_info={"id": "dep-b"})]

    with caplog.at_level(logging.WARNING, logger="faultline"):
        outs = [
            asyncio.run(plugin.async_filter_deployments(model="pair", healthy_deployments=candidates, messages=None))
            for _ in range(3)
        ]

    assert all(out is candidates for out in outs)
    assert plugin.policy_stats()["hook_errors"] == 3
    assert len([r for r in caplog.records if "hook failed" in r.getMessage()]) == 1


class _Exiting(dict):
    """A candidate whose every read raises SystemExit, a BaseException that `except Exception` lets through."""

    def get(self, *args, **kwargs):
        raise SystemExit("a candidate's read")


def test_a_base_exception_inside_the_hook_returns_the_input_and_is_counted_not_raised(
    policy_server, make_policy_plugin
):
    # LiteLLM runs the hook on its event loop: a SystemExit out of it stops the proxy's worker, not just a request.
    policy_server.body = policy_body(("dep-a", 0.0))
    plugin = make_policy_plugin(policy_server.url)
    plugin.poll_policy()
    candidates = [A, _Exiting(model_info={"id": "dep-b"})]

    out = asyncio.run(plugin.async_filter_deployments(model="pair", healthy_deployments=candidates, messages=None))

    assert out is candidates
    assert plugin.policy_stats()["hook_errors"] == 1


# ---------------------------------------------------------------- one id under two providers (two proxies)

# Each deployment form as an operator writes it in LiteLLM's model_list, and the provider Faultline records for its
# calls (CallMapper.provider: LiteLLM's custom_llm_provider, else the model's prefix, else "litellm"; lower case,
# "other" when it is no label).
PROVIDER_FORMS = [
    ({"model": "openai/gpt-4o-mini"}, "openai"),
    ({"model": "azure/gpt-4o-prod", "api_version": "2024-10-21"}, "azure"),
    ({"model": "anthropic/claude-sonnet-4-5"}, "anthropic"),
    ({"model": "gemini/gemini-2.5-flash"}, "gemini"),
    ({"model": "vertex_ai/gemini-2.5-flash", "vertex_project": "p", "vertex_location": "europe-west4"}, "vertex_ai"),
    ({"model": "my-llama", "custom_llm_provider": "openai"}, "openai"),
    ({"model": "llama-3-70b", "custom_llm_provider": "Hosted_VLLM"}, "hosted_vllm"),
    ({"model": "llama-3-70b", "custom_llm_provider": "my gateway"}, "other"),
    ({"model": "gpt-4o-mini"}, "openai"),
    ({"model": "claude-sonnet-4-5"}, "anthropic"),
    ({"model": "no-such-model"}, "litellm"),
]


def deployment_of(litellm_params, identifier="primary", group="pair"):
    return {
        "model_name": group,
        "litellm_params": {"api_base": f"http://127.0.0.1:1/{identifier}/v1", **litellm_params},
        "model_info": {"id": identifier},
    }


def provider_body(*entries):
    """A policy of (provider, deployment, keepShare) entries."""
    body = policy_body(*[(deployment, share) for _, deployment, share in entries])
    for entry, (provider, _, _) in zip(body["deployments"], entries):
        entry["provider"] = provider
    return body


@pytest.mark.parametrize("litellm_params, expected", PROVIDER_FORMS)
def test_each_deployment_form_has_the_provider_faultline_records_for_its_calls(litellm_params, expected):
    assert deployment_provider(deployment_of(litellm_params)) == expected


@pytest.mark.parametrize("litellm_params, expected", PROVIDER_FORMS)
def test_an_entry_thins_the_deployment_of_its_own_provider_and_no_other_providers_of_the_same_id(
    policy_server, make_policy_plugin, litellm_params, expected
):
    primary = deployment_of(litellm_params)
    other = deployment(f"other-{expected}")
    # Another proxy's deployment of the same id under another provider is reduced to nothing: not this one.
    stranger = "zz-other"
    policy_server.body = provider_body((stranger, "primary", 0.0))
    plugin = make_policy_plugin(policy_server.url)
    assert plugin.poll_policy() is True
    assert route(plugin, [primary, other], 10) == {"primary": 10, f"other-{expected}": 10}

    # Its own provider's entry applies.
    policy_server.body = provider_body((expected, "primary", 0.0), (stranger, "primary", 1.0))
    assert plugin.poll_policy() is True
    assert route(plugin, [primary, other], 10) == {f"other-{expected}": 10}


def test_azure_primary_reduced_in_one_proxy_leaves_openai_primary_of_another_proxy_alone(
    policy_server, make_policy_plugin
):
    """The issue's case: B's Azure `primary` is predicted to fail; A's OpenAI `primary` is healthy."""
    policy_server.body = provider_body(("azure", "primary", 0.2))
    proxy_a = make_policy_plugin(policy_server.url)
    proxy_b = make_policy_plugin(policy_server.url)
    proxy_a.poll_policy()
    proxy_b.poll_policy()
    openai_primary = deployment_of({"model": "openai/gpt-4o-mini"})
    azure_primary = deployment_of({"model": "azure/gpt-4o-prod", "api_version": "2024-10-21"})
    fallback = deployment("secondary")

    assert route(proxy_a, [openai_primary, fallback], 100) == {"primary": 100, "secondary": 100}
    assert route(proxy_b, [azure_primary, fallback], 100) == {"primary": 20, "secondary": 100}
    assert proxy_a.policy_stats()["shares"] == {"azure/primary": 0.2}


def test_an_entry_without_a_provider_is_skipped_not_applied_to_every_provider():
    policy = parse_traffic_policy(
        {
            "preemption": True,
            "deployments": [
                {"deployment": "dep-a", "keepShare": 0.25},
                {"deployment": "dep-b", "provider": "", "keepShare": 0.25},
                {"deployment": "dep-c", "provider": "openai", "keepShare": 0.25},
            ],
        }
    )

    assert policy.shares == {("openai", "dep-c"): 250_000}
    assert policy.ignored_entries == 2


@pytest.mark.parametrize(
    "litellm_params, case",
    [
        ({"model": "openai/gpt-4o-mini"}, "openai_chat_completion_200"),
        ({"model": "gpt-4o-mini"}, "openai_chat_completion_200"),
        ({"model": "my-llama", "custom_llm_provider": "openai"}, "openai_chat_completion_200"),
        ({"model": "azure/gpt-4o-prod", "api_version": "2024-10-21", "api_key": "k"}, "openai_chat_completion_200"),
    ],
)
def test_the_provider_worked_out_for_a_deployment_is_the_one_litellm_logs_for_its_calls(
    faultline, provider, make_plugin, monkeypatch, litellm_params, case
):
    """Through the real router: the payload Faultline receives names the provider the plugin matches on."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    provider.case = case
    plugin = make_plugin(faultline.url, policy_poll=False)
    dep = {
        "model_name": "pair",
        "litellm_params": {**litellm_params, "api_base": f"{provider.base}/v1"},
        "model_info": {"id": "primary"},
    }
    router = litellm.Router(model_list=[dep], num_retries=0)
    previous = litellm.callbacks
    # LiteLLM keeps the callbacks it set up for an earlier test's plugin (closed since): only this one logs.
    litellm.logging_callback_manager._reset_all_callbacks()
    litellm.callbacks = [plugin]


    async def call_and_keep_the_loop_until_logged():
        # LiteLLM logs a success from a task on this loop: the loop stays up until the event reached Faultline.
        await router.acompletion(model="pair", messages=[{"role": "user", "content": "hi"}])
        deadline = time.monotonic() + 60.0  # a ceiling against hanging; it takes well under a second
        while not faultline.events and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    try:
        asyncio.run(call_and_keep_the_loop_until_logged())
        wait_until(lambda: len(faultline.events) == 1, what="the call logged")
    finally:
        litellm.logging_callback_manager._reset_all_callbacks()
        litellm.callbacks = previous
    (payload,) = faultline.events.values()

    recorded = faultline_provider(payload.get("custom_llm_provider"), None, payload.get("model"))
    assert recorded == deployment_provider(dep)
