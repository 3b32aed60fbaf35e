"""Counting admitted calls per caller in a store, within a deadline, and living without the store.

The store is the `limits` library's (memory, or Redis shared by every instance). A store that fails
or is slow is tried once per back-off interval, not once per request: in between, calls are
admitted without a count or refused with 503, as RATE_LIMIT_ON_STORE_ERROR says. No lock of ours is
held across a store call.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError
from .._remote.refresh import Clock, whole_seconds
from .._settings.extras import missing_distributions
from .._token.principal import Principal
from .rate_limits import INSTALL_COMMAND, UNREADABLE_STORE, RateLimitSettings, policy_header, state_header

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.strategies import SlidingWindowCounterRateLimiter

logger = logging.getLogger("authorizer.rate_limits")
NAMESPACE = "entra-authorizer"


@dataclass(frozen=True)
class Verdict:
    """Whether to call the function, and what to tell the client either way."""

    admitted: bool
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds until a refused caller may try again (429), or until the store is tried again (503).
    retry_after: int | None = None
    store_failed: bool = False


def caller_key(app: str, function: str, principal: Principal) -> tuple[str, ...]:
    """The caller within one function of one API: tenant and user for a user, tenant and client app for an app.

    ``app`` (the API's client id) keeps apps and slots that share one Redis apart; ``function`` is
    the name the host indexed, so two Python functions of one name in two blueprints stay apart.
    """
    if principal.is_app_only:
        return (NAMESPACE, app, function, principal.tid, "app", principal.client_app_id or "-")
    return (NAMESPACE, app, function, principal.tid, "user", principal.oid or principal.sub or "-")


class CallerRateLimiter:
    """One per process: the store, the sliding-window counter over it, and the store's health."""

    def __init__(self, settings: RateLimitSettings, clock: Clock) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._limiter: SlidingWindowCounterRateLimiter | None = None
        self._failing = False
        self._next_try = -math.inf

    @property
    def in_memory(self) -> bool:
        """A memory store answers without I/O: an event loop may call it directly."""
        return self.settings.storage_url.startswith("memory://")

    def prepare(self) -> None:
        """Build the store client now (no I/O), so that a store it cannot use fails the app at load.

        Raises:
            ConfigurationError: naming RATE_LIMIT_STORAGE_URL.
        """
        self._limiter_now()

    def answers(self) -> bool:
        """One PING within the store's deadline (for the doctor); True when the store answered.

        Raises:
            ConfigurationError: as ``prepare``.
        """
        return bool(self._limiter_now().storage.check())

    def consume(self, items: tuple[RateLimitItem, ...], key: tuple[str, ...]) -> Verdict:
        """Count one admitted call against every limit; never raises."""
        try:
            if not self._may_try():
                return self._store_failed(self._wait())
            verdict = self._consume(self._limiter_now(), items, key)
        except Exception as error:  # noqa: BLE001 - any store failure is the same outage to us
            return self._store_failed(self._failed(error))
        with self._lock:
            recovered = self._failing
            self._failing, self._next_try = False, -math.inf
        if recovered:
            logger.info("rate limit store %s answers again", self.settings.store_location)
        return verdict

    def _may_try(self) -> bool:
        with self._lock:
            now = self._clock()
            if now < self._next_try:
                return False
            if self._failing:
                # This caller probes the failing store; the others wait out another interval.
                self._next_try = now + self.settings.backoff_seconds
            return True

    def _wait(self) -> int:
        """Seconds until the store is tried again: whole, at least 1, at most one back-off."""
        with self._lock:
            return min(whole_seconds(self._next_try - self._clock()), math.ceil(self.settings.backoff_seconds))

    def _failed(self, error: Exception) -> int:
        """Record a failure; the wait is taken here, before a concurrent success can reset it."""
        backoff = self.settings.backoff_seconds
        with self._lock:
            self._failing = True
            self._next_try = self._clock() + backoff
        # Host and port only: a password may sit in the URL's userinfo or in its query.
        logger.warning(
            "rate limit store %s failed (%s); next attempt in %d s, meanwhile calls are %s",
            self.settings.store_location,
            type(error).__name__,
            backoff,
            "admitted" if self.settings.on_store_error == "allow" else "refused with 503",
        )
        return math.ceil(backoff)

    def _store_failed(self, wait: int) -> Verdict:
        if self.settings.on_store_error == "allow":
            return Verdict(admitted=True, store_failed=True)
        return Verdict(admitted=False, retry_after=max(1, wait), store_failed=True)

    def _consume(
        self, limiter: SlidingWindowCounterRateLimiter, items: tuple[RateLimitItem, ...], key: tuple[str, ...]
    ) -> Verdict:
        # With several limits, none is counted unless all have room: a refusal consumes nothing.
        if len(items) > 1 and not all(limiter.test(item, *key) for item in items):
            return self._refused(limiter, items, key)
        for item in items:
            if not limiter.hit(item, *key):
                return self._refused(limiter, items, key)
        return Verdict(admitted=True, headers=self._headers(limiter, items, key)[0])

    def _refused(
        self, limiter: SlidingWindowCounterRateLimiter, items: tuple[RateLimitItem, ...], key: tuple[str, ...]
    ) -> Verdict:
        headers, waits = self._headers(limiter, items, key)
        return Verdict(admitted=False, headers=headers, retry_after=max(1, max(waits)))

    def _headers(
        self, limiter: SlidingWindowCounterRateLimiter, items: tuple[RateLimitItem, ...], key: tuple[str, ...]
    ) -> tuple[dict[str, str], list[int]]:
        states = []
        waits = []
        now = time.time()
        for item in items:
            stats = limiter.get_window_stats(item, *key)
            reset = max(0, math.ceil(stats.reset_time - now))
            states.append((item, stats.remaining, reset))
            if stats.remaining == 0:
                waits.append(reset)
        return {"RateLimit-Policy": policy_header(items), "RateLimit": state_header(states)}, waits or [1]

    def _limiter_now(self) -> SlidingWindowCounterRateLimiter:
        limiter = self._limiter
        if limiter is None:
            # Built once: two memory stores would split one caller's count. Building connects to nothing.
            with self._lock:
                if self._limiter is None:
                    self._limiter = _build(self.settings)
                limiter = self._limiter
        return limiter


def _build(settings: RateLimitSettings) -> SlidingWindowCounterRateLimiter:
    """The limiter over its store.

    Raises:
        ConfigurationError: the store's client refuses the URL.
    """
    if missing_distributions("limits"):
        raise ConfigurationError("RATE_LIMIT_STORAGE_URL", f"rate limits need the `limits` library: {INSTALL_COMMAND}")
    from limits.storage import storage_from_string
    from limits.strategies import SlidingWindowCounterRateLimiter

    options: dict[str, Any] = {"wrap_exceptions": True}
    if not settings.storage_url.startswith("memory://"):
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One bounded attempt per call: our own back-off decides when the store is tried again.
        options |= {
            "socket_timeout": settings.timeout_seconds,
            "socket_connect_timeout": settings.timeout_seconds,
            "retry": Retry(NoBackoff(), 0),
            "health_check_interval": 0,
        }
        if settings.password:
            options["password"] = settings.password
    try:
        return SlidingWindowCounterRateLimiter(storage_from_string(settings.storage_url, **options))
    except (ValueError, TypeError):
        # The client's message may quote the URL, password and all: ours names only the setting.
        raise ConfigurationError("RATE_LIMIT_STORAGE_URL", UNREADABLE_STORE) from None
