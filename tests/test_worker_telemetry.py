"""Telemetry through the real 3.13 worker with its OpenTelemetry switch on: the decision's span is a
child of the host's invocation, and the metrics are those of the calls it served."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.issuer import LocalIssuer, auth_environ
from tests.worker.driver import WORKER_PYTHON, run_harness

# Drives an interpreter or a browser of its own (the 3.13 worker, chromium, a fresh venv): it runs
# once, in the main suite, not in each Python's library session (noxfile.py).
pytestmark = pytest.mark.pinned_runtime

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INVOCATION_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def worker_issuer() -> Iterator[LocalIssuer]:
    server = LocalIssuer().start()
    yield server
    server.stop()


def request(case: str, token: str | None, span: str, function: str = "me") -> dict[str, Any]:
    route = {"me": "api/me", "list_orders": "api/orders"}[function]
    return {
        "id": case,
        "function": function,
        "method": "GET",
        "url": f"http://localhost:7071/{route}",
        "headers": {"Authorization": f"Bearer {token}"} if token else {},
        "body": "",
        "params": {},
        # The host's invocation span, as it sends it to the worker.
        "traceparent": f"00-{TRACE_ID}-{span}-01",
    }


@pytest.fixture(scope="module")
def report(worker_issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not WORKER_PYTHON.exists():
        pytest.fail(f"{WORKER_PYTHON} is missing: run `make bootstrap` (it needs Python 3.13)", pytrace=False)
    now = time.time()
    cases = [
        request("admitted", worker_issuer.token(now), INVOCATION_SPAN),
        request("wrong scope", worker_issuer.token(now, scp=None), "00f067aa0ba902b8"),
        request("no token", None, "00f067aa0ba902b9"),
        request("sync", worker_issuer.token(now), "00f067aa0ba902ba", function="list_orders"),
    ]
    settings = {**auth_environ(worker_issuer), "PYTHON_ENABLE_OPENTELEMETRY": "true", "HARNESS_OPENTELEMETRY": "1"}
    result = run_harness(cases, settings, tmp_path_factory.mktemp("worker"), sequential=True)
    assert result["init_error"] is None, result["init_error"]
    return result


def test_each_decision_is_a_span_under_the_hosts_invocation(report: dict[str, Any]) -> None:
    statuses = [report["answers"][case]["status"] for case in ("admitted", "wrong scope", "no token", "sync")]
    assert statuses == [200, 403, 401, 200]
    decisions = [span for span in report["telemetry"]["spans"] if span["name"] == "entra_authorizer.authorize"]
    assert len(decisions) == 4
    by_parent = {span["parent_span_id"]: span for span in decisions}
    # An async function runs on the worker's event loop, where it made the host's trace context current.
    assert set(by_parent) == {INVOCATION_SPAN, "00f067aa0ba902b8", "00f067aa0ba902b9", "00f067aa0ba902ba"}
    assert all(span["trace_id"] == TRACE_ID for span in decisions)
    assert by_parent[INVOCATION_SPAN]["attributes"] == {
        "entra_authorizer.function": "me",
        "entra_authorizer.result": "success",
    }
    assert by_parent["00f067aa0ba902b8"]["attributes"]["error.type"] == "insufficient_scope"
    assert by_parent["00f067aa0ba902b9"]["attributes"]["entra_authorizer.result"] == "none"
    # A sync function runs on the worker's thread pool, which azure-functions-runtime 1.3.0 does not hand
    # the trace context: its span takes the host's from the invocation context the worker passes.
    assert by_parent["00f067aa0ba902ba"]["attributes"]["entra_authorizer.function"] == "list_orders"


def test_the_metrics_are_those_of_the_calls_served(report: dict[str, Any]) -> None:
    points = {
        (point["name"], tuple(sorted(point["attributes"].items()))): point["value"]
        for point in report["telemetry"]["metrics"]
    }
    attempts = "entra_authorizer.authorization.attempts"
    me = ("entra_authorizer.function", "me")
    assert points[(attempts, (me, ("entra_authorizer.result", "success")))] == 1
    assert (
        points[(attempts, (("entra_authorizer.function", "list_orders"), ("entra_authorizer.result", "success")))] == 1
    )
    refused = (me, ("entra_authorizer.result", "failure"), ("error.type", "insufficient_scope"))
    assert points[(attempts, refused)] == 1
    duration = "entra_authorizer.authentication.duration"
    assert points[(duration, (("entra_authorizer.result", "success"),))] == 3
    assert points[(duration, (("entra_authorizer.result", "none"),))] == 1
