"""A value fetched over the network, shared by every invocation of a warm instance.

One mechanism serves the metadata documents, the signing keys and the tenant list:
single flight, a jittered lifetime, stale-while-revalidate, a back-off after failures that a
server may lengthen only up to a ceiling, and the last good value kept for as long as nothing
better arrives (or, with a maximum staleness, until then). Every outcome is a return value or
Unavailable; every duration runs on the injected monotonic clock.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from .._telemetry.signals import count_refresh, fetch_span
from .fetch import HUGE_DELAY, FetchError

T = TypeVar("T")
Clock = Callable[[], float]
Spawn = Callable[[Callable[[], None]], None]

logger = logging.getLogger("authorizer.refresh")


class WouldBlock(Exception):
    """Raised instead of doing I/O when the caller asked not to block (an event loop)."""


class Unavailable(Exception):
    """No value worth serving can be had now; ``retry_after`` is whole seconds, at least 1."""

    def __init__(self, retry_after: float, reason: str) -> None:
        super().__init__(reason)
        self.retry_after = whole_seconds(retry_after)


def whole_seconds(delay: float) -> int:
    """A delay as a Retry-After value: whole seconds, at least 1, never unbounded.

    Any float is accepted, infinities included (a next attempt at -inf means "now").
    """
    # Written so that NaN, too, lands on 1: every comparison with it is false.
    if not delay > 1.0:
        return 1
    return math.ceil(min(delay, HUGE_DELAY))


class Forced(Enum):
    """What a refresh asked for by a caller (an unknown kid, say) came to."""

    # A fetch ran, or one under way was joined, and has finished: the value is as current as it gets.
    FETCHED = "fetched"
    # Cooldown or back-off says no, and nothing is under way: the value in hand is the answer.
    DECLINED = "declined"
    # A fetch is under way, started by someone else: this caller is not kept waiting for it.
    PENDING = "pending"


@dataclass(frozen=True)
class RefreshPolicy:
    """Timing of one refreshing value, in seconds (durations, on a monotonic clock)."""

    lifetime: float
    retry_interval: float
    # Minimum gap between refreshes forced by callers (an unknown kid, say).
    cooldown: float
    # Ceiling on a server's Retry-After: a server may slow our retries, never stop them.
    max_server_delay: float
    jitter: float = 0.1
    # Past this age the value is no longer served at all: callers wait for a fetch, or are told
    # to retry when it fails. None: the last good value serves for as long as fetches fail.
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
        source: str | None = None,
    ) -> None:
        self.name = name
        # What telemetry calls this value's refreshes: metadata, jwks or key_vault.
        self.source = source
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
        # Counts the values published: a reader that noted it before reading can later tell, by one
        # comparison, that the value it read is still the one served.
        self.generation = 0

    @property
    def value(self) -> T | None:
        """The last good value, without any I/O and whatever its age."""
        return self._value

    @property
    def fresh_until(self) -> float:
        """When the value served goes stale, on this value's clock (read after the value: it may be later)."""
        return self._fresh_until

    @property
    def refreshing(self) -> bool:
        """A fetch is under way (read without the lock: a hint, used only to choose a refusal)."""
        return self._in_flight

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

    def refresh(self, *, allow_io: bool = True) -> Forced:
        """Refresh now, for a caller that saw something the value should contain.

        At most once per cooldown and never inside a back-off, so a flood of invented key ids
        costs one fetch. Only the caller that starts the fetch waits for it: while any fetch is
        under way (forced, or a stale value's background refresh), others are told PENDING at
        once, so invented key ids never hold a thread.

        Raises:
            WouldBlock: ``allow_io`` is False and this caller would fetch.
        """
        with self._changed:
            if self._in_flight:
                return Forced.PENDING
            now = self._clock()
            if now - self._last_forced_at < self._policy.cooldown or now < self._next_attempt_at:
                return Forced.DECLINED
            if not allow_io:
                raise WouldBlock()
            self._last_forced_at = now
            self._begin()
        self._fetch_and_publish()
        return Forced.FETCHED

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
            value = self._servable(now)
            if value is not None:
                if now < self._fresh_until:
                    return value
                # Stale while revalidate: this caller is answered now, a refresh runs behind it.
                if not self._in_flight and now >= self._next_attempt_at:
                    self._begin()
                    self._spawn(self._fetch_and_publish)
                return value
            if now < self._next_attempt_at and not self._in_flight:
                raise Unavailable(self._next_attempt_at - now, f"{self.name}: backing off after a failure")
            if not allow_io:
                raise WouldBlock()
            fetch_here = not self._in_flight
            if fetch_here:
                self._begin()
        if fetch_here:
            self._fetch_and_publish()
        elif not self._wait_for_flight():
            raise Unavailable(self._policy.retry_interval, f"{self.name}: fetch still under way")
        with self._changed:
            now = self._clock()
            value = self._servable(now)
            if value is None:
                raise Unavailable(self._next_attempt_at - now, f"{self.name}: unavailable")
            return value

    def _servable(self, now: float) -> T | None:
        """The last good value, unless it is older than the policy lets it be served."""
        max_stale = self._policy.max_stale
        if max_stale is not None and now - self._fetched_at >= max_stale:
            return None
        return self._value

    def _begin(self) -> None:
        self._in_flight = True
        self.fetch_count += 1

    def _fetch_and_publish(self) -> None:
        loaded: T | None = None
        retry_hint: float | None = None
        failure: str | None = None
        finish = fetch_span(self.source) if self.source is not None else None
        try:
            loaded = self._load()
        except FetchError as error:
            failure, retry_hint = str(error), error.retry_after
        except Exception as error:  # noqa: BLE001 - a loader bug must not leave waiters hanging
            failure = f"{type(error).__name__}: {error}"
            logger.exception("%s: loader raised unexpectedly", self.name)
        if self.source is not None and finish is not None:
            count_refresh(self.source, loaded is not None)
            finish(loaded is not None, None if loaded is not None else "fetch_failed")
        with self._changed:
            now = self._clock()
            self._in_flight = False
            if loaded is not None:
                self._value = loaded
                # After the value, never before: a reader that saw this generation read this value.
                self.generation += 1
                self._fetched_at = now
                lifetime = self._policy.lifetime
                # Jitter downwards so instances started together do not refresh in lockstep.
                self._fresh_until = now + lifetime * (1 - self._policy.jitter * self._rng.random())
                self._next_attempt_at = -math.inf
                if self._last_failed:
                    logger.info("%s: refreshed again after failures", self.name)
                self._last_failed = False
            else:
                # The server may ask for a longer pause than ours, up to our ceiling and no further.
                server_delay = min(retry_hint or 0.0, self._policy.max_server_delay)
                wait = max(self._policy.retry_interval, server_delay)
                self._next_attempt_at = now + wait
                self._last_failed = True
                logger.warning(
                    "%s: refresh failed (%s); %s; next attempt in %.0f s",
                    self.name,
                    failure,
                    "serving the last good value" if self._servable(now) is not None else "no value to serve",
                    wait,
                )
            self._changed.notify_all()

    def _wait_for_flight(self) -> bool:
        """Wait for the fetch under way; False when it outlasted the wait timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._in_flight, self._policy.wait_timeout)

    def retry_after(self) -> int:
        """Whole seconds until the next attempt may run, at least 1."""
        return whole_seconds(self._next_attempt_at - self._clock())
