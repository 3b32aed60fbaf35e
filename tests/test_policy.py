"""Policy after authentication: token kind x requirement -> status, and the CRM permission model."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import pytest

import authorizer
import authorizer._functions.runtime
from authorizer import Principal, require_auth
from authorizer._policy.permissions import ScopePermissions
from tests.conftest import ConfigureAuth, http_request
from tests.support.clock import FakeClock
from tests.support.entra import HOME_TENANT, PARTNER_TENANT, SPA_CLIENT_ID, v1_issuer
from tests.support.issuer import LocalIssuer

GROUP = "99999999-0000-4000-8000-00000000001a"
OTHER_CLIENT = "99999999-0000-4000-8000-0000000000c2"

TOKENS: dict[str, dict[str, Any]] = {
    "user Orders.Read": {"scp": "Orders.Read"},
    "user Orders.Read through another client app": {"scp": "Orders.Read", "azp": OTHER_CLIENT},
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
    "guest (acct 1)": {"scp": "Orders.Read", "acct": 1},
    "guest from another tenant (idp, no acct)": {"scp": "Orders.Read", "idp": v1_issuer(PARTNER_TENANT)},
    "guest with a personal account (idp live.com)": {"scp": "Orders.Read", "idp": "live.com"},
    "member, idp its own tenant's v1 issuer": {"scp": "Orders.Read", "idp": v1_issuer(HOME_TENANT)},
    "member, acct 0 beside a foreign idp": {"scp": "Orders.Read", "acct": 0, "idp": "live.com"},
    "user in group G1": {"scp": "Orders.Read", "groups": [GROUP]},
    "user in too many groups (overage)": {
        "scp": "Orders.Read",
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}},
    },
    "user with acrs c1, client cp1": {"scp": "Orders.Read", "acrs": ["c1"], "xms_cc": ["cp1"]},
    "user without acrs, client cp1": {"scp": "Orders.Read", "xms_cc": ["cp1"]},
    "user without acrs, client without cp1": {"scp": "Orders.Read"},
    "app Orders.Read.All with acct 1 (apps are never guests)": {
        "app_only": True,
        "roles": ["Orders.Read.All"],
        "acct": 1,
    },
}

REQUIREMENTS: dict[str, dict[str, Any]] = {
    "require_auth()": {},
    "allow_app_only": {"allow_app_only": True},
    "scopes Orders.Read": {"scopes": ["Orders.Read"]},
    "GET /orders": {"scopes": ["Orders.Read"], "app_roles": ["Orders.Read.All"]},
    "POST /orders": {"scopes": ["Orders.Write"], "roles": ["Orders.Writer"], "app_roles": ["Orders.Write.All"]},
    "roles Orders.Writer": {"roles": ["Orders.Writer"]},
    "app_roles Orders.Read.All": {"app_roles": ["Orders.Read.All"]},
    "groups G1": {"groups": [GROUP]},
    "auth_context c1": {"auth_context": "c1"},
    "allow_guests": {"allow_guests": True},
    "scopes Orders.Read, allow_guests": {"scopes": ["Orders.Read"], "allow_guests": True},
    "clients SPA": {"clients": [SPA_CLIENT_ID]},
}

# Rows: token kinds; columns: requirements, in the order above. The README shows this table.
USER_READ = [200, 200, 200, 200, 403, 403, 403, 403, 403, 200, 200, 200]
GUEST = [403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 200, 403]
APP_READ_ALL = [403, 200, 403, 200, 403, 403, 200, 403, 403, 403, 403, 403]
EXPECTED: dict[str, list[int]] = {
    "user Orders.Read": USER_READ,
    "user Orders.Read through another client app": [200, 200, 200, 200, 403, 403, 403, 403, 403, 200, 200, 403],
    "user Orders.Write, no role": [200, 200, 403, 403, 403, 403, 403, 403, 403, 200, 403, 200],
    "user Orders.Write + role Orders.Writer": [200, 200, 403, 403, 200, 200, 403, 403, 403, 200, 403, 200],
    "user role Orders.Writer, scope User.Read": [200, 200, 403, 403, 403, 200, 403, 403, 403, 200, 403, 200],
    "user holding app role Orders.Read.All": [200, 200, 403, 403, 403, 403, 403, 403, 403, 200, 403, 200],
    "app Orders.Read.All": APP_READ_ALL,
    "app Orders.Write.All": [403, 200, 403, 403, 200, 403, 403, 403, 403, 403, 403, 403],
    "app without roles": [403, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    "v1 app, no idtyp, oid == sub": APP_READ_ALL,
    "v1 user Orders.Read": USER_READ,
    "no scp, not app-only (id token shape)": [403] * 12,
    "scp with idtyp app (contradiction)": [401] * 12,
    "guest (acct 1)": GUEST,
    "guest from another tenant (idp, no acct)": GUEST,
    "guest with a personal account (idp live.com)": GUEST,
    "member, idp its own tenant's v1 issuer": USER_READ,
    "member, acct 0 beside a foreign idp": USER_READ,
    "user in group G1": [200, 200, 200, 200, 403, 403, 403, 200, 403, 200, 200, 200],
    "user in too many groups (overage)": USER_READ,
    "user with acrs c1, client cp1": [200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200, 200],
    "user without acrs, client cp1": [200, 200, 200, 200, 403, 403, 403, 403, 401, 200, 200, 200],
    "user without acrs, client without cp1": USER_READ,
    "app Orders.Read.All with acct 1 (apps are never guests)": APP_READ_ALL,
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


POST_ORDERS: dict[str, Any] = {
    "scopes": ["Orders.Write"],
    "roles": ["Orders.Writer"],
    "app_roles": ["Orders.Write.All"],
}


def test_the_403_challenge_names_only_the_scopes_the_token_lacks(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(**POST_ORDERS)
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    # The user holds the role; only the scope is missing, and a new token can fetch it.
    response = handler(http_request(issuer.token(clock(), scp="Orders.Read", roles=["Orders.Writer"])))
    challenge = response.headers["WWW-Authenticate"]
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="api://aaaaaaaa-0000-4000-8000-00000000a91e/Orders.Write"' in challenge


def test_a_missing_role_is_named_with_who_grants_it_and_no_scope_to_loop_on(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(**POST_ORDERS)
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    # It once answered scope="...Orders.Write" to a token that carried Orders.Write: an SPA following it looped.
    for scope in ("Orders.Write", "Orders.Read"):
        response = handler(http_request(issuer.token(clock(), scp=scope)))
        body = json.loads(response.get_body())
        assert (response.status_code, body["error"]) == (403, "role_required")
        assert "Orders.Writer" in body["error_description"] and "administrator" in body["error_description"]
        assert "scope=" not in response.headers["WWW-Authenticate"]


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

    # The manager holds Accounts.Write.Team; the client was granted only a scope that does not imply it.
    response = handler(http_request(issuer.token(clock(), scp="Crm.Read.Team", roles=SALES_MANAGER_ROLES)))
    challenge = response.headers["WWW-Authenticate"]
    assert response.status_code == 403
    assert challenge.endswith('/Crm.ReadWrite.Team"')
    # The rep holds none of the roles: no scope would help, and none is offered.
    refused = handler(http_request(issuer.token(clock(), scp="Crm.Read.Team", roles=SALES_REP_ROLES)))
    assert json.loads(refused.get_body())["error"] == "permission_required"
    assert "scope=" not in refused.headers["WWW-Authenticate"]


# --- allow_app_only never relaxes a listed requirement ------------------------------------------
@pytest.mark.parametrize(
    "requirement",
    [
        {"scopes": ["Orders.Write"], "roles": ["Orders.Writer"]},
        {"roles": ["Admin"]},
        {"scopes": ["Orders.Read"]},
        {"app_roles": ["Orders.Read.All"]},
        {"groups": [GROUP]},
        {"auth_context": "c1"},
    ],
    ids=["scopes+roles", "roles", "scopes", "app_roles", "groups", "auth_context"],
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
        if set(requirement) <= {"allow_app_only", "allow_guests"}:
            continue

        @require_auth(**requirement)
        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("ok")

        statuses.append(handler(http_request(token)).status_code)
    assert statuses == [403] * 9


def test_define_permissions_refuses_a_bare_string_of_roles() -> None:
    before = authorizer._functions.runtime.permissions()
    # {"Crm.Read.Team": "Accounts.Read.Team"} once meant the roles "A", "c", "o", ...
    with pytest.raises(TypeError, match="list"):
        authorizer.define_permissions({"Crm.Read.Team": "Accounts.Read.Team"})  # type: ignore[dict-item]
    assert authorizer._functions.runtime.permissions() is before
