"""Plays the Functions host for the real Python 3.13 worker, azure-functions-runtime.

Run on the 3.13 interpreter, with the app settings in the environment:
``.venv313/bin/python -m tests.worker.harness CASES.json RESULTS.json``, with the app's folder in
AzureWebJobsScriptRoot as the host sets it (by default the repository, whose function_app.py it
serves). It sends what the host sends, through the host's proxy worker, in the same order: start
the thread pool, WorkerInitRequest (the worker indexes function_app.py here),
FunctionsMetadataRequest, one FunctionLoadRequest per function, then one InvocationRequest per
case, all in flight at once as the proxy dispatches each message as its own task. It records what
came back; tests/test_worker_contract.py and tests/test_adoption.py judge it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure_functions_runtime as worker

from tests.worker import protos

REPO = Path(__file__).resolve().parents[2]
# Where the host tells the worker the app lives.
SCRIPT_ROOT = "AzureWebJobsScriptRoot"


@dataclass
class WorkerRequest:
    """What the proxy passes to each handler; only WorkerInitRequest carries properties."""

    name: str
    request: protos.StreamingMessage
    properties: dict[str, Any] | None = None


def failure(result: protos.StatusResult) -> str | None:
    if result.status == protos.StatusResult.Success:
        return None
    return f"{result.exception.message}\n{result.exception.stack_trace}"


def http_trigger_input(case: dict[str, Any]) -> protos.ParameterBinding:
    """The request as the host encodes it: lower-cased header names, query parsed, raw body bytes."""
    url = urlsplit(case["url"])
    headers = {"host": url.netloc, **{name.lower(): value for name, value in case["headers"].items()}}
    body = case["body"].encode()
    if body:
        headers["content-length"] = str(len(body))
    http = protos.RpcHttp(
        method=case["method"],
        url=case["url"],
        headers=headers,
        query=dict(parse_qsl(url.query)),
        # The host fills route parameters from the route template.
        params=case.get("params") or {},
        # The host sets a body only when there is one, as bytes since the worker asks for raw bytes.
        body=protos.TypedData(bytes=body) if body else None,
    )
    return protos.ParameterBinding(name="req", data=protos.TypedData(http=http))


def http_answer(response: protos.InvocationResponse) -> dict[str, Any]:
    error = failure(response.result)
    if error is not None:
        return {"error": error}
    value = response.return_value
    kind = value.WhichOneof("data")
    if kind != "http":
        return {"error": f"the function returned TypedData {kind!r}, not an HTTP response"}
    body = value.http.body
    raw = {"bytes": body.bytes, "string": body.string.encode(), "json": body.json.encode()}.get(
        body.WhichOneof("data") or "", b""
    )
    return {
        "status": int(value.http.status_code),
        "headers": dict(value.http.headers),
        "body": raw.decode(),
    }


def invocation(case: dict[str, Any], function_id: str) -> tuple[str, protos.StreamingMessage]:
    """An InvocationRequest of ``case`` as the host sends it, and its invocation id."""
    invocation_id = str(uuid.uuid4())
    # The host's W3C trace context of the invocation: the worker makes it current (PYTHON_ENABLE_OPENTELEMETRY).
    trace_context = protos.RpcTraceContext(trace_parent=case.get("traceparent", ""), trace_state="", attributes={})
    request = protos.InvocationRequest(
        invocation_id=invocation_id,
        function_id=function_id,
        input_data=[http_trigger_input(case)],
        trace_context=trace_context,
    )
    return invocation_id, protos.StreamingMessage(request_id=str(uuid.uuid4()), invocation_request=request)


async def invoke(case: dict[str, Any], function_id: str) -> dict[str, Any]:
    invocation_id, message = invocation(case, function_id)
    response = await worker.invocation_request(WorkerRequest("FunctionInvocationRequest", message))
    # The host matches each answer to its request by this id.
    return {**http_answer(response), "invocation_id_echoed": response.invocation_id == invocation_id}


@dataclass
class StartedApp:
    """What the worker answered while the host started the app."""

    init: Any
    # Absent when the init failed: the host sends nothing further then.
    metadata: Any = None
    functions: dict[str, Any] = field(default_factory=dict)
    # Each function's load failure, None when it loaded.
    loads: dict[str, str | None] = field(default_factory=dict)


async def start_app(app_directory: Path) -> StartedApp:
    """WorkerInitRequest (the worker indexes the app), FunctionsMetadataRequest, one FunctionLoadRequest
    per function: the host's start-up, in its order. The caller runs the thread pool around it."""
    init = protos.WorkerInitRequest(function_app_directory=str(app_directory))
    started = StartedApp(
        await worker.worker_init_request(
            WorkerRequest(
                "WorkerInitRequest",
                protos.StreamingMessage(worker_init_request=init),
                properties={"protos": protos, "host": "127.0.0.1"},
            )
        )
    )
    if failure(started.init.result) is not None:
        return started
    started.metadata = await worker.functions_metadata_request(
        WorkerRequest(
            "WorkerMetadataRequest",
            protos.StreamingMessage(functions_metadata_request=protos.FunctionsMetadataRequest()),
        )
    )
    started.functions = {item.name: item for item in started.metadata.function_metadata_results}
    for name, item in started.functions.items():
        load = protos.FunctionLoadRequest(function_id=item.function_id, metadata=item)
        loaded = await worker.function_load_request(
            WorkerRequest("FunctionLoadRequest", protos.StreamingMessage(function_load_request=load))
        )
        started.loads[name] = failure(loaded.result)
    return started


async def host(cases: list[dict[str, Any]], app_directory: Path, sequential: bool = False) -> dict[str, Any]:
    worker.start_threadpool_executor()
    try:
        started = await start_app(app_directory)
        library = sys.modules.get("authorizer")
        report: dict[str, Any] = {
            "init_error": failure(started.init.result),
            "runtime": started.init.worker_metadata.runtime_version,
            # Where the app's code came from: the worker's sys.path and the library it imported.
            "sys_path": list(sys.path),
            "library": getattr(library, "__file__", None),
        }
        if report["init_error"] is not None:
            return report
        report["metadata_error"] = failure(started.metadata.result)
        functions = started.functions
        report["functions"] = {
            name: {
                "script_file": item.script_file,
                "language": item.language,
                "raw_bindings": [json.loads(raw) for raw in item.raw_bindings],
                "bindings": {
                    key: {"type": info.type, "direction": info.direction} for key, info in item.bindings.items()
                },
            }
            for name, item in functions.items()
        }
        report["loads"] = started.loads
        indexed = [case for case in cases if case["function"] in functions]
        if sequential:
            # Each invocation after the one before: what a case leaves behind (a cached token) is the next one's.
            answers = [await invoke(case, functions[case["function"]].function_id) for case in indexed]
        else:
            answers = await asyncio.gather(*(invoke(case, functions[case["function"]].function_id) for case in indexed))
        report["answers"] = {case["id"]: answer for case, answer in zip(indexed, answers, strict=True)}
        return report
    finally:
        worker.stop_threadpool_executor()


class _Telemetry:
    """The OpenTelemetry SDK an app's distro would install, reading back in memory (HARNESS_OPENTELEMETRY=1)."""

    def __init__(self) -> None:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.reader = InMemoryMetricReader()
        self.exporter = InMemorySpanExporter()
        metrics.set_meter_provider(MeterProvider(metric_readers=[self.reader]))
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        trace.set_tracer_provider(provider)

    def report(self) -> dict[str, Any]:
        spans = [
            {
                "name": span.name,
                "trace_id": f"{span.context.trace_id:032x}",
                "span_id": f"{span.context.span_id:016x}",
                "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
                "attributes": {name: str(value) for name, value in (span.attributes or {}).items()},
            }
            for span in self.exporter.get_finished_spans()
        ]
        points = []
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "count", None) or getattr(point, "value", 0)
                        attributes = {name: str(item) for name, item in (point.attributes or {}).items()}
                        points.append({"name": metric.name, "attributes": attributes, "value": value})
        return {"spans": spans, "metrics": points}


def main() -> None:
    # The worker and the app log through `logging`: to stderr, which the test shows on failure.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    cases_path, results_path = map(Path, sys.argv[1:3])
    sequential = "--sequential" in sys.argv[3:]
    app_directory = Path(os.environ.get(SCRIPT_ROOT, REPO))
    # What the host's worker.py launcher does before it starts the worker: the app's folder, last on sys.path.
    sys.path.append(str(app_directory))
    cases = json.loads(cases_path.read_text())
    telemetry = _Telemetry() if os.environ.get("HARNESS_OPENTELEMETRY") == "1" else None
    report = asyncio.run(host(cases, app_directory, sequential))
    if telemetry is not None:
        report["telemetry"] = telemetry.report()
    results_path.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
