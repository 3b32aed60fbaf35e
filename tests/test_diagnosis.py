"""The commonest mistakes get a 401 that says what to fix, and never echo the token."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from authorizer import require_auth
from tests.conftest import ConfigureAuth, http_request
from tests.support.clock import FakeClock
from tests.support.entra import APP_ID_URI
from tests.support.issuer import LocalIssuer
from tests.support.tokens import b64url, compact, encode_json

GRAPH = "00000003-0000-0000-c000-000000000000"


@pytest.fixture
def orders(configure_auth: ConfigureAuth) -> func.Function:
    @require_auth(scopes=["Orders.Read"])
    def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    return list_orders  # type: ignore[return-value]


def graph_token(issuer: LocalIssuer, clock: FakeClock) -> str:
    """Shaped like a Graph token: a nonce header, and a signature no third party can verify.

    Graph signs over a hash of the nonce, so to anyone else the signature is simply wrong.
    """
    header = {"typ": "JWT", "nonce": "c2VjcmV0LW5vbmNl", "alg": "RS256", "kid": issuer.signer.kid}
    claims = issuer.claims(clock(), aud="https://graph.microsoft.com", scp="User.Read")
    signed_over = dict(header, nonce="hashed-nonce")
    genuine = compact(signed_over, claims, issuer.signer)
    return f"{b64url(encode_json(header))}.{b64url(encode_json(claims))}.{genuine.rsplit('.', 1)[1]}"


def refusal(response: func.HttpResponse) -> tuple[int, str, str]:
    body = json.loads(response.get_body())
    return response.status_code, body["error"], body["error_description"]


def test_a_graph_token_is_told_to_ask_for_this_apis_scope(
    orders: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    status, error, description = refusal(orders(http_request(graph_token(issuer, clock))))
    assert (status, error) == (401, "invalid_token")
    assert description == (
        "The access token was issued for another resource, not for this API; "
        f"request a token for {APP_ID_URI}/Orders.Read."
    )


def test_a_token_for_another_api_gets_the_same_hint(
    orders: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    response = orders(http_request(issuer.token(clock(), aud=GRAPH)))
    status, _, description = refusal(response)
    assert status == 401
    assert description.endswith(f"request a token for {APP_ID_URI}/Orders.Read.")
    assert GRAPH not in response.get_body().decode()
    assert "request a token for" in response.headers["WWW-Authenticate"]


def test_a_function_without_scopes_points_at_default(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(app_roles=["Jobs.Run"])
    def daemon(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    _, _, description = refusal(daemon(http_request(issuer.token(clock(), aud=GRAPH))))
    assert description.endswith(f"request a token for {APP_ID_URI}/.default.")


def test_a_nonce_header_never_turns_a_refusal_into_anything_else(
    orders: func.Function, issuer: LocalIssuer, clock: FakeClock
) -> None:
    # A forged token that merely carries a nonce header: still 401, only the hint differs.
    header = {"alg": "RS256", "kid": issuer.signer.kid, "nonce": "x"}
    forged = compact(header, issuer.claims(clock()), None) + "AAAA"
    assert orders(http_request(forged)).status_code == 401


def test_a_v1_token_where_only_v2_is_accepted_gets_the_manifest_hint(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    configure_auth(ENTRA_ACCEPTED_TOKEN_VERSIONS="2.0")

    @require_auth()
    def me(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("me")

    status, _, description = refusal(me(http_request(issuer.token(clock(), version="1.0"))))
    assert status == 401
    assert description == (
        "This API accepts v2.0 access tokens only; set requestedAccessTokenVersion to 2 "
        "in the manifest of the API's app registration."
    )
    assert me(http_request(issuer.token(clock(), version="2.0"))).status_code == 200


def test_both_versions_are_accepted_by_default(orders: func.Function, issuer: LocalIssuer, clock: FakeClock) -> None:
    assert [orders(http_request(issuer.token(clock(), version=v))).status_code for v in ("1.0", "2.0")] == [200, 200]
