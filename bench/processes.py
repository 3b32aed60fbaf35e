"""Throughput of one worker process per core against one process, on fresh tokens.

Threads share one GIL; the Functions host can run several Python worker processes
(FUNCTIONS_WORKER_PROCESS_COUNT), each with its own caches. Each process here configures itself
from app settings and fetches its own metadata and keys, as a worker process would.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import time
from multiprocessing.synchronize import Barrier
from typing import Any

import authorizer
from bench.harness import (
    Ratio,
    figures,
    local_authorizer,
    log_as_the_worker_does,
    mint,
    protected_noop,
    request_for,
)
from tests.support.issuer import auth_environ

PER_PROCESS = 1000
ROUNDS = 5


def serve(environ: dict[str, str], tokens: list[str], start: Barrier, results: Any) -> None:
    """One worker process: warm up on the first token, then serve the rest once all are ready."""
    log_as_the_worker_does()
    authorizer.configure(environ=environ, clock=time.time)
    list_orders = protected_noop()
    requests = [request_for(token) for token in tokens]
    statuses = {list_orders(requests[0]).status_code}
    start.wait()
    began = time.perf_counter()
    statuses |= {list_orders(request).status_code for request in requests[1:]}
    results.put((began, time.perf_counter(), len(requests) - 1, sorted(statuses)))


def throughput(environ: dict[str, str], batches: list[list[str]]) -> float:
    """Calls per second over all processes, from the first start to the last finish."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(batches))
    results = context.Queue()
    processes = [context.Process(target=serve, args=(environ, batch, start, results)) for batch in batches]
    try:
        for process in processes:
            process.start()
        reports: list[tuple[float, float, int, list[int]]] = [results.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
    assert all(statuses == [200] for _, _, _, statuses in reports), reports
    first_start = min(began for began, _, _, _ in reports)
    last_end = max(ended for _, ended, _, _ in reports)
    return sum(count for _, _, count, _ in reports) / (last_end - first_start)


def measure() -> dict[str, Any]:
    cores = len(os.sched_getaffinity(0))
    with local_authorizer() as issuer:
        environ = auth_environ(issuer)
        ratios, singles = [], []
        for _ in range(ROUNDS):
            one = throughput(environ, [mint(issuer, cores * PER_PROCESS + 1)])
            many = throughput(environ, [mint(issuer, PER_PROCESS + 1) for _ in range(cores)])
            singles.append(one)
            ratios.append(many / one)
    return {
        "processes": cores,
        "one_process_per_s": round(statistics.median(singles)),
        **figures(Ratio.of(ratios), 2),
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
