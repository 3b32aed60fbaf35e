"""Policy after authentication: token kind x requirement -> status, and the CRM permission model."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest

import authorizer
import authorizer.runtime
from authorizer import Principal, require_auth
from authorizer.policy import ScopePermissions
from tests.conftest import ConfigureAuth, http_request
from tests.support.clock import FakeClock
from tests.support.issuer import LocalIssuer

TOKENS: dict[str, dict[str, Any]] = {
    "user Orders.Read": {"scp": "Orders.Read"},
    "user Orders.Write, no role": {"scp": "Orders.Write"},
    "user Orders.Write + role Orders.Writer": {"scp": "Orders.Write", "roles": ["Orders.Writer"]},
    "user role Orders.Writer, scope User.Read": {"scp": "User.Read", "roles": ["Orders.Writer"]},
    "user holding app role Orders.Read.All": {"scp": "User.Read", "roles": ["Orders.Read.All"]},
    "app Orders.Read.All": {"app_only": True, "roles": ["Orders.Read.All"]},
    "app Orders.Write.All": {"app_only": True, "roles": ["Orders.Write.All"]},
    "app without roles": {"app_only": True},
    "v1 app, no idtyp, oid == sub": {"app_only": True, "roles": ["Orders.Read.All"], "version": "1.0", "idtyp": None},
    "v1 user Orders.Read": {"scp": "Orders.Read", "version": "1.0"},
    "no scp, not app-only (id token shape)": {"scp": None},
    "scp with idtyp app (contradiction)": {"scp": "Orders.Read", "idtyp": "app"},
}

REQUIREMENTS: dict[str, dict[str, Any]] = {
    "require_auth()": {},
    "allow_app_only": {"allow_app_only": True},
    "scopes Orders.Read": {"scopes": ["Orders.Read"]},
    "GET /orders": {"scopes": ["Orders.Read"], "app_roles": ["Orders.Read.All"]},
    "POST /orders": {"scopes": ["Orders.Write"], "roles": ["Orders.Writer"], "app_roles": ["Orders.Write.All"]},
    "roles Orders.Writer": {"roles": ["Orders.Writer"]},
    "app_roles Orders.Read.All": {"app_roles": ["Orders.Read.All"]},
}

# Rows: token kinds; columns: requirements, in the order above. The README shows this table.
EXPECTED: dict[str, list[int]] = {
    "user Orders.Read": [200, 200, 200, 200, 403, 403, 403],
    "user Orders.Write, no role": [200, 200, 403, 403, 403, 403, 403],
    "user Orders.Write + role Orders.Writer": [200, 200, 403, 403, 200, 200, 403],
    "user role Orders.Writer, scope User.Read": [200, 200, 403, 403, 403, 200, 403],
    "user holding app role Orders.Read.All": [200, 200, 403, 403, 403, 403, 403],
    "app Orders.Read.All": [403, 200, 403, 200, 403, 403, 200],
    "app Orders.Write.All": [403, 200, 403, 403, 200, 403, 403],
    "app without roles": [403, 200, 403, 403, 403, 403, 403],
    "v1 app, no idtyp, oid == sub": [403, 200, 403, 200, 403, 403, 200],
    "v1 user Orders.Read": [200, 200, 200, 200, 403, 403, 403],
    "no scp, not app-only (id token shape)": [403, 403, 403, 403, 403, 403, 403],
    "scp with idtyp app (contradiction)": [401, 401, 401, 401, 401, 401, 401],
}


def _cases() -> list[tuple[str, str, int]]:
    return [
        (token, requirement, EXPECTED[token][column])
        for token in TOKENS
        for column, requirement in enumerate(REQUIREMENTS)
    ]


@pytest.mark.parametrize(("token_kind", "requirement", "status"), _cases())
def test_token_kind_by_requirement(
    token_kind: str, requirement: str, status: int, configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(**REQUIREMENTS[requirement])
    def handler(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        return func.HttpResponse("ok")

    response = handler(http_request(issuer.token(clock(), **TOKENS[token_kind])))
    assert response.status_code == status


def test_the_403_challenge_names_the_delegated_scopes_that_would_do(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(scopes=["Orders.Write"], roles=["Orders.Writer"], app_roles=["Orders.Write.All"])
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    response = handler(http_request(issuer.token(clock(), scp="Orders.Read")))
    challenge = response.headers["WWW-Authenticate"]
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="api://aaaaaaaa-0000-4000-8000-00000000a91e/Orders.Write"' in challenge


def test_an_app_only_function_challenges_without_a_scope(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(app_roles=["Orders.Read.All"])
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    response = handler(http_request(issuer.token(clock(), scp="Orders.Read")))
    assert response.status_code == 403
    assert "scope=" not in response.headers["WWW-Authenticate"]


# --- the CRM example of the roles-and-scopes model -------------------------------------------
CRM = ScopePermissions.from_mapping(
    {
        "Crm.Read.My": ["Contacts.Read.My"],
        "Crm.Read.Team": ["Accounts.Read.Team", "Contacts.Read.Team"],
        "Crm.Read.All": ["Accounts.Read.All", "Contacts.Read.All"],
        "Crm.ReadWrite.My": ["Contacts.Read.My", "Contacts.Write.My"],
        "Crm.ReadWrite.Team": [
            "Accounts.Read.Team",
            "Accounts.Write.Team",
            "Contacts.Read.Team",
            "Contacts.Write.Team",
        ],
        "Crm.ReadWrite.All": ["Accounts.Read.All", "Accounts.Write.All", "Contacts.Read.All", "Contacts.Write.All"],
        "Sales.ReadWrite.Team": ["Proposals.ReadWrite.Team"],
        "Sales.ReadWrite.All": ["Proposals.ReadWrite.All"],
    }
)
SALES_REP_ROLES = ["Accounts.Read.Team", "Contacts.Read.My", "Contacts.Write.My", "Proposals.ReadWrite.Team"]
SALES_MANAGER_ROLES = [
    "Accounts.Read.All",
    "Accounts.Write.Team",
    "Contacts.Read.All",
    "Contacts.Write.Team",
    "Proposals.ReadWrite.All",
]

CRM_TABLE = [
    # (who, token, effective permissions)
    ("rep, Crm.Read.My", {"scp": "Crm.Read.My", "roles": SALES_REP_ROLES}, {"Contacts.Read.My"}),
    ("rep, Crm.Read.Team", {"scp": "Crm.Read.Team", "roles": SALES_REP_ROLES}, {"Accounts.Read.Team"}),
    ("rep, Crm.Read.All", {"scp": "Crm.Read.All", "roles": SALES_REP_ROLES}, set()),
    (
        "rep, Crm.ReadWrite.My",
        {"scp": "Crm.ReadWrite.My", "roles": SALES_REP_ROLES},
        {"Contacts.Read.My", "Contacts.Write.My"},
    ),
    (
        "rep, Crm.ReadWrite.Team + Sales.ReadWrite.Team",
        {"scp": "Crm.ReadWrite.Team Sales.ReadWrite.Team", "roles": SALES_REP_ROLES},
        {"Accounts.Read.Team", "Proposals.ReadWrite.Team"},
    ),
    (
        "manager, Crm.ReadWrite.All",
        {"scp": "Crm.ReadWrite.All", "roles": SALES_MANAGER_ROLES},
        {"Accounts.Read.All", "Contacts.Read.All"},
    ),
    (
        "manager, Crm.ReadWrite.Team",
        {"scp": "Crm.ReadWrite.Team", "roles": SALES_MANAGER_ROLES},
        {"Accounts.Write.Team", "Contacts.Write.Team"},
    ),
    ("manager, Sales.ReadWrite.Team", {"scp": "Sales.ReadWrite.Team", "roles": SALES_MANAGER_ROLES}, set()),
    ("user without roles, Crm.ReadWrite.All", {"scp": "Crm.ReadWrite.All"}, set()),
    ("app with Accounts.Read.All", {"app_only": True, "roles": ["Accounts.Read.All"]}, {"Accounts.Read.All"}),
    ("app without roles", {"app_only": True}, set()),
]


@pytest.mark.parametrize(("who", "token", "effective"), CRM_TABLE, ids=[row[0] for row in CRM_TABLE])
def test_crm_effective_permissions(
    who: str, token: dict[str, Any], effective: set[str], issuer: LocalIssuer, clock: FakeClock
) -> None:
    principal = Principal.from_claims(issuer.claims(clock(), **token))
    assert CRM.effective(principal) == effective


CRM_ENDPOINTS = {
    "read accounts": ["Accounts.Read.Team", "Accounts.Read.All"],
    "write accounts": ["Accounts.Write.Team", "Accounts.Write.All"],
    "read contacts": ["Contacts.Read.My", "Contacts.Read.Team", "Contacts.Read.All"],
    "proposals": ["Proposals.ReadWrite.Team", "Proposals.ReadWrite.All"],
}
CRM_STATUSES = [
    ("rep, Crm.Read.My", {"scp": "Crm.Read.My", "roles": SALES_REP_ROLES}, [403, 403, 200, 403]),
    ("rep, Crm.Read.All", {"scp": "Crm.Read.All", "roles": SALES_REP_ROLES}, [403, 403, 403, 403]),
    ("manager, Crm.ReadWrite.Team", {"scp": "Crm.ReadWrite.Team", "roles": SALES_MANAGER_ROLES}, [403, 200, 403, 403]),
    ("manager, Crm.ReadWrite.All", {"scp": "Crm.ReadWrite.All", "roles": SALES_MANAGER_ROLES}, [200, 403, 200, 403]),
    ("rep, Sales.ReadWrite.Team", {"scp": "Sales.ReadWrite.Team", "roles": SALES_REP_ROLES}, [403, 403, 403, 200]),
    ("app with Contacts.Read.All", {"app_only": True, "roles": ["Contacts.Read.All"]}, [403, 403, 200, 403]),
]


@pytest.mark.parametrize(("who", "token", "statuses"), CRM_STATUSES, ids=[row[0] for row in CRM_STATUSES])
def test_crm_endpoints_admit_by_effective_permission(
    who: str,
    token: dict[str, Any],
    statuses: list[int],
    configure_auth: ConfigureAuth,
    issuer: LocalIssuer,
    clock: FakeClock,
) -> None:
    authorizer.define_permissions({scope: sorted(roles) for scope, roles in CRM.implied_roles.items()})
    request = http_request(issuer.token(clock(), **token))
    observed = []
    for permissions in CRM_ENDPOINTS.values():

        @require_auth(permissions=permissions)
        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("ok")

        observed.append(handler(request).status_code)
    assert observed == statuses


def test_a_permission_challenge_lists_the_scopes_that_imply_it(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    authorizer.define_permissions({scope: sorted(roles) for scope, roles in CRM.implied_roles.items()})

    @require_auth(permissions=["Accounts.Write.Team"])
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    response = handler(http_request(issuer.token(clock(), scp="Crm.Read.Team", roles=SALES_REP_ROLES)))
    challenge = response.headers["WWW-Authenticate"]
    assert response.status_code == 403
    assert challenge.endswith('/Crm.ReadWrite.Team"')


# --- allow_app_only never relaxes a listed requirement ------------------------------------------
@pytest.mark.parametrize(
    "requirement",
    [
        {"scopes": ["Orders.Write"], "roles": ["Orders.Writer"]},
        {"roles": ["Admin"]},
        {"scopes": ["Orders.Read"]},
        {"app_roles": ["Orders.Read.All"]},
    ],
    ids=["scopes+roles", "roles", "scopes", "app_roles"],
)
def test_allow_app_only_with_a_listed_requirement_is_refused_when_applied(
    requirement: dict[str, Any], configure_auth: ConfigureAuth
) -> None:
    # It once admitted an app-only token without roles to every one of these.
    with pytest.raises(ValueError, match="app_roles") as caught:
        require_auth(allow_app_only=True, **requirement)
    assert "allow_app_only" in str(caught.value)


def test_an_app_only_caller_without_roles_never_passes_a_function_that_lists_requirements(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    token = issuer.token(clock(), app_only=True)
    statuses = []
    for requirement in REQUIREMENTS.values():
        if not requirement or requirement == {"allow_app_only": True}:
            continue

        @require_auth(**requirement)
        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("ok")

        statuses.append(handler(http_request(token)).status_code)
    assert statuses == [403] * 5


def test_define_permissions_refuses_a_bare_string_of_roles() -> None:
    before = authorizer.runtime.permissions()
    # {"Crm.Read.Team": "Accounts.Read.Team"} once meant the roles "A", "c", "o", ...
    with pytest.raises(TypeError, match="list"):
        authorizer.define_permissions({"Crm.Read.Team": "Accounts.Read.Team"})  # type: ignore[dict-item]
    assert authorizer.runtime.permissions() is before
