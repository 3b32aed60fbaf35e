"""A protected function's rate limit, between its authorization and its call."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import azure.functions as func

from . import runtime
from .answers import EXPOSED, answer_for, to_http_response
from .authenticator import Trace
from .decision_log import log_decision
from .errors import AuthError, RateLimited, RateLimitStoreUnavailable
from .principal import Principal
from .rate_limiter import Verdict, caller_key

if TYPE_CHECKING:
    from limits import RateLimitItem


class RateGate:
    """Counts an admitted caller against the function's limits; refusals never reach it."""

    def __init__(self, function: str, items: tuple[RateLimitItem, ...]) -> None:
        self.function = function
        self.items = items

    def check(self, principal: Principal) -> Verdict:
        return runtime.current().rate_limiter.consume(self.items, caller_key(self.function, principal))

    async def check_async(self, principal: Principal) -> Verdict:
        limiter = runtime.current().rate_limiter
        key = caller_key(self.function, principal)
        # A store across the network is waited for on a worker thread: the event loop keeps serving.
        if limiter.in_memory:
            return limiter.consume(self.items, key)
        return await asyncio.to_thread(limiter.consume, self.items, key)

    def refusal(self, verdict: Verdict, principal: Principal) -> func.HttpResponse:
        """429 for a caller over its limit; 503 when the store is down and RATE_LIMIT_ON_STORE_ERROR=deny."""
        retry_after = verdict.retry_after or 1
        error: AuthError = (
            RateLimitStoreUnavailable(retry_after)
            if verdict.store_failed
            else RateLimited(retry_after, verdict.headers)
        )
        answer = answer_for(error, runtime.settings())
        log_decision(self.function, answer.status, type(error).__name__, Trace(claims=principal.claims))
        return to_http_response(answer)

    @staticmethod
    def annotate(result: Any, verdict: Verdict) -> Any:
        """The function's own response, with the RateLimit fields a client reads (exposed to CORS)."""
        if not verdict.headers or not isinstance(result, func.HttpResponse):
            return result
        for name, value in verdict.headers.items():
            result.headers[name] = value
        exposed = result.headers.get("Access-Control-Expose-Headers")
        result.headers["Access-Control-Expose-Headers"] = f"{exposed}, {EXPOSED}" if exposed else EXPOSED
        return result
