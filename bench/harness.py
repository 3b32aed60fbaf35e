"""What every bench shares: one pinned core, a local issuer, tokens and prebuilt requests."""

from __future__ import annotations

import gc
import logging
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import azure.functions as func
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

import authorizer
import authorizer._functions.runtime
from authorizer._token.compact import decode_segment
from authorizer._token.validation import Expectations, validate
from tests.support.issuer import LocalIssuer, auth_environ

REPEATS = 7


class _FormattingHandler(logging.Handler):
    """What the worker's handler does with each record before shipping it: format it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


def log_as_the_worker_does() -> None:
    """The root logger at INFO with a handler that formats every record, as the Functions worker
    configures logging: a record on the hot path cannot hide from the benches."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.handlers = [_FormattingHandler()]
    logging.getLogger("authorizer").setLevel(logging.NOTSET)


def pin_to_one_core() -> int:
    """Run on one core (BENCH_CORE, else the last one), so that the ratios compare like with like.

    The cores of a VM need not be alike: run.py runs the timed benches once on each.
    """
    core = int(os.environ.get("BENCH_CORE", max(os.sched_getaffinity(0))))
    os.sched_setaffinity(0, {core})
    return core


@contextmanager
def local_authorizer(**settings: str) -> Iterator[LocalIssuer]:
    """The authorizer wired to a local issuer on 127.0.0.1, on the real clock as in production."""
    log_as_the_worker_does()
    issuer = LocalIssuer().start()
    authorizer.configure(environ=auth_environ(issuer, **settings), clock=time.time)
    try:
        yield issuer
    finally:
        authorizer.configure(environ=None, clock=None)
        issuer.stop()


def request_for(token: str) -> func.HttpRequest:
    return func.HttpRequest(
        method="GET", url="http://localhost/api/orders", headers={"Authorization": f"Bearer {token}"}, body=b""
    )


def protected_noop(rate_limit: str = "") -> Callable[[func.HttpRequest], func.HttpResponse]:
    """A protected function that does nothing, so that what is measured is the authorizer."""
    answer = func.HttpResponse("orders")

    @authorizer.require_auth(scopes=["Orders.Read"], rate_limit=rate_limit)
    def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return answer

    return list_orders


def pure_validator() -> Callable[[str], object]:
    """validate() with the keys and issuer the runtime has fetched: no cache, no lock, no decorator."""
    state = authorizer._functions.runtime.current()
    authority = state.authenticator.authority
    keys = dict(authority.keys.current(allow_io=True))
    templates = {"2.0": authority.issuer_template("2.0", allow_io=True)}
    expectations = Expectations(state.settings.audiences, state.settings.clock_skew_seconds)
    return lambda token: validate(token, keys, expectations, templates, time.time())


class Ratio(NamedTuple):
    """The median over rounds of one subject's time per call over the floor's, with the range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, ratios: Sequence[float]) -> Ratio:
        return cls(statistics.median(ratios), min(ratios), max(ratios))


def figures(ratio: Ratio, digits: int) -> dict[str, Any]:
    """A ratio as the JSON line carries it: the median, and the range seen over rounds."""
    return {"ratio": round(ratio.median, digits), "range": [round(ratio.low, digits), round(ratio.high, digits)]}


def round_seconds(call: Callable[[Any], object], items: Sequence[Any]) -> float:
    """The mean time per call over one pass through ``items``, GC off while timing."""
    gc.collect()
    gc.disable()
    started = time.perf_counter()
    for item in items:
        call(item)
    elapsed = time.perf_counter() - started
    gc.enable()
    return elapsed / len(items)


def bare_verifier(issuer: LocalIssuer) -> Callable[[tuple[bytes, bytes]], None]:
    """One bare RS256 verify with cryptography, of a (signing input, signature) pair."""
    key = issuer.signer.private_key.public_key()
    padding, digest = PKCS1v15(), SHA256()
    return lambda part: key.verify(part[1], part[0], padding, digest)


def signed_parts(tokens: Sequence[str]) -> list[tuple[bytes, bytes]]:
    """What a bare verify takes from each token, split and decoded outside any timed region."""
    parts = []
    for token in tokens:
        header, payload, signature = token.split(".")
        parts.append((f"{header}.{payload}".encode(), decode_segment(signature)))
    return parts


class RsaFloor:
    """One bare RS256 verify with cryptography: the cost no validator can avoid.

    A round of it is timed just before each round of a subject, and the ratio taken per pair: the
    speed of a VM's core drifts by tens of percent within a minute, and a floor timed once, apart
    from what it divides, lets that drift into the figures.
    """

    def __init__(self, issuer: LocalIssuer, tokens: Sequence[str]) -> None:
        self._parts = signed_parts(tokens)
        self._verify = bare_verifier(issuer)
        self.samples: list[float] = []

    def per_call_seconds(self) -> float:
        seconds = round_seconds(self._verify, self._parts)
        self.samples.append(seconds)
        return seconds

    def median_us(self) -> float:
        return round(statistics.median(self.samples) * 1e6, 1)

    def ratio(self, call: Callable[[Any], object], rounds: Sequence[Sequence[Any]]) -> Ratio:
        """Each round gets its own items, so a bench of first sightings never sees an item twice."""
        ratios = []
        for items in rounds:
            floor = self.per_call_seconds()
            ratios.append(round_seconds(call, items) / floor)
        return Ratio.of(ratios)


def fresh_rounds(issuer: LocalIssuer, per_round: int, **claims: Any) -> list[list[func.HttpRequest]]:
    """REPEATS rounds of requests with tokens never seen, built here, outside every timed region."""
    return [[request_for(token) for token in mint(issuer, per_round, **claims)] for _ in range(REPEATS)]


def repeat_rounds(call: Callable[[func.HttpRequest], object], issuer: LocalIssuer, per_round: int) -> list[list[Any]]:
    """REPEATS rounds of one request whose token ``call`` has already seen once."""
    request = request_for(mint(issuer, 1)[0])
    call(request)
    return [[request] * per_round] * REPEATS


def mint(issuer: LocalIssuer, count: int, **claims: Any) -> list[str]:
    now = time.time()
    return [issuer.token(now, **claims) for _ in range(count)]
