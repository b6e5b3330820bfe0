"""Faultline plugin for the LiteLLM proxy: ships every call's StandardLoggingPayload to Faultline, reliably.

Attach it in the proxy's config.yaml (this file next to the config):

    litellm_settings:
      callbacks: faultline_callback.faultline_logger

The LiteLLM hooks only serialise the payload and put it on a bounded in-memory queue. A background
thread batches the queue and POSTs JSON arrays to ``{FAULTLINE_URL}/api/v1/calls``; whatever cannot be
delivered now goes to an on-disk spool that is resent, oldest first, until Faultline acknowledges it.
Faultline is idempotent on each payload's ``id``, so resending is always safe.
"""


import atexit
import bisect
import dataclasses
import datetime as _dt
import enum
import json
import logging
import math
import os
import random
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
from litellm.integrations.custom_logger import CustomLogger

try:  # the provider-layer error that keeps the provider's own HTTP status (e.g. Anthropic's 529)
    from litellm.llms.base_llm.chat.transformation import BaseLLMException as _ProviderError
except Exception:  # pragma: no cover - a LiteLLM that moved it still gets every other field
    _ProviderError = None

PLUGIN_VERSION = "0.1.0"

log = logging.getLogger("faultline")

_PROVIDER_HEADER_PREFIX = "llm_provider-"
_SECRET_NAMES = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "api_key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
    }
)
_REDACTED = "[redacted]"
# Headers LiteLLM adds under other names (and then files under llm_provider- too): dropped when the original,
# with the same value, is there, so Faultline sees what the provider sent.
_LITELLM_COPIES = {
    "request-id": "x-request-id",
    "x-ratelimit-limit-requests": "anthropic-ratelimit-requests-limit",
    "x-ratelimit-remaining-requests": "anthropic-ratelimit-requests-remaining",
    "x-ratelimit-limit-tokens": "anthropic-ratelimit-tokens-limit",
    "x-ratelimit-remaining-tokens": "anthropic-ratelimit-tokens-remaining",
}
_MAX_JSON_DEPTH = 64
_CHAIN_DEPTH = 8
_INITIAL_BACKOFF_S = 0.25
_RECENT_EVENTS = 4096
_STALE_TEMP_S = 600.0  # far longer than any write takes, so a live worker's file is never swept


# ---------------------------------------------------------------- configuration


@dataclasses.dataclass(frozen=True)
class FaultlineConfig:
    """Where and how the plugin ships events; every field has a FAULTLINE_* environment variable."""

    url: str = "http://127.0.0.1:8080"
    api_key: str = dataclasses.field(default="", repr=False)
    batch_size: int = 100
    flush_interval_s: float = 1.0
    queue_max: int = 10_000
    spool_dir: str = ".faultline-spool"
    spool_max_bytes: int = 256 * 1024 * 1024
    timeout_s: float = 5.0
    retry_max_backoff_s: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "FaultlineConfig":
        env = os.environ if environ is None else environ
        d = cls()
        return cls(
            url=(env.get("FAULTLINE_URL") or d.url).rstrip("/"),
            api_key=env.get("FAULTLINE_API_KEY", ""),
            batch_size=_env_number(env, "FAULTLINE_BATCH_SIZE", d.batch_size, int, 1),
            flush_interval_s=_env_number(env, "FAULTLINE_FLUSH_INTERVAL_S", d.flush_interval_s, float, 0.01),
            queue_max=_env_number(env, "FAULTLINE_QUEUE_MAX", d.queue_max, int, 1),
            spool_dir=env.get("FAULTLINE_SPOOL_DIR") or d.spool_dir,
            spool_max_bytes=_env_number(env, "FAULTLINE_SPOOL_MAX_BYTES", d.spool_max_bytes, int, 1),
            timeout_s=_env_number(env, "FAULTLINE_TIMEOUT_S", d.timeout_s, float, 0.01),
            retry_max_backoff_s=_env_number(env, "FAULTLINE_RETRY_MAX_BACKOFF_S", d.retry_max_backoff_s, float, 0.01),
        )

    @property
    def calls_url(self) -> str:
        return f"{self.url}/api/v1/calls"


def _env_number(env: Mapping[str, str], name: str, default: Any, kind: Callable[[str], Any], minimum: Any) -> Any:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        # A typo in an env var must not stop the proxy from starting.
        log.warning("faultline: %s=%r is not a number, using %s", name, raw, default)
        return default
    if value < minimum or (isinstance(value, float) and not math.isfinite(value)):
        log.warning("faultline: %s=%r is out of range, using %s", name, raw, default)
        return default
    return value


# ---------------------------------------------------------------- what each event carries


def _as_status(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        status = value
    elif isinstance(value, str) and value.strip().isdigit():
        status = int(value.strip())
    else:
        return None
    return status if 100 <= status <= 599 else None


def _safe_getattr(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _own_status(exc: object) -> int | None:
    for attr in ("status_code", "code"):
        status = _as_status(_safe_getattr(exc, attr))
        if status is not None:
            return status
    return _as_status(_safe_getattr(_safe_getattr(exc, "response"), "status_code"))


def _provider_status(exc: BaseException) -> int | None:
    """The status the provider itself answered, found on the exception chain.

    LiteLLM maps provider errors to its own classes and, on the way, can change the status: Anthropic's
    529 becomes an InternalServerError with status 500. The provider-layer error it was raised from is
    kept as ``__context__``.
    """
    seen = {id(exc)}
    current: BaseException | None = exc
    for _ in range(_CHAIN_DEPTH):
        current = current.__cause__ or current.__context__ if current is not None else None
        if current is None or id(current) in seen:
            return None
        seen.add(id(current))
        if _ProviderError is not None and isinstance(current, _ProviderError):
            if not _safe_getattr(current, "status_code_is_synthesized"):
                return _as_status(_safe_getattr(current, "status_code"))
        elif isinstance(current, httpx.HTTPStatusError):
            return _as_status(_safe_getattr(current.response, "status_code"))
    return None


def _http_status(exc: object, payload: Mapping[str, Any]) -> int | None:
    if isinstance(exc, BaseException):
        status = _provider_status(exc) or _own_status(exc)
        if status is not None:
            return status
    error_information = payload.get("error_information")
    if isinstance(error_information, Mapping):
        return _as_status(error_information.get("error_code"))
    return None


def _is_secret_header(name: str) -> bool:
    return name in _SECRET_NAMES or "authorization" in name or "api-key" in name or "api_key" in name


def _header_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _provider_headers(source: object) -> dict[str, str]:
    """Headers as the provider sent them, lower-cased, without credentials.

    LiteLLM forwards every raw provider header as ``llm_provider-<name>`` next to a few normalised copies;
    when the prefixed form is there, only it is kept, unprefixed. The payload's own
    ``hidden_params.additional_headers`` turns ``x-ratelimit-*`` into ``x_ratelimit_*`` integers; those get
    their wire names back.
    """
    if source is None:
        return {}
    try:
        items = [(str(k).lower(), v) for k, v in source.items()]  # type: ignore[attr-defined]
    except Exception:
        return {}
    prefixed = [(k[len(_PROVIDER_HEADER_PREFIX) :], v) for k, v in items if k.startswith(_PROVIDER_HEADER_PREFIX)]
    chosen = prefixed or [(k.replace("_", "-") if k.startswith("x_ratelimit_") else k, v) for k, v in items]
    return {k: _header_value(v) for k, v in chosen if k and v is not None and not _is_secret_header(k)}


def _without_litellm_copies(headers: dict[str, str]) -> dict[str, str]:
    for copy, original in _LITELLM_COPIES.items():
        if copy in headers and headers[copy] == headers.get(original):
            del headers[copy]
    return headers


def _payload_headers(payload: Mapping[str, Any]) -> dict[str, str]:
    hidden = payload.get("hidden_params")
    return _provider_headers(hidden.get("additional_headers")) if isinstance(hidden, Mapping) else {}


def _failure_headers(exc: object, payload: Mapping[str, Any]) -> dict[str, str]:
    headers = _payload_headers(payload)
    # Later sources win: the raw provider headers LiteLLM pinned on the exception are the most faithful.
    for source in (
        _safe_getattr(exc, "headers"),
        _safe_getattr(_safe_getattr(exc, "response"), "headers"),
        _safe_getattr(exc, "litellm_response_headers"),
    ):
        if isinstance(source, (Mapping, httpx.Headers)):
            headers.update(_provider_headers(source))
    return _without_litellm_copies(headers)


def _success_headers(response_obj: object, payload: Mapping[str, Any]) -> dict[str, str]:
    headers = _payload_headers(payload)
    hidden = _safe_getattr(response_obj, "_hidden_params")
    if isinstance(hidden, Mapping):
        headers.update(_provider_headers(hidden.get("additional_headers")))
    return _without_litellm_copies(headers)


def _timestamp(value: object) -> float | None:
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _minimal_payload(kwargs: Mapping[str, Any], failed: bool, start_time: object, end_time: object) -> dict:
    """Stands in when LiteLLM could not build its standard_logging_object: a failure must not vanish."""
    exc = kwargs.get("exception")
    call_id = kwargs.get("litellm_call_id") or str(uuid.uuid4())
    return {
        "id": call_id,
        "litellm_call_id": call_id,
        "call_type": kwargs.get("call_type") or "",
        "status": "failure" if failed else "success",
        "model": kwargs.get("model") or "",
        "custom_llm_provider": kwargs.get("custom_llm_provider"),
        "startTime": _timestamp(start_time),
        "endTime": _timestamp(end_time),
        "error_str": str(exc) if failed and exc is not None else None,
        "error_information": {"error_class": type(exc).__name__} if failed and exc is not None else None,
    }


def _jsonable(value: Any, depth: int = 0, active: set[int] | None = None) -> Any:
    """A JSON-native copy: no NaN (Faultline's parser rejects it), no NUL (PostgreSQL rejects it), no cycles."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth > _MAX_JSON_DEPTH:
        return "<max depth>"
    if isinstance(value, enum.Enum):
        return _jsonable(value.value, depth + 1, active)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    active = set() if active is None else active
    if id(value) in active:
        return "<circular>"
    active.add(id(value))
    try:
        if isinstance(value, Mapping):
            out = {}
            for k, v in value.items():
                key = _jsonable(k) if isinstance(k, str) else str(k)
                out[key] = _REDACTED if key.lower() in _SECRET_NAMES else _jsonable(v, depth + 1, active)
            return out
        if isinstance(value, (list, tuple, set, frozenset, deque)):
            return [_jsonable(v, depth + 1, active) for v in value]
        model_dump = _safe_getattr(value, "model_dump")
        if callable(model_dump):  # pydantic models (ModelResponse, Usage, ...)
            return _jsonable(model_dump(), depth + 1, active)
        return str(value)
    except Exception:
        return "<unserializable>"
    finally:
        active.discard(id(value))


_SECRET_KEY_MARKERS = tuple(f'"{name}":' for name in sorted(_SECRET_NAMES))


def _json_default(value: Any) -> Any:
    try:
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
            return value.isoformat()
        if isinstance(value, (set, frozenset, deque)):
            return list(value)
        model_dump = _safe_getattr(value, "model_dump")
        return model_dump() if callable(model_dump) else str(value)
    except Exception:
        return "<unserializable>"


def _to_json_line(payload: Mapping[str, Any]) -> str:
    """One event as one line of ASCII JSON (so never a raw newline or U+2028 inside)."""
    try:
        # The C encoder is several times faster than walking the payload in Python; most payloads need nothing else.
        line = json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=(",", ":"), default=_json_default)
        lowered = line.lower()  # substring checks beat a case-insensitive regex by ~3x on a 13 KB payload
        if "\\u0000" not in line and not any(marker in lowered for marker in _SECRET_KEY_MARKERS):
            return line
    except (ValueError, TypeError, RecursionError):  # NaN, a cycle, an odd key
        pass
    return json.dumps(_jsonable(payload), ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _body(items: list[str]) -> bytes:
    """A JSON array with one event per line: valid JSON to POST, and splittable without re-parsing."""
    return ("[\n" + ",\n".join(items) + "\n]").encode("ascii")


def _items_of(body: bytes) -> list[str]:
    lines = body.decode("ascii").split("\n")
    if len(lines) < 3 or lines[0] != "[" or lines[-1] != "]":
        raise ValueError("not a Faultline spool file")
    items = [line[:-1] if line.endswith(",") else line for line in lines[1:-1]]
    json.loads(_body(items))  # corrupt files go to the dead-letter folder instead of looping forever
    return items


# ---------------------------------------------------------------- on-disk spool


@dataclasses.dataclass(frozen=True)
class _SpoolEntry:
    path: Path
    size: int
    events: int


class _SpoolDir:
    """One file per batch, written atomically, bounded in bytes by dropping the oldest files.

    An in-memory index keeps the folder from being listed for every batch (a long outage leaves thousands of
    files); `rescan` rebuilds it from disk, which also picks up files an earlier run or another worker left.
    """

    def __init__(self, directory: Path, max_bytes: int, on_drop: Callable[[int, int], None]):
        self.directory = directory
        self.max_bytes = max_bytes
        self._on_drop = on_drop
        self._lock = threading.Lock()
        self._seq = 0
        self._names: list[str] = []  # sorted: the resend order
        self._sizes: dict[str, tuple[int, int]] = {}  # name -> (bytes, events)
        self.total_bytes = 0
        self._sweep_temp_files()
        self.rescan()

    def _sweep_temp_files(self) -> None:
        """Removes half-written files of processes killed mid-write (rescans skip them, so nothing else would)."""
        try:
            names = [n for n in os.listdir(self.directory) if n.startswith(".") and n.endswith(".tmp")]
        except FileNotFoundError:
            return
        for name in names:
            path = self.directory / name
            try:
                if time.time() - path.stat().st_mtime > _STALE_TEMP_S:
                    path.unlink()
            except FileNotFoundError:
                pass

    def __len__(self) -> int:
        return len(self._names)

    def rescan(self) -> None:
        # Listed under the lock: a listing taken before a concurrent write finishes would forget that file.
        with self._lock:
            try:
                names = sorted(n for n in os.listdir(self.directory) if n.endswith(".json") and not n.startswith("."))
            except FileNotFoundError:
                names = []
            sizes = {}
            for name in names:
                try:
                    sizes[name] = ((self.directory / name).stat().st_size, _events_in_name(name))
                except FileNotFoundError:  # another worker process sent or dropped it meanwhile
                    continue
            self._names = [n for n in names if n in sizes]
            self._sizes = sizes
            self.total_bytes = sum(size for size, _ in sizes.values())

    def oldest(self) -> _SpoolEntry | None:
        with self._lock:
            if not self._names:
                return None
            name = self._names[0]
            size, events = self._sizes[name]
            return _SpoolEntry(self.directory / name, size, events)

    def write(self, items: list[str], stem: str | None = None, replacing: _SpoolEntry | None = None) -> bool:
        """Writes one batch; False when the batch alone is larger than the whole spool (it is dropped)."""
        data = _body(items)
        with self._lock:
            if len(data) > self.max_bytes:
                self._on_drop(1, len(items))
                log.error(
                    "faultline: a batch of %d events (%d bytes) exceeds the spool bound, dropped", len(items), len(data)
                )
                return False
            self.directory.mkdir(parents=True, exist_ok=True)
            self._make_room(len(data), keep=replacing.path.name if replacing else None)
            if stem is None:
                self._seq += 1
                stem = f"{time.time_ns():020d}-{os.getpid()}-{self._seq:08d}"
            final = self.directory / f"{stem}-n{len(items)}.json"
            tmp = self.directory / f".{final.name}.{os.getpid()}.tmp"
            # No fsync per file: the rename makes a file whole or absent across a process crash, and an unreadable
            # file after an OS crash goes to the dead-letter folder. fsync would cost ~3 ms per batch here.
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, final)
            self._index(final.name, len(data), len(items))
            if replacing is not None:  # only now that the new file exists
                self._unlink(replacing.path.name)
            return True

    def _make_room(self, incoming: int, keep: str | None) -> None:
        kept = self._sizes.get(keep, (0, 0))[0] if keep else 0
        dropped_files = dropped_events = 0
        position = 0
        while self.total_bytes - kept + incoming > self.max_bytes and position < len(self._names):
            name = self._names[position]
            if name == keep:
                position += 1
                continue
            dropped_events += self._sizes[name][1]
            dropped_files += 1
            self._unlink(name)
        if dropped_files:
            self._on_drop(dropped_files, dropped_events)
            log.error(
                "faultline: spool %s is full (%d bytes max), dropped the %d oldest file(s) holding %d events",
                self.directory,
                self.max_bytes,
                dropped_files,
                dropped_events,
            )

    def replace(self, entry: _SpoolEntry, items: list[str]) -> None:
        """Keeps only `items` of a file, at the same place in the resend order."""
        self.write(items, stem=entry.path.name.rsplit("-n", 1)[0], replacing=entry)

    def remove(self, entry: _SpoolEntry) -> None:
        with self._lock:
            self._unlink(entry.path.name)

    def move_to(self, entry: _SpoolEntry, other: "_SpoolDir") -> None:
        with self._lock:
            other.directory.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(entry.path, other.directory / entry.path.name)
            except FileNotFoundError:
                pass
            self._forget(entry.path.name)
        with other._lock:
            other._index(entry.path.name, entry.size, entry.events)

    def _index(self, name: str, size: int, events: int) -> None:
        if name not in self._sizes:
            bisect.insort(self._names, name)
            self._sizes[name] = (size, events)
            self.total_bytes += size

    def _unlink(self, name: str) -> None:
        try:
            (self.directory / name).unlink()
        except FileNotFoundError:
            pass
        self._forget(name)

    def _forget(self, name: str) -> None:
        if name in self._sizes:
            self.total_bytes -= self._sizes.pop(name)[0]
            self._names.remove(name)  # nearly always the first one


def _events_in_name(name: str) -> int:
    try:
        return int(name.rsplit("-n", 1)[1].split(".", 1)[0])
    except (IndexError, ValueError):
        return 0


# ---------------------------------------------------------------- the logger


class _Outcome(enum.Enum):
    DELIVERED = "delivered"
    TOO_LARGE = "too_large"
    INVALID = "invalid"
    RETRY = "retry"


class FaultlineLogger(CustomLogger):
    """LiteLLM callback that ships every call's payload to Faultline without ever slowing the proxy down."""

    def __init__(self, config: FaultlineConfig | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        cfg = config or FaultlineConfig.from_env()
        self.config = dataclasses.replace(cfg, spool_dir=os.path.abspath(cfg.spool_dir))
        counted = ("sent", "accepted", "duplicates", "rejected", "spooled", "dropped", "dead_lettered")
        self._counters = dict.fromkeys(counted, 0)
        self._last_error: str | None = None
        if not self.config.api_key:
            log.warning("faultline: FAULTLINE_API_KEY is empty; Faultline will refuse the events until it is set")
        self._start()
        atexit.register(self._persist_on_exit)

    # ---- LiteLLM hooks: serialise, enqueue, return

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._capture(kwargs, response_obj, start_time, end_time, failed=False)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._capture(kwargs, response_obj, start_time, end_time, failed=True)

    # LiteLLM calls these for sync `litellm.completion` callers, and the proxy calls log_failure_event
    # from a thread for its own errors (auth, budgets); the id makes a repeated event harmless.
    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._capture(kwargs, response_obj, start_time, end_time, failed=False)

    def log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._capture(kwargs, response_obj, start_time, end_time, failed=True)

    def _capture(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any, failed: bool) -> None:
        try:
            if not isinstance(kwargs, Mapping):
                log.warning("faultline: LiteLLM passed no call details (%r), nothing to report", type(kwargs))
                return
            if os.getpid() != self._pid:
                # A forked worker inherits the parent's queue but not its threads; the parent sends what it holds.
                log.info("faultline: fork detected, starting this process's own sender")
                self._start()
            if self._seen_before(kwargs):
                return
            self._enqueue(_to_json_line(self._event(kwargs, response_obj, start_time, end_time, failed)))
        except Exception as e:  # never let the plugin break a request
            self._note_error(f"could not capture an event: {e!r}")
            log.exception("faultline: could not capture an event")

    def _seen_before(self, kwargs: Mapping[str, Any]) -> bool:
        """True for the second delivery of one event.

        The proxy logs its own errors (bad key, unknown model, budgets) through both the async failure
        handler and, from a thread, the sync one, with the same payload; one copy is enough.
        """
        payload = kwargs.get("standard_logging_object")
        if not isinstance(payload, Mapping) or not payload.get("id"):
            return False
        key = (payload.get("id"), payload.get("status"), payload.get("startTime"), payload.get("endTime"))
        with self._recent_lock:
            if key in self._recent:
                return True
            self._recent[key] = None
            if len(self._recent) > _RECENT_EVENTS:
                self._recent.popitem(last=False)
        return False

    def _event(
        self, kwargs: Mapping[str, Any], response_obj: Any, start_time: Any, end_time: Any, failed: bool
    ) -> dict:
        payload = kwargs.get("standard_logging_object")
        if not isinstance(payload, Mapping):
            payload = _minimal_payload(kwargs, failed, start_time, end_time)
        exc = kwargs.get("exception") if failed else None
        event = dict(payload)  # a copy: other callbacks share LiteLLM's dict
        if failed:
            error_information = payload.get("error_information")
            error_class = error_information.get("error_class") if isinstance(error_information, Mapping) else None
            event["faultline"] = {
                "http_status": _http_status(exc, payload),
                "response_headers": _failure_headers(exc, payload),
                "exception_class": type(exc).__name__ if isinstance(exc, BaseException) else (error_class or None),
                "plugin_version": PLUGIN_VERSION,
            }
        else:
            event["faultline"] = {
                "http_status": None,
                "response_headers": _success_headers(response_obj, payload),
                "exception_class": None,
                "plugin_version": PLUGIN_VERSION,
            }
        return event

    # ---- queue

    def _start(self) -> None:
        """Locks, queue, spool index and threads; run again in a forked child, which inherits no threads."""
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._recent: OrderedDict[tuple, None] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._spool = _SpoolDir(Path(self.config.spool_dir), self.config.spool_max_bytes, self._count_spool_drop)
        self._dead = _SpoolDir(
            Path(self.config.spool_dir) / "dead-letter", self.config.spool_max_bytes, self._count_dead_letter_drop
        )
        self._next_rescan_at = time.monotonic() + self.config.retry_max_backoff_s
        self._queue: deque[str] = deque()
        self._overflow: list[str] = []  # taken from a full queue, waiting for the spooler thread
        self._spooling: list[str] = []  # being written by the spooler thread
        self._inflight: list[str] = []  # being sent by the sender thread
        self._busy = False
        self._flush_requested = False
        self._failures = 0
        self._retry_at = 0.0
        self._next_batch_at = time.monotonic() + self.config.flush_interval_s
        self._stop = threading.Event()
        self._sender = threading.Thread(target=self._run, args=(self._send_step,), name="faultline-sender", daemon=True)
        self._spooler = threading.Thread(
            target=self._run, args=(self._spool_overflow_step,), name="faultline-spooler", daemon=True
        )
        self._sender.start()
        self._spooler.start()

    def _enqueue(self, item: str) -> None:
        with self._cond:
            if len(self._queue) >= self.config.queue_max:
                # Full: hand the queue to the spooler thread rather than dropping or touching the disk here.
                # Memory stays bounded: at most queue_max more events may wait for the disk.
                excess = len(self._overflow) + len(self._queue) - self.config.queue_max
                if excess > 0:
                    del self._overflow[:excess]
                    self._counters["dropped"] += excess
                    self._note_error(f"the spool could not keep up, dropped {excess} events")
                self._overflow.extend(self._queue)
                self._queue.clear()
                self._cond.notify_all()
            self._queue.append(item)
            if len(self._queue) == self.config.batch_size:
                self._cond.notify_all()

    # ---- background threads

    def _run(self, step: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                step()
            except Exception as e:  # a bug here must not kill the thread for good
                self._note_error(f"background error: {e!r}")
                log.exception("faultline: background error")
                self._stop.wait(1.0)

    def _spool_overflow_step(self) -> None:
        with self._cond:
            while not self._overflow and not self._stop.is_set():
                self._cond.wait()
            # All of it in one file: one write however far behind the spooler is.
            self._spooling, self._overflow = self._overflow, []
        if self._spooling:
            try:
                self._to_spool(self._spooling)
            finally:
                with self._cond:
                    self._spooling = []
                    self._cond.notify_all()

    def _send_step(self) -> None:
        with self._cond:
            work = self._wait_for_work()
            if work is None:
                return
            kind, batch = work
            self._inflight = batch
            self._busy = True
        try:
            if kind == "resend":
                self._resend_oldest()
            elif kind == "rescan":  # outside the lock, as the hooks must never wait on the disk
                self._spool.rescan()
            elif len(self._spool) > 0 or time.monotonic() < self._retry_at:
                self._to_spool(batch)  # keeps the resend order while the spool drains or Faultline is down
            else:
                remaining = self._deliver(batch)
                if remaining:
                    self._to_spool(remaining)
        finally:
            with self._cond:
                self._inflight = []
                self._busy = False
                self._cond.notify_all()

    def _wait_for_work(self) -> tuple[str, list[str]] | None:
        """Called under the lock: what the sender does next ("resend", "rescan" or "batch"); None means stop."""
        interval = self.config.flush_interval_s
        while not self._stop.is_set():
            now = time.monotonic()
            # The spool goes first, or a steady stream of new batches would keep it from ever draining.
            if len(self._spool) > 0 and now >= self._retry_at:
                return "resend", []
            if len(self._queue) >= self.config.batch_size or (
                self._queue and (now >= self._next_batch_at or self._flush_requested)
            ):
                self._next_batch_at = now + interval
                return "batch", [self._queue.popleft() for _ in range(min(self.config.batch_size, len(self._queue)))]
            if not len(self._spool) and now >= self._next_rescan_at:
                # Files that another worker process, or this one before a restart, left in the folder.
                self._next_rescan_at = now + self.config.retry_max_backoff_s
                return "rescan", []
            if not self._queue:
                self._next_batch_at = now + interval
            if self._flush_requested and self._idle():
                self._flush_requested = False
            wake_at = self._next_batch_at
            if len(self._spool) > 0:
                wake_at = min(wake_at, self._retry_at)
            else:
                wake_at = min(wake_at, self._next_rescan_at)
            self._cond.wait(max(0.0, wake_at - now))
        return None

    def _resend_oldest(self) -> None:
        entry = self._spool.oldest()
        if entry is None:
            return
        try:
            items = _items_of(entry.path.read_bytes())
        except FileNotFoundError:  # another worker process sent it
            self._spool.remove(entry)
            return
        except (OSError, ValueError, UnicodeDecodeError) as e:
            log.error("faultline: spool file %s is unreadable (%s), moved to dead-letter", entry.path.name, e)
            self._dead_letter_file(entry)
            return
        remaining = self._deliver(items)
        if not remaining:
            self._spool.remove(entry)
        elif len(remaining) != len(items):
            self._spool.replace(entry, remaining)

    def _to_spool(self, items: list[str]) -> None:
        try:
            if self._spool.write(items):
                with self._cond:
                    self._counters["spooled"] += len(items)
        except Exception as e:  # a full or read-only disk: nowhere left to keep them
            with self._cond:
                self._counters["dropped"] += len(items)
            self._note_error(f"cannot write the spool: {e!r}")
            log.error(
                "faultline: cannot write the spool at %s (%s), dropped %d events", self.config.spool_dir, e, len(items)
            )

    # ---- delivery

    def _deliver(self, items: list[str]) -> list[str]:
        """Sends `items` in batches, halving on 413; returns those to retry later (empty when all are settled)."""
        size = self.config.batch_size
        pending = [items[start : start + size] for start in reversed(range(0, len(items), size))]
        while pending:
            part = pending.pop()
            outcome = self._post(part)
            if outcome is _Outcome.TOO_LARGE and len(part) > 1:
                middle = len(part) // 2
                pending.extend((part[middle:], part[:middle]))
            elif outcome is _Outcome.TOO_LARGE or outcome is _Outcome.INVALID:
                self._dead_letter(part, "http413" if outcome is _Outcome.TOO_LARGE else "invalid")
            elif outcome is _Outcome.RETRY:
                self._back_off()
                return part + [item for later in reversed(pending) for item in later]
        return []

    def _post(self, items: list[str]) -> _Outcome:
        try:
            response = self._client().post(self.config.calls_url, content=_body(items))
        except Exception as e:  # timeouts, refused connections, DNS, ...
            self._note_error(f"POST {self.config.calls_url} failed: {e!r}")
            log.warning(
                "faultline: cannot reach %s (%r), %d events kept for retry", self.config.calls_url, e, len(items)
            )
            return _Outcome.RETRY
        status = response.status_code
        if 200 <= status < 300:
            self._settle(items, response)
            return _Outcome.DELIVERED
        detail = response.text[:500]
        if status == 413:
            log.info("faultline: a batch of %d events is too large for Faultline, splitting it", len(items))
            return _Outcome.TOO_LARGE
        if status in (400, 422):
            self._note_error(f"Faultline refused a batch with {status}: {detail}")
            log.error("faultline: Faultline refused a batch of %d events with %d: %s", len(items), status, detail)
            return _Outcome.INVALID
        # 401/403 (key), 408, 429, 5xx, and anything unexpected: keep the events and try again later.
        self._note_error(f"Faultline answered {status}: {detail}")
        log.warning("faultline: Faultline answered %d, %d events kept for retry: %s", status, len(items), detail)
        return _Outcome.RETRY

    def _settle(self, items: list[str], response: httpx.Response) -> None:
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        answer = answer if isinstance(answer, Mapping) else {}
        rejected = answer.get("rejected") if isinstance(answer.get("rejected"), list) else []
        refused = {}
        for entry in rejected:
            index = entry.get("index") if isinstance(entry, Mapping) else None
            if isinstance(index, int) and 0 <= index < len(items):
                refused[index] = str(entry.get("reason", ""))
        with self._cond:
            self._counters["sent"] += len(items)
            self._counters["accepted"] += _count(answer.get("accepted"))
            self._counters["duplicates"] += _count(answer.get("duplicates"))
            self._counters["rejected"] += len(refused)
            self._failures = 0
            self._retry_at = 0.0
        if refused:
            log.error("faultline: Faultline rejected %d of %d events: %s", len(refused), len(items), refused)
            self._dead_letter([items[i] for i in sorted(refused)], "rejected")

    def _back_off(self) -> None:
        with self._cond:
            self._failures += 1
            ceiling = min(self.config.retry_max_backoff_s, _INITIAL_BACKOFF_S * 2 ** min(self._failures - 1, 30))
            # Jitter keeps several proxy workers from retrying in lockstep.
            self._retry_at = time.monotonic() + ceiling * random.uniform(0.5, 1.0)

    def _dead_letter(self, items: list[str], reason: str) -> None:
        try:
            self._dead.write(items, stem=f"{time.time_ns():020d}-{os.getpid()}-{reason}")
        except OSError as e:
            log.error("faultline: cannot write the dead-letter folder (%s)", e)
        with self._cond:
            self._counters["dead_lettered"] += len(items)
        log.error("faultline: %d events moved to %s (%s)", len(items), self._dead.directory, reason)

    def _dead_letter_file(self, entry: _SpoolEntry) -> None:
        try:
            self._spool.move_to(entry, self._dead)
        except OSError as e:
            log.error("faultline: cannot move %s to the dead-letter folder (%s)", entry.path, e)
            self._spool.remove(entry)
        with self._cond:
            self._counters["dead_lettered"] += entry.events

    def _client(self) -> httpx.Client:
        client = getattr(self, "_http", None)
        if client is None or getattr(self, "_http_pid", None) != os.getpid():
            headers = {"Content-Type": "application/json", "User-Agent": f"faultline-litellm/{PLUGIN_VERSION}"}
            if self.config.api_key:
                headers["Authorization"] = f"Bearer {self.config.api_key}"
            # trust_env=False: Faultline is a direct peer; a proxy set for the LLM providers must not apply.
            client = httpx.Client(
                timeout=self.config.timeout_s, headers=headers, trust_env=False, follow_redirects=False
            )
            self._http, self._http_pid = client, os.getpid()
        return client

    # ---- bookkeeping

    def _count_spool_drop(self, files: int, events: int) -> None:
        with self._cond:
            self._counters["dropped"] += events
            self._note_error(f"spool full, dropped {files} file(s) holding {events} events")

    def _count_dead_letter_drop(self, files: int, events: int) -> None:
        log.error("faultline: dead-letter folder full, removed %d old file(s) holding %d events", files, events)

    def _note_error(self, message: str) -> None:
        self._last_error = message

    def _idle(self) -> bool:
        return not (
            self._queue or self._overflow or self._spooling or self._inflight or self._busy or len(self._spool)
        )

    # ---- public

    def stats(self) -> dict[str, Any]:
        """Counters since start (events, not batches) and the spool's current size."""
        with self._cond:
            queued = len(self._queue) + len(self._overflow) + len(self._spooling) + len(self._inflight)
            counters = dict(self._counters)
        return {
            "queued": queued,
            **counters,
            "spool_files": len(self._spool),
            "spool_bytes": self._spool.total_bytes,
            "last_error": self._last_error,
        }

    def flush(self, timeout: float = 10.0) -> bool:
        """Sends everything now, spool included; True once all of it is acknowledged within `timeout`."""
        deadline = time.monotonic() + timeout
        self._spool.rescan()  # whatever is on disk counts, another worker's files included
        with self._cond:
            self._flush_requested = True
            self._retry_at = 0.0
            self._cond.notify_all()
            while not self._idle():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._flush_requested = False  # back to normal batching, or every event would get its own file
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    def close(self, timeout: float = 5.0) -> None:
        """Stops the threads and writes whatever is still in memory to the spool."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in (self._sender, self._spooler):
            if thread is not threading.current_thread():
                thread.join(timeout)
        self._persist_on_exit()
        atexit.unregister(self._persist_on_exit)
        client = getattr(self, "_http", None)
        if client is not None:
            client.close()

    def _persist_on_exit(self) -> None:
        if os.getpid() != self._pid:
            return
        # The sender may hold the lock while being torn down at exit; never hang the interpreter on it.
        if not self._cond.acquire(timeout=1.0):
            log.error("faultline: could not persist the in-memory queue at exit")
            return
        try:
            # The spooler's and the sender's current batches too: if they finish after all, Faultline dedups.
            leftovers = self._spooling + self._overflow + self._inflight + list(self._queue)
            self._overflow, self._spooling, self._inflight = [], [], []
            self._queue.clear()
        finally:
            self._cond.release()
        if leftovers:
            self._to_spool(leftovers)
            log.info("faultline: wrote %d unsent events to the spool at %s", len(leftovers), self.config.spool_dir)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


faultline_logger = FaultlineLogger()
