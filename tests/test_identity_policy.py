"""Guests, groups and step-up: what each caller gets, and the answer that tells it what is missing."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import azure.functions as func
import pytest

from authorizer import Principal, require_auth
from tests.conftest import ConfigureAuth, http_request
from tests.support.clock import FakeClock
from tests.support.entra import HOME_TENANT
from tests.support.issuer import LocalIssuer

GUEST: dict[str, Any] = {"scp": "Orders.Read", "acct": 1}
STEP_UP = {"access_token": {"acrs": {"essential": True, "value": "c1"}}}


def body(response: func.HttpResponse) -> dict[str, str]:
    parsed: dict[str, str] = json.loads(response.get_body())
    return parsed


def test_a_guest_is_refused_by_default_and_told_why(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(scopes=["Orders.Read"])
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    response = handler(http_request(issuer.token(clock(), **GUEST)))
    assert response.status_code == 403
    assert body(response)["error"] == "guest_not_allowed"
    assert "Guest users" in body(response)["error_description"]
    # Nothing a client could fetch would change it: no scope to loop on.
    assert "scope=" not in response.headers["WWW-Authenticate"]


def test_a_function_or_the_app_can_admit_guests_and_the_function_sees_one(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    seen: list[bool] = []

    @require_auth(scopes=["Orders.Read"], allow_guests=True)
    def welcoming(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        seen.append(principal.is_guest)
        return func.HttpResponse("ok")

    assert welcoming(http_request(issuer.token(clock(), **GUEST))).status_code == 200
    assert welcoming(http_request(issuer.token(clock(), scp="Orders.Read"))).status_code == 200
    assert seen == [True, False]
    configure_auth(ENTRA_ALLOW_GUESTS="true")

    @require_auth(scopes=["Orders.Read"])
    def app_default(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    @require_auth(scopes=["Orders.Read"], allow_guests=False)
    def this_one_refuses(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    guest = http_request(issuer.token(clock(), **GUEST))
    assert [app_default(guest).status_code, this_one_refuses(guest).status_code] == [200, 403]


@pytest.mark.parametrize(
    ("tenant_type", "claims", "status"),
    [
        # A workforce tenant: an account of another identity provider is a guest.
        ("workforce", {"idp": "google.com"}, 403),
        # An External ID tenant: customers sign in with Google, Facebook or an email; they are its users.
        ("external", {"idp": "google.com"}, 200),
        ("external", {"idp": "https://sts.windows.net/33333333-3333-4333-8333-333333333333/"}, 200),
        ("external", {}, 200),
        # acct still decides where the registration asks for it: an invited guest stays a guest.
        ("external", {"idp": "google.com", "acct": 1}, 403),
        ("external", {"acct": 1}, 403),
    ],
)
def test_in_an_external_id_tenant_social_accounts_are_customers_not_guests(
    tenant_type: str,
    claims: dict[str, Any],
    status: int,
    configure_auth: ConfigureAuth,
    issuer: LocalIssuer,
    clock: FakeClock,
) -> None:
    configure_auth(ENTRA_TENANT_TYPE=tenant_type)

    @require_auth(scopes=["Orders.Read"])
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    assert handler(http_request(issuer.token(clock(), scp="Orders.Read", **claims))).status_code == status


def test_the_tenant_type_follows_the_instance_unless_set() -> None:
    from authorizer._settings.app_settings import AuthSettings

    base = {"ENTRA_TENANT_ID": HOME_TENANT, "ENTRA_CLIENT_ID": "aaaaaaaa-0000-4000-8000-00000000a91e"}
    assert AuthSettings.from_environ(base).tenant_type == "workforce"
    external = {**base, "ENTRA_INSTANCE": "https://contoso.ciamlogin.com"}
    assert AuthSettings.from_environ(external).tenant_type == "external"
    assert AuthSettings.from_environ({**external, "ENTRA_TENANT_TYPE": "workforce"}).tenant_type == "workforce"
    with pytest.raises(Exception, match="ENTRA_TENANT_TYPE"):
        AuthSettings.from_environ({**base, "ENTRA_TENANT_TYPE": "b2c"})


def test_allow_guests_must_be_true_or_false(configure_auth: ConfigureAuth) -> None:
    with pytest.raises(Exception, match="ENTRA_ALLOW_GUESTS: must be true or false"):
        configure_auth(ENTRA_ALLOW_GUESTS="yes")

        @require_auth()
        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("ok")


def test_a_group_overage_is_refused_with_the_way_out(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(groups=["99999999-0000-4000-8000-00000000001a"])
    def handler(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    overage = issuer.token(clock(), _claim_names={"groups": "src1"}, _claim_sources={"src1": {"endpoint": "x"}})
    response = handler(http_request(overage))
    assert (response.status_code, body(response)["error"]) == (403, "group_overage")
    assert "app roles" in body(response)["error_description"]
    absent = handler(http_request(issuer.token(clock(), groups=["88888888-0000-4000-8000-00000000002b"])))
    assert (absent.status_code, body(absent)["error"]) == (403, "group_required")


@pytest.fixture
def approve(configure_auth: ConfigureAuth) -> func.Function:
    @require_auth(scopes=["Orders.Write"], auth_context="c1")
    def approve_order(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("approved")

    return approve_order  # type: ignore[return-value]


def test_a_step_up_is_asked_for_with_microsofts_claims_challenge(
    approve: func.Function, issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    response = approve(http_request(issuer.token(clock(), scp="Orders.Write", xms_cc=["cp1"])))
    challenge = response.headers["WWW-Authenticate"]
    authorize = f"{issuer.base_url}/{HOME_TENANT}/oauth2/v2.0/authorize"
    claims = base64.b64encode(json.dumps(STEP_UP, separators=(",", ":")).encode()).decode()
    assert response.status_code == 401
    assert challenge == (
        'Bearer realm="api://aaaaaaaa-0000-4000-8000-00000000a91e", '
        f'authorization_uri="{authorize}", error="insufficient_claims", claims="{claims}"'
    )
    assert json.loads(base64.b64decode(claims)) == STEP_UP
    assert body(response)["error"] == "insufficient_claims"
    assert "WWW-Authenticate" in response.headers["Access-Control-Expose-Headers"]
    refusals = [record for record in caplog.records if record.name == "authorizer"]
    assert refusals[-1].levelno == logging.WARNING
    assert "reason=AuthContextRequired" in refusals[-1].getMessage()
    stepped_up = issuer.token(clock(), scp="Orders.Write", xms_cc=["cp1"], acrs=["c1"])
    assert approve(http_request(stepped_up)).status_code == 200


def test_a_client_that_cannot_answer_a_claims_challenge_gets_403(
    approve: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    # Without the cp1 capability a 401 would only send the client round again (Microsoft's guide).
    response = approve(http_request(issuer.token(clock(), scp="Orders.Write")))
    assert (response.status_code, body(response)["error"]) == (403, "auth_context_required")
    assert "claims=" not in response.headers["WWW-Authenticate"]
    assert "cp1" in body(response)["error_description"]


def test_an_app_can_never_step_up(configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock) -> None:
    @require_auth(scopes=["Orders.Write"], auth_context="c1")
    def users_only(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    @require_auth(scopes=["Orders.Write"], auth_context="c1", app_roles=["Orders.Approve.All"])
    def or_an_approving_daemon(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    daemon = issuer.token(clock(), app_only=True, roles=["Orders.Approve.All"])
    refused = users_only(http_request(daemon))
    assert (refused.status_code, body(refused)["error"]) == (403, "caller_not_admitted")
    # The function's author admitted daemons through an application permission: the step-up is for users.
    assert or_an_approving_daemon(http_request(daemon)).status_code == 200


@pytest.mark.parametrize("context", ["c0", "c100", "C1", "", "c1 ", "mfa"])
def test_an_authentication_context_is_c1_to_c99(context: str, configure_auth: ConfigureAuth) -> None:
    with pytest.raises(ValueError, match="c1 to c99"):
        require_auth(auth_context=context)


def test_a_user_holding_the_role_an_app_roles_function_names_is_told_where_a_users_role_goes(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(app_roles=["Orders.Read.All"])
    def daemons_only(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    refused = daemons_only(http_request(issuer.token(clock(), scp="Orders.Read", roles=["Orders.Read.All"])))
    assert (refused.status_code, body(refused)["error"]) == (403, "caller_not_admitted")
    description = body(refused)["error_description"]
    # An app role in a user token never satisfies an application permission; the description says why.
    assert "app_roles" in description and "roles=" in description
