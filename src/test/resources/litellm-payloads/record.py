"""Records what the Faultline plugin sends for LiteLLM's own budget refusals, from LiteLLM's code itself.

Run with the pinned LiteLLM (litellm/requirements.txt) from the repository root:
    LITELLM_LOCAL_MODEL_COST_MAP=True litellm/.venv/bin/python src/test/resources/litellm-payloads/record.py
It drives the proxy's failure path offline (no database, no provider): the auth handler that turns a team budget
check's BudgetExceededError into the 422 the client sees, and the post-guardrail tag budget check that raises a
ProxyException; each failure event goes through the plugin's own event builder and is written as JSON here.
"""

import asyncio
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[3] / "litellm"))

import litellm  # noqa: E402
from litellm.caching.caching import DualCache  # noqa: E402
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402
from litellm.proxy._types import ProxyErrorTypes, ProxyException, UserAPIKeyAuth  # noqa: E402
from litellm.proxy.auth.auth_exception_handler import UserAPIKeyAuthExceptionHandler  # noqa: E402
from litellm.proxy.utils import ProxyLogging  # noqa: E402
from starlette.requests import Request  # noqa: E402

import faultline_callback  # noqa: E402

events = []


class Capture(CustomLogger):
    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        plugin = faultline_callback.FaultlineLogger.__new__(faultline_callback.FaultlineLogger)
        events.append(faultline_callback.FaultlineLogger._event(plugin, kwargs, response_obj, start_time, end_time, True))


async def main():
    import litellm.proxy.proxy_server as proxy_server

    litellm.callbacks = [Capture()]
    proxy_logging = ProxyLogging(user_api_key_cache=DualCache())
    proxy_server.proxy_logging_obj = proxy_logging
    key = UserAPIKeyAuth(api_key="sk-1234", token="88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
                         team_id="team-a", user_id="user-1", request_route="/chat/completions")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    request = Request({"type": "http", "method": "POST", "path": "/chat/completions", "headers": [],
                       "client": ("127.0.0.1", 1)})
    team = litellm.BudgetExceededError(current_cost=1.5, max_budget=1.0, entity_type="team", entity_id="team-a",
                                       message="Budget has been exceeded! Team=team-a Current cost: 1.5, Max budget: 1.0")
    try:
        await UserAPIKeyAuthExceptionHandler.handle_authentication_error(
            team, request, dict(body), "/chat/completions", None, "sk-1234", resolved_identity=key)
    except ProxyException as answered:  # what the client gets: type budget_exceeded, code 422
        assert answered.type == ProxyErrorTypes.budget_exceeded and str(answered.code) == "422", answered
    tag = ProxyException(message="Budget has been exceeded! Tag=tag-x Current cost: 3.0, Max budget: 2.0",
                         type=ProxyErrorTypes.budget_exceeded, param=None, code=422)
    await proxy_logging.post_call_failure_hook(request_data=dict(body), original_exception=tag,
                                               user_api_key_dict=key, route="/chat/completions")
    await asyncio.sleep(0.5)


asyncio.run(main())
assert len(events) == 2, events
for name, event in zip(("budget_refusal_team", "budget_refusal_tag"), events):
    (HERE / f"{name}.json").write_text(json.dumps(event, indent=1, default=str) + "\n")
