"""On-behalf-of through the real Functions worker: the sample's profile and mail, the local issuer's real
grant, the Graph-shaped API validating what it receives, MSAL's cache seen from the issuer's side."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from authorizer.devtools._graph import LocalGraph, graph_settings
from authorizer.devtools._issuer import API_CLIENT_ID, HOME_TENANT, LocalEntraIssuer
from tests.worker.driver import WORKER_PYTHON, run_harness

# Drives an interpreter or a browser of its own (the 3.13 worker, chromium, a fresh venv): it runs
# once, in the main suite, not in each Python's library session (noxfile.py).
pytestmark = pytest.mark.pinned_runtime

OBO = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ADA = "dddddddd-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEntraIssuer]:
    issuer = LocalEntraIssuer(tmp_path_factory.mktemp("entra")).start()
    yield issuer
    issuer.stop()


@pytest.fixture(scope="module")
def graph(entra: LocalEntraIssuer) -> Iterator[LocalGraph]:
    state = entra.started_state()
    server = LocalGraph(graph_settings(state.url, state.ca_bundle, HOME_TENANT)).start()
    yield server
    server.stop()


def token(entra: LocalEntraIssuer, acrs: str | None = None) -> str:
    claims: dict[str, Any] = {"access_token": {"xms_cc": {"values": ["cp1"]}}}
    if acrs:
        claims["access_token"]["acrs"] = {"essential": True, "value": acrs}
    return entra.user_token("Profile.Read", claims=json.dumps(claims))


def request(case: str, function: str, path: str, bearer: str) -> dict[str, Any]:
    return {
        "id": case,
        "function": function,
        "method": "GET",
        "url": f"http://localhost:7071/{path}",
        "headers": {"Authorization": f"Bearer {bearer}"},
        "body": "",
        "params": {},
    }


@pytest.fixture(scope="module")
def report(entra: LocalEntraIssuer, graph: LocalGraph, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not WORKER_PYTHON.exists():
        pytest.fail(f"{WORKER_PYTHON} is missing: run `make bootstrap` (it needs Python 3.13)", pytrace=False)
    state = entra.started_state()
    plain, stepped_up = token(entra), token(entra, acrs="c2")
    # The worker invokes these one after another: a repeat, then mail, refused, then met.
    cases = [
        request("profile", "my_profile", "api/me/profile", plain),
        request("profile again", "my_profile", "api/me/profile", plain),
        request("messages", "my_messages", "api/me/messages", plain),
        request("messages after the step-up", "my_messages", "api/me/messages", stepped_up),
    ]
    settings = {
        **state.settings(),
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
        "GRAPH_BASE_URL": graph.url,
    }
    result = run_harness(cases, settings, tmp_path_factory.mktemp("worker"), sequential=True)
    assert result["init_error"] is None, result["init_error"]
    return result


def answer(report: dict[str, Any], case: str) -> dict[str, Any]:
    found: dict[str, Any] = report["answers"][case]
    assert "status" in found, found.get("error")
    return found


def test_the_profile_comes_from_the_downstream_api_on_behalf_of_the_caller(report: dict[str, Any]) -> None:
    profile = answer(report, "profile")
    assert profile["status"] == 200
    body = json.loads(profile["body"])
    # The downstream API saw this user, this API as the app that asked, and only the scope asked for.
    assert body["id"] == ADA
    assert body["requestedBy"] == {"appId": API_CLIENT_ID, "scopes": ["User.Read"]}


def test_a_repeat_makes_no_second_token_request(report: dict[str, Any], entra: LocalEntraIssuer) -> None:
    assert answer(report, "profile again")["status"] == 200
    # One exchange for the profile twice, one for mail refused, one for mail once the user stepped up.
    assert entra._started().token_requests[OBO] == 3


def test_the_mailboxs_step_up_reaches_the_client_and_is_met(report: dict[str, Any]) -> None:
    refused = answer(report, "messages")
    assert refused["status"] == 401
    challenge = {name.lower(): value for name, value in refused["headers"].items()}["www-authenticate"]
    assert 'error="insufficient_claims"' in challenge and "claims=" in challenge
    met = answer(report, "messages after the step-up")
    assert met["status"] == 200 and json.loads(met["body"])["value"]
