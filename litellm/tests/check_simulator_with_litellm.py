"""Drive the real LiteLLM SDK against a running provider simulator and report how it parses each scripted outcome.

Usage: /tmp/llvenv/bin/python litellm/tests/check_simulator_with_litellm.py http://127.0.0.1:PORT

Starts nothing itself. Scripts its own deployments (chk-openai, chk-anthropic, chk-gemini) through the
simulator's admin API, makes one LiteLLM call per scenario with retries off, checks that the call reached
the simulator exactly once, and exits non-zero if any outcome differs from what is expected below.
"""

import asyncio
import json
import os
import sys
import urllib.request

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


def main():
    base = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("FAULTLINE_SIM_URL", "")).rstrip("/")
    if not base:
        sys.exit("usage: check_simulator_with_litellm.py http://127.0.0.1:PORT")
    rows = []
    for provider in PROVIDERS:
        deployment = PROVIDERS[provider][1]
        plans = [("success", False, False, {}, {}), ("success", True, False, {}, {})]
        plans.append(("success+thinking", False, False, {"thinkingTokens": 300},
                      {"reasoning_effort": "low"} if provider != "openai" else {}))
        plans += [(kind, False, False, {"faults": [{"kind": kind, "count": 1, "hangMs": 5000}]},
                   {"timeout": 1} if kind == "hang" else {}) for kind in ERROR_KINDS + CONTENT_KINDS]
        plans += [(kind, True, False, {"faults": [{"kind": kind, "count": 1}]}, {})
                  for kind in ["rate_limit", "safety_block", "malformed", "empty"]]
        plans += [(kind, stream, True, {"faults": [{"kind": kind, "count": 1, "hangMs": 5000}]} if kind else {},
                   {"timeout": 1} if kind == "hang" else {})
                  for kind, stream in [(None, False), (None, True), ("rate_limit", False), ("rate_limit", True),
                                       ("hang", False)]]
        for scenario, stream, use_async, script, extra in plans:
            admin(base, "PUT", f"/_sim/deployments/{deployment}", script)
            outcome, status, headers, detail, calls = call(provider, stream, use_async, base, dict(extra))
            label = (scenario or "success") + (" (stream)" if stream else "")
            expected = expected_for(label, provider)
            if use_async:
                expected = expected_for("async " + label, provider) if "async " + label in EXPECTED else expected
                label = "async " + label
            ok = matches(outcome, expected) and calls == 1
            rows.append((provider, label, outcome, status, calls,
                         ",".join(headers) or "-", detail, "PASS" if ok else f"FAIL (expected {expected})"))
        admin(base, "DELETE", f"/_sim/deployments/{deployment}")
    print("provider | scenario | outcome | status_code | calls | provider headers | detail | verdict")
    for row in rows:
        print(" | ".join(str(cell) for cell in row))
    failures = [row for row in rows if row[-1] != "PASS"]
    print(f"\n{len(rows) - len(failures)}/{len(rows)} scenarios as expected")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
