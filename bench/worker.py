"""The cost users pay: a protected function against its anonymous twins, through the real worker.

Run on the Python 3.13 worker's venv (azure-functions-runtime): the worker indexes an app of three
functions of each kind (sync and async): one anonymous, one anonymous that does a bare RS256 verify
of the presented token (the floor, timed where users pay it), and one protected. It serves every
invocation through its own entry point, as the host's proxy calls it (without the gRPC hop, which
every twin pays alike). Rounds of the three alternate; per round, the protected function's cost over
the anonymous one is divided by the verifying twin's: a ratio to a bare verify timed in the worker.
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
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bench.harness import log_as_the_worker_does, mint, pin_to_one_core
from tests.support.issuer import LocalIssuer, auth_environ
from tests.worker import protos
from tests.worker.harness import WorkerRequest, failure, invocation, start_app

PER_ROUND = 500
ROUNDS = 15
TWINS = ("anonymous", "verifying", "protected")
APP = """
    import base64
    from pathlib import Path

    import azure.functions as func
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    import authorizer

    app = authorizer.FunctionApp()
    KEY = load_pem_public_key((Path(__file__).parent / "signing_key.pem").read_bytes())
    PADDING, HASH = PKCS1v15(), SHA256()

    def bare_verify(req: func.HttpRequest) -> None:
        # The floor: one RS256 verify of the presented token, and only the parsing it needs.
        signing_input, _, signature = req.headers["Authorization"][7:].rpartition(".")
        raw_signature = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        KEY.verify(raw_signature, signing_input.encode(), PADDING, HASH)

    @app.route(route="anonymous_sync")
    @authorizer.allow_anonymous
    def anonymous_sync(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    @app.route(route="verifying_sync")
    @authorizer.allow_anonymous
    def verifying_sync(req: func.HttpRequest) -> func.HttpResponse:
        bare_verify(req)
        return func.HttpResponse("ok")

    @app.route(route="verifying_async")
    @authorizer.allow_anonymous
    async def verifying_async(req: func.HttpRequest) -> func.HttpResponse:
        bare_verify(req)
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


async def invoke(item: protos.StreamingMessage) -> float:
    """One invocation through the worker's entry point, timed."""
    started = time.perf_counter()
    response = await worker.invocation_request(WorkerRequest("FunctionInvocationRequest", item))
    elapsed = time.perf_counter() - started
    if response.result.status != protos.StatusResult.Success:
        raise RuntimeError(failure(response.result))
    return elapsed


async def round_medians(ids: dict[str, str], kind: str, tokens: list[str]) -> dict[str, float]:
    """Each token presented to the three twins in turn, as a single busy instance serves them.

    The median invocation of each twin: the thread hand-offs of sync functions make single
    invocations vary by tens of microseconds, which a mean would carry into the difference.
    """
    times: dict[str, list[float]] = {twin: [] for twin in TWINS}
    for token in tokens:
        for twin in TWINS:
            times[twin].append(await invoke(message(ids[f"{twin}_{kind}"], token)))
    return {twin: statistics.median(values) for twin, values in times.items()}


async def measure(issuer: LocalIssuer, directory: Path) -> dict[str, Any]:
    worker.start_threadpool_executor()
    try:
        started = await start_app(directory)
        if failure(started.init.result):
            raise RuntimeError(failure(started.init.result))
        ids = {name: item.function_id for name, item in started.functions.items()}
        problems = [failure(started.metadata.result), *started.loads.values()]
        if len(ids) != 6 or any(problems):
            raise RuntimeError(f"the worker indexed {sorted(ids)}: {problems}")
        # Warm: keys fetched, the repeat token cached, every code path run once.
        repeat = mint(issuer, 1)[0]
        for name in ids:
            for _ in range(5):
                await invoke(message(ids[name], repeat))
        results: dict[str, Any] = {}
        for kind in ("sync", "async"):
            for tokens in ("repeat", "fresh"):
                ratios, overheads, floors = [], [], []
                for _ in range(ROUNDS):
                    batch = [repeat] * PER_ROUND if tokens == "repeat" else mint(issuer, PER_ROUND)
                    median = await round_medians(ids, kind, batch)
                    floor = median["verifying"] - median["anonymous"]
                    cost = median["protected"] - median["anonymous"]
                    ratios.append(cost / floor)
                    overheads.append(cost / median["anonymous"])
                    floors.append(floor)
                results[f"{kind}_{tokens}"] = {
                    "ratio": round(statistics.median(ratios), 3),
                    "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
                    "verify_us": round(statistics.median(floors) * 1e6, 1),
                    "overhead_percent": round(statistics.median(overheads) * 100, 1),
                    "range": [round(min(overheads) * 100, 1), round(max(overheads) * 100, 1)],
                    "anonymous_us": round(median["anonymous"] * 1e6, 1),
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
            public_key = issuer.signer.private_key.public_key()
            (directory / "signing_key.pem").write_bytes(
                public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            )
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
