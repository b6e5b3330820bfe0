"""Faultline plugin for the LiteLLM proxy: ships every call's StandardLoggingPayload to Faultline, reliably.

Attach it in the proxy's config.yaml (this file next to the config):

    litellm_settings:
      callbacks: faultline_callback.faultline_logger

The LiteLLM hooks only copy the payload's top level (cutting LiteLLM's copy of the model-map entry to the prices
Faultline reads), estimate its size and put it on an in-memory queue
bounded in events and in bytes. A background thread serialises and batches the queue and POSTs JSON arrays
to ``{FAULTLINE_URL}/api/v1/calls``; whatever cannot be delivered now goes to an on-disk spool that is
resent, oldest first, until Faultline acknowledges it. Faultline is idempotent on each payload's ``id``, so
resending is always safe. A spooled batch that keeps failing with a 5xx while Faultline takes other batches
is split until the calls that cause it are isolated and dead-lettered, so one call never blocks the rest.
"""


import atexit
import bisect
import dataclasses
import datetime as _dt
import email.utils
import enum
import hashlib
import itertools
import json
import logging
import math
import os
import random
import re
import signal
import socket
import stat
import threading
import time
import uuid
import weakref
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import litellm
from litellm.integrations.custom_logger import CustomLogger

try:  # installed with LiteLLM's proxy; without it the plugin serialises with the stdlib, only slower
    import orjson as _orjson

    _ORJSON_OPTIONS = _orjson.OPT_PASSTHROUGH_DATETIME | _orjson.OPT_PASSTHROUGH_DATACLASS
except ImportError:  # pragma: no cover
    _orjson = None
    _ORJSON_OPTIONS = 0

try:  # the provider-layer error that keeps the provider's own HTTP status (e.g. Anthropic's 529)
    from litellm.llms.base_llm.chat.transformation import BaseLLMException as _ProviderError
except Exception:  # pragma: no cover - a LiteLLM that moved it still gets every other field
    _ProviderError = None

try:  # the SDK's errors of a request no answer came back for (APITimeoutError is one)
    from openai import APIConnectionError as _SdkNoAnswer

    _NO_ANSWER: tuple[type[BaseException], ...] = (httpx.TransportError, _SdkNoAnswer)
except Exception:  # pragma: no cover - LiteLLM installs the OpenAI SDK
    _NO_ANSWER = (httpx.TransportError,)

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
# Under Faultline's parser limits (Jackson's: 1,000 levels, numbers of 1,000 digits), which refuse a whole batch for
# one value past them. The bounds are orjson's, so that both serialisation paths keep and cut the same values.
_MAX_JSON_DEPTH = 64
_MIN_INT = -(2**63)
_MAX_INT = 2**64 - 1
# An integer orjson would not write, in the stdlib encoder's text: 20 digits or more (a float's repr has at most 17).
# Found as a run of zeros once every digit is one: bytes.translate and find take 8 us on a 14 KB payload, where the
# regex [0-9]{20} took 116 us (it tries 20 characters at every digit).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGIT_RUN = b"0" * 20
_PARSER_MAX_DEPTH = 1000
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: linear, whatever the string holds
_BRACKET = re.compile(r"[\[\]{}]")
# Jackson refuses a key (a name) of more than 50,000 UTF-16 units; a key of more than _MAX_KEY_CHARS code points (at
# most twice as many units) is cut to its first 200, its length and a hash of the whole (_cut_key).
_PARSER_MAX_NAME = 50_000
_MAX_KEY_CHARS = 20_000
_CHAIN_DEPTH = 8
_INITIAL_BACKOFF_S = 0.25
# An answer to a batch is a receipt of a few hundred bytes, or a rejection per event: far under this, bounded anyway.
_ANSWER_MAX_BYTES = 8 * 1024 * 1024
_RECENT_EVENTS = 4096
# Statuses that also mean "unavailable, retry", and how many times split-after-5xx's strikes they need before one
# event is dead-lettered for them (see _isolate).
_UNAVAILABLE = (502, 503, 504)
_UNAVAILABLE_STRIKES = 4
# The longest call id Faultline stores (CallMapper.MAX_ID_LENGTH); it rejects a call with a longer one.
_MAX_ID_CHARS = 200
# The code of a call Faultline refuses for now only: it ends past Faultline's clock by more than its max clock skew
# (CallResource.Rejected.ENDS_IN_FUTURE), and is taken once the clocks agree.
_ENDS_IN_FUTURE = "ends_in_future"
_ESTIMATE_NODES = 2048  # the size estimate on the hook visits at most this many values, whatever their length
_ESTIMATE_OTHER = 16  # bytes counted for a number, a bool, None or a value the estimate does not open
_BATCH_MAX_BYTES = 4 * 1024 * 1024  # a batch stops growing here (by estimate): Faultline takes 10 MiB per request
_STALE_TEMP_S = 600.0  # far longer than any write takes, so a live worker's file is never swept
_EXPIRY_EVERY_S = 60.0  # how often the sender looks for spool and dead-letter files past their age
_POLICY_MAX_TIMEOUT_S = 1.0  # per connect/read, and for the whole body: a poll gives up within 2 s in all
_POLICY_DEFAULT_REFRESH_S = 15.0
_POLICY_DEFAULT_STALE_AFTER_S = 180.0
_POLICY_MAX_BYTES = 4 * 1024 * 1024  # ~40,000 entries of the contract's size: far past any fleet, bounded all the same
_POLICY_MAX_ENTRIES = 10_000
_POLICY_MAX_ID_CHARS = 512
_POLICY_LOG_EVERY_S = 60.0  # poll errors and hook errors are logged at most once a minute each, and counted always
_SHARE_UNIT = 1_000_000  # keep shares in millionths: integer credits make the kept share exact, not drifting
# What an event keeps of LiteLLM's model-map entry (model_map_information.model_map_value): the prices Faultline reads
# (CallMapper.price) and the few fields that name the model. LiteLLM 1.108 copies the whole entry, ~200 keys and
# 8 KB of a 15 KB payload, into every call's payload: half of what the hook's size estimate walks on the event loop,
# and half of what the sender serialises, POSTs and Faultline parses, for figures that are the same on every call.
_MODEL_MAP_FIELDS = (
    "key",
    "litellm_provider",
    "mode",
    "max_input_tokens",
    "max_output_tokens",
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "output_cost_per_reasoning_token",
)


# Forks of this process so far, as seen by the child: the hooks compare it with the one their sender threads were
# started in, instead of calling os.getpid() (a system call) on LiteLLM's event loop for every call.
_fork_generation = 0
# This process's plugins. A fork can come while another thread is inside the routing hook, holding a lock of it: the
# child inherits the lock held, and no thread of the child will ever release it (the first routing call in the worker
# hung its event loop for good). The child's plugins take their routing locks anew.
_plugins: weakref.WeakSet = weakref.WeakSet()


def _after_fork_in_child() -> None:
    global _fork_generation
    _fork_generation += 1
    for plugin in list(_plugins):
        plugin._routing_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


# ---------------------------------------------------------------- configuration


@dataclasses.dataclass(frozen=True)
class FaultlineConfig:
    """Where and how the plugin ships events; every field has a FAULTLINE_* environment variable."""

    url: str = "http://127.0.0.1:8080"
    api_key: str = dataclasses.field(default="", repr=False)
    batch_size: int = 100
    flush_interval_s: float = 1.0
    queue_max: int = 10_000
    # The queue holds payloads as LiteLLM built them; long-context calls are megabytes each.
    queue_max_bytes: int = 64 * 1024 * 1024
    spool_dir: str = ".faultline-spool"
    # Spool plus dead-letter (256 MiB) stay at half of the 512Mi emptyDir of k8s/litellm-deployment.yaml.
    spool_max_bytes: int = 192 * 1024 * 1024
    dead_letter_max_bytes: int = 64 * 1024 * 1024
    # Spool and dead-letter files hold whole prompts and answers: they are deleted (and counted) past this age.
    spool_max_age_s: float = 7 * 86400.0
    timeout_s: float = 5.0
    retry_max_backoff_s: float = 30.0
    # A spooled batch answered 5xx this many times in a row, while Faultline accepts other batches, is halved;
    # a single call answered 5xx this many times in a row goes to the dead-letter folder.
    split_after_5xx: int = 3
    # Traffic policy (GET /api/v1/traffic-policy): polled by a background thread, applied in async_filter_deployments.
    policy_poll: bool = True
    policy_timeout_s: float = 1.0  # at most 1 s (2 s in all per poll): a slow Faultline must not stall the poller
    policy_refresh_s: float | None = None  # None: the policy's own refreshSeconds
    policy_stale_after_s: float | None = None  # None: the policy's own staleAfterSeconds
    # The proxy every event names (faultline.proxy_id): a model group is one proxy's list of candidates, and Faultline
    # counts a group's deployments per proxy. Not a secret, a label: see proxy_label and default_proxy_id.
    proxy_id: str | None = dataclasses.field(default_factory=lambda: default_proxy_id())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "FaultlineConfig":
        env = os.environ if environ is None else environ
        d = cls()
        return cls(
            url=(env.get("FAULTLINE_URL") or d.url).rstrip("/"),
            # The ingest role's key (calls, classify, signals, the traffic policy); FAULTLINE_API_KEY, the single
            # admin key of earlier Faultline versions, still works. Trimmed: a Secret with a trailing newline works.
            api_key=(env.get("FAULTLINE_INGEST_API_KEY") or env.get("FAULTLINE_API_KEY") or "").strip(),
            batch_size=_env_number(env, "FAULTLINE_BATCH_SIZE", d.batch_size, int, 1),
            flush_interval_s=_env_number(
                env, "FAULTLINE_FLUSH_INTERVAL_S", d.flush_interval_s, float, 0.01, _MAX_SETTING_S
            ),
            queue_max=_env_number(env, "FAULTLINE_QUEUE_MAX", d.queue_max, int, 1),
            queue_max_bytes=_env_number(env, "FAULTLINE_QUEUE_MAX_BYTES", d.queue_max_bytes, int, 1),
            spool_dir=env.get("FAULTLINE_SPOOL_DIR") or d.spool_dir,
            spool_max_bytes=_env_number(env, "FAULTLINE_SPOOL_MAX_BYTES", d.spool_max_bytes, int, 1),
            dead_letter_max_bytes=_env_number(
                env, "FAULTLINE_DEAD_LETTER_MAX_BYTES", d.dead_letter_max_bytes, int, 1
            ),
            spool_max_age_s=86400.0
            * _env_number(env, "FAULTLINE_SPOOL_MAX_AGE_DAYS", d.spool_max_age_s / 86400.0, float, 0.0001, 36_500),
            timeout_s=_env_number(env, "FAULTLINE_TIMEOUT_S", d.timeout_s, float, 0.01, _MAX_SETTING_S),
            retry_max_backoff_s=_env_number(
                env, "FAULTLINE_RETRY_MAX_BACKOFF_S", d.retry_max_backoff_s, float, 0.01, _MAX_SETTING_S
            ),
            split_after_5xx=_env_number(env, "FAULTLINE_SPLIT_AFTER_5XX", d.split_after_5xx, int, 1),
            policy_poll=_env_flag(env, "FAULTLINE_POLICY_POLL", d.policy_poll),
            policy_timeout_s=min(
                _POLICY_MAX_TIMEOUT_S,
                _env_number(env, "FAULTLINE_POLICY_TIMEOUT_S", d.policy_timeout_s, float, 0.01),
            ),
            policy_refresh_s=_env_number(env, "FAULTLINE_POLICY_REFRESH_S", None, float, 0.05, _MAX_SETTING_S),
            policy_stale_after_s=_env_number(env, "FAULTLINE_POLICY_STALE_AFTER_S", None, float, 0.0, _MAX_SETTING_S),
            proxy_id=proxy_label(env.get("FAULTLINE_PROXY_ID")) or default_proxy_id(),
        )

    @property
    def calls_url(self) -> str:
        return f"{self.url}/api/v1/calls"

    @property
    def policy_url(self) -> str:
        return f"{self.url}/api/v1/traffic-policy"

    @property
    def calls_url_shown(self) -> str:
        """`calls_url` as logs and stats show it: without the user info (an ingress's basic-auth password)."""
        return _without_user_info(self.calls_url)

    @property
    def policy_url_shown(self) -> str:
        return _without_user_info(self.policy_url)


_MAX_PROXY_ID_CHARS = 40  # CallMapper.MAX_PROXY_ID_LENGTH: a label's length, as a provider's name
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


def proxy_label(name: object) -> str | None:
    """A proxy id as Faultline stores it (CallMapper.proxyId), or None for none.

    Trimmed and lower case, each character outside ``[a-z0-9_.-]`` replaced by ``_``; a name of more than 40 keeps its
    first 31, a dash and the CRC-32 of the whole (8 hex digits), so that two long host names sharing a prefix stay two
    proxies. Faultline applies the same rule and keeps a label that already follows it as it is.
    """
    if not isinstance(name, str) or not name.strip():
        return None
    lower = name.strip().lower()
    label = "".join(c if c in _LABEL_CHARS else "_" for c in lower[:_MAX_PROXY_ID_CHARS])
    if len(lower) <= _MAX_PROXY_ID_CHARS:
        return label
    crc = zlib.crc32(lower.encode("utf-8", "surrogatepass")) & 0xFFFFFFFF
    return f"{label[:_MAX_PROXY_ID_CHARS - 9]}-{crc:08x}"


def default_proxy_id() -> str | None:
    """The proxy's name when FAULTLINE_PROXY_ID names none: ``callback_settings.faultline.proxy_id`` of the proxy's
    config.yaml (LiteLLM loads it before the callbacks), else the host name.

    The host name is the pod's name on Kubernetes and the container's on Docker: stable for the life of the process,
    shared by the uvicorn workers of one proxy (one model list), and never a secret. Replicas of one proxy show as
    several proxies, each with the whole model list, which counts the same deployments per group; two proxies with
    different model lists on one host must each set FAULTLINE_PROXY_ID. None (the event names no proxy: Faultline's
    default proxy) only when the host has no name.
    """
    settings = getattr(litellm, "callback_settings", None)
    own = settings.get("faultline") if isinstance(settings, Mapping) else None
    configured = proxy_label(own.get("proxy_id")) if isinstance(own, Mapping) else None
    if configured:
        return configured
    try:
        return proxy_label(socket.gethostname())
    except OSError:
        return None


def _without_user_info(url: str) -> str:
    """The URL with `user:password@` removed from its authority, the rest as it is."""
    scheme = url.find("://")
    start = 0 if scheme < 0 else scheme + 3
    end = len(url)
    for sep in "/?#":
        at = url.find(sep, start)
        if 0 <= at < end:
            end = at
    at = url.rfind("@", start, end)
    return url if at < 0 else url[:start] + url[at + 1 :]


def _env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    if raw:
        log.warning("faultline: %s=%r is not a yes/no value, using %s", name, env.get(name), default)
    return default


# The longest duration a setting may ask for: past ~9.2e9 s socket and wait timeouts overflow the system's time_t.
_MAX_SETTING_S = 86_400.0


def _env_number(
    env: Mapping[str, str],
    name: str,
    default: Any,
    kind: Callable[[str], Any],
    minimum: Any,
    maximum: Any = None,
) -> Any:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        # A typo in an env var must not stop the proxy from starting.
        log.warning("faultline: %s=%r is not a number, using %s", name, raw, default)
        return default
    if (
        value < minimum
        or (maximum is not None and value > maximum)
        or (isinstance(value, float) and not math.isfinite(value))
    ):
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
    chain = _chain(exc)
    for depth, current in enumerate(chain):
        if _ProviderError is not None and isinstance(current, _ProviderError):
            if not _safe_getattr(current, "status_code_is_synthesized"):
                # A provider error raised while handling a timeout or a dropped connection carries a status of
                # LiteLLM's choosing (OpenAI's handler gives 500): no provider answered, the exception's own
                # status (litellm.Timeout's 408) says what happened.
                if any(isinstance(below, _NO_ANSWER) for below in chain[depth + 1:]):
                    return None
                return _as_status(_safe_getattr(current, "status_code"))
        elif isinstance(current, httpx.HTTPStatusError):
            return _as_status(_safe_getattr(current.response, "status_code"))
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """The exceptions ``exc`` was raised from (cause, else context), nearest first, at most _CHAIN_DEPTH."""
    seen = {id(exc)}
    chain: list[BaseException] = []
    current: BaseException | None = exc
    for _ in range(_CHAIN_DEPTH):
        current = current.__cause__ or current.__context__
        if current is None or id(current) in seen:
            break
        seen.add(id(current))
        chain.append(current)
    return chain


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
    try:
        if isinstance(value, (list, tuple)):
            return ", ".join(str(v) for v in value)
        return str(value)
    except BaseException:  # noqa: BLE001 - a value whose __str__ raises (or an int past str()'s digit limit)
        return "<unreadable>"


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


def _date_from_own_attempt(kwargs: Mapping[str, Any], event: dict) -> None:
    """Starts an answer that came after failed attempts of its request where its own attempt started.

    LiteLLM dates a streamed answer at the request's start (its streaming handler passes no start time, so the
    logging object's, made once per proxy request, stands in). After failed attempts that made a streamed
    fallback start before the attempts it replaced, which Faultline follows forward in a trace, and last as long
    as all of them. The router stamps each attempt's hand-off to the provider in api_call_start_time.
    """
    if kwargs.get("has_logged_async_failure") is not True:
        return  # no earlier attempt failed: the request's start is this attempt's
    request_start, attempt_start = kwargs.get("start_time"), kwargs.get("api_call_start_time")
    started, ended = event.get("startTime"), event.get("endTime")
    if not (isinstance(request_start, _dt.datetime) and isinstance(attempt_start, _dt.datetime)):
        return
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in (started, ended)):
        return
    if abs(started - request_start.timestamp()) > 0.001:
        return  # LiteLLM dated the attempt itself (a non-streamed answer)
    begun = attempt_start.timestamp()
    if started < begun <= ended:
        event["startTime"] = begun


_EMBEDDING_CALLS = ("embedding", "aembedding")
# The vectors of one call Faultline reads for embedding drift (ContentExtractor.MAX_VECTORS): the first 16.
_KEPT_VECTORS = 16


def _slim_embeddings(response: object) -> object:
    """An embedding response with every vector past the first _KEPT_VECTORS replaced by its length.

    Faultline samples the first 16 vectors of a call for embedding drift and reads no other, while LiteLLM puts every
    vector of the request in the payload: 2,048 inputs of 1,536 dimensions are 62 MB of JSON, which blocked the event
    loop for the size estimate and was then refused as too large. Anything that is not that shape is kept as it came.
    """
    data = response.get("data") if isinstance(response, Mapping) else None
    if not isinstance(data, list) or len(data) <= _KEPT_VECTORS:
        return response
    slim = list(data[:_KEPT_VECTORS])
    for item in data[_KEPT_VECTORS:]:
        vector = item.get("embedding") if isinstance(item, Mapping) else None
        if isinstance(vector, (list, str)):
            item = dict(item)
            item["embedding"] = {"dimensions": len(vector)}
        slim.append(item)
    cut = dict(response)
    cut["data"] = slim
    return cut


def _slim_model_map(info: object) -> object:
    """model_map_information with its model-map entry cut to _MODEL_MAP_FIELDS; anything else as it came."""
    if not isinstance(info, Mapping):
        return info
    entry = info.get("model_map_value")
    if not isinstance(entry, Mapping):
        return info
    try:
        slim = dict(info)
        slim["model_map_value"] = {name: entry[name] for name in _MODEL_MAP_FIELDS if name in entry}
    except Exception:  # an odd Mapping that fails when read: the event goes out with the entry as it came
        return info
    return slim


def _jsonable(value: Any, depth: int = 0, active: set[int] | None = None) -> Any:
    """A JSON-native copy: no NaN (Faultline's parser rejects it), no cycles. NUL characters are kept: Faultline
    stores them safely and its content detectors read them (a NUL inside an injection attempt is itself a signal)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if _MIN_INT <= value <= _MAX_INT else _int_marker(value)
    if isinstance(value, str):
        return value
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
                # A bytes key (raw ASGI or httpx headers) by its text: as str(), b'authorization' matched no name.
                key = k if isinstance(k, str) else k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)
                if len(key) > _MAX_KEY_CHARS:
                    key = _cut_key(key)
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


def _cut_key(key: str) -> str:
    """What stands for a key past _MAX_KEY_CHARS: its first 200 characters, its length and 16 hex digits of its
    SHA-256. Cut to the first two alone, keys that differ only further on became one, and one value overwrote the
    other; a key is cut to the same name in every event."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{key[:200]}...<key: {len(key)} chars, sha256 {digest}>"


def _int_marker(value: int) -> str:
    """What stands for an integer past 64 bits: its length, never its digits (str() refuses past 4,300 of them)."""
    digits = math.floor(math.log10(abs(value))) + 1
    return f"<int: {'-' if value < 0 else ''}{digits} digits>"


# A key to redact, in lower-cased JSON text. One alternation: a scan per name cost ~8 us each on a 14 KB payload
# (JSON is full of `"` and `:`, which defeat the substring search's skips), twice the regex's single pass.
_SECRET_KEY_PATTERN = "\"(?:" + "|".join(re.escape(name) for name in sorted(_SECRET_NAMES)) + ")\":"
_SECRET_KEY = re.compile(_SECRET_KEY_PATTERN)
_SECRET_KEY_BYTES = re.compile(_SECRET_KEY_PATTERN.encode("ascii"))


def _safe_repr(value: object) -> str:
    """repr() for a message: an exception whose repr raises must not escape the handler that reports it."""
    try:
        return repr(value)
    except BaseException:  # noqa: BLE001 - the value is the caller's; anything it raises is its own bug
        return f"<{type(value).__name__}>"


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
    except BaseException:  # noqa: BLE001 - a __str__ raising even SystemExit must not stop the sender thread
        return "<unserializable>"


def _to_json_line(payload: Mapping[str, Any]) -> str:
    """One event as one line of ASCII JSON (so never a raw newline or U+2028 inside)."""
    bounded = False  # orjson wrote it: no integer past 64 bits and no nesting past 254 levels (keys unchecked)
    if _orjson is not None:
        try:
            line = _orjson_line(payload)
            if line is not None and _keys_within_parser_limit(line):
                return line
            bounded = line is None
        except Exception:  # NaN-free but odd: a key that is not a str, an int past 64 bits, a lone surrogate, a cycle
            pass
    try:
        # The C encoder is several times faster than walking the payload in Python; most payloads need nothing else.
        line = json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=(",", ":"), default=_json_default)
        # Lower-casing first beats a case-insensitive regex by ~10x on a 14 KB payload.
        if (
            not _SECRET_KEY.search(line.lower())
            and (bounded or _within_parser_limits(line))
            and _keys_within_parser_limit(line)
        ):
            return line
    except Exception:  # NaN, a cycle, an odd key, a dict another thread changed while it was read
        pass
    return json.dumps(_jsonable(payload), ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _within_parser_limits(line: str) -> bool:
    """Whether the stdlib encoder's line holds no integer past 64 bits and nests less deep than Faultline's parser
    takes: else _jsonable cuts them, as one such value made Faultline refuse the whole batch (digits inside a string
    only cost that walk). The encoder stops short of that depth at Python's default recursion limit, but not where a
    process raised it; the nesting is measured only when the line has that many brackets, in C but for one step per
    bracket outside the strings."""
    if _LONG_DIGIT_RUN in line.encode("ascii").translate(_DIGITS_AS_ZERO):  # the stdlib's line is ASCII
        return False
    if line.count("{") + line.count("[") < _PARSER_MAX_DEPTH:
        return True
    depth = 0
    for bracket in _BRACKET.finditer(_JSON_STRING.sub("", line)):
        depth += 1 if bracket.group() in "[{" else -1
        if depth >= _PARSER_MAX_DEPTH:  # the batch's array is one level more
            return False
    return True


def _keys_within_parser_limit(line: str) -> bool:
    """No key of the line past Faultline's parser limit. Only a line longer than it can hold one, and only one with a
    stretch that long between two places where a key may open (split in C: half the encoder's time at 50 KB)."""
    if len(line) <= _PARSER_MAX_NAME:
        return True
    if max(map(len, line.replace('{"', ',"').split(',"'))) <= _PARSER_MAX_NAME:
        return True
    return not _has_long_key(line)


def _has_long_key(line: str) -> bool:
    """Whether a key of a compact JSON line may be longer than Faultline's parser takes (its escaped length, never
    less than its UTF-16 units, over _PARSER_MAX_NAME); a maybe only costs the walk of _jsonable.

    A key opens right after `{` or `,`, and `{"` or `,"` never occurs inside one (its quotes are escaped): so from
    each `":` back to the nearest of them. Each stretch of the line is searched once, in C, between one `":` and the
    next. A `":` inside a string only ever makes a wrong maybe.
    """
    opening = -1  # where the last `{"` or `,"` seen starts
    searched = 0
    end = line.find('":')
    while end != -1:
        opening = max(opening, line.rfind('{"', searched, end), line.rfind(',"', searched, end))
        if end - opening - 2 > _PARSER_MAX_NAME:
            return True
        searched = end
        end = line.find('":', end + 2)
    return False


def _orjson_line(payload: Mapping[str, Any]) -> str | None:
    """The line through orjson (10-30x faster than the stdlib's encoder on a proxy payload), or None when the
    stdlib's path must make it: a key to redact, or text that is not ASCII.

    The same JSON as the stdlib path: dates, dataclasses and every type orjson does not know go through
    _json_default; NaN and infinities become null, as _jsonable makes them. orjson writes UTF-8 and the spool's
    lines are ASCII: escaping its output afterwards costs more than the stdlib's encoder as soon as the text has
    accents here and there (a call per run of non-ASCII characters), so such a payload is encoded again by the
    stdlib (orjson's attempt adds a few per cent to that).
    """
    data = _orjson.dumps(payload, default=_json_default, option=_ORJSON_OPTIONS)
    if not data.isascii():
        return None
    if _SECRET_KEY_BYTES.search(data.lower()):
        return None
    return data.decode("ascii")


_SCALAR_TYPES = frozenset({int, float, bool, type(None)})


def _approx_size(value: Any) -> int:
    """Roughly the bytes `value` takes as JSON, for the queue's byte bound. It runs on LiteLLM's event loop.

    With orjson (LiteLLM's proxy installs it) this is the length of orjson's UTF-8 encoding: exact but for escapes,
    and about a tenth of the stdlib encoder's time on a proxy payload (8 µs against 100 µs on 14 KB here), in C and
    linear in the payload's size. What orjson refuses (a lone surrogate, a key that is not a str, an int past 64 bits,
    a cycle or nesting past 254) and the rare machine without orjson take the bounded walk of _walk_size.
    """
    if _orjson is not None:
        try:
            return len(_orjson.dumps(value, default=_size_default))
        except Exception:  # orjson.JSONEncodeError is a TypeError; anything else odd goes to the walk as well
            pass
    return _walk_size(value)


def _size_default(value: Any) -> Any:
    """What orjson sizes in place of a type it does not know: a Mapping's or a set's items, an object's fields."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset, deque)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("bytes: sized by the walk")  # never copied here
    if isinstance(value, enum.Enum):
        return value.value
    fields = _safe_getattr(value, "__dict__")  # pydantic models and other plain objects
    if isinstance(fields, dict) and not isinstance(value, type):
        return fields
    return None


def _walk_size(value: Any) -> int:
    """The size estimate without orjson: its cost is bounded by the number of values it visits (at most
    _ESTIMATE_NODES), never by their length: a string's length is O(1). Past the budget it extrapolates from
    what it saw.

    Plain dicts, lists, strings and numbers, which are nearly all of a StandardLoggingPayload, are told apart by
    their exact type, and a container's strings and numbers are counted where they stand instead of going through
    the stack. `isinstance` against the Mapping ABC costs a Python-level call per value; it is kept for the other
    types only.
    """
    budget = _ESTIMATE_NODES
    other = _ESTIMATE_OTHER
    scalars = _SCALAR_TYPES
    total = 0
    visited = 0
    pending = 0  # values pushed but not visited when the budget ran out
    stack = [value]
    pop = stack.pop
    push = stack.append
    while stack:
        if visited >= budget:
            pending += len(stack)
            break
        item = pop()
        visited += 1
        kind = type(item)
        if kind is str:
            total += len(item) + 3  # quotes and a separator; non-ASCII and escapes make it an underestimate
        elif kind is dict:
            room = budget - visited
            entries = item.items()
            if len(item) > room:
                pending += len(item) - room
                entries = itertools.islice(entries, room)
            total += 2
            for k, v in entries:
                total += (len(k) if type(k) is str else other) + 4
                vkind = type(v)
                if vkind is str:
                    total += len(v) + 3
                    visited += 1
                elif vkind in scalars:
                    total += other
                    visited += 1
                else:
                    push(v)
        elif kind is list or kind is tuple:
            room = budget - visited
            if len(item) > room:
                pending += len(item) - room
                item = item[:room]
            total += 2
            for v in item:
                vkind = type(v)
                if vkind is str:
                    total += len(v) + 3
                    visited += 1
                elif vkind in scalars:
                    total += other
                    visited += 1
                else:
                    push(v)
        elif kind in scalars:
            total += other
        elif isinstance(item, str):  # a str subclass, e.g. a str-valued enum
            total += len(item) + 3
        elif isinstance(item, (bytes, bytearray)):
            total += len(item) + 3
        elif isinstance(item, Mapping):
            total += 2
            room = budget - visited
            for k, v in itertools.islice(item.items(), room):
                total += (len(k) if isinstance(k, str) else other) + 4
                push(v)
            pending += max(0, len(item) - room)
        elif isinstance(item, (list, tuple)):
            total += 2
            room = budget - visited
            stack.extend(item[:room])
            pending += max(0, len(item) - room)
        else:
            fields = _safe_getattr(item, "__dict__")  # pydantic models and other plain objects
            if isinstance(fields, dict) and not isinstance(item, type):
                push(fields)
            else:
                total += other
    if pending and visited:
        total += total * pending // visited
    return total


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


def _private_dir(directory: Path) -> None:
    """Creates the folder readable by its owner only; one that exists loses its group and other bits where it can.

    Spool and dead-letter files hold whole prompts and answers: under the usual umask the folder was 0755.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(directory.stat().st_mode)
        if mode & 0o077:
            directory.chmod(mode & 0o700)
    except OSError:  # a mount point owned by someone else: its owner decides
        pass


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
        # name -> (5xx answers in a row, the last such status); in memory, so a restart gives each file a fresh start
        self._strikes: dict[str, tuple[int, int]] = {}
        self.total_bytes = 0
        self._make_existing_private()
        self._sweep_temp_files()
        self.rescan()

    def _make_existing_private(self) -> None:
        """Takes the group and other bits off the folder and the files in it that an earlier run left.

        Versions before the owner-only spool wrote files 0644 in a folder 0755, and they stayed so until sent: after
        an upgrade during an outage, spooled prompts stayed readable to every account on the host. Each file is
        opened without following a link and without blocking (a named pipe), and changed through its descriptor.
        """
        if not self.directory.is_dir():
            return  # made owner-only by the first write
        _private_dir(self.directory)
        try:
            with os.scandir(self.directory) as entries:
                paths = [entry.path for entry in entries if entry.is_file(follow_symlinks=False)]
        except OSError:
            return
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:  # gone meanwhile (sent by another worker), or not ours to open
                continue
            try:
                st = os.fstat(fd)
                if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
                    os.fchmod(fd, stat.S_IMODE(st.st_mode) & 0o600)
            except OSError as e:
                log.warning("faultline: could not make spool file %s owner-only (%s)", os.path.basename(path), e)
            finally:
                os.close(fd)

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
            self._strikes = {n: strikes for n, strikes in self._strikes.items() if n in sizes}
            self.total_bytes = sum(size for size, _ in sizes.values())

    def oldest(self) -> _SpoolEntry | None:
        with self._lock:
            if not self._names:
                return None
            name = self._names[0]
            size, events = self._sizes[name]
            return _SpoolEntry(self.directory / name, size, events)

    def first_not_in(self, names: set[str]) -> _SpoolEntry | None:
        """The oldest file whose name is not in `names`."""
        with self._lock:
            for name in self._names:
                if name not in names:
                    size, events = self._sizes[name]
                    return _SpoolEntry(self.directory / name, size, events)
        return None

    def first_after(self, stem: str) -> _SpoolEntry | None:
        """The oldest file that comes after the file of `stem` in the resend order (the same file rewritten keeps its
        stem, and comes after it no more)."""
        with self._lock:
            for name in self._names:
                if _stem(name) > stem:
                    size, events = self._sizes[name]
                    return _SpoolEntry(self.directory / name, size, events)
        return None

    def holds(self, name: str) -> bool:
        with self._lock:
            return name in self._sizes

    def first_with_fewer_strikes(self, limit: int) -> _SpoolEntry | None:
        """The oldest file answered 5xx fewer than `limit` times in a row."""
        with self._lock:
            for name in self._names:
                if self._strikes.get(name, (0, 0))[0] < limit:
                    size, events = self._sizes[name]
                    return _SpoolEntry(self.directory / name, size, events)
        return None

    def strikes(self, name: str) -> tuple[int, int]:
        """How many times in a row the file was answered with a 5xx, and the last such status."""
        with self._lock:
            return self._strikes.get(name, (0, 0))

    def strike(self, entry: _SpoolEntry, status: int) -> int:
        with self._lock:
            if entry.path.name not in self._sizes:
                return 0
            count = self._strikes.get(entry.path.name, (0, 0))[0] + 1
            self._strikes[entry.path.name] = (count, status)
            return count

    def clear_strikes(self, entry: _SpoolEntry) -> None:
        with self._lock:
            self._strikes.pop(entry.path.name, None)

    def write(
        self,
        items: list[str],
        stem: str | None = None,
        replacing: _SpoolEntry | None = None,
        keep: _SpoolEntry | None = None,
        strikes: tuple[int, int] = (0, 0),
    ) -> str | None:
        """Writes one batch; its file's name, or None when the batch alone is larger than the whole spool (dropped).

        `replacing` is deleted once the new file exists; `keep` is a file the bound must not drop to make room.
        """
        data = _body(items)
        with self._lock:
            if len(data) > self.max_bytes:
                self._on_drop(1, len(items))
                log.error(
                    "faultline: a batch of %d events (%d bytes) exceeds the spool bound, dropped", len(items), len(data)
                )
                return None
            _private_dir(self.directory)
            kept = replacing or keep
            self._make_room(len(data), keep=kept.path.name if kept else None)
            if stem is None:
                self._seq += 1
                stem = f"{time.time_ns():020d}-{os.getpid()}-{self._seq:08d}"
            final = self.directory / f"{stem}-n{len(items)}.json"
            tmp = self.directory / f".{final.name}.{os.getpid()}.tmp"
            # No fsync per file: the rename makes a file whole or absent across a process crash, and an unreadable
            # file after an OS crash goes to the dead-letter folder. fsync would cost ~3 ms per batch here.
            try:
                # Owner-only: the file holds whole prompts and answers (open() would follow the umask, often 0644).
                with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                    f.write(data)
                os.replace(tmp, final)
            except BaseException:
                # A full disk fails the write part-way: the partial file would hold space outside the spool's count
                # until a restart swept it, and each failed batch would leave another.
                try:
                    tmp.unlink()
                except OSError:
                    pass
                raise
            self._index(final.name, len(data), len(items))
            if strikes[0]:
                self._strikes[final.name] = strikes
            if replacing is not None:  # only now that the new file exists
                if replacing.path.name != final.name:
                    self._unlink(replacing.path.name)
            return final.name

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
        """Keeps only `items` of a file, at the same place in the resend order, with the same strikes."""
        self.write(items, stem=_stem(entry.path.name), replacing=entry, strikes=self.strikes(entry.path.name))

    def split(self, entry: _SpoolEntry, items: list[str]) -> tuple[int, int]:
        """Replaces a file by its two halves, in its place in the resend order, each with no strikes."""
        middle = len(items) // 2
        stem = _stem(entry.path.name)
        # `.0` and `.1` sort right after the stem and before any later file, so the halves go next.
        self.write(items[middle:], stem=f"{stem}.1", keep=entry)
        self.write(items[:middle], stem=f"{stem}.0", replacing=entry)
        return middle, len(items) - middle

    def remove(self, entry: _SpoolEntry) -> None:
        with self._lock:
            self._unlink(entry.path.name)

    def move_to(self, entry: _SpoolEntry, other: "_SpoolDir") -> None:
        with self._lock:
            _private_dir(other.directory)
            try:
                os.replace(entry.path, other.directory / entry.path.name)
            except FileNotFoundError:
                pass
            self._forget(entry.path.name)
        with other._lock:
            other._index(entry.path.name, entry.size, entry.events)

    def expire(self, before_ns: int) -> tuple[int, int]:
        """Deletes the files written before `before_ns` (epoch ns); answers (files, events) deleted.

        A file's age is the time in its name (a split half keeps its batch's), else its modification time; names
        sort by that time, so the scan stops at the first file young enough.
        """
        files = events = 0
        with self._lock:
            for name in list(self._names):
                if _written_ns(self.directory / name) >= before_ns:
                    break
                events += self._sizes[name][1]
                files += 1
                self._unlink(name)
        return files, events

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
        self._strikes.pop(name, None)
        if name in self._sizes:
            self.total_bytes -= self._sizes.pop(name)[0]
            self._names.remove(name)  # nearly always the first one


def _retry_after_s(response: httpx.Response) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date, RFC 9110), or None when absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return float(min(int(value[:9]), 86_400))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # a year too large for a C long overflows
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds())


# What the plugin reads of Faultline's answers: each by _decoded_chunks, which bounds what it inflates. Set, so that
# httpx does not offer br or zstd when their packages happen to be installed.
_ACCEPT_ENCODING = "gzip, deflate"


def _decoded_chunks(response: httpx.Response, limit: int) -> Iterator[bytes]:
    """The answer's body, as iter_bytes() gives it, but never more than limit + 1 bytes inflated in all: httpx
    inflates a compressed chunk whole, and 64 KB of gzip made 64 MB before the caller could count it. The caller
    refuses the body once it has counted more than `limit`."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        yield from response.iter_raw()
        return
    if encoding in ("gzip", "x-gzip"):
        inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
    elif encoding == "deflate":
        inflate = zlib.decompressobj()
    else:
        raise ValueError(f"the answer is in Content-Encoding {encoding[:40]!r}, which the plugin does not accept")
    budget = limit + 1
    for data in response.iter_raw():
        while data:
            out = inflate.decompress(data, budget)
            data = inflate.unconsumed_tail
            budget -= len(out)
            if out:
                yield out
            if budget <= 0:
                return


def _too_early(response: httpx.Response, size: int) -> list[int]:
    """Of a 422 problem (every call of the batch rejected), the indices of the calls that end past Faultline's clock."""
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if not isinstance(errors, list):
        return []
    indices = {
        error["index"]
        for error in errors
        if isinstance(error, Mapping) and error.get("code") == _ENDS_IN_FUTURE
        and isinstance(error.get("index"), int) and 0 <= error["index"] < size
    }
    return sorted(indices)


def _problem_title(response: httpx.Response) -> str:
    """The `title` of an RFC 9457 problem answer (at most 100 characters), else the status's reason phrase."""
    title = None
    if "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
            title = body.get("title") if isinstance(body, Mapping) else None
        except ValueError:
            title = None
    if not isinstance(title, str) or not title.strip():
        title = response.reason_phrase or "no title"
    return "".join(c if c.isprintable() else "?" for c in title.strip()[:100])


def _written_ns(path: Path) -> int:
    """When a spool file's batch was first written: the epoch-ns prefix of its name, else its modification time."""
    prefix = path.name[:20]
    if prefix.isdigit():
        return int(prefix)
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def _read_spool_file(path: Path) -> bytes:
    """A spool file's bytes; OSError when it is not a regular file. Opened without blocking: a named pipe under a
    spool file's name would otherwise hold the sender until some writer opened it, which none ever does."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        return f.read()


def _stem(name: str) -> str:
    return name.rsplit("-n", 1)[0]


def _events_in_name(name: str) -> int:
    try:
        return int(name.rsplit("-n", 1)[1].split(".", 1)[0])
    except (IndexError, ValueError):
        return 0


# ---------------------------------------------------------------- traffic policy


@dataclasses.dataclass(frozen=True)
class TrafficPolicy:
    """What the plugin applies: for each deployment with less than all of its traffic, keyed on (provider, LiteLLM's
    ``model_info.id``), the share it keeps, in millionths. A deployment not listed keeps everything. The id is each
    proxy operator's to choose and every proxy polls the same policy: keyed on the id alone, an entry for another
    proxy's Azure ``primary`` thinned this proxy's OpenAI ``primary``."""

    shares: Mapping[tuple[str, str], int]
    preemption: bool
    refresh_s: float
    stale_after_s: float
    generated_at: str | None = None
    ignored_entries: int = 0  # entries of the body that did not match the contract and were skipped

    def keep_share(self, provider: str, deployment: str) -> float:
        return self.shares.get((provider, deployment), _SHARE_UNIT) / _SHARE_UNIT


NO_REDUCTION = TrafficPolicy(shares={}, preemption=False, refresh_s=_POLICY_DEFAULT_REFRESH_S,
                             stale_after_s=_POLICY_DEFAULT_STALE_AFTER_S)


class PolicyContractError(ValueError):
    """A policy body that does not match the contract as a whole; the last good policy stays in force."""


def _finite_number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # a JSON integer past float's range: as out of range as 1e999
        return None
    return number if math.isfinite(number) else None


def _bounded_seconds(value: object, default: float, low: float, high: float) -> float:
    number = _finite_number(value)
    return default if number is None or number < low or number > high else number


def parse_traffic_policy(body: object) -> TrafficPolicy:
    """The policy in a decoded ``GET /api/v1/traffic-policy`` body, read field by field.

    The body as a whole must be an object with a boolean ``preemption`` and a ``deployments`` list, or it is not a
    policy at all (PolicyContractError). Inside the list, an entry without a usable ``deployment`` id or
    ``provider``, or with a ``keepShare`` that is not a number in 0..1, is skipped and counted (an entry without its
    provider cannot say which proxy's deployment of the id it is for); other fields are informative and not read.
    A deployment listed twice keeps the larger share: a doubtful reading never takes more traffic away.
    """
    if not isinstance(body, Mapping):
        raise PolicyContractError("the policy is not a JSON object")
    preemption = body.get("preemption")
    if not isinstance(preemption, bool):
        raise PolicyContractError("'preemption' is not a boolean")
    entries = body.get("deployments")
    if not isinstance(entries, list):
        raise PolicyContractError("'deployments' is not a list")
    refresh_s = _bounded_seconds(body.get("refreshSeconds"), _POLICY_DEFAULT_REFRESH_S, 1.0, 3600.0)
    stale_after_s = _bounded_seconds(body.get("staleAfterSeconds"), _POLICY_DEFAULT_STALE_AFTER_S, 0.0, 86400.0)
    generated_at = body.get("generatedAt")
    generated_at = generated_at[:64] if isinstance(generated_at, str) else None
    shares: dict[tuple[str, str], int] = {}
    ignored = 0
    for entry in entries[:_POLICY_MAX_ENTRIES]:
        deployment = entry.get("deployment") if isinstance(entry, Mapping) else None
        provider = entry.get("provider") if isinstance(entry, Mapping) else None
        share = _finite_number(entry.get("keepShare")) if isinstance(entry, Mapping) else None
        if (
            not isinstance(deployment, str)
            or not deployment
            or len(deployment) > _POLICY_MAX_ID_CHARS
            or not isinstance(provider, str)
            or not provider
            or len(provider) > _POLICY_MAX_ID_CHARS
            or share is None
            or not 0.0 <= share <= 1.0
        ):
            ignored += 1
            continue
        key = (provider, deployment)
        millionths = round(share * _SHARE_UNIT)
        if millionths < _SHARE_UNIT:
            shares[key] = max(shares.get(key, 0), millionths)
        else:
            shares[key] = _SHARE_UNIT  # listed at 1.0 (a pin): it wins over a smaller duplicate
    ignored += max(0, len(entries) - _POLICY_MAX_ENTRIES)
    if not preemption:
        shares = {}  # switched off by config: reduce nothing, whatever the list says
    shares = {d: s for d, s in shares.items() if s < _SHARE_UNIT}
    return TrafficPolicy(shares, preemption, refresh_s, stale_after_s, generated_at, ignored)


def _deployment_id(deployment: object) -> str | None:
    if not isinstance(deployment, Mapping):
        return None
    model_info = deployment.get("model_info")
    identifier = model_info.get("id") if isinstance(model_info, Mapping) else None
    return identifier if isinstance(identifier, str) else None


_PROVIDER_MAX_CHARS = 40
_PROVIDER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


def _blank(value: object) -> bool:
    return not isinstance(value, str) or not value.strip()


def faultline_provider(custom: object, from_error: object, model: object) -> str:
    """The provider Faultline records for a call, as its CallMapper.provider works it out from the logged payload.

    LiteLLM's ``custom_llm_provider``, else the error's ``llm_provider``, else the model's prefix before its first
    ``/``, else ``litellm`` (LiteLLM refused the call itself); trimmed and in lower case, and ``other`` unless it is
    1 to 40 of a-z, 0-9, ``_``, ``.``, ``-``. Kept in step with CallMapper: the policy's entries carry that provider.
    """
    raw = custom if not _blank(custom) else from_error if not _blank(from_error) else None
    if raw is None and isinstance(model, str) and "/" in model:
        raw = model[: model.index("/")]
    if raw is None:
        return "litellm"
    normalized = raw.strip().lower()
    if 0 < len(normalized) <= _PROVIDER_MAX_CHARS and all(ch in _PROVIDER_CHARS for ch in normalized):
        return normalized
    return "other"


def _litellm_params(deployment: Mapping) -> tuple[str | None, str | None, str | None]:
    params = deployment.get("litellm_params")
    if isinstance(params, Mapping):
        values = (params.get("model"), params.get("custom_llm_provider"), params.get("api_base"))
    else:  # LiteLLM's LiteLLM_Params object
        values = tuple(getattr(params, name, None) for name in ("model", "custom_llm_provider", "api_base"))
    return tuple(v if isinstance(v, str) else None for v in values)  # type: ignore[return-value]


def _resolved_provider(model: str | None, custom: str | None, api_base: str | None) -> str | None:
    """What LiteLLM puts in a call's ``custom_llm_provider`` for these params: its own get_llm_provider, which maps a
    model without a prefix (``gpt-4o-mini``) to its provider. None where LiteLLM cannot tell (it then refuses the
    call, and Faultline reads the model's prefix)."""
    if model is None:
        return custom
    try:
        return litellm.get_llm_provider(model=model, custom_llm_provider=custom, api_base=api_base)[1]
    except Exception:  # noqa: BLE001 - LiteLLM's "provider not provided" and anything else: fall back as Faultline does
        return custom


def deployment_provider(deployment: object) -> str | None:
    """The provider Faultline records for calls to this router deployment (None for a candidate that is no mapping).

    LiteLLM logs ``custom_llm_provider`` as its get_llm_provider resolves the deployment's ``litellm_params``;
    CallMapper.provider then falls back and normalises as :func:`faultline_provider` does. The policy names each
    deployment by that provider and its ``model_info.id``.
    """
    if not isinstance(deployment, Mapping):
        return None
    model, custom, api_base = _litellm_params(deployment)
    return faultline_provider(_resolved_provider(model, custom, api_base), None, model)


class _ShareGate:
    """Keeps each deployment in the candidate list for exactly its share of the requests it is a candidate for.

    Smooth weighted, per deployment: every request adds the keep share to the deployment's credit; when the credit
    reaches one whole request, the deployment stays a candidate and pays for it; otherwise it is left out of this
    request. Shares are integers in millionths, so the count is exact: 0.2 keeps it for exactly 200 of 1,000
    requests, every fifth one, with no drift and no randomness.
    """

    def __init__(self) -> None:
        # Guards the credits only, never held across I/O: the hook runs on LiteLLM's event loop, and a sync router
        # path or a second loop must not race the counters.
        self._lock = threading.Lock()
        self._credits: dict[tuple[str, str], int] = {}
        self._policy: TrafficPolicy | None = None
        # A deployment's provider by its (model, custom_llm_provider, api_base): LiteLLM's resolution runs once per
        # deployment, not once per candidate and request. Bounded: the params come from the operator's model list.
        self._providers: dict[tuple, str | None] = {}
        self.removed = 0  # times a deployment was left out of a candidate list
        self.untouched_all_at_risk = 0  # lists returned whole: every candidate at risk, none less than another

    def filter(self, policy: TrafficPolicy, deployments: list) -> list:
        shares = policy.shares
        with self._lock:
            if policy is not self._policy:
                # A deployment that left the policy starts afresh if it comes back; one still in it keeps its credit.
                self._credits = {d: c for d, c in self._credits.items() if d in shares}
                self._policy = policy
            listed = []
            for deployment in deployments:
                identifier = _deployment_id(deployment)
                key = None if identifier is None else self._key(deployment, identifier)
                listed.append((deployment, key, shares.get(key) if key is not None else None))
            at_risk = [share for _, _, share in listed if share is not None]
            if not at_risk:
                return deployments
            scale = None
            if len(at_risk) == len(listed):
                # Every candidate is at risk: each keeps its share relative to the least at risk, which keeps all
                # its requests (0.2 beside 0.8 is left out three requests in four), so the request still has one.
                # Equal shares (or none above 0) leave nothing to prefer: the list goes whole.
                highest = max(at_risk)
                if highest <= 0 or min(at_risk) == highest:
                    self.untouched_all_at_risk += 1
                    return deployments
                scale = highest
            kept = []
            left_out = []
            for deployment, key, share in listed:
                if share is None:
                    kept.append(deployment)
                    continue
                if scale is not None:
                    share = share * _SHARE_UNIT // scale
                credit = self._credits.get(key, 0) + share
                if credit >= _SHARE_UNIT:
                    credit -= _SHARE_UNIT
                    kept.append(deployment)
                else:
                    left_out.append(key)
                self._credits[key] = credit
            if not left_out:
                return deployments
            if not kept:  # cannot happen (the least at risk stays), but a request must never lose every candidate
                for key in left_out:
                    self._credits[key] = 0
                self.untouched_all_at_risk += 1
                return deployments
            self.removed += len(left_out)
            return kept

    def _key(self, deployment: Mapping, identifier: str) -> tuple[str, str] | None:
        params = _litellm_params(deployment)
        if params in self._providers:
            provider = self._providers[params]
        else:
            provider = deployment_provider(deployment)
            if len(self._providers) >= _POLICY_MAX_ENTRIES:
                self._providers.clear()
            self._providers[params] = provider
        return None if provider is None else (provider, identifier)


class _PolicyState:
    """The last good policy and when it was fetched; replaced as one immutable pair, so readers need no lock."""

    def __init__(self, policy: TrafficPolicy, fetched_at: float | None):
        self.policy = policy
        self.fetched_at = fetched_at


# ---------------------------------------------------------------- the logger


class _Outcome(enum.Enum):
    DELIVERED = "delivered"
    TOO_LARGE = "too_large"
    INVALID = "invalid"
    RETRY = "retry"


@dataclasses.dataclass(frozen=True)
class _Delivery:
    remaining: list[str]  # events to retry later, in order
    answered: bool  # Faultline answered at least one part as a working service does (2xx, 400, 413, 422)
    strike: tuple[int, int]  # (1, status) when the part that stopped the delivery was answered 5xx, else (0, 0)
    waiting: bool = False  # every event left ends past Faultline's clock: it takes them once its clock catches up


class FaultlineLogger(CustomLogger):
    """LiteLLM callback that ships every call's payload to Faultline without ever slowing the proxy down."""

    def __init__(
        self, config: FaultlineConfig | None = None, clock: Callable[[], float] = time.monotonic, **kwargs: Any
    ):
        super().__init__(**kwargs)
        cfg = config or FaultlineConfig.from_env()
        self.config = dataclasses.replace(cfg, spool_dir=os.path.abspath(cfg.spool_dir))
        # Reads time for the traffic policy (staleness, log rate); tests pass their own to step it.
        self._clock = clock
        self._policy_state = _PolicyState(NO_REDUCTION, None)
        self._gate = _ShareGate()
        self._policy_counters = dict.fromkeys(("polls", "poll_errors", "ignored_entries", "hook_errors"), 0)
        self._policy_last_error: str | None = None
        self._policy_logged_at: dict[str, float] = {}
        counted = (
            "sent",
            "accepted",
            "duplicates",
            "rejected",
            "too_early",
            "spooled",
            "dropped",
            "dead_lettered",
            "server_errors",
            "split_batches",
            "isolated",
            "expired",
            "dead_letter_expired",
        )
        self._counters = dict.fromkeys(counted, 0)
        self._last_error: str | None = None
        if not self.config.api_key:
            log.warning(
                "faultline: FAULTLINE_INGEST_API_KEY (or FAULTLINE_API_KEY) is empty; Faultline will refuse the events"
                " until it is set"
            )
        # Started by the first routing call (_ensure_policy_poller): a process whose router never asks, such as an
        # SDK user without a Router or a script that imports the module, never polls. Not by _start: a forked worker
        # routes a request (starting its poller) before it logs it (running _start again), and a poller forgotten
        # there ran on beside the one the next routing call started.
        self._policy_poller: threading.Thread | None = None
        self._policy_poller_lock = threading.Lock()
        self._start()
        atexit.register(self._persist_on_exit)
        _plugins.add(self)

    def _routing_after_fork(self) -> None:
        """In a forked child, before any of its code runs: the routing hook's locks, free (see _plugins), and the
        child's own stop event."""
        # Credits a routing call left half updated at the fork only shift which request keeps a deployment next.
        self._gate._lock = threading.Lock()
        self._policy_poller_lock = threading.Lock()
        # Made here, not by the child's _start: its poller, started by a routing call before the first logged call
        # ran _start, waited on the event _start then replaced, so close() left it asleep for a refresh interval.
        self._new_stop_event()

    def _new_stop_event(self) -> None:
        self._stop = threading.Event()
        self._stop_pid = os.getpid()

    # ---- LiteLLM routing hook: the traffic policy

    async def async_filter_deployments(
        self,
        model: str,
        healthy_deployments: list,
        messages: list | None,
        request_kwargs: dict | None = None,
        parent_otel_span: Any = None,
    ) -> list:
        """The candidates the router may pick from, with at-risk deployments left out for their policy's share.

        LiteLLM 1.108.5 calls this for every CustomLogger before it picks a deployment, and fails the user's request
        if it raises: so it never raises. It never returns an empty list and never thins a single candidate (the
        request would fail for want of a deployment). No I/O: it reads the policy the poller thread left.
        """
        try:
            return self.apply_traffic_policy(healthy_deployments)
        except Exception as e:  # pragma: no cover - apply_traffic_policy catches its own; belt and braces
            self._policy_problem("hook", f"the traffic policy hook failed: {_safe_repr(e)}")
            return healthy_deployments

    def apply_traffic_policy(self, deployments: Any) -> Any:
        """`deployments` thinned by the policy in force (see async_filter_deployments); the input on any doubt."""
        try:
            poller = self._policy_poller
            if poller is None or not poller.is_alive():
                self._ensure_policy_poller()
            if not isinstance(deployments, list) or len(deployments) < 2:
                return deployments
            policy = self.current_policy()
            if not policy.shares:
                return deployments
            return self._gate.filter(policy, deployments)
        except KeyboardInterrupt:
            raise  # a real Ctrl-C, not a candidate's fault
        except BaseException as e:  # noqa: BLE001 - a candidate raising SystemExit must not stop LiteLLM's event loop
            self._policy_problem("hook", f"the traffic policy hook failed: {_safe_repr(e)}")
            return deployments

    def _ensure_policy_poller(self) -> None:
        """Starts the poller thread (once per process; again in a forked worker). Never waits: no I/O, no held lock."""
        if not self.config.policy_poll or self._stop.is_set():
            return
        if not self._policy_poller_lock.acquire(blocking=False):
            return  # another thread is starting it right now
        try:
            poller = self._policy_poller
            if poller is None or not poller.is_alive():
                self._policy_poller = threading.Thread(
                    target=self._run, args=(self._policy_step,), name="faultline-policy", daemon=True
                )
                self._policy_poller.start()
        finally:
            self._policy_poller_lock.release()

    def current_policy(self) -> TrafficPolicy:
        """The last good policy while it is fresh; NO_REDUCTION before the first one and once it is stale."""
        state = self._policy_state
        if state.fetched_at is None:
            return NO_REDUCTION
        stale_after = self.config.policy_stale_after_s
        if stale_after is None:
            stale_after = state.policy.stale_after_s
        if self._clock() - state.fetched_at > stale_after:
            return NO_REDUCTION  # Faultline has been unreachable too long: its old advice no longer takes traffic
        return state.policy

    def poll_policy(self) -> bool:
        """Fetches the policy once; True when a good one replaced the last. Never raises."""
        try:
            # httpx's timeout bounds each connect and read; the deadline bounds a body that trickles in slowly.
            deadline = time.monotonic() + min(self.config.policy_timeout_s, _POLICY_MAX_TIMEOUT_S)
            with self._policy_client().stream("GET", self.config.policy_url) as response:
                if response.status_code != 200:
                    raise PolicyContractError(f"Faultline answered {response.status_code}")
                chunks, size = [], 0
                # Read (and inflated) up to the bound, never a hostile body's whole length.
                for chunk in _decoded_chunks(response, _POLICY_MAX_BYTES):
                    size += len(chunk)
                    if size > _POLICY_MAX_BYTES:
                        raise PolicyContractError(f"the policy is larger than {_POLICY_MAX_BYTES} bytes")
                    if time.monotonic() > deadline:
                        raise PolicyContractError("the policy took too long to arrive")
                    chunks.append(chunk)
            policy = parse_traffic_policy(json.loads(b"".join(chunks)))
        except Exception as e:  # refused, timed out, 5xx, not JSON, not the contract, too deep to decode
            with self._cond:
                self._policy_counters["poll_errors"] += 1
            self._policy_problem("poll", f"GET {self.config.policy_url_shown} failed: {_safe_repr(e)}")
            return False
        self._policy_state = _PolicyState(policy, self._clock())
        with self._cond:
            self._policy_counters["polls"] += 1
            self._policy_counters["ignored_entries"] += policy.ignored_entries
        if policy.ignored_entries:
            self._policy_problem("entries", f"{policy.ignored_entries} policy entries did not match the contract")
        return True

    def _policy_interval(self) -> float:
        if self.config.policy_refresh_s is not None:
            return self.config.policy_refresh_s
        state = self._policy_state
        return state.policy.refresh_s if state.fetched_at is not None else _POLICY_DEFAULT_REFRESH_S

    def _policy_step(self) -> None:
        self.poll_policy()
        self._stop.wait(self._policy_interval())

    def _policy_problem(self, kind: str, message: str) -> None:
        """Counts nothing itself (callers do); logs each kind of problem at most once every _POLICY_LOG_EVERY_S."""
        self._policy_last_error = message
        if kind == "hook":
            self._policy_counters["hook_errors"] += 1
        now = self._clock()
        last = self._policy_logged_at.get(kind)
        if last is None or now - last >= _POLICY_LOG_EVERY_S:
            self._policy_logged_at[kind] = now
            log.warning("faultline: %s (further ones this minute are counted, not logged)", message)

    def _policy_client(self) -> httpx.Client:
        client = getattr(self, "_policy_http", None)
        if client is None or getattr(self, "_policy_http_pid", None) != os.getpid():
            headers = {
                "Accept": "application/json",
                "Accept-Encoding": _ACCEPT_ENCODING,
                "User-Agent": f"faultline-litellm/{PLUGIN_VERSION}",
            }
            if self.config.api_key:
                headers["Authorization"] = f"Bearer {self.config.api_key}"
            client = httpx.Client(
                timeout=min(self.config.policy_timeout_s, _POLICY_MAX_TIMEOUT_S),
                headers=headers,
                trust_env=False,
                follow_redirects=False,
            )
            self._policy_http, self._policy_http_pid = client, os.getpid()
        return client

    # ---- LiteLLM hooks: copy, estimate, enqueue, return (serialising is the sender thread's job)

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

    async def async_post_call_failure_deployment_hook(self, request_data, exception, call_type, fallback_depth=None):
        """Reports the failed attempts of a request that LiteLLM's failure logging drops.

        The proxy builds one logging object per request and the router hands it to every attempt: retries and
        fallbacks. That object lets the first failure through to async_log_failure_event and marks itself
        (has_logged_async_failure), so a retry's or a failing fallback's error never reached Faultline, and neither
        did the episodes of the deployment it failed on. LiteLLM calls this hook once per failed attempt, before
        its own failure logging; an attempt the mark will drop is reported here, built as LiteLLM builds it.
        """
        try:
            logging_obj = request_data.get("litellm_logging_obj") if isinstance(request_data, Mapping) else None
            details = getattr(logging_obj, "model_call_details", None)
            if not isinstance(details, dict) or details.get("has_logged_async_failure") is not True:
                return  # the first failure: LiteLLM logs it itself, through async_log_failure_event
            attempt = self._dropped_attempt(logging_obj, details, exception)
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # noqa: BLE001 - never let the plugin break a request
            with self._cond:
                self._counters["dropped"] += 1
            self._note_error(f"could not capture a failed attempt: {_safe_repr(e)}")
            log.exception("faultline: could not capture a failed attempt")
            return
        self._capture(attempt, None, attempt["start_time"], attempt["end_time"], failed=True)

    @staticmethod
    def _dropped_attempt(logging_obj: Any, details: dict, exception: Any) -> dict:
        """The call details of one failed attempt as LiteLLM's failure handler would pass them (a copy)."""
        from litellm.litellm_core_utils.litellm_logging import get_standard_logging_object_payload
        from litellm._logging import redact_string

        end = _dt.datetime.now()  # naive local time, as LiteLLM times its attempts
        # The router's pre-call stamps each attempt's hand-off to the provider: the start of this attempt.
        start = details.get("api_call_start_time")
        if not isinstance(start, _dt.datetime) or start > end:
            start = end
        attempt = dict(details)
        attempt.pop("standard_logging_object", None)
        attempt.update(exception=exception, end_time=end, log_event_type="failed_api_call", response_cost=0)
        payload = get_standard_logging_object_payload(
            kwargs=attempt,
            init_response_obj={},
            start_time=start,
            end_time=end,
            logging_obj=logging_obj,
            status="failure",
            error_str=redact_string(str(exception)),
            original_exception=exception if isinstance(exception, Exception) else None,
        )
        if isinstance(payload, Mapping):  # else LiteLLM could not build it: the plugin's minimal payload stands in
            attempt["standard_logging_object"] = payload
        attempt["start_time"] = start
        return attempt

    def _capture(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any, failed: bool) -> None:
        try:
            if not isinstance(kwargs, Mapping):
                log.warning("faultline: LiteLLM passed no call details (%r), nothing to report", type(kwargs))
                return
            if self._fork_generation != _fork_generation:
                # A forked worker inherits the parent's queue but not its threads; the parent sends what it holds.
                log.info("faultline: fork detected, starting this process's own sender")
                self._start()
            if self._seen_before(kwargs):
                return
            event = self._event(kwargs, response_obj, start_time, end_time, failed)
            self._enqueue(event, _approx_size(event))
        except KeyboardInterrupt:
            raise  # a real Ctrl-C, not a value of the payload
        except BaseException as e:  # noqa: BLE001 - never let the plugin break a request (a value raising SystemExit
            # stopped LiteLLM's event loop); the event is lost, and counted
            with self._cond:
                self._counters["dropped"] += 1
            self._note_error(f"could not capture an event: {_safe_repr(e)}")
            log.exception("faultline: could not capture an event")

    def _seen_before(self, kwargs: Mapping[str, Any]) -> bool:
        """True for the second delivery of one event.

        The proxy logs its own errors (bad key, unknown model, budgets) through both the async failure
        handler and, from a thread, the sync one, with the same payload; one copy is enough.
        """
        payload = kwargs.get("standard_logging_object")
        ident = payload.get("id") if isinstance(payload, Mapping) else None
        # Only ids Faultline can store (it refuses longer ones): the cache must not hold megabytes of a bad id.
        if not isinstance(ident, str) or not ident or len(ident) > _MAX_ID_CHARS:
            return False
        key = (ident, payload.get("status"), payload.get("startTime"), payload.get("endTime"))
        try:
            hash(key)
        except TypeError:  # a start or end time that is a dict or a list: send it, Faultline says what is wrong
            return False
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
        proxy_id = self.config.proxy_id
        if "model_map_information" in event:
            event["model_map_information"] = _slim_model_map(event["model_map_information"])
        if event.get("call_type") in _EMBEDDING_CALLS and "response" in event:
            event["response"] = _slim_embeddings(event["response"])
        if failed:
            error_information = payload.get("error_information")
            error_class = error_information.get("error_class") if isinstance(error_information, Mapping) else None
            event["faultline"] = {
                "http_status": _http_status(exc, payload),
                "response_headers": _failure_headers(exc, payload),
                "exception_class": type(exc).__name__ if isinstance(exc, BaseException) else (error_class or None),
                "plugin_version": PLUGIN_VERSION,
            }
            if proxy_id:
                event["faultline"]["proxy_id"] = proxy_id
        else:
            _date_from_own_attempt(kwargs, event)
            event["faultline"] = {
                "http_status": None,
                "response_headers": _success_headers(response_obj, payload),
                "exception_class": None,
                "plugin_version": PLUGIN_VERSION,
            }
            if proxy_id:
                event["faultline"]["proxy_id"] = proxy_id
        return event

    # ---- queue

    def _start(self) -> None:
        """Locks, queue, spool index and threads; run again in a forked child, which inherits no threads."""
        self._pid = os.getpid()
        self._fork_generation = _fork_generation
        self._cond = threading.Condition()
        self._recent: OrderedDict[tuple, None] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._spool = _SpoolDir(Path(self.config.spool_dir), self.config.spool_max_bytes, self._count_spool_drop)
        self._dead = _SpoolDir(
            Path(self.config.spool_dir) / "dead-letter", self.config.dead_letter_max_bytes, self._count_dead_letter_drop
        )
        self._next_rescan_at = time.monotonic() + self.config.retry_max_backoff_s
        self._next_expiry_at = time.monotonic()  # the first look is right away: files an earlier run left
        # Events as (payload, estimated bytes), not yet serialised; the byte counts cover queue and overflow.
        self._queue: deque[tuple[Any, int]] = deque()
        self._queue_bytes = 0
        self._overflow: list[tuple[Any, int]] = []  # taken from a full queue, waiting for the spooler thread
        self._overflow_bytes = 0
        self._spooling: list[tuple[Any, int]] = []  # being written by the spooler thread
        self._inflight: list[tuple[Any, int]] = []  # being serialised and sent by the sender thread
        self._wakeups = 0  # times the sender woke up to look for work: a spinning sender shows here
        self._rescans = 0
        self._busy = False
        self._flush_requested = False
        self._failures = 0
        self._retry_at = 0.0
        # The pace of the files waiting for Faultline's clock, apart from the backoff above: that one holds every
        # batch, and new calls waited behind a waiting file's next try for up to FAULTLINE_RETRY_MAX_BACKOFF_S.
        self._waiting_failures = 0
        self._waiting_retry_at = 0.0
        self._retry_after: float | None = None  # seconds Faultline's last refusal asked for (Retry-After)
        self._too_early: list[int] = []  # indices of the last batch Faultline refused as ending in its future
        # Spool files whose every event Faultline refused as ending in its future: the files behind them go first.
        self._waiting: set[str] = set()
        self._waiting_tried = ""  # the stem of the waiting file tried last: the next one goes after it
        self._early_unpaced = False  # calls were found waiting for Faultline's clock and no pause followed yet
        self._next_batch_at = time.monotonic() + self.config.flush_interval_s
        if getattr(self, "_stop_pid", None) != self._pid:  # in a forked child, made at the fork (_routing_after_fork)
            self._new_stop_event()
        self._stopping = False  # SIGTERM came: events go to the spool first, then out by resend (_spool_while_stopping)
        self._sender = threading.Thread(target=self._run, args=(self._send_step,), name="faultline-sender", daemon=True)
        self._spooler = threading.Thread(
            target=self._run, args=(self._spool_overflow_step,), name="faultline-spooler", daemon=True
        )
        self._sender.start()
        self._spooler.start()

    def _enqueue(self, event: Any, size: int) -> None:
        cfg = self.config
        with self._cond:
            if self._queue and (
                len(self._queue) >= cfg.queue_max or self._queue_bytes + size > cfg.queue_max_bytes
            ):
                # Full: hand the queue to the spooler thread rather than dropping or touching the disk here.
                # Memory stays bounded: at most one more queue's worth (events and bytes) may wait for the disk.
                dropped = 0
                while dropped < len(self._overflow) and (
                    len(self._overflow) - dropped + len(self._queue) > cfg.queue_max
                    or self._overflow_bytes + self._queue_bytes > cfg.queue_max_bytes
                ):
                    self._overflow_bytes -= self._overflow[dropped][1]
                    dropped += 1
                if dropped:
                    del self._overflow[:dropped]
                    self._counters["dropped"] += dropped
                    self._note_error(f"the spool could not keep up, dropped {dropped} events")
                self._overflow.extend(self._queue)
                self._overflow_bytes += self._queue_bytes
                self._queue.clear()
                self._queue_bytes = 0
                self._cond.notify_all()
            self._queue.append((event, size))
            self._queue_bytes += size
            if len(self._queue) == cfg.batch_size or self._stopping:
                self._cond.notify_all()

    # ---- background threads

    def _run(self, step: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                step()
            except BaseException as e:  # noqa: BLE001 - nothing but _stop may end this thread; a payload's __str__
                # raising SystemExit or a custom BaseException did, and nothing was sent again
                self._note_error(f"background error: {_safe_repr(e)}")
                log.exception("faultline: background error")
                self._stop.wait(1.0)

    def _spool_overflow_step(self) -> None:
        with self._cond:
            while not self._overflow and not self._stop.is_set():
                self._cond.wait()
            # All of it in one go however far behind the spooler is, written as files of one batch each: a resend
            # parses a whole file on this process's threads, and one file of a burst (67 MB in a fuzz run) held the
            # GIL, and so LiteLLM's event loop, for 60-110 ms at a time.
            self._spooling, self._overflow = self._overflow, []
            self._overflow_bytes = 0
        if self._spooling:
            try:
                lines = self._serialise(self._spooling)
                size = self.config.batch_size
                for start in range(0, len(lines), size):
                    self._to_spool(lines[start : start + size])
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
            elif kind == "expire":
                self.expire_old_files()
            elif kind == "rescan":  # outside the lock, as the hooks must never wait on the disk
                self._spool.rescan()
                self._rescans += 1
            elif self._spool_ahead() or time.monotonic() < self._retry_at:
                # Behind the spool: keeps the resend order while the spool drains or Faultline is down. Files waiting
                # for Faultline's clock hold up no later call: sent at once, as the resend would send it first.
                self._to_spool(self._serialise(batch))
            else:
                delivery = self._deliver(self._serialise(batch), pace_early=False)
                if delivery.waiting:
                    self._count_too_early(len(delivery.remaining))
                if delivery.remaining:
                    name = self._to_spool(delivery.remaining, strikes=delivery.strike)
                    if delivery.waiting and name:
                        self._waiting.add(name)  # refused once: its file does not hold up the files behind it
        finally:
            with self._cond:
                self._inflight = []
                self._busy = False
                self._cond.notify_all()

    def _wait_for_work(self) -> tuple[str, list[tuple[Any, int]]] | None:
        """Called under the lock: what the sender does next ("resend", "rescan" or "batch"); None means stop."""
        interval = self.config.flush_interval_s
        while not self._stop.is_set():
            self._wakeups += 1
            now = time.monotonic()
            # Expiry before the resend: a file past its age is deleted, not sent once more.
            if now >= self._next_expiry_at:
                self._next_expiry_at = now + _EXPIRY_EVERY_S
                return "expire", []
            # The spool goes first, or a steady stream of new batches would keep it from ever draining; files that only
            # wait for Faultline's clock go at their own pace.
            resend_at = self._resend_at()
            if resend_at is not None and now >= resend_at:
                return "resend", []
            if not self._stopping and (
                len(self._queue) >= self.config.batch_size
                or (self._queue and (now >= self._next_batch_at or self._flush_requested))
            ):
                self._next_batch_at = now + interval
                return "batch", self._take_batch()
            if not len(self._spool) and now >= self._next_rescan_at:
                # Files that another worker process, or this one before a restart, left in the folder.
                self._next_rescan_at = now + self.config.retry_max_backoff_s
                return "rescan", []
            if not self._queue:
                self._next_batch_at = now + interval
            if self._flush_requested and self._idle():
                self._flush_requested = False
            wake_at = self._next_batch_at
            if resend_at is not None:
                wake_at = min(wake_at, resend_at)
            else:
                wake_at = min(wake_at, self._next_rescan_at)
            wake_at = min(wake_at, self._next_expiry_at)
            self._cond.wait(max(0.0, wake_at - now))
        return None

    def _spool_ahead(self) -> bool:
        """Whether the spool holds a file that is not known to wait for Faultline's clock (on the sender thread)."""
        return len(self._spool) > sum(1 for name in self._waiting if self._spool.holds(name))

    def _resend_at(self) -> float | None:
        """When the sender next sends a spool file: None with an empty spool; later when only waiting files are left."""
        if len(self._spool) == 0:
            return None
        if self._spool_ahead():
            return self._retry_at
        return max(self._retry_at, self._waiting_retry_at)

    def _take_batch(self) -> list[tuple[Any, int]]:
        """Under the lock: up to batch_size events from the queue, and about _BATCH_MAX_BYTES at most."""
        batch: list[tuple[Any, int]] = []
        size = 0
        while self._queue and len(batch) < self.config.batch_size:
            if batch and size + self._queue[0][1] > _BATCH_MAX_BYTES:
                break
            entry = self._queue.popleft()
            self._queue_bytes -= entry[1]
            size += entry[1]
            batch.append(entry)
        return batch

    def _serialise(self, entries: list[tuple[Any, int]]) -> list[str]:
        """JSON lines of queued events, on a background thread, never on LiteLLM's event loop."""
        lines = []
        for event, _ in entries:
            try:
                lines.append(_to_json_line(event))
            except BaseException as e:  # noqa: BLE001 - _jsonable catches what it can; past that, lost and counted
                with self._cond:
                    self._counters["dropped"] += 1
                self._note_error(f"could not serialise an event: {_safe_repr(e)}")
                log.exception("faultline: could not serialise an event, dropped it")
        return lines

    def _resend_oldest(self) -> None:
        # Calls waiting for Faultline's clock do not hold up the files behind them; once only they are left, they are
        # tried again in turn, at the backoff's pace: the oldest alone, when its calls end far ahead, held the others
        # until they expired, although Faultline took theirs.
        self._waiting = {name for name in self._waiting if self._spool.holds(name)}
        entry = self._spool.first_not_in(self._waiting)
        if entry is None and self._early_unpaced:
            # Calls were found waiting without a pause, so as not to hold up the files behind them: it is taken now,
            # before they are tried again.
            self._early_unpaced = False
            self._back_off(waiting=True)
            return
        if entry is None:
            entry = self._spool.first_after(self._waiting_tried) or self._spool.oldest()
            if entry is None:
                return
            self._waiting_tried = _stem(entry.path.name)
        limit = self.config.split_after_5xx
        strikes = self._spool.strikes(entry.path.name)[0]
        if strikes >= limit:
            # Is it this batch, or is Faultline failing everything? Send a batch that has not failed as often.
            probe = self._spool.first_with_fewer_strikes(limit)
            if probe is not None:
                # Faultline takes other batches: it is this one only if it fails again now. Its strikes may all
                # date from an outage that has just ended (its database was away: every batch was answered 503).
                if self._send_file(probe) and not self._send_file(entry):
                    if self._spool.strikes(entry.path.name)[0] > strikes:
                        self._isolate(entry)
                return
        self._send_file(entry)

    def _send_file(self, entry: _SpoolEntry) -> bool:
        """Sends one spool file; True when Faultline answered it as a working service does (not 5xx or unreachable)."""
        try:
            items = _items_of(_read_spool_file(entry.path))
        except FileNotFoundError:  # another worker process sent it
            self._spool.remove(entry)
            return False
        except (OSError, ValueError, RecursionError) as e:  # RecursionError: nested past the parser's limit
            log.error("faultline: spool file %s is unreadable (%s), moved to dead-letter", entry.path.name, e)
            self._dead_letter_file(entry)
            return False
        counted = entry.path.name in self._waiting  # its calls were counted in too_early when first refused
        delivery = self._deliver(items, pace_early=counted)
        self._waiting.discard(entry.path.name)
        if not delivery.remaining:
            self._spool.remove(entry)
            if counted:  # Faultline's clock has caught up with it: the other waiting files start their pace over
                with self._cond:
                    self._waiting_failures = 0
                    self._waiting_retry_at = 0.0
            return delivery.answered
        if delivery.waiting:
            if not counted:
                self._count_too_early(len(delivery.remaining))
            # Its name once replaced, or its own when all of it is left (whatever count its name holds): a file not
            # known as waiting would be tried again at once, as unpaced as a first try.
            left = len(delivery.remaining)
            self._waiting.add(entry.path.name if left == len(items) else f"{_stem(entry.path.name)}-n{left}.json")
        if delivery.strike[0]:
            self._spool.strike(entry, delivery.strike[1])
        elif delivery.answered:  # part of it was taken: the rest did not fail "in a row"
            self._spool.clear_strikes(entry)
        if len(delivery.remaining) != len(items):
            self._spool.replace(entry, delivery.remaining)
        return delivery.answered

    def _isolate(self, entry: _SpoolEntry) -> None:
        """Faultline takes other batches but answers this one 5xx again and again: halve it, or dead-letter one call."""
        strikes, status = self._spool.strikes(entry.path.name)
        try:
            items = _items_of(_read_spool_file(entry.path))
        except FileNotFoundError:
            self._spool.remove(entry)
            return
        except (OSError, ValueError, RecursionError) as e:  # RecursionError: nested past the parser's limit
            log.error("faultline: spool file %s is unreadable (%s), moved to dead-letter", entry.path.name, e)
            self._dead_letter_file(entry)
            return
        if len(items) > 1:
            try:
                first, second = self._spool.split(entry, items)
            except OSError as e:
                self._note_error(f"cannot split a spooled batch: {_safe_repr(e)}")
                log.error("faultline: cannot split %s (%s)", entry.path.name, e)
                return
            with self._cond:
                self._counters["split_batches"] += 1
                self._retry_at = 0.0  # the halves are new requests: no reason to wait
            log.warning(
                "faultline: a batch of %d events was answered %d %d times in a row while Faultline accepted others;"
                " split it into %d + %d to find the events that cause it",
                len(items), status, strikes, first, second,
            )
            return
        if status in _UNAVAILABLE and strikes < self.config.split_after_5xx * _UNAVAILABLE_STRIKES:
            # 502, 503 and 504 also say "unavailable, retry": a Faultline whose pool is full answers some requests
            # 503 and takes others, which looks like this event failing while others pass. One event is
            # dead-lettered for them only after four times the strikes (at 50% random 503s, about 1 in 4,000).
            return
        self._note_error(f"one event was answered {status} {strikes} times in a row, moved to dead-letter")
        log.error(
            "faultline: an event was answered %d %d times in a row while Faultline accepted others; dead-lettered",
            status, strikes,
        )
        self._dead_letter(items, f"http{status}")
        self._spool.remove(entry)
        with self._cond:
            # Counted once it is in dead-letter/: a reader of the counter finds the file (a test raced the write).
            self._counters["isolated"] += 1

    def _count_too_early(self, calls: int) -> None:
        """Counts calls put aside as ending past Faultline's clock: once each, not at every refusal of a resend."""
        with self._cond:
            self._counters["too_early"] += calls

    def _to_spool(self, items: list[str], strikes: tuple[int, int] = (0, 0)) -> str | None:
        """Writes a spool file; its name, or None when the events could not be kept."""
        if not items:
            return None
        try:
            name = self._spool.write(items, strikes=strikes)
            if name:
                with self._cond:
                    self._counters["spooled"] += len(items)
                return name
            return None
        except Exception as e:  # a full or read-only disk: nowhere left to keep them
            with self._cond:
                self._counters["dropped"] += len(items)
            self._note_error(f"cannot write the spool: {_safe_repr(e)}")
            log.error(
                "faultline: cannot write the spool at %s (%s), dropped %d events", self.config.spool_dir, e, len(items)
            )
            return None

    # ---- delivery

    def _deliver(self, items: list[str], pace_early: bool = True) -> "_Delivery":
        """Sends `items` in batches, halving on 413; what is left to retry later, and what Faultline answered.

        Calls refused as ending past Faultline's clock step the backoff up only with `pace_early`: for calls already
        known to wait, whose tries it paces. Found out for the first time (a new batch, or a restarted worker's first
        try of a file), they stepped it up for the files behind them, which then waited for nothing."""
        size = self.config.batch_size
        pending = [items[start : start + size] for start in reversed(range(0, len(items), size))]
        answered = False
        too_early: list[str] = []  # refused for now only: kept in the spool, to be sent again
        while pending:
            part = pending.pop()
            outcome, status = self._post(part)
            if outcome is not _Outcome.RETRY:
                answered = True
            early = set(self._too_early)
            too_early.extend(part[i] for i in sorted(early))
            # A 400 refuses the whole body for what one event holds (a key or a number past the parser's limits):
            # halved until that event is alone, so that its batch-mates are delivered. A 422 lists every event.
            if (outcome is _Outcome.TOO_LARGE or (outcome is _Outcome.INVALID and status == 400)) and len(part) > 1:
                middle = len(part) // 2
                pending.extend((part[middle:], part[:middle]))
            elif outcome is _Outcome.TOO_LARGE or outcome is _Outcome.INVALID:
                refused = [item for i, item in enumerate(part) if i not in early]
                if refused:
                    self._dead_letter(refused, "http413" if outcome is _Outcome.TOO_LARGE else "invalid")
            elif outcome is _Outcome.RETRY:
                self._back_off()
                strike = (1, status) if status is not None and 500 <= status <= 599 else (0, 0)
                rest = [item for later in reversed(pending) for item in later]
                return _Delivery(too_early + part + rest, answered, strike)
        if too_early:
            # Faultline's clock has to catch up with the proxy's: tried again with the backoff, until it takes them or
            # their spool file expires (FAULTLINE_SPOOL_MAX_AGE_DAYS).
            log.warning(
                "faultline: Faultline refused %d events as ending in its future (is this host's clock ahead?), kept"
                " for retry", len(too_early),
            )
            self._note_error(f"{len(too_early)} events end past Faultline's clock and its max clock skew; kept")
            if pace_early:
                self._back_off(waiting=True)
            else:
                self._early_unpaced = True
        return _Delivery(too_early, answered, (0, 0), waiting=bool(too_early))

    def _exchange(self, items: list[str]) -> httpx.Response:
        """POSTs a batch and reads the whole answer within FAULTLINE_TIMEOUT_S. httpx's timeout bounds each connect and
        each read, so an answer trickling in a byte at a time held the sender, and every batch behind it, for as long as
        the trickle lasted."""
        deadline = time.monotonic() + self.config.timeout_s
        with self._client().stream("POST", self.config.calls_url, content=_body(items)) as response:
            chunks, size = [], 0
            for chunk in _decoded_chunks(response, _ANSWER_MAX_BYTES):
                size += len(chunk)
                if size > _ANSWER_MAX_BYTES:
                    raise ValueError(f"the answer is larger than {_ANSWER_MAX_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the answer took longer than {self.config.timeout_s} s to arrive")
                chunks.append(chunk)
            return httpx.Response(response.status_code, headers=response.headers, content=b"".join(chunks))

    def _post(self, items: list[str]) -> tuple[_Outcome, int | None]:
        self._too_early = []
        try:
            response = self._exchange(items)
        except Exception as e:  # timeouts, refused connections, DNS, ...
            self._note_error(f"POST {self.config.calls_url_shown} failed: {_safe_repr(e)}")
            log.warning(
                "faultline: cannot reach %s (%r), %d events kept for retry", self.config.calls_url_shown, e, len(items)
            )
            return _Outcome.RETRY, None
        status = response.status_code
        if 200 <= status < 300:
            if self._settle(items, response):
                return _Outcome.DELIVERED, status
            # A 2xx that is no receipt (an HTML page of a misrouted URL, a login page of a gateway): nothing says the
            # events were stored, so they are kept, as for a wrong key.
            self._note_error(f"the answer to a batch ({status}, {response.headers.get('content-type')!r}) is not"
                             " Faultline's receipt; check FAULTLINE_URL")
            log.error("faultline: the answer to a batch of %d events (%d) is not Faultline's receipt, kept for retry;"
                      " check FAULTLINE_URL (%s)", len(items), status, self.config.calls_url_shown)
            self._retry_after = None
            return _Outcome.RETRY, status
        # Faultline's problem bodies can quote what it refused (a field of the call): only the status and the
        # problem's title are logged and kept.
        detail = _problem_title(response)
        if status == 413:
            log.info("faultline: a batch of %d events is too large for Faultline, splitting it", len(items))
            return _Outcome.TOO_LARGE, status
        if status == 422:
            self._too_early = _too_early(response, len(items))
        if status == 422 and len(self._too_early) == len(items):  # refused for now only: _deliver keeps them all
            return _Outcome.INVALID, status
        if status in (400, 422):
            self._note_error(f"Faultline refused a batch with {status}: {detail}")
            log.error("faultline: Faultline refused a batch of %d events with %d: %s", len(items), status, detail)
            return _Outcome.INVALID, status
        # 401/403 (key), 408, 429, 5xx, and anything unexpected: keep the events and try again later.
        if 500 <= status <= 599:
            with self._cond:
                self._counters["server_errors"] += 1
        self._note_error(f"Faultline answered {status}: {detail}")
        log.warning("faultline: Faultline answered %d, %d events kept for retry: %s", status, len(items), detail)
        self._retry_after = _retry_after_s(response)
        return _Outcome.RETRY, status

    def _settle(self, items: list[str], response: httpx.Response) -> bool:
        """Counts a receipt and dead-letters what it rejected; False when the answer is no receipt at all."""
        try:
            answer = response.json()
        except ValueError:
            return False
        if not isinstance(answer, Mapping) or not isinstance(answer.get("accepted"), int):
            return False
        rejected = answer.get("rejected") if isinstance(answer.get("rejected"), list) else []
        refused = {}
        for entry in rejected:
            index = entry.get("index") if isinstance(entry, Mapping) else None
            if isinstance(index, int) and 0 <= index < len(items):
                if entry.get("code") == _ENDS_IN_FUTURE:
                    self._too_early.append(index)
                else:
                    refused[index] = str(entry.get("reason", ""))
        with self._cond:
            self._counters["sent"] += len(items)
            self._counters["accepted"] += _count(answer.get("accepted"))
            self._counters["duplicates"] += _count(answer.get("duplicates"))
            self._counters["rejected"] += len(refused)
            self._failures = 0
            self._retry_at = 0.0
        if refused:
            # A reason may quote a little of the refused field: clipped and escaped, as the log is not the place for
            # what a call held (the dead-letter folder keeps the events).
            reasons = {i: _safe_repr(reason)[:120] for i, reason in itertools.islice(sorted(refused.items()), 10)}
            log.error("faultline: Faultline rejected %d of %d events: %s", len(refused), len(items), reasons)
            self._dead_letter([items[i] for i in sorted(refused)], "rejected")
        return True

    def _back_off(self, waiting: bool = False) -> None:
        """Steps the backoff up after a failed delivery, or with `waiting` the pace of the files waiting for Faultline's
        clock only (Faultline answered: no reason to hold the other calls)."""
        retry_after, self._retry_after = self._retry_after, None
        with self._cond:
            if waiting:
                self._waiting_failures += 1
            else:
                self._failures += 1
            failures = self._waiting_failures if waiting else self._failures
            ceiling = min(self.config.retry_max_backoff_s, _INITIAL_BACKOFF_S * 2 ** min(failures - 1, 30))
            # Jitter keeps several proxy workers from retrying in lockstep.
            wait = ceiling * random.uniform(0.5, 1.0)
            if retry_after is not None:
                # Faultline said when (503 while its database is away, 429): not before, and not past our own ceiling.
                wait = max(wait, min(retry_after, self.config.retry_max_backoff_s))
            if waiting:
                self._waiting_retry_at = time.monotonic() + wait
            else:
                self._retry_at = time.monotonic() + wait

    def _dead_letter(self, items: list[str], reason: str) -> None:
        try:
            # None: larger than the folder's whole bound, so not written
            written = self._dead.write(items, stem=f"{time.time_ns():020d}-{os.getpid()}-{reason}")
        except OSError as e:
            log.error("faultline: cannot write the dead-letter folder (%s)", e)
            written = False
        if not written:  # lost: counting them as dead letters would send an operator looking for a file
            with self._cond:
                self._counters["dropped"] += len(items)
            self._note_error(f"could not dead-letter {len(items)} events ({reason}), dropped them")
            log.error("faultline: %d events (%s) could not be written to %s, dropped", len(items), reason,
                      self._dead.directory)
            return
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
            headers = {
                "Content-Type": "application/json",
                "Accept-Encoding": _ACCEPT_ENCODING,
                "User-Agent": f"faultline-litellm/{PLUGIN_VERSION}",
            }
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

    def expire_old_files(self) -> tuple[int, int]:
        """Deletes spool and dead-letter files older than FAULTLINE_SPOOL_MAX_AGE_DAYS; answers the events of each.

        They hold whole prompts and answers. An expired spool file is calls Faultline never got: counted in `expired`
        (and logged), as dead-lettered ones are in `dead_letter_expired`.
        """
        before_ns = time.time_ns() - int(self.config.spool_max_age_s * 1e9)
        spooled = dead = (0, 0)
        try:
            spooled = self._spool.expire(before_ns)
            dead = self._dead.expire(before_ns)
        except OSError as e:
            log.error("faultline: cannot expire old spool files (%s)", e)
        with self._cond:
            self._counters["expired"] += spooled[1]
            self._counters["dead_letter_expired"] += dead[1]
        if spooled[0]:
            self._note_error(f"expired {spooled[0]} spool file(s) holding {spooled[1]} undelivered events")
            log.error(
                "faultline: deleted %d spool file(s) older than %.1f days holding %d undelivered events",
                spooled[0],
                self.config.spool_max_age_s / 86400,
                spooled[1],
            )
        if dead[0]:
            log.warning(
                "faultline: deleted %d dead-letter file(s) older than %.1f days holding %d events",
                dead[0],
                self.config.spool_max_age_s / 86400,
                dead[1],
            )
        return spooled[1], dead[1]

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
            queued_bytes = self._queue_bytes + self._overflow_bytes
            counters = dict(self._counters)
            retry_in_s = max(0.0, self._retry_at - time.monotonic())
        return {
            "queued": queued,
            "queued_bytes": queued_bytes,
            **counters,
            "spool_files": len(self._spool),
            "spool_bytes": self._spool.total_bytes,
            "dead_letter_files": len(self._dead),
            "dead_letter_bytes": self._dead.total_bytes,
            "last_error": self._last_error,
            "retry_in_s": round(retry_in_s, 3),  # until the next try after a failed delivery (backoff, Retry-After)
            "policy": self.policy_stats(),
        }

    def policy_stats(self) -> dict[str, Any]:
        """The traffic policy in force and what the poller and the hook did with it."""
        state = self._policy_state
        policy = self.current_policy()
        with self._cond:
            counters = dict(self._policy_counters)
        return {
            **counters,
            "removed": self._gate.removed,
            "untouched_all_at_risk": self._gate.untouched_all_at_risk,
            "in_force": policy is not NO_REDUCTION,
            "age_s": None if state.fetched_at is None else self._clock() - state.fetched_at,
            "generated_at": state.policy.generated_at,
            "shares": {f"{p}/{d}": s / _SHARE_UNIT for (p, d), s in policy.shares.items()},
            "last_error": self._policy_last_error,
        }

    def flush(self, timeout: float = 10.0) -> bool:
        """Sends everything now, spool included; True once all of it is acknowledged within `timeout`."""
        deadline = time.monotonic() + timeout
        self._spool.rescan()  # whatever is on disk counts, another worker's files included
        with self._cond:
            self._flush_requested = True
            self._retry_at = 0.0
            self._waiting_retry_at = 0.0
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
        for thread in (self._sender, self._spooler, self._policy_poller):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
        self._persist_on_exit()
        atexit.unregister(self._persist_on_exit)
        for client in (getattr(self, "_http", None), getattr(self, "_policy_http", None)):
            if client is not None:
                client.close()

    def stop_on_sigterm(self) -> None:
        """Writes the queue to the spool when the process is asked to stop (SIGTERM: Kubernetes, every rolling update).

        uvicorn, which serves the proxy, takes SIGTERM for a graceful stop and then ends the process by the signal
        itself, so atexit never runs there and the queue was lost. The signal is passed on to the handler that was in
        place (uvicorn's), so its graceful stop is unchanged. Only from the main thread, where signal handlers live;
        elsewhere atexit stays the only net.
        """
        if threading.current_thread() is not threading.main_thread():
            log.debug("faultline: not on the main thread, the queue is written to the spool at exit only")
            return
        previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum: int, frame: Any) -> None:
            if callable(previous):
                self._begin_stopping()
                previous(signum, frame)
            elif previous != signal.SIG_IGN:
                # Nobody else takes the signal: write the queue here, then end as the default action would.
                self._stopping = True
                try:
                    self._persist_on_exit()
                except Exception:  # noqa: BLE001 - the disk: the process ends as asked all the same
                    log.exception("faultline: could not write the queue to the spool at SIGTERM")
                signal.signal(signum, signal.SIG_DFL)
                signal.raise_signal(signum)

        signal.signal(signal.SIGTERM, on_sigterm)

    def _begin_stopping(self) -> None:
        """From a signal handler, on the main thread, which may hold the lock: the work goes to a thread of its own."""
        if self._stopping or os.getpid() != self._pid:
            return
        self._stopping = True
        threading.Thread(target=self._spool_while_stopping, name="faultline-stopping", daemon=True).start()

    def _spool_while_stopping(self) -> None:
        """Until the process ends: what is in memory, and every event the requests still being finished log, is
        written to the spool first, where a spool that outlives the pod keeps it for the next start (or another
        worker). The sender goes on resending the spool, oldest file first, while the process lives: that is what
        saves the events where the spool dies with the pod (the emptyDir of k8s/litellm-deployment.yaml). A POST the
        end of the process cuts leaves its file behind, and a batch already on its way is spooled too: Faultline
        dedups both."""
        while not self._stop.is_set():  # close() writes what is left itself
            try:
                self._persist_on_exit()
            except Exception:  # noqa: BLE001 - the disk: keep trying while the process lives
                log.exception("faultline: could not write the queue to the spool while stopping")
            with self._cond:
                self._cond.notify_all()  # the sender resends now, not at its next timer (up to 30 s away)
                while not (self._queue or self._overflow or self._stop.is_set()):
                    self._cond.wait()

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
            self._queue_bytes = self._overflow_bytes = 0
        finally:
            self._cond.release()
        if leftovers:
            self._to_spool(self._serialise(leftovers))
            log.info("faultline: wrote %d unsent events to the spool at %s", len(leftovers), self.config.spool_dir)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


faultline_logger = FaultlineLogger()
faultline_logger.stop_on_sigterm()
