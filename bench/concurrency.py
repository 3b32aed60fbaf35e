"""Throughput of 8 threads against 1 thread on fresh tokens: no lock may be held during crypto.

Two references are measured beside it, for what the GIL and this machine allow at all: the pure
``validate()`` (no cache, no lock, no decorator: nothing of ours that could serialize threads),
and a bare cryptography verify, which releases the GIL and has almost no Python around it.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import azure.functions as func

from bench.harness import (
    Ratio,
    bare_verifier,
    figures,
    local_authorizer,
    mint,
    protected_noop,
    pure_validator,
    request_for,
    signed_parts,
)

PER_THREAD = 250
THREADS = 8
# One thread and eight threads take turns, each on the same number of fresh tokens; the ratio is
# the median over rounds, so that a burst of noise on the VM moves one round, not the figure.
ROUNDS = 11


def throughput(handler: Callable[[Any], object], batches: Sequence[Sequence[Any]]) -> float:
    """Calls per second when each batch runs on its own thread, all started together."""
    start = threading.Barrier(len(batches) + 1)

    def work(batch: Sequence[Any]) -> None:
        start.wait()
        for item in batch:
            handler(item)

    threads = [threading.Thread(target=work, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return sum(len(batch) for batch in batches) / (time.perf_counter() - began)


def eight_over_one(handler: Callable[[Any], object], fresh: Callable[[int], list[Any]]) -> dict[str, Any]:
    """8-thread over 1-thread throughput: the median over rounds as the ratio, with the range seen."""
    singles, eights = [], []
    for _ in range(ROUNDS):
        singles.append(throughput(handler, [fresh(THREADS * PER_THREAD)]))
        eights.append(throughput(handler, [fresh(PER_THREAD) for _ in range(THREADS)]))
    ratios = [many / one for one, many in zip(singles, eights, strict=True)]
    return {
        "one_thread_per_s": round(statistics.median(singles)),
        "eight_threads_per_s": round(statistics.median(eights)),
        **figures(Ratio.of(ratios), 2),
    }


def measure() -> dict[str, Any]:
    with local_authorizer() as issuer:
        list_orders = protected_noop()
        statuses: set[int] = set()

        def call(request: func.HttpRequest) -> None:
            statuses.add(list_orders(request).status_code)

        assert list_orders(request_for(mint(issuer, 1)[0])).status_code == 200
        decorator = eight_over_one(call, lambda count: [request_for(token) for token in mint(issuer, count)])
        assert statuses == {200}
        fetches = {"metadata": issuer.count("metadata-v2"), "jwks": issuer.count("jwks")}

        pure = eight_over_one(pure_validator(), lambda count: mint(issuer, count))
        bare = eight_over_one(bare_verifier(issuer), lambda count: signed_parts(mint(issuer, count)))
    return {
        "cores": len(os.sched_getaffinity(0)),
        **decorator,
        "validate_only": pure,
        "bare_verify": bare,
        "fetches": fetches,
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
