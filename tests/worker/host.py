"""Plays the Functions host for the real Python 3.13 worker (azure-functions-runtime).

Run with the 3.13 interpreter of .venv313: reads a JSON list of HTTP invocations on stdin,
initialises the worker on the repository as `func start` would, indexes the app, loads each
function, invokes each case through `invocation_request`, and writes JSON results to stdout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import azure_functions_runtime as worker  # noqa: E402 - after the app directory is on sys.path

from tests.worker import fake_protos as protos  # noqa: E402


@dataclass
class HostRequest:
    """What the host's proxy passes to each handler: the message and the shared properties."""

    request: protos.StreamingMessage
    properties: dict[str, Any] = field(default_factory=lambda: {"protos": protos, "host": "127.0.0.1"})


def http_input(case: dict[str, Any]) -> protos.ParameterBinding:
    body = case.get("body", "").encode()
    return protos.ParameterBinding(
        name="req",
        data=protos.TypedData(
            http=protos.RpcHttp(
                method=case["method"],
                url=f"http://localhost:7071/{case['route']}",
                headers=case.get("headers", {}),
                body=protos.TypedData(bytes=body),
            )
        ),
    )


def http_output(response: protos.InvocationResponse) -> dict[str, Any]:
    assert response.result is not None
    if response.result.status != protos.StatusResult.Success:
        exception = response.result.exception
        return {"failure": exception.message if exception else "unknown failure"}
    value = response.return_value
    assert value is not None and value.http is not None
    body = value.http.body
    raw = b"" if body is None else body.bytes if body.bytes is not None else (body.string or "").encode()
    return {"status": int(value.http.status_code), "headers": value.http.headers, "body": raw.decode()}


async def serve(cases: list[dict[str, Any]]) -> dict[str, Any]:
    worker.start_threadpool_executor()
    init = await worker.worker_init_request(
        HostRequest(
            protos.StreamingMessage(worker_init_request=protos.WorkerInitRequest(function_app_directory=str(REPO)))
        )
    )
    if init.result.status != protos.StatusResult.Success:
        return {"init_failure": init.result.exception.message}
    metadata = await worker.functions_metadata_request(
        HostRequest(protos.StreamingMessage(functions_metadata_request=protos.FunctionsMetadataRequest()))
    )
    functions = {item.name: item for item in metadata.function_metadata_results or []}
    for item in functions.values():
        loaded = await worker.function_load_request(
            HostRequest(
                protos.StreamingMessage(function_load_request=protos.FunctionLoadRequest(item.function_id, item))
            )
        )
        assert loaded.result.status == protos.StatusResult.Success
    results = []
    for case in cases:
        invocation = protos.InvocationRequest(
            invocation_id=str(uuid.uuid4()),
            function_id=functions[case["function"]].function_id,
            input_data=[http_input(case)],
        )
        response = await worker.invocation_request(HostRequest(protos.StreamingMessage(invocation_request=invocation)))
        results.append(http_output(response))
    worker.stop_threadpool_executor()
    return {
        "functions": {
            name: {"bindings": [json.loads(raw) for raw in item.raw_bindings], "script_file": item.script_file}
            for name, item in functions.items()
        },
        "results": results,
    }


def main() -> None:
    # The worker logs to its own logger; keep stdout for the JSON answer only.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    cases = json.load(sys.stdin)
    print(json.dumps(asyncio.run(serve(cases))))


if __name__ == "__main__":
    main()
