"""Downstream tokens: on behalf of the caller and as the app, from the local issuer's real grants, through MSAL."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import authorizer
from authorizer import Principal, require_auth
from authorizer.devtools._issuer import API_CLIENT_ID, HOME_TENANT, LocalEntraIssuer
from tests.conftest import http_request
from tests.support.log_hygiene import assert_no_token_material, watched_logs
from tests.support.telemetry import Telemetry, series

GRAPH = "https://graph.microsoft.com"
USER_READ = f"{GRAPH}/User.Read"
MAIL_READ = f"{GRAPH}/Mail.Read"
OBO = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SECRET = "local-test-secret-not-real"
BOB = "dddddddd-0000-4000-8000-000000000002"


@pytest.fixture
def entra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEntraIssuer]:
    issuer = LocalEntraIssuer(tmp_path / "issuer").start()
    state = issuer.started_state()
    # The function app's managed identity, as App Service publishes it: played by the local issuer.
    monkeypatch.setenv("IDENTITY_ENDPOINT", state.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", state.identity_header)
    for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET"):
        monkeypatch.delenv(name, raising=False)
    yield issuer
    issuer.stop()
    authorizer.configure(environ=None)


def configure(entra: LocalEntraIssuer, **overrides: str) -> None:
    state = entra.started_state()
    environ = {
        "ENTRA_TENANT_ID": HOME_TENANT,
        "ENTRA_CLIENT_ID": API_CLIENT_ID,
        "ENTRA_INSTANCE": state.url,
        "ENTRA_DEV_CA_BUNDLE": state.ca_bundle,
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
        "ENTRA_DOWNSTREAM_TIMEOUT_SECONDS": "2",
        **overrides,
    }
    authorizer.configure(environ=environ)


def user_token(entra: LocalEntraIssuer, user: str = "ada", capabilities: bool = True, acrs: str | None = None) -> str:
    claims: dict[str, Any] = {"access_token": {}}
    if capabilities:
        claims["access_token"]["xms_cc"] = {"values": ["cp1"]}
    if acrs:
        claims["access_token"]["acrs"] = {"essential": True, "value": acrs}
    return entra.user_token("Orders.Read", user=user, claims=json.dumps(claims))


def verified(entra: LocalEntraIssuer, token: str, audience: str) -> dict[str, Any]:
    """The claims of a downstream token, checked as the downstream API checks them."""
    kid = jwt.get_unverified_header(token)["kid"]
    public_key = entra._started().keys.public_key(kid)
    claims: dict[str, Any] = jwt.decode(token, public_key, algorithms=["RS256"], audience=audience)
    return claims


def calling(scopes: list[str]) -> Any:
    seen: list[str] = []

    @require_auth(scopes=["Orders.Read"])
    def profile(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        token = principal.acquire_token(scopes)
        seen.append(token)
        return func.HttpResponse("ok")

    profile.seen = seen  # type: ignore[attr-defined]
    return profile


def test_a_delegated_caller_gets_a_token_for_the_downstream_api_on_its_behalf(entra: LocalEntraIssuer) -> None:
    configure(entra)
    profile = calling([USER_READ])
    assert profile(http_request(user_token(entra))).status_code == 200
    claims = verified(entra, profile.seen[0], GRAPH)
    # The downstream API sees the same user, this API as the client that asked, and the scopes asked for.
    assert claims["oid"] == "dddddddd-0000-4000-8000-000000000001"
    assert claims["azp"] == API_CLIENT_ID and claims["scp"] == "User.Read" and claims["tid"] == HOME_TENANT
    # Secretless: the exchange was authenticated with the managed identity's assertion.
    assert entra._started().token_requests[OBO] == 1


def test_a_repeat_for_the_same_user_and_scopes_makes_no_token_request(entra: LocalEntraIssuer) -> None:
    configure(entra)
    profile = calling([USER_READ])
    for _ in range(5):
        assert profile(http_request(user_token(entra))).status_code == 200
    assert len(set(profile.seen)) == 1
    assert entra._started().token_requests[OBO] == 1


def test_one_users_token_is_never_served_to_another(entra: LocalEntraIssuer) -> None:
    configure(entra)
    profile = calling([USER_READ])
    profile(http_request(user_token(entra, "ada")))
    profile(http_request(user_token(entra, "bob")))
    ada, bob = (verified(entra, token, GRAPH)["oid"] for token in profile.seen)
    assert ada != bob and bob == BOB
    assert entra._started().token_requests[OBO] == 2


def test_an_app_only_caller_is_told_at_the_call_that_it_has_no_user_to_act_for(entra: LocalEntraIssuer) -> None:
    configure(entra)
    caught: list[BaseException] = []

    @require_auth(app_roles=["Orders.Read.All"])
    def daemon_work(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        try:
            principal.acquire_token([USER_READ])
        except TypeError as error:
            caught.append(error)
        return func.HttpResponse("ok")

    daemon = entra.token(
        tenant=HOME_TENANT,
        grant_type="client_credentials",
        client_id="cccccccc-0000-4000-8000-0000000000dd",
        scope=f"api://{API_CLIENT_ID}/.default",
        dev_app_roles="Orders.Read.All",
    )
    assert daemon_work(http_request(daemon)).status_code == 200
    assert len(caught) == 1 and "acquire_app_token" in str(caught[0])
    assert entra._started().token_requests[OBO] == 0


def test_outside_the_function_that_received_it_a_principal_cannot_exchange_its_token(entra: LocalEntraIssuer) -> None:
    configure(entra)
    kept: list[Principal] = []

    @require_auth(scopes=["Orders.Read"])
    def keeps_its_principal(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        kept.append(principal)
        return func.HttpResponse("ok")

    assert keeps_its_principal(http_request(user_token(entra))).status_code == 200
    # The caller's token went with its request: a principal kept past it can exchange nothing.
    with pytest.raises(RuntimeError, match="while it runs"):
        kept[0].acquire_token([USER_READ])


def test_an_async_function_acquires_on_a_worker_thread(entra: LocalEntraIssuer) -> None:
    configure(entra)
    seen: list[str] = []

    @require_auth(scopes=["Orders.Read"])
    async def profile(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        seen.append(await principal.acquire_token_async([USER_READ]))
        return func.HttpResponse("ok")

    async def twice() -> list[int]:
        token = user_token(entra)
        return [(await profile(req=http_request(token))).status_code for _ in range(2)]

    assert asyncio.run(twice()) == [200, 200]
    assert verified(entra, seen[0], GRAPH)["scp"] == "User.Read" and seen[0] == seen[1]


def test_an_app_token_as_this_api_itself_cached_by_msal(entra: LocalEntraIssuer) -> None:
    configure(entra)
    tokens: list[str] = []

    @require_auth(scopes=["Orders.Read"])
    def nightly(req: func.HttpRequest) -> func.HttpResponse:
        tokens.append(authorizer.acquire_app_token([f"{GRAPH}/.default"]))
        return func.HttpResponse("ok")

    for _ in range(3):
        assert nightly(http_request(user_token(entra))).status_code == 200
    claims = verified(entra, tokens[0], GRAPH)
    assert claims["idtyp"] == "app" and claims["azp"] == API_CLIENT_ID and "scp" not in claims
    assert len(set(tokens)) == 1 and entra._started().token_requests["client_credentials"] == 1


def test_consent_not_granted_is_a_403_that_names_the_scope_and_who_grants_it(entra: LocalEntraIssuer) -> None:
    configure(entra)
    entra.registrations.withhold_consent(API_CLIENT_ID, MAIL_READ)
    refused = calling([MAIL_READ])(http_request(user_token(entra)))
    assert refused.status_code == 403
    body = json.loads(refused.get_body())
    assert body["error"] == "consent_required"
    assert MAIL_READ in body["error_description"] and "admin consent" in body["error_description"]
    # Nothing a client can fetch fixes it: no scope to loop on.
    assert "scope=" not in refused.headers["WWW-Authenticate"]
    # An answer of the authorizer's like any other refusal, headers included.
    assert (refused.headers["Cache-Control"], refused.headers["X-Content-Type-Options"]) == ("no-store", "nosniff")


@pytest.mark.parametrize("capable", [True, False], ids=["cp1-client", "client-without-cp1"])
def test_a_step_up_the_downstream_resource_demands_reaches_the_client_as_its_claims_challenge(
    entra: LocalEntraIssuer, capable: bool
) -> None:
    configure(entra)
    entra.registrations.demand_auth_context(MAIL_READ, "c2")
    mail = calling([MAIL_READ])
    refused = mail(http_request(user_token(entra, capabilities=capable)))
    if not capable:
        # It could not act on a claims challenge: told what is needed instead.
        assert refused.status_code == 403 and json.loads(refused.get_body())["error"] == "interaction_required"
        return
    assert refused.status_code == 401
    challenge = refused.headers["WWW-Authenticate"]
    assert 'error="insufficient_claims"' in challenge
    assert f'authorization_uri="{entra.url}/{HOME_TENANT}/oauth2/v2.0/authorize"' in challenge
    claims = challenge.split('claims="', 1)[1].split('"', 1)[0]
    assert json.loads(base64.b64decode(claims)) == {"access_token": {"acrs": {"essential": True, "value": "c2"}}}
    # The client signs in again asking for the claims; its new token carries c2, and the exchange passes.
    assert mail(http_request(user_token(entra, acrs="c2"))).status_code == 200
    assert verified(entra, mail.seen[-1], GRAPH)["acrs"] == ["c2"]


def test_a_downstream_apis_own_claims_challenge_is_passed_back_and_the_challenged_token_forgotten(
    entra: LocalEntraIssuer,
) -> None:
    configure(entra)
    challenged: list[bool] = []

    @require_auth(scopes=["Orders.Read"])
    def messages(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        principal.acquire_token([USER_READ])
        if not challenged:
            challenged.append(True)
            # What Graph answers a token it no longer accepts (CAE), as requests hands it over.
            claims = base64.b64encode(b'{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}').decode()
            header = (
                'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
                f'error="insufficient_claims", claims="{claims}"'
            )
            authorizer.raise_for_claims_challenge(401, {"www-authenticate": header})
        return func.HttpResponse("ok")

    token = user_token(entra)
    refused = messages(http_request(token))
    assert refused.status_code == 401 and 'error="insufficient_claims"' in refused.headers["WWW-Authenticate"]
    # The retry asks Entra afresh: the challenged token is never served again.
    assert messages(http_request(user_token(entra))).status_code == 200
    assert entra._started().token_requests[OBO] == 2


@pytest.mark.parametrize("fault", ["down", "slow", "http-500"])
def test_an_authority_that_is_down_slow_or_failing_is_a_503_with_retry_after_never_a_hang(
    entra: LocalEntraIssuer, fault: str
) -> None:
    configure(entra, ENTRA_DOWNSTREAM_TIMEOUT_SECONDS="1")
    profile = calling([USER_READ])
    token = user_token(entra)
    # Keys warm, and MSAL's discovery done: only the token request itself meets the fault.
    assert calling([f"{GRAPH}/Calendars.Read"])(http_request(token)).status_code == 200
    server = entra._started()
    if fault == "down":
        entra.stop()
    elif fault == "slow":
        server.token_hold.clear()
    else:
        server.token_fault = 500
    started = time.monotonic()
    try:
        answer = profile(http_request(token))
    finally:
        server.token_hold.set()
    assert time.monotonic() - started < 1 + 1.0
    assert answer.status_code == 503 and 1 <= int(answer.headers["Retry-After"]) <= 60


def test_a_refused_credential_is_a_500_whose_log_names_the_setting_and_never_the_secret(
    entra: LocalEntraIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    configure(entra, ENTRA_CLIENT_CREDENTIAL="secret", ENTRA_CLIENT_SECRET=SECRET)
    answer = calling([USER_READ])(http_request(user_token(entra)))
    assert answer.status_code == 500
    assert json.loads(answer.get_body())["error"] == "server_error"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "ENTRA_CLIENT_SECRET" in logged and SECRET not in logged
    # Registered, the same secret works (the local development path a secret takes).
    entra.registrations.add_secret(API_CLIENT_ID, SECRET)
    configure(entra, ENTRA_CLIENT_CREDENTIAL="secret", ENTRA_CLIENT_SECRET=SECRET)
    assert calling([USER_READ])(http_request(user_token(entra))).status_code == 200


def certificate_pem(tmp_path: Path) -> tuple[Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orders-api")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = tmp_path / "orders-api.pem"
    path.write_bytes(key_pem + cert_pem)
    return path, cert_pem


def test_a_certificate_is_the_second_choice(entra: LocalEntraIssuer, tmp_path: Path) -> None:
    path, cert_pem = certificate_pem(tmp_path)
    entra.registrations.add_certificate(API_CLIENT_ID, cert_pem)
    configure(entra, ENTRA_CLIENT_CREDENTIAL="certificate", ENTRA_CLIENT_CERTIFICATE_PATH=str(path))
    profile = calling([USER_READ])
    assert profile(http_request(user_token(entra))).status_code == 200
    assert verified(entra, profile.seen[0], GRAPH)["azp"] == API_CLIENT_ID


def test_without_a_managed_identity_the_500_says_which_setting(
    entra: LocalEntraIssuer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("IDENTITY_ENDPOINT")
    configure(entra)
    assert calling([USER_READ])(http_request(user_token(entra))).status_code == 500
    assert any("ENTRA_CLIENT_CREDENTIAL" in record.getMessage() for record in caplog.records)


def test_the_number_of_users_kept_is_bounded(entra: LocalEntraIssuer) -> None:
    configure(entra, ENTRA_DOWNSTREAM_CACHE_USERS="1")
    profile = calling([USER_READ])
    ada, bob = user_token(entra, "ada"), user_token(entra, "bob")
    for token in (ada, bob, ada):
        assert profile(http_request(token)).status_code == 200
    # Room for one user: ada left when bob came, and came back with a new exchange.
    assert entra._started().token_requests[OBO] == 3
    tokens = authorizer._functions.runtime.current().downstream.tokens()
    assert len(tokens._apps[HOME_TENANT].get_accounts()) == 1


def test_the_callers_token_and_the_downstream_tokens_are_never_logged(entra: LocalEntraIssuer) -> None:
    configure(entra)
    entra.registrations.demand_auth_context(MAIL_READ, "c2")
    token = user_token(entra)
    profile, mail = calling([USER_READ]), calling([MAIL_READ])
    with watched_logs() as logs:
        profile(http_request(token))
        mail(http_request(token))
    assert_no_token_material(logs.records, [token, *profile.seen])


def test_the_local_graph_admits_what_on_behalf_of_delivered_and_nothing_else(entra: LocalEntraIssuer) -> None:
    import requests

    from authorizer.devtools._graph import LocalGraph, graph_settings

    state = entra.started_state()
    graph = LocalGraph(graph_settings(state.url, state.ca_bundle, HOME_TENANT)).start()
    try:
        configure(entra)
        answers: list[dict[str, Any]] = []

        @require_auth(scopes=["Orders.Read"])
        def profile(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
            token = principal.acquire_token([USER_READ])
            response = requests.get(f"{graph.url}/v1.0/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
            answers.append({"status": response.status_code, **response.json()})
            return func.HttpResponse("ok")

        token = user_token(entra)
        assert profile(http_request(token)).status_code == 200
        # The downstream API validated audience, issuer, lifetime and scope, and names who is calling.
        assert answers[0]["status"] == 200
        assert answers[0]["id"] == "dddddddd-0000-4000-8000-000000000001"
        assert answers[0]["requestedBy"] == {"appId": API_CLIENT_ID, "scopes": ["User.Read"]}
        # The caller's own token, meant for this API, is no key to the downstream one.
        direct = requests.get(f"{graph.url}/v1.0/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert direct.status_code == 401
    finally:
        graph.stop()


def test_downstream_requests_are_counted_by_kind_and_outcome(entra: LocalEntraIssuer, telemetry: Telemetry) -> None:
    configure(entra)
    profile = calling([USER_READ])
    token = user_token(entra)
    profile(http_request(token))
    profile(http_request(token))

    @require_auth(scopes=["Orders.Read"])
    def nightly(req: func.HttpRequest) -> func.HttpResponse:
        authorizer.acquire_app_token([f"{GRAPH}/.default"])
        return func.HttpResponse("ok")

    nightly(http_request(token))
    entra.registrations.withhold_consent(API_CLIENT_ID, MAIL_READ)
    calling([MAIL_READ])(http_request(token))
    recorded = telemetry.since()

    def count(kind: str, result: str) -> int:
        return recorded[
            series(
                "entra_authorizer.downstream.requests",
                **{"entra_authorizer.kind": kind, "entra_authorizer.result": result},
            )
        ]

    assert (count("on_behalf_of", "miss"), count("on_behalf_of", "hit"), count("on_behalf_of", "failure")) == (1, 1, 1)
    assert count("app", "miss") == 1
