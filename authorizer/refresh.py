"""A value fetched over the network, shared by every invocation of a warm instance.

One mechanism serves the metadata documents, the signing keys and the tenant list:
single flight, a jittered lifetime, stale-while-revalidate, a back-off after failures,
and the last good value kept for as long as nothing better arrives.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .fetch import FetchError

T = TypeVar("T")
Clock = Callable[[], float]
Spawn = Callable[[Callable[[], None]], None]

logger = logging.getLogger("authorizer.refresh")


class WouldBlock(Exception):
    """Raised instead of doing I/O when the caller asked not to block (an event loop)."""


class Unavailable(Exception):
    """No value has ever been fetched and none can be had now."""

    def __init__(self, retry_after: float, reason: str) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RefreshPolicy:
    """Timing of one refreshing value, in seconds."""

    lifetime: float
    retry_interval: float
    # Minimum gap between refreshes forced by callers (an unknown kid, say).
    cooldown: float
    jitter: float = 0.1
    # Past this age a stale value is no longer served while a refresh runs: callers wait.
    max_stale: float | None = None
    # Bound on how long a caller waits for someone else's fetch.
    wait_timeout: float = 30.0


def spawn_daemon(task: Callable[[], None]) -> None:
    """Run ``task`` on a daemon thread, so a stalled fetch never holds up shutdown."""
    threading.Thread(target=task, name="authorizer-refresh", daemon=True).start()


class RefreshingValue(Generic[T]):
    """A cached value with single-flight refresh; thread-safe, usable from asyncio via allow_io."""

    def __init__(
        self,
        name: str,
        load: Callable[[], T],
        policy: RefreshPolicy,
        clock: Clock,
        rng: random.Random | None = None,
        spawn: Spawn = spawn_daemon,
    ) -> None:
        self.name = name
        self._load = load
        self._policy = policy
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter spreads load; it guards no secret
        self._spawn = spawn
        self._changed = threading.Condition()
        self._value: T | None = None
        self._fetched_at = -math.inf
        self._fresh_until = -math.inf
        self._next_attempt_at = -math.inf
        self._last_forced_at = -math.inf
        self._in_flight = False
        self._last_failed = False
        self.fetch_count = 0

    @property
    def value(self) -> T | None:
        """The last good value, without any I/O and whatever its age."""
        return self._value

    @property
    def last_attempt_failed(self) -> bool:
        return self._last_failed

    def get(self, *, allow_io: bool = True) -> T:
        """Return a usable value, fetching only when there is none worth serving.

        Raises:
            Unavailable: never fetched, and the fetch failed or is backing off.
            WouldBlock: ``allow_io`` is False and the caller would have to wait.
        """
        value = self._value
        # Warm path: one comparison, no lock.
        if value is not None and self._clock() < self._fresh_until:
            return value
        return self._get_slow(allow_io)

    def refresh(self, *, allow_io: bool = True) -> bool:
        """Refresh now, for a caller that saw something the value should contain.

        At most once per cooldown and never inside a back-off, so a flood of invented
        key ids costs one fetch. Returns True when a fetch ran (or was joined).

        Raises:
            WouldBlock: ``allow_io`` is False and a fetch would have to be waited for.
        """
        with self._changed:
            now = self._clock()
            if not self._in_flight:
                if now - self._last_forced_at < self._policy.cooldown or now < self._next_attempt_at:
                    return False
                if not allow_io:
                    raise WouldBlock()
                self._last_forced_at = now
                self._begin()
                fetch_here = True
            else:
                if not allow_io:
                    raise WouldBlock()
                fetch_here = False
        if fetch_here:
            self._fetch_and_publish()
        else:
            self._wait_for_flight()
        return True

    def load_once(self) -> T:
        """Run the loader once, outside the cache (for diagnostics).

        Raises:
            FetchError: as the loader does.
        """
        return self._load()

    def prefetch(self) -> None:
        """Start a background fetch when there is no value yet; never blocks, never raises."""
        with self._changed:
            if self._value is not None or self._in_flight or self._clock() < self._next_attempt_at:
                return
            self._begin()
        self._spawn(self._fetch_and_publish)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no fetch is under way (for tests and shutdown); True when idle."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._in_flight, timeout)

    def _get_slow(self, allow_io: bool) -> T:
        with self._changed:
            now = self._clock()
            value = self._value
            if value is not None:
                if now < self._fresh_until:
                    return value
                max_stale = self._policy.max_stale
                if max_stale is None or now - self._fetched_at < max_stale:
                    # Stale while revalidate: this caller is answered now, a refresh runs behind it.
                    if not self._in_flight and now >= self._next_attempt_at:
                        self._begin()
                        self._spawn(self._fetch_and_publish)
                    return value
            elif now < self._next_attempt_at and not self._in_flight:
                raise Unavailable(self._next_attempt_at - now, f"{self.name}: backing off after a failure")
            if not allow_io:
                raise WouldBlock()
            fetch_here = not self._in_flight and now >= self._next_attempt_at
            if fetch_here:
                self._begin()
        if fetch_here:
            self._fetch_and_publish()
        else:
            self._wait_for_flight()
        value = self._value
        if value is None:
            raise Unavailable(self._retry_after(), f"{self.name}: unavailable")
        return value

    def _begin(self) -> None:
        self._in_flight = True
        self.fetch_count += 1

    def _fetch_and_publish(self) -> None:
        loaded: T | None = None
        retry_hint: float | None = None
        failure: str | None = None
        try:
            loaded = self._load()
        except FetchError as error:
            failure, retry_hint = str(error), error.retry_after
        except Exception as error:  # noqa: BLE001 - a loader bug must not leave waiters hanging
            failure = f"{type(error).__name__}: {error}"
            logger.exception("%s: loader raised unexpectedly", self.name)
        with self._changed:
            now = self._clock()
            self._in_flight = False
            if loaded is not None:
                self._value = loaded
                self._fetched_at = now
                lifetime = self._policy.lifetime
                # Jitter downwards so instances started together do not refresh in lockstep.
                self._fresh_until = now + lifetime * (1 - self._policy.jitter * self._rng.random())
                self._next_attempt_at = -math.inf
                if self._last_failed:
                    logger.info("%s: refreshed again after failures", self.name)
                self._last_failed = False
            else:
                wait = max(self._policy.retry_interval, retry_hint or 0.0)
                self._next_attempt_at = now + wait
                self._last_failed = True
                logger.warning(
                    "%s: refresh failed (%s); %s; next attempt in %.0f s",
                    self.name,
                    failure,
                    "serving the last good value" if self._value is not None else "no value yet",
                    wait,
                )
            self._changed.notify_all()

    def _wait_for_flight(self) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: not self._in_flight, self._policy.wait_timeout):
                raise Unavailable(self._policy.retry_interval, f"{self.name}: fetch still under way")

    def _retry_after(self) -> float:
        return max(1.0, self._next_attempt_at - self._clock())
