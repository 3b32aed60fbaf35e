"""Which client applications may call: require_auth(clients=[...]) and ENTRA_ALLOWED_CLIENT_APPS.

The calling app is azp (v2) or appid (v1), for a user's token and an app-only one alike (a managed
identity's too). Anyone else is refused 403 client_not_allowed, naming the client and who can change
the list; a listed client admits no one the function's requirements refuse.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import azure.functions as func
import pytest

from authorizer import require_auth
from tests.conftest import ConfigureAuth, http_request
from tests.support.clock import FakeClock
from tests.support.entra import DAEMON_CLIENT_ID, SPA_CLIENT_ID
from tests.support.issuer import LocalIssuer
from tests.support.telemetry import Telemetry, series

# A managed identity calling as itself: its client id is the azp of its app-only tokens.
MANAGED_IDENTITY = "f1f2f3f4-0000-4000-8000-0000000000a1"
STRANGER_APP = "99999999-0000-4000-8000-0000000000ff"

Mint = Callable[..., str]


def caller(issuer: LocalIssuer, clock: FakeClock, kind: str, version: str, client: str) -> str:
    """A token of a signed-in user (scp Orders.Read) or an app (role Orders.Read.All) through ``client``."""
    through: dict[str, Any] = {"azp" if version == "2.0" else "appid": client}
    if kind == "user":
        return issuer.token(clock(), version=version, **through)
    return issuer.token(clock(), version=version, app_only=True, roles=["Orders.Read.All"], **through)


def orders(**options: Any) -> Callable[[func.HttpRequest], func.HttpResponse]:
    @require_auth(scopes=["Orders.Read"], app_roles=["Orders.Read.All"], **options)
    def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    return list_orders


CASES = [
    # (kind, version, client the token came through, admitted)
    ("user", "2.0", SPA_CLIENT_ID, True),
    ("user", "1.0", SPA_CLIENT_ID, True),
    ("user", "2.0", STRANGER_APP, False),
    ("user", "1.0", STRANGER_APP, False),
    ("app", "2.0", MANAGED_IDENTITY, True),
    ("app", "1.0", MANAGED_IDENTITY, True),
    ("app", "2.0", DAEMON_CLIENT_ID, False),
    ("app", "1.0", DAEMON_CLIENT_ID, False),
]


@pytest.mark.parametrize("where", ["function", "app"])
@pytest.mark.parametrize(("kind", "version", "client", "admitted"), CASES)
def test_only_listed_client_apps_reach_the_function(
    where: str,
    kind: str,
    version: str,
    client: str,
    admitted: bool,
    configure_auth: ConfigureAuth,
    issuer: LocalIssuer,
    clock: FakeClock,
) -> None:
    listed = [SPA_CLIENT_ID, MANAGED_IDENTITY.upper()]
    if where == "app":
        configure_auth(ENTRA_ALLOWED_CLIENT_APPS=",".join(listed))
        protected = orders()
    else:
        protected = orders(clients=listed)
    answer = protected(http_request(caller(issuer, clock, kind, version, client)))
    if admitted:
        assert answer.status_code == 200
        return
    assert answer.status_code == 403
    body = json.loads(answer.get_body())
    assert body["error"] == "client_not_allowed"
    # It names the client, and who changes the list where it is kept.
    assert client in body["error_description"]
    keeper = "ENTRA_ALLOWED_CLIENT_APPS" if where == "app" else "require_auth(clients=[...])"
    assert keeper in body["error_description"]
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]
    # No scope to request: a new token through the same client would be refused again.
    assert "scope=" not in answer.headers["WWW-Authenticate"]


def test_an_async_function_keeps_the_same_list(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(scopes=["Orders.Read"], clients=[SPA_CLIENT_ID])
    async def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    admitted = asyncio.run(list_orders(http_request(caller(issuer, clock, "user", "2.0", SPA_CLIENT_ID))))
    refused = asyncio.run(list_orders(http_request(caller(issuer, clock, "user", "2.0", STRANGER_APP))))
    assert (admitted.status_code, json.loads(refused.get_body())["error"]) == (200, "client_not_allowed")


def test_a_listed_client_admits_no_one_the_requirements_refuse(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    protected = orders(clients=[SPA_CLIENT_ID])
    no_scope = issuer.token(clock(), scp="Orders.Write", azp=SPA_CLIENT_ID)
    assert json.loads(protected(http_request(no_scope)).get_body())["error"] == "insufficient_scope"


def test_the_app_list_and_the_functions_both_hold(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    configure_auth(ENTRA_ALLOWED_CLIENT_APPS=f"{SPA_CLIENT_ID} {MANAGED_IDENTITY}")
    only_the_identity = orders(clients=[MANAGED_IDENTITY])
    assert only_the_identity(http_request(caller(issuer, clock, "app", "2.0", MANAGED_IDENTITY))).status_code == 200
    refused = only_the_identity(http_request(caller(issuer, clock, "user", "2.0", SPA_CLIENT_ID)))
    assert json.loads(refused.get_body())["error"] == "client_not_allowed"
    # A function may not list a client the app refuses: no call through it could ever arrive.
    with pytest.raises(ValueError, match="ENTRA_ALLOWED_CLIENT_APPS does not admit"):
        orders(clients=[STRANGER_APP])


def test_a_token_naming_no_client_is_refused_where_a_list_is_kept(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    protected = orders(clients=[SPA_CLIENT_ID])
    nameless = issuer.token(clock(), azp=None)
    body = json.loads(protected(http_request(nameless)).get_body())
    assert body["error"] == "client_not_allowed"
    assert "that obtained the token" in body["error_description"]


@pytest.mark.parametrize(
    ("clients", "error", "message"),
    [
        (SPA_CLIENT_ID, TypeError, "not a string"),
        (["spa-app"], ValueError, "client ids"),
    ],
)
def test_clients_are_checked_when_the_decorator_is_applied(
    clients: Any, error: type[Exception], message: str, configure_auth: ConfigureAuth
) -> None:
    with pytest.raises(error, match=message):
        orders(clients=clients)


def test_the_app_setting_must_list_client_ids(configure_auth: ConfigureAuth) -> None:
    from authorizer import ConfigurationError

    with pytest.raises(ConfigurationError, match="ENTRA_ALLOWED_CLIENT_APPS: must list client app GUIDs"):
        configure_auth(ENTRA_ALLOWED_CLIENT_APPS="spa-app")
        orders()


def test_a_refused_client_is_an_authorization_attempt_that_failed(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock, telemetry: Telemetry
) -> None:
    configure_auth(ENTRA_ALLOWED_CLIENT_APPS=SPA_CLIENT_ID)
    protected = orders()
    protected(http_request(caller(issuer, clock, "user", "2.0", STRANGER_APP)))
    attempts = series(
        "entra_authorizer.authorization.attempts",
        **{
            "entra_authorizer.function": "list_orders",
            "entra_authorizer.result": "failure",
            "error.type": "client_not_allowed",
        },
    )
    assert telemetry.since()[attempts] == 1
