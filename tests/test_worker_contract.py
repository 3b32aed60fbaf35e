"""Contract with the real Functions worker: Python 3.13's azure-functions-runtime serves function_app.py.

A subprocess on .venv313 plays the host (tests/worker/harness.py) and drives the worker through its
public entry points: it indexes the app at WorkerInitRequest, lists it at FunctionsMetadataRequest,
and runs each request of the table below through InvocationRequest, encoded as the host encodes
HTTP. This side starts a local Entra issuer, mints every token, and judges every answer.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.entra import APP_ID_URI, DAEMON_CLIENT_ID, DAEMON_OID, HOME_TENANT, SPA_CLIENT_ID, USER_OID
from tests.support.issuer import LocalIssuer, auth_environ
from tests.support.tokens import b64url
from tests.worker.declared import declared_routes
from tests.worker.driver import REPO, WORKER_PYTHON, run_harness

# Drives an interpreter or a browser of its own (the 3.13 worker, chromium, a fresh venv): it runs
# once, in the main suite, not in each Python's library session (noxfile.py).
pytestmark = pytest.mark.pinned_runtime

RESOURCE_URL = "https://orders.contoso.example"

# Named here as well as read from function_app.py: a function dropped from both still fails.
KNOWN_FUNCTIONS = {
    "health",
    "me",
    "list_orders",
    "create_order",
    "crm_list_accounts",
    "crm_create_account",
    "crm_list_contacts",
    "crm_create_contact",
    "crm_proposals",
    "approve_order",
    "my_profile",
    "my_messages",
    "oauth_protected_resource",
}


@dataclass(frozen=True)
class Policy:
    """Claims that pass a function, claims of a genuine token that fall just short, and the success."""

    passes: dict[str, Any]
    falls_short: dict[str, Any]
    status: int = 200
    body: str = ""
    # A 403 challenge names the delegated scopes the token lacks, when a new token could fetch them.
    names_scope: bool = True
    # What falling short gets: 403 insufficient_scope, or a step-up's 401 insufficient_claims.
    short_status: int = 403
    short_error: str = "insufficient_scope"
    # Route parameters, as the host fills them from the URL.
    params: dict[str, str] = field(default_factory=dict)
    # A token that passes goes on to a downstream API: judged by test_worker_downstream.py, with a real
    # on-behalf-of exchange; here only the refusals.
    calls_downstream: bool = False


POLICIES = {
    # Any delegated caller; a token without scp (ID-token shaped) has nothing to authorize with.
    "me": Policy(passes={"scp": "Profile.Read"}, falls_short={"scp": None}, names_scope=False),
    "list_orders": Policy(passes={"scp": "Orders.Read"}, falls_short={"scp": "Orders.Write"}),
    "create_order": Policy(
        passes={"scp": "Orders.Write", "roles": ["Orders.Writer"]},
        falls_short={"scp": "Orders.Write"},
        # What is missing is the role, which only an administrator grants: no scope to loop on.
        names_scope=False,
        status=201,
        body=json.dumps({"item": "Tea", "quantity": 2}),
    ),
    # Permissions: the user holds the role, but the client was granted a scope that does not imply it.
    # A step-up: the client declared cp1, so falling short is Microsoft's claims challenge.
    "approve_order": Policy(
        passes={"scp": "Orders.Write", "acrs": ["c1"], "xms_cc": ["cp1"]},
        falls_short={"scp": "Orders.Write", "xms_cc": ["cp1"]},
        names_scope=False,
        short_status=401,
        short_error="insufficient_claims",
        params={"order_id": "1001"},
    ),
    "my_profile": Policy(passes={"scp": "Profile.Read"}, falls_short={"scp": "Orders.Read"}, calls_downstream=True),
    "my_messages": Policy(passes={"scp": "Profile.Read"}, falls_short={"scp": "Orders.Read"}, calls_downstream=True),
    "crm_list_accounts": Policy(
        passes={"scp": "Crm.Read.Team", "roles": ["Accounts.Read.Team"]},
        falls_short={"scp": "Crm.Read.My", "roles": ["Accounts.Read.Team"]},
    ),
    "crm_create_account": Policy(
        passes={"scp": "Crm.ReadWrite.Team", "roles": ["Accounts.Write.Team"]},
        falls_short={"scp": "Crm.Read.Team", "roles": ["Accounts.Write.Team"]},
        status=201,
        body="{}",
    ),
    # The scope alone implies nothing the user does not hold.
    "crm_list_contacts": Policy(
        passes={"scp": "Crm.Read.My", "roles": ["Contacts.Read.My"]},
        falls_short={"scp": "Crm.Read.My"},
        names_scope=False,
    ),
    "crm_create_contact": Policy(
        passes={"scp": "Crm.ReadWrite.My", "roles": ["Contacts.Write.My"]},
        falls_short={"scp": "Crm.Read.My", "roles": ["Contacts.Write.My"]},
        status=201,
        body="{}",
    ),
    "crm_proposals": Policy(
        passes={"scp": "Sales.ReadWrite.Team", "roles": ["Proposals.ReadWrite.Team"]},
        falls_short={"scp": "Crm.Read.My", "roles": ["Proposals.ReadWrite.Team"]},
    ),
}
# App-only callers (daemons) where a function admits them.
APP_ONLY = {"me": [], "list_orders": ["Orders.Read.All"]}


ROUTES = declared_routes(REPO / "function_app.py")


def edited_after_signing(token: str, **claims: Any) -> str:
    """The same header and signature over a payload edited afterwards (None drops a claim)."""
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    return f"{header}.{b64url(json.dumps(body).encode())}.{signature}"


@dataclass(frozen=True)
class Case:
    function: str
    kind: str
    expect: int
    token: str | None = None

    @property
    def id(self) -> str:
        return f"{self.function}: {self.kind}"


def cases_for(issuer: LocalIssuer) -> list[Case]:
    now = time.time()
    cases = [Case(name, "anonymous", 200) for name, route in ROUTES.items() if not route.protected]
    for name, policy in POLICIES.items():
        good = issuer.token(now, **policy.passes)
        short = issuer.token(now, **policy.falls_short)
        forged = edited_after_signing(short, **{"scp": None, "roles": None, **policy.passes})
        cases += [
            Case(name, "no token", 401),
            Case(name, "tampered", 401, forged),
            Case(name, "falls short", policy.short_status, short),
        ]
        if not policy.calls_downstream:
            cases.append(Case(name, "passes", policy.status, good))
    for name, roles in APP_ONLY.items():
        cases.append(Case(name, "app-only", 200, issuer.token(now, app_only=True, roles=roles)))
    return cases


def harness_request(case: Case) -> dict[str, Any]:
    route = ROUTES[case.function]
    headers = {"Authorization": f"Bearer {case.token}"} if case.token else {}
    policy = POLICIES.get(case.function)
    params = policy.params if policy else {}
    path = route.route
    for name, value in params.items():
        path = path.replace(f"{{{name}}}", value)
    return {
        "id": case.id,
        "function": case.function,
        "method": route.methods[0],
        "url": f"http://localhost:7071/{path}",
        "headers": headers,
        "body": policy.body if policy else "",
        "params": params,
    }


@dataclass(frozen=True)
class Run:
    cases: list[Case]
    report: dict[str, Any]

    def answer(self, function: str, kind: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.report["answers"][f"{function}: {kind}"]
        return answer

    def headers(self, function: str, kind: str) -> dict[str, str]:
        """Response headers by lower-cased name (HTTP header names are case-insensitive)."""
        return {name.lower(): value for name, value in self.answer(function, kind)["headers"].items()}

    def body(self, function: str, kind: str) -> Any:
        answer = self.answer(function, kind)
        assert "body" in answer, answer["error"]
        return json.loads(answer["body"])


@pytest.fixture(scope="module")
def worker_issuer() -> Iterator[LocalIssuer]:
    server = LocalIssuer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def run(worker_issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Index the app and run every case through the real worker, once for the whole module."""
    if not WORKER_PYTHON.exists():
        pytest.fail(f"{WORKER_PYTHON} is missing: run `make bootstrap` (it needs Python 3.13)", pytrace=False)
    cases = cases_for(worker_issuer)
    requests = [harness_request(case) for case in cases]
    settings = auth_environ(worker_issuer, PROTECTED_RESOURCE_URL=RESOURCE_URL)
    report = run_harness(requests, settings, tmp_path_factory.mktemp("worker"))
    # Indexing failures (an exposed parameter, an unresolvable annotation...) are reported here verbatim.
    assert report["init_error"] is None, f"the worker could not index function_app.py:\n{report['init_error']}"
    return Run(cases, report)


def test_the_worker_is_python_3_13(run: Run) -> None:
    assert run.report["runtime"] == "3.13"


def test_every_function_of_the_app_is_indexed_and_loaded(run: Run) -> None:
    assert run.report["metadata_error"] is None
    indexed = set(run.report["functions"])
    assert indexed == set(ROUTES)
    assert indexed >= KNOWN_FUNCTIONS
    assert run.report["loads"] == dict.fromkeys(ROUTES)


def test_each_function_is_an_anonymous_level_http_trigger_on_its_declared_route(run: Run) -> None:
    for name, route in ROUTES.items():
        function = run.report["functions"][name]
        assert function["script_file"] == "function_app.py", name
        assert function["language"] == "python", name
        trigger, output = function["raw_bindings"]
        assert trigger == {
            "type": "httpTrigger",
            "direction": "IN",
            "name": "req",
            "route": route.route,
            "methods": list(route.methods),
            "authLevel": "ANONYMOUS",
        }, name
        assert output == {"type": "http", "direction": "OUT", "name": "$return"}, name
        assert function["bindings"] == {
            "req": {"type": "httpTrigger", "direction": 0},
            "$return": {"type": "http", "direction": 1},
        }, name


def test_the_table_covers_every_protected_function() -> None:
    protected = {name for name, route in ROUTES.items() if route.protected}
    assert protected == set(POLICIES)
    assert protected == KNOWN_FUNCTIONS - {"health", "oauth_protected_resource"}


def test_every_request_gets_the_status_its_token_deserves(run: Run) -> None:
    observed = {case.id: run.report["answers"].get(case.id, {"error": "never invoked"}) for case in run.cases}
    # An invocation that failed inside the worker shows as the first line of its error.
    statuses = {name: answer.get("status") or answer["error"].splitlines()[0] for name, answer in observed.items()}
    assert statuses == {case.id: case.expect for case in run.cases}
    assert all(answer.get("invocation_id_echoed") for answer in observed.values())


def test_refusals_carry_the_bearer_challenge_the_host_passes_on(run: Run) -> None:
    for case in run.cases:
        if case.expect not in (401, 403):
            continue
        headers = run.headers(case.function, case.kind)
        challenge = headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="api://'), case.id
        assert headers["cache-control"] == "no-store", case.id
        short_error = POLICIES[case.function].short_error
        error = {"no token": None, "tampered": "invalid_token", "falls short": short_error}[case.kind]
        # RFC 6750 section 3: a request without credentials gets no error code.
        assert ("error=" in challenge) == (error is not None), case.id
        if error is not None:
            assert f'error="{error}"' in challenge, case.id
        if error == "insufficient_scope":
            policy = POLICIES[case.function]
            named = re.search(r'(?:^|, )scope="([^"]*)"', challenge)
            if policy.names_scope:
                assert named is not None, case.id
                assert f"{APP_ID_URI}/{policy.passes['scp']}" in named.group(1).split(" "), case.id
            else:
                assert named is None, case.id


def test_the_principal_reaches_me_and_me_echoes_it(run: Run) -> None:
    user = run.body("me", "passes")
    assert {name: user[name] for name in ("oid", "tid", "client_app_id", "scopes", "app_only", "token_version")} == {
        "oid": USER_OID,
        "tid": HOME_TENANT,
        "client_app_id": SPA_CLIENT_ID,
        "scopes": ["Profile.Read"],
        "app_only": False,
        "token_version": "2.0",
    }
    daemon = run.body("me", "app-only")
    assert (daemon["oid"], daemon["client_app_id"], daemon["app_only"]) == (DAEMON_OID, DAEMON_CLIENT_ID, True)


def test_create_order_records_the_caller_as_its_creator(run: Run) -> None:
    order = run.body("create_order", "passes")["order"]
    assert (order["item"], order["quantity"], order["created_by"]) == ("Tea", 2, USER_OID)


def test_every_protected_function_receives_its_caller(run: Run) -> None:
    for name in {name for name, policy in POLICIES.items() if not policy.calls_downstream} - {"me"}:
        assert run.body(name, "passes")["caller"] == {"oid": USER_OID, "client_app_id": SPA_CLIENT_ID}, name
    assert run.body("list_orders", "app-only")["caller"] == {"oid": DAEMON_OID, "client_app_id": DAEMON_CLIENT_ID}


def test_async_functions_answer_with_a_real_response(run: Run) -> None:
    # An async function behind a sync wrapper would hand the worker an unawaited coroutine,
    # which it cannot encode: the answer would be an error, not an HTTP response.
    asynchronous = {name for name, route in ROUTES.items() if route.is_async}
    assert asynchronous >= {"me", "crm_proposals"}
    for name in asynchronous:
        answer = run.answer(name, "passes")
        assert answer.get("status") == 200, answer.get("error")
        assert run.headers(name, "passes")["content-type"] == "application/json", name


def test_anonymous_functions_answer_without_a_token(run: Run) -> None:
    assert run.body("health", "anonymous") == {"status": "ok"}
    document = run.body("oauth_protected_resource", "anonymous")
    assert document["resource"] == RESOURCE_URL
    assert f"{APP_ID_URI}/Orders.Read" in document["scopes_supported"]
