"""The real LiteLLM SDK against the running provider simulator: each scripted outcome parses as expected.

Run by PluginAgainstFaultlineIT (`make test`), which starts the simulator (src/test/java/.../ProviderSimulator)
and sets FAULTLINE_SIM_URL. Without it the module fails to import, so it can never pass by skipping; `make
test`'s plain pytest line leaves it out (--ignore). By hand:

    FAULTLINE_SIM_URL=http://127.0.0.1:PORT .venv/bin/python -m pytest tests/test_simulator_with_litellm.py

Scripts its own deployments (chk-openai, chk-anthropic, chk-gemini) through the simulator's admin API, makes
one LiteLLM call per scenario with retries off, and checks the outcome and that the call reached the
simulator exactly once.
"""

import asyncio
import json
import os
import urllib.request

import pytest

SIM_URL = os.environ.get("FAULTLINE_SIM_URL", "").rstrip("/")
if not SIM_URL:
    raise RuntimeError(
        "test_simulator_with_litellm.py needs a running provider simulator; FAULTLINE_SIM_URL is not set."
        " PluginAgainstFaultlineIT runs it (mvn verify -Dit.test=PluginAgainstFaultlineIT)."
    )

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENAI_API_KEY", "sk-dummy-openai")
os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-dummy")
os.environ.setdefault("GEMINI_API_KEY", "dummy-gemini")

import litellm  # noqa: E402  (the env above must be set before import)

litellm.suppress_debug_info = True
litellm.telemetry = False

PROVIDERS = {
    # api_base as LiteLLM 1.108.5 needs it: OpenAI appends /chat/completions, Anthropic appends /v1/messages,
    # Gemini appends /models/{model}:generateContent (or :streamGenerateContent?alt=sse).
    "openai": ("openai/gpt-4o-mini", "chk-openai", "/v1"),
    "anthropic": ("anthropic/claude-sonnet-4-5", "chk-anthropic", ""),
    "gemini": ("gemini/gemini-2.5-flash", "chk-gemini", "/v1beta"),
}

ERROR_KINDS = ["rate_limit", "insufficient_quota", "server_error", "unavailable", "overloaded",
               "context_overflow", "unauthorized", "forbidden", "malformed", "empty", "hang"]
CONTENT_KINDS = ["safety_block", "prompt_blocked"]

# What the wire formats make LiteLLM 1.108.5 raise (or return), by scenario and provider ("*": any provider).
# "ok:<finish_reason>" is a normal response, "error" any exception, "A(B)" an A wrapping original exception B.
# Entries marked LITELLM are LiteLLM's own mapping choices, not simulator artefacts (see the report).
EXPECTED = {
    "success": {"*": "ok:stop"},
    "success (stream)": {"*": "ok:stop"},
    "success+thinking": {"*": "ok:stop"},
    "rate_limit": {"*": "RateLimitError"},
    "insufficient_quota": {"openai": "RateLimitError", "anthropic": "BadRequestError", "gemini": "RateLimitError"},
    "server_error": {"*": "InternalServerError"},
    "unavailable": {"*": "ServiceUnavailableError"},
    # LITELLM: Anthropic "overloaded_error" and Gemini "The model is overloaded." map to InternalServerError.
    "overloaded": {"openai": "ServiceUnavailableError", "anthropic": "InternalServerError",
                   "gemini": "InternalServerError"},
    "context_overflow": {"*": "ContextWindowExceededError"},
    "unauthorized": {"*": "AuthenticationError"},
    # LITELLM: the openai/ mapping has no 403 branch; gemini/ maps any body containing "403" to BadRequestError.
    "forbidden": {"openai": "APIError", "anthropic": "PermissionDeniedError", "gemini": "BadRequestError"},
    "malformed": {"*": "error"},
    "empty": {"*": "error"},
    "hang": {"*": "Timeout"},
    "safety_block": {"*": "ok:content_filter"},
    "prompt_blocked": {"openai": "ContentPolicyViolationError", "anthropic": "ok:content_filter",
                       "gemini": "ok:content_filter"},
    # LITELLM: the sync Gemini stream opens lazily, so its HTTP errors surface wrapped in MidStreamFallbackError.
    "rate_limit (stream)": {"openai": "RateLimitError", "anthropic": "RateLimitError",
                            "gemini": "MidStreamFallbackError(RateLimitError)"},
    "safety_block (stream)": {"*": "ok:content_filter"},
    # LITELLM: Anthropic and Gemini stream parsers skip a broken event and report the cut answer as finished.
    "malformed (stream)": {"openai": "MidStreamFallbackError(APIConnectionError)", "anthropic": "ok:stop",
                           "gemini": "ok:stop"},
    # LITELLM: an empty event stream is a successful, empty completion for every provider.
    "empty (stream)": {"*": "ok:stop"},
}

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def admin(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
        return json.loads(text) if text else None


def requests_seen(base, deployment):
    stats = admin(base, "GET", "/_sim/stats")["deployments"]
    return stats.get(deployment, {}).get("requests", 0)


def provider_headers(headers, provider):
    names = [k.lower() for k in (headers or {})]
    wanted = {"openai": ("x-ratelimit-", "x-request-id", "retry-after"),
              "anthropic": ("anthropic-ratelimit-", "request-id", "retry-after"),
              "gemini": ("content-type",)}[provider]
    return sorted({n.replace("llm_provider-", "") for n in names
                   if any(n.replace("llm_provider-", "").startswith(w) for w in wanted)})


def complete(kwargs, use_async):
    """Runs one completion to the end, sync or async, and returns (response, streamed chunks or None)."""
    if not use_async:
        response = litellm.completion(**kwargs)
        return response, (list(response) if kwargs.get("stream") else None)

    async def run():
        response = await litellm.acompletion(**kwargs)
        return response, ([chunk async for chunk in response] if kwargs.get("stream") else None)

    return asyncio.run(run())


def call(provider, stream, use_async, base, extra):
    model, deployment, suffix = PROVIDERS[provider]
    kwargs = dict(model=model, messages=MESSAGES, api_base=f"{base}/{deployment}{suffix}",
                  num_retries=0, max_retries=0, timeout=extra.pop("timeout", 10), **extra)
    if stream:
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}
    before = requests_seen(base, deployment)
    try:
        response, chunks = complete(kwargs, use_async)
        headers = getattr(response, "_hidden_params", {}).get("additional_headers")
        if stream:
            text, finish, usage = "", None, None
            for chunk in chunks:
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
                    finish = chunk.choices[0].finish_reason or finish
                usage = getattr(chunk, "usage", None) or usage
            outcome = f"ok:{finish}"
            detail = f"text={text!r} usage={usage.total_tokens if usage else None}"
        else:
            choice = response.choices[0]
            outcome = f"ok:{choice.finish_reason}"
            details = response.usage.completion_tokens_details
            detail = (f"text={choice.message.content!r} prompt={response.usage.prompt_tokens} "
                      f"completion={response.usage.completion_tokens} "
                      f"reasoning={details.reasoning_tokens if details else None}")
        status = 200
    except Exception as error:  # noqa: BLE001 - the point is to see which class LiteLLM raises
        outcome = type(error).__name__
        original = getattr(error, "original_exception", None)
        if original is not None:
            outcome += f"({type(original).__name__})"
        status = getattr(error, "status_code", None)
        headers = getattr(error, "litellm_response_headers", None)
        detail = " ".join(str(getattr(error, "message", error)).split())[:160]
    calls = requests_seen(base, deployment) - before
    return outcome, status, provider_headers(dict(headers or {}), provider), detail, calls


def expected_for(label, provider):
    table = EXPECTED[label]
    return table.get(provider, table.get("*"))


def matches(outcome, expected):
    if expected == "error":
        return not outcome.startswith("ok:")
    return outcome == expected


def plans():
    """(provider, label, stream, use_async, simulator script, extra completion arguments) for every scenario."""
    for provider in PROVIDERS:
        rows = [("success", False, False, {}, {}), ("success", True, False, {}, {})]
        rows.append(("success+thinking", False, False, {"thinkingTokens": 300},
                     {"reasoning_effort": "low"} if provider != "openai" else {}))
        rows += [(kind, False, False, {"faults": [{"kind": kind, "count": 1, "hangMs": 5000}]},
                  {"timeout": 1} if kind == "hang" else {}) for kind in ERROR_KINDS + CONTENT_KINDS]
        rows += [(kind, True, False, {"faults": [{"kind": kind, "count": 1}]}, {})
                 for kind in ["rate_limit", "safety_block", "malformed", "empty"]]
        rows += [(kind, stream, True, {"faults": [{"kind": kind, "count": 1, "hangMs": 5000}]} if kind else {},
                  {"timeout": 1} if kind == "hang" else {})
                 for kind, stream in [(None, False), (None, True), ("rate_limit", False), ("rate_limit", True),
                                      ("hang", False)]]
        for scenario, stream, use_async, script, extra in rows:
            label = ("async " if use_async else "") + (scenario or "success") + (" (stream)" if stream else "")
            yield pytest.param(provider, label, stream, use_async, script, extra, id=f"{provider}: {label}")


@pytest.fixture
def deployment_reset():
    touched = []
    yield touched.append
    for deployment in touched:
        admin(SIM_URL, "DELETE", f"/_sim/deployments/{deployment}")


@pytest.mark.parametrize("provider, label, stream, use_async, script, extra", list(plans()))
def test_litellm_parses_the_simulated_outcome_as_expected(
    provider, label, stream, use_async, script, extra, deployment_reset
):
    deployment = PROVIDERS[provider][1]
    deployment_reset(deployment)
    admin(SIM_URL, "PUT", f"/_sim/deployments/{deployment}", script)

    outcome, status, headers, detail, calls = call(provider, stream, use_async, SIM_URL, dict(extra))

    expected = expected_for(label if label in EXPECTED else label.removeprefix("async "), provider)
    assert matches(outcome, expected), f"{outcome} (status {status}, headers {headers}): {detail}"
    assert calls == 1, f"the simulator saw {calls} requests for one call"
