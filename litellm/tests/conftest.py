"""Real local servers for the plugin's tests: a Faultline stand-in and an OpenAI/Anthropic-speaking provider."""

import itertools
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Before litellm is imported anywhere: no cost-map download, and the module-level plugin instance
# (created on import) gets a spool of its own instead of one in the work tree.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ.setdefault("FAULTLINE_SPOOL_DIR", tempfile.mkdtemp(prefix="faultline-default-spool-"))

PLUGIN_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PLUGIN_DIR))
# shared/ sits beside the repository (as in CI); FAULTLINE_WIRE_DIR overrides, /work/shared is the workplace copy.
WIRE_DIR = next(
    (d for d in (
        Path(os.environ["FAULTLINE_WIRE_DIR"]) if os.environ.get("FAULTLINE_WIRE_DIR") else None,
        PLUGIN_DIR.parent.parent / "shared" / "provider-wire",
        Path("/work/shared/provider-wire"),
    ) if d is not None and d.is_dir()),
    PLUGIN_DIR.parent.parent / "shared" / "provider-wire",
)

import pytest  # noqa: E402

from faultline_callback import FaultlineConfig, FaultlineLogger  # noqa: E402

API_KEY = "test-faultline-key"
_tick = threading.Event()


def wait_until(condition, timeout=60.0, what="condition", poll=0.01):
    """Polls `condition` until it holds; fails the test after `timeout` seconds.

    The timeout is a ceiling against hanging, not a measure of speed: what the tests wait for takes well under
    half a second here, so 60 s is more than 100 times that.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        _tick.wait(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def logged_payload(call_id, status="success", **extra):
    """The fields of a StandardLoggingPayload that the transport and Faultline's ingest care about."""
    return {
        "id": call_id,
        "litellm_call_id": call_id,
        "status": status,
        "call_type": "acompletion",
        "model": "gpt-4o-mini",
        "custom_llm_provider": "openai",
        "startTime": 1795844308.84,
        "endTime": 1795844308.97,
        "completionStartTime": 1795844308.97,
        "hidden_params": {"additional_headers": None},
        "error_information": None,
        **extra,
    }


def wire(case):
    return json.loads((WIRE_DIR / f"{case}.json").read_text())


class FakeFaultline:
    """Faultline's ingest endpoint: records what arrives, dedups on `id`, and can be told to misbehave."""

    def __init__(self, port=0):
        self.lock = threading.Lock()
        self.events = {}  # id -> first payload accepted
        self.accepted = []  # every payload a 2xx answer carried, in order (the attempts of a request share one id)
        self.deliveries = Counter()  # id -> how many 2xx answers carried it
        self.batches = []  # sizes of the batches answered 2xx
        self.attempts = []  # (status, size) of every POST
        self.auth_headers = []
        self.content_types = []
        self.delay_s = 0.0  # each request is held this long, or until release is set
        self.release = threading.Event()  # set() lets delayed requests through at once
        self.held = 0  # requests being held right now
        self.max_items = None  # more than this in one body -> 413
        self.refuse_marker = None  # a body containing it -> 400 for the whole batch
        self.fail_marker = None  # a body containing it -> fail_status for the whole batch, as a server bug would
        self.fail_status = 500
        self.lone_marker_failures = 0  # bodies of the marked event alone answered fail_status
        self.outage_status = None  # every request answered with this status (e.g. 503: its database is down)
        self.reject_ids = set()  # per-event rejections in a 200
        self.future_ids = set()  # per-event rejections as ending past Faultline's clock (code ends_in_future)
        self.headers = {}  # sent with every answer, e.g. Retry-After
        self.trickle_s = 0.0  # the answer's body is written a byte at a time, this long apart (until release is set)
        self.not_a_receipt = False  # every answer a 200 HTML page, as a misrouted URL or a gateway's login page gives
        self.gzipped_answer = None  # bytes: every answer this gzip body (Content-Encoding: gzip), whatever it holds
        handler = type("Handler", (_FaultlineHandler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def received_ids(self):
        with self.lock:
            return set(self.events)

    def answer(self, items):
        """Status and JSON answer for one body of events, recording what is accepted."""
        with self.lock:
            if self.max_items is not None and len(items) > self.max_items:
                return 413, {"title": "too large"}
            if self.outage_status is not None:
                return self.outage_status, {"title": "Storage unavailable"}
            if self.refuse_marker is not None and self.refuse_marker in json.dumps(items):
                # Faultline's problems can quote what they refuse: the plugin must not log or keep the detail.
                return 400, {"title": "malformed batch", "detail": f"field 'messages' holds '{self.refuse_marker}'"}
            if self.fail_marker is not None and self.fail_marker in json.dumps(items):
                self.lone_marker_failures += len(items) == 1
                return self.fail_status, {"title": "Internal error", "detail": "The batch was not stored"}
            accepted = duplicates = 0
            rejected = []
            for index, item in enumerate(items):
                if item.get("id") in self.reject_ids:
                    rejected.append({"index": index, "reason": "missing model", "code": "invalid"})
                    continue
                if item.get("id") in self.future_ids:
                    rejected.append({"index": index, "reason": "endTime: ends more than PT5M after this service's"
                                     " clock", "code": "ends_in_future"})
                    continue
                self.deliveries[item["id"]] += 1
                self.accepted.append(item)
                if item["id"] in self.events:
                    duplicates += 1
                else:
                    self.events[item["id"]] = item
                    accepted += 1
            if rejected and len(rejected) == len(items):  # as Faultline answers a batch of only bad items
                errors = [{"field": f"[{r['index']}]", "index": r["index"], "message": r["reason"], "code": r["code"]}
                          for r in rejected]
                return 422, {"title": "No valid call in batch", "status": 422, "errors": errors}
            self.batches.append(len(items))
            return 200, {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}


# Faultline's parser limits (Jackson's StreamReadConstraints defaults, see web/JsonProblems.java): a body past one of
# them is a 400 for the whole batch.
FAULTLINE_MAX_NUMBER_CHARS = 1000
FAULTLINE_MAX_DEPTH = 1000
FAULTLINE_MAX_NAME_UNITS = 50_000  # UTF-16 units, as Java counts them


def _number_like_faultline(text):
    if len(text) > FAULTLINE_MAX_NUMBER_CHARS:
        raise ValueError(f"a number longer than {FAULTLINE_MAX_NUMBER_CHARS} characters")
    return float(text) if any(c in text for c in ".eE") else int(text)


def _object_like_faultline(pairs):
    if any(len(name.encode("utf-16-le")) // 2 > FAULTLINE_MAX_NAME_UNITS for name, _ in pairs):
        raise ValueError(f"a name longer than {FAULTLINE_MAX_NAME_UNITS} characters")
    return dict(pairs)


def _parse_like_faultline(body):
    """The body as Faultline's parser reads it, or None where it refuses it (a number or nesting past its limits)."""
    try:
        value = json.loads(
            body,
            parse_int=_number_like_faultline,
            parse_float=_number_like_faultline,
            object_pairs_hook=_object_like_faultline,
        )
    except (ValueError, RecursionError):  # Python's own recursion limit sits just under Faultline's 1000 levels
        return None
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > FAULTLINE_MAX_DEPTH:
                return None
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return value


class _FaultlineHandler(BaseHTTPRequestHandler):
    fake: FakeFaultline

    def do_POST(self):
        fake = self.fake
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if fake.delay_s:
            with fake.lock:
                fake.held += 1
            fake.release.wait(fake.delay_s)  # a slow Faultline, not a test waiting
            with fake.lock:
                fake.held -= 1
        with fake.lock:
            fake.auth_headers.append(self.headers.get("Authorization"))
            fake.content_types.append(self.headers.get("Content-Type"))
        if self.path != "/api/v1/calls":
            status, answer = 404, {"title": "not found"}
        elif self.headers.get("Authorization") != f"Bearer {API_KEY}":
            status, answer = 401, {"title": "unauthorized"}
        else:
            items = _parse_like_faultline(body)
            status, answer = (400, {"title": "Malformed JSON"}) if items is None else fake.answer(items)
        with fake.lock:
            fake.attempts.append((status, len(body)))
        data, content_type = json.dumps(answer).encode(), "application/json"
        if fake.not_a_receipt:
            status, data, content_type = 200, b"<html><body>Sign in</body></html>", "text/html"
        if fake.gzipped_answer is not None:
            status, data = 200, fake.gzipped_answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if fake.gzipped_answer is not None:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        for name, value in fake.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not fake.trickle_s:
            self.wfile.write(data)
            return
        for byte in data:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            if fake.release.wait(fake.trickle_s):
                break

    def log_message(self, *args):
        pass


class FakeProvider:
    """Answers OpenAI chat completions and Anthropic messages with the recorded wire fixtures.

    An OpenAI 200 asked for with `"stream": true` is sent as server-sent events. `answered` holds the last user
    message and the status of every request, in order.
    """

    def __init__(self):
        self.case = "openai_chat_completion_200"
        self.ids = itertools.count()
        self.hold = False  # requests wait for release (a provider that does not answer) while set
        self.release = threading.Event()
        self.answered = []  # (last message's content, HTTP status)
        self.lock = threading.Lock()
        handler = type("Handler", (_ProviderHandler,), {"provider": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class _ProviderHandler(BaseHTTPRequestHandler):
    provider: FakeProvider

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        messages = request.get("messages") or [{}]
        if self.provider.hold:
            self.provider.release.wait(60)  # a ceiling: the test's client gives up first, then releases
        case = wire(self.provider.case)
        with self.provider.lock:
            self.provider.answered.append((messages[-1].get("content"), case["http_status"]))
        body = dict(case["body"])
        if case["http_status"] == 200:
            body["id"] = f"chatcmpl-test-{next(self.provider.ids)}"  # providers answer a fresh id per call
        if case["http_status"] == 200 and request.get("stream") and "choices" in body:
            self._stream(body)
            return
        data = json.dumps(body).encode()
        self.send_response(case["http_status"])
        for name, value in case["headers"].items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, body):
        """The answer as OpenAI streams it: the message in one delta, then the finish and the usage, then [DONE]."""
        choice = body["choices"][0]
        common = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"],
                  "model": body["model"]}
        events = [
            {**common, "choices": [{"index": 0, "delta": {"role": "assistant", "content": choice["message"]["content"]},
                                    "finish_reason": None}]},
            {**common, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]},
            {**common, "choices": [], "usage": body["usage"]},
        ]
        data = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def faultline():
    fake = FakeFaultline()
    yield fake
    fake.stop()


@pytest.fixture
def provider():
    fake = FakeProvider()
    yield fake
    fake.stop()


@pytest.fixture
def spool_dir(tmp_path):
    return tmp_path / "spool"


@pytest.fixture
def make_plugin(spool_dir):
    """Builds plugins with test-sized timings; every one is closed after the test."""
    created = []

    def make(url, clock=None, **overrides):
        settings = dict(
            url=url,
            api_key=API_KEY,
            spool_dir=str(spool_dir),
            batch_size=10,
            flush_interval_s=0.05,
            timeout_s=2.0,
            retry_max_backoff_s=0.2,
        )
        settings.update(overrides)
        plugin = FaultlineLogger(FaultlineConfig(**settings), **({"clock": clock} if clock else {}))
        created.append(plugin)
        return plugin

    yield make
    for plugin in created:
        plugin.close(timeout=2.0)
