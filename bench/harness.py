"""What every bench shares: one pinned core, a local issuer, tokens and prebuilt requests."""

from __future__ import annotations

import gc
import logging
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import azure.functions as func
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

import authorizer
import authorizer.runtime
from authorizer.compact import decode_segment
from authorizer.validation import Expectations, validate
from tests.conftest import auth_environ
from tests.support.issuer import LocalIssuer

REPEATS = 7


def discard_decision_logs() -> None:
    """Records are still built (as in production, where a handler listens), but not printed."""
    logger = logging.getLogger("authorizer")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


def pin_to_one_core() -> int:
    """Run on one core, so that the ratios compare like with like."""
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


@contextmanager
def local_authorizer(**settings: str) -> Iterator[LocalIssuer]:
    """The authorizer wired to a local issuer on 127.0.0.1, on the real clock as in production."""
    discard_decision_logs()
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


def protected_noop() -> Callable[[func.HttpRequest], func.HttpResponse]:
    """A protected function that does nothing, so that what is measured is the authorizer."""
    answer = func.HttpResponse("orders")

    @authorizer.require_auth(scopes=["Orders.Read"])
    def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return answer

    return list_orders


def pure_validator() -> Callable[[str], object]:
    """validate() with the keys and issuer the runtime has fetched: no cache, no lock, no decorator."""
    state = authorizer.runtime.current()
    authority = state.authenticator.authority
    keys = dict(authority.keys.current(allow_io=True))
    templates = {"2.0": authority.issuer_template("2.0", allow_io=True)}
    expectations = Expectations(state.settings.audiences, state.settings.clock_skew_seconds)
    return lambda token: validate(token, keys, expectations, templates, time.time())


def per_call_seconds(call: Callable[[Any], object], rounds: Sequence[Sequence[Any]]) -> float:
    """Median over rounds of the mean time per call (GC off while timing).

    Each round gets its own items, so a bench of first sightings never sees an item twice.
    """
    samples = []
    for items in rounds:
        gc.collect()
        gc.disable()
        started = time.perf_counter()
        for item in items:
            call(item)
        elapsed = time.perf_counter() - started
        gc.enable()
        samples.append(elapsed / len(items))
    return statistics.median(samples)


def rsa_floor(issuer: LocalIssuer, tokens: Sequence[str]) -> float:
    """One bare RS256 verify with cryptography: the cost no validator can avoid."""
    key = issuer.signer.private_key.public_key()
    padding, digest = PKCS1v15(), SHA256()
    parts = []
    for token in tokens:
        header, payload, signature = token.split(".")
        parts.append((f"{header}.{payload}".encode(), decode_segment(signature)))
    return per_call_seconds(lambda part: key.verify(part[1], part[0], padding, digest), [parts] * REPEATS)


def mint(issuer: LocalIssuer, count: int, **claims: Any) -> list[str]:
    now = time.time()
    return [issuer.token(now, **claims) for _ in range(count)]
