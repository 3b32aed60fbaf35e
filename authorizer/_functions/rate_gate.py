"""A protected function's rate limit, between its authorization and its call."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import azure.functions as func

from .._errors import AuthError, RateLimited, RateLimitStoreUnavailable
from .._policy.rate_counter import Verdict, caller_key
from .._telemetry.signals import FUNCTION, listening
from .._token.authenticator import Trace
from .._token.principal import Principal
from . import runtime
from .answers import EXPOSED_NAMES, answer_for, to_http_response
from .decision_log import log_decision
from .markers import FunctionName

if TYPE_CHECKING:
    from limits import RateLimitItem

EXPOSE = "Access-Control-Expose-Headers"


class RateGate:
    """Counts an admitted caller against the function's limits; refusals never reach it."""

    def __init__(self, function: FunctionName, items: tuple[RateLimitItem, ...]) -> None:
        self.function = function
        self.items = items

    def check(self, principal: Principal) -> Verdict:
        current = runtime.current()
        return current.rate_limiter.consume(self.items, self._key(current.settings.client_id, principal))

    async def check_async(self, principal: Principal) -> Verdict:
        current = runtime.current()
        limiter, key = current.rate_limiter, self._key(current.settings.client_id, principal)
        # A store across the network is waited for on a worker thread: the event loop keeps serving.
        if limiter.in_memory:
            return limiter.consume(self.items, key)
        return await asyncio.to_thread(limiter.consume, self.items, key)

    def _key(self, app: str, principal: Principal) -> tuple[str, ...]:
        return caller_key(app, self.function.value, principal)

    def refusal(self, verdict: Verdict, principal: Principal) -> func.HttpResponse:
        """429 for a caller over its limit; 503 when the store is down and RATE_LIMIT_ON_STORE_ERROR=deny."""
        retry_after = verdict.retry_after or 1
        error: AuthError = (
            RateLimitStoreUnavailable(retry_after)
            if verdict.store_failed
            else RateLimited(retry_after, verdict.headers)
        )
        answer = answer_for(error, runtime.settings())
        found = listening()
        if found is not None and not verdict.store_failed:
            found.rate_limit_refusals.add(1, {FUNCTION: self.function.value})
        log_decision(self.function.value, answer.status, type(error).__name__, Trace(claims=principal.claims))
        return to_http_response(answer)

    @staticmethod
    def annotate(result: Any, verdict: Verdict) -> Any:
        """A copy of the function's response with this caller's RateLimit fields (exposed to CORS).

        A copy: a function may return one response object to every caller, which must neither grow
        with each call nor carry one caller's count to another.
        """
        if not verdict.headers or type(result) is not func.HttpResponse:
            return result
        exposed = [name.strip() for name in result.headers.get(EXPOSE, "").split(",") if name.strip()]
        known = {name.lower() for name in exposed}
        exposed += [name for name in EXPOSED_NAMES if name.lower() not in known]
        replaced = {EXPOSE.lower(), *(name.lower() for name in verdict.headers)}
        copy = func.HttpResponse(
            body=result.get_body(), status_code=result.status_code, mimetype=result.mimetype, charset=result.charset
        )
        # Header by header: a name the function set twice (Set-Cookie, say) keeps both values.
        for name, value in result.headers.items():
            if name.lower() not in replaced:
                copy.headers.add(name, value)
        for name, value in verdict.headers.items():
            copy.headers[name] = value
        copy.headers[EXPOSE] = ", ".join(exposed)
        return copy
