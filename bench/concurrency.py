"""Throughput of 8 threads against 1 thread on fresh tokens: no lock may be held during crypto."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import azure.functions as func

from authorizer import require_auth
from bench.harness import local_authorizer, mint, request_for

PER_THREAD = 400
THREADS = 8


def throughput(handler: Any, batches: list[list[func.HttpRequest]]) -> float:
    """Requests per second when each batch runs on its own thread, all started together."""
    start = threading.Barrier(len(batches) + 1)
    statuses: list[int] = []

    def work(batch: list[func.HttpRequest]) -> None:
        start.wait()
        statuses.extend(handler(request).status_code for request in batch)

    threads = [threading.Thread(target=work, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    assert statuses == [200] * sum(len(batch) for batch in batches)
    return sum(len(batch) for batch in batches) / elapsed


def measure() -> dict[str, Any]:
    with local_authorizer() as issuer:
        answer = func.HttpResponse("orders")

        @require_auth(scopes=["Orders.Read"])
        def list_orders(req: func.HttpRequest) -> func.HttpResponse:
            return answer

        assert list_orders(request_for(mint(issuer, 1)[0])).status_code == 200

        def batches(count: int) -> list[list[func.HttpRequest]]:
            return [[request_for(token) for token in mint(issuer, PER_THREAD)] for _ in range(count)]

        single = throughput(list_orders, batches(1))
        eight = throughput(list_orders, batches(THREADS))
        fetches = {"metadata": issuer.count("metadata-v2"), "jwks": issuer.count("jwks")}
    return {
        "cores": len(os.sched_getaffinity(0)),
        "one_thread_per_s": round(single),
        "eight_threads_per_s": round(eight),
        "eight_over_one": round(eight / single, 2),
        "fetches": fetches,
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
