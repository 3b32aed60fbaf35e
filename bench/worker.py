"""The cost users pay: a protected function against its anonymous twin, through the real worker.

Run on the Python 3.13 worker's venv (azure-functions-runtime): the worker indexes an app of two
pairs of identical functions (sync and async, one anonymous, one protected) and serves every
invocation through its own entry point, as the host's proxy calls it (without the gRPC hop, which
both twins pay alike). Rounds of the twins alternate; the overhead is the protected round's time
over the anonymous round's, less one, per pair of rounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import azure_functions_runtime as worker

from bench.harness import log_as_the_worker_does, mint, pin_to_one_core
from tests.support.issuer import LocalIssuer, auth_environ
from tests.worker import protos
from tests.worker.harness import WorkerRequest, failure, invocation, start_app

PER_ROUND = 500
ROUNDS = 15
APP = """
    import azure.functions as func
    import authorizer

    app = authorizer.FunctionApp()

    @app.route(route="anonymous_sync")
    @authorizer.allow_anonymous
    def anonymous_sync(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    @app.route(route="protected_sync")
    @authorizer.require_auth(scopes=["Orders.Read"])
    def protected_sync(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    @app.route(route="anonymous_async")
    @authorizer.allow_anonymous
    async def anonymous_async(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    @app.route(route="protected_async")
    @authorizer.require_auth(scopes=["Orders.Read"])
    async def protected_async(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")
"""


def message(function_id: str, token: str) -> protos.StreamingMessage:
    case = {
        "url": "http://localhost/api/x",
        "method": "GET",
        "headers": {"Authorization": f"Bearer {token}"},
        "body": "",
    }
    return invocation(case, function_id)[1]


async def round_seconds(messages: list[protos.StreamingMessage]) -> float:
    """Invocations one after another, as a single busy instance serves them, per invocation."""
    started = time.perf_counter()
    for item in messages:
        response = await worker.invocation_request(WorkerRequest("FunctionInvocationRequest", item))
        if response.result.status != protos.StatusResult.Success:
            raise RuntimeError(failure(response.result))
    return (time.perf_counter() - started) / len(messages)


async def measure(issuer: LocalIssuer, directory: Path) -> dict[str, Any]:
    worker.start_threadpool_executor()
    try:
        started = await start_app(directory)
        if failure(started.init.result):
            raise RuntimeError(failure(started.init.result))
        ids = {name: item.function_id for name, item in started.functions.items()}
        problems = [failure(started.metadata.result), *started.loads.values()]
        if len(ids) != 4 or any(problems):
            raise RuntimeError(f"the worker indexed {sorted(ids)}: {problems}")
        # Warm: keys fetched, the repeat token cached, every code path run once.
        repeat = mint(issuer, 1)[0]
        for name in ids:
            await round_seconds([message(ids[name], repeat)] * 5)
        results: dict[str, Any] = {}
        for kind in ("sync", "async"):
            for tokens in ("repeat", "fresh"):
                overheads = []
                for _ in range(ROUNDS):
                    batch = [repeat] * PER_ROUND if tokens == "repeat" else mint(issuer, PER_ROUND)
                    anonymous = await round_seconds([message(ids[f"anonymous_{kind}"], token) for token in batch])
                    protected = await round_seconds([message(ids[f"protected_{kind}"], token) for token in batch])
                    overheads.append(protected / anonymous - 1)
                results[f"{kind}_{tokens}"] = {
                    "overhead_percent": round(statistics.median(overheads) * 100, 1),
                    "range": [round(min(overheads) * 100, 1), round(max(overheads) * 100, 1)],
                    "anonymous_us": round(anonymous * 1e6, 1),
                }
        return results
    finally:
        worker.stop_threadpool_executor()


def main() -> None:
    core = pin_to_one_core()
    log_as_the_worker_does()
    issuer = LocalIssuer().start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            directory = Path(folder)
            (directory / "function_app.py").write_text(textwrap.dedent(APP))
            os.environ.update(auth_environ(issuer))
            # What the host's launcher does: the app's folder on sys.path, here ahead of this
            # repository (which holds the library, and the sample's function_app.py).
            sys.path.insert(0, str(directory))
            results = asyncio.run(measure(issuer, directory))
    finally:
        issuer.stop()
    print(json.dumps({"core": core, "python": sys.version.split()[0], **results}))


if __name__ == "__main__":
    main()
