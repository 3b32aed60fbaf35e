"""The real Python 3.13 Functions worker loads function_app.py and calls it as the host would.

A subprocess on .venv313 runs azure-functions-runtime through its public entry points
(worker_init_request, functions_metadata_request, function_load_request, invocation_request);
this side starts the issuer, mints the tokens and checks every answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import auth_environ
from tests.support.entra import USER_OID
from tests.support.issuer import LocalIssuer

REPO = Path(__file__).resolve().parents[1]
RESOURCE = "https://orders.contoso.example"
WORKER_PYTHON = REPO / ".venv313" / "bin" / "python"

# Each protected function with a request that must pass, and claims that must pass it.
PROTECTED: dict[str, dict[str, Any]] = {
    "me": {"method": "GET", "route": "api/me", "claims": {"scp": "Profile.Read"}, "status": 200},
    "list_orders": {"method": "GET", "route": "api/orders", "claims": {"scp": "Orders.Read"}, "status": 200},
    "create_order": {
        "method": "POST",
        "route": "api/orders",
        "body": json.dumps({"item": "Tea", "quantity": 2}),
        "claims": {"scp": "Orders.Write", "roles": ["Orders.Writer"]},
        "status": 201,
    },
    "crm_list_accounts": {
        "method": "GET",
        "route": "api/crm/accounts",
        "claims": {"scp": "Crm.Read.Team", "roles": ["Accounts.Read.Team"]},
        "status": 200,
    },
    "crm_create_account": {
        "method": "POST",
        "route": "api/crm/accounts",
        "claims": {"scp": "Crm.ReadWrite.Team", "roles": ["Accounts.Write.Team"]},
        "status": 201,
    },
    "crm_list_contacts": {
        "method": "GET",
        "route": "api/crm/contacts",
        "claims": {"scp": "Crm.Read.My", "roles": ["Contacts.Read.My"]},
        "status": 200,
    },
    "crm_create_contact": {
        "method": "POST",
        "route": "api/crm/contacts",
        "claims": {"scp": "Crm.ReadWrite.My", "roles": ["Contacts.Write.My"]},
        "status": 201,
    },
    "crm_proposals": {
        "method": "GET",
        "route": "api/crm/proposals",
        "claims": {"scp": "Sales.ReadWrite.Team", "roles": ["Proposals.ReadWrite.Team"]},
        "status": 200,
    },
}
# Authentic tokens that each function must refuse with 403 (me admits any delegated caller).
INSUFFICIENT: dict[str, dict[str, Any]] = {name: {"scp": "Profile.Read"} for name in PROTECTED}
INSUFFICIENT["me"] = {"scp": None}


def tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    return f"{header}.{payload[:-4]}{'AAAA' if payload[-4:] != 'AAAA' else 'BBBB'}.{signature}"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    server = LocalIssuer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker_run(issuer: LocalIssuer) -> dict[str, Any]:
    """Run the real worker once over every case; the cases and the answers come back together."""
    assert WORKER_PYTHON.exists(), f"{WORKER_PYTHON} is missing: run `make bootstrap`"
    now = time.time()
    cases: list[dict[str, Any]] = [
        {"function": "health", "method": "GET", "route": "api/health", "expect": 200},
        {
            "function": "oauth_protected_resource",
            "method": "GET",
            "route": ".well-known/oauth-protected-resource",
            "expect": 200,
        },
    ]
    for name, spec in PROTECTED.items():
        request = {"function": name, "method": spec["method"], "route": spec["route"], "body": spec.get("body", "")}
        good = issuer.token(now, **spec["claims"])
        cases += [
            {**request, "kind": "no token", "expect": 401},
            {**request, "kind": "tampered", "expect": 401, "headers": {"Authorization": f"Bearer {tamper(good)}"}},
            {
                **request,
                "kind": "insufficient",
                "expect": 403,
                "headers": {"Authorization": f"Bearer {issuer.token(now, **INSUFFICIENT[name])}"},
            },
            {**request, "kind": "good", "expect": spec["status"], "headers": {"Authorization": f"Bearer {good}"}},
        ]
    cases.append(
        {
            "function": "list_orders",
            "method": "GET",
            "route": "api/orders",
            "kind": "daemon",
            "expect": 200,
            "headers": {"Authorization": f"Bearer {issuer.token(now, app_only=True, roles=['Orders.Read.All'])}"},
        }
    )
    environment = {**os.environ, **auth_environ(issuer, PROTECTED_RESOURCE_URL=RESOURCE), "PYTHONPATH": str(REPO)}
    completed = subprocess.run(  # noqa: S603 - our own interpreter and script
        [str(WORKER_PYTHON), str(REPO / "tests" / "worker" / "host.py")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    output: dict[str, Any] = json.loads(completed.stdout)
    assert "init_failure" not in output, output.get("init_failure")
    output["cases"] = cases
    return output


def test_every_function_is_indexed_with_its_http_bindings(worker_run: dict[str, Any]) -> None:
    functions = worker_run["functions"]
    assert set(functions) == {"health", "oauth_protected_resource", *PROTECTED}
    for name, info in functions.items():
        kinds = sorted(binding["type"] for binding in info["bindings"])
        assert kinds == ["http", "httpTrigger"], name
        trigger = next(binding for binding in info["bindings"] if binding["type"] == "httpTrigger")
        assert trigger["name"] == "req"
        assert trigger["authLevel"] == "ANONYMOUS"


def test_each_function_answers_as_documented(worker_run: dict[str, Any]) -> None:
    observed = [
        (case["function"], case.get("kind", "anonymous"), result.get("status", result.get("failure")))
        for case, result in zip(worker_run["cases"], worker_run["results"], strict=True)
    ]
    expected = [(case["function"], case.get("kind", "anonymous"), case["expect"]) for case in worker_run["cases"]]
    assert observed == expected


def test_refusals_carry_their_challenge(worker_run: dict[str, Any]) -> None:
    for case, result in zip(worker_run["cases"], worker_run["results"], strict=True):
        if case["expect"] in (401, 403):
            challenge = result["headers"]["WWW-Authenticate"]
            assert challenge.startswith("Bearer realm=")
            assert ('error="insufficient_scope"' in challenge) == (case["expect"] == 403)
            assert result["headers"]["Cache-Control"] == "no-store"


def test_the_principal_reaches_sync_and_async_functions(worker_run: dict[str, Any]) -> None:
    answers = {
        (case["function"], case.get("kind")): json.loads(result["body"])
        for case, result in zip(worker_run["cases"], worker_run["results"], strict=True)
        if case["expect"] in (200, 201)
    }
    assert answers[("me", "good")]["oid"] == USER_OID
    assert answers[("me", "good")]["scopes"] == ["Profile.Read"]
    assert answers[("create_order", "good")]["order"]["created_by"] == USER_OID
    assert answers[("crm_proposals", "good")]["caller"]["oid"] == USER_OID
    assert answers[("list_orders", "daemon")]["caller"]["client_app_id"] == "cccccccc-0000-4000-8000-0000000000dd"
    for name in PROTECTED:
        if name != "me":
            assert answers[(name, "good")]["caller"]["oid"] == USER_OID, name


def test_the_well_known_metadata_is_served_at_the_site_root(worker_run: dict[str, Any]) -> None:
    [(case, result)] = [
        (case, result)
        for case, result in zip(worker_run["cases"], worker_run["results"], strict=True)
        if case["function"] == "oauth_protected_resource"
    ]
    document = json.loads(result["body"])
    assert document["resource"] == RESOURCE
    assert "api://aaaaaaaa-0000-4000-8000-00000000a91e/Orders.Read" in document["scopes_supported"]
    assert worker_run["functions"]["oauth_protected_resource"]["bindings"][0]["route"] == (
        ".well-known/oauth-protected-resource"
    )
