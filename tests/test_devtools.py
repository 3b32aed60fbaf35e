"""The development path: local issuer, dev tokens, the local server and `make demo`."""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
import requests

import authorizer
from authorizer import ConfigurationError, allow_anonymous, require_auth
from authorizer._settings.app_settings import AuthSettings
from authorizer.devtools import _token_command as token_command
from authorizer.devtools._issuer import API_CLIENT_ID, HOME_TENANT, IssuerState, LocalEntraIssuer
from authorizer.devtools._server import CorsPolicy, DevServer, route_prefix_of, routes_of
from authorizer.devtools._state import DAEMON_CLIENT_ID
from tests.support.demo import running_demo
from tests.support.http_server import free_port

REPO = Path(__file__).resolve().parents[1]
STRANGER = "33333333-3333-4333-8333-333333333333"


@pytest.fixture(scope="module")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEntraIssuer]:
    issuer = LocalEntraIssuer(tmp_path_factory.mktemp("issuer")).start()
    yield issuer
    issuer.stop()


@pytest.fixture
def app_settings(entra: LocalEntraIssuer) -> Iterator[dict[str, str]]:
    assert entra.state is not None
    environ = {
        "ENTRA_TENANT_ID": HOME_TENANT,
        "ENTRA_CLIENT_ID": API_CLIENT_ID,
        "ENTRA_INSTANCE": entra.url,
        "ENTRA_DEV_CA_BUNDLE": entra.state.ca_bundle,
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
    }
    authorizer.configure(environ=environ)
    yield environ
    authorizer.configure(environ=None)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def mint(state: Path, *arguments: str) -> str:
    parser = argparse.ArgumentParser()
    token_command.add_arguments(parser)
    return token_command.mint(parser.parse_args(["--state", str(state), *arguments]))


# --- the local issuer and dev tokens ----------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_dev_tokens_of_each_shape_are_accepted_by_the_app(
    version: str, entra: LocalEntraIssuer, app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_FUNCTIONS_ENVIRONMENT", "Development")
    state = entra.state_dir / "issuer.json"

    @require_auth(scopes=["Orders.Write"], roles=["Orders.Writer"], app_roles=["Orders.Write.All"])
    def create(req: func.HttpRequest, principal: authorizer.Principal) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({"app_only": principal.is_app_only, "version": principal.token_version}))

    def call(token: str) -> tuple[int, bytes]:
        response = create(
            func.HttpRequest("POST", "/api/orders", headers={"Authorization": f"Bearer {token}"}, body=b"")
        )
        return response.status_code, response.get_body()

    user = mint(state, "--scope", "Orders.Write", "--role", "Orders.Writer", "--version", version)
    assert claims_of(user)["ver"] == f"{version}.0"
    assert call(user) == (200, json.dumps({"app_only": False, "version": f"{version}.0"}).encode())
    daemon = mint(state, "--app-only", "--app-role", "Orders.Write.All", "--version", version)
    assert claims_of(daemon)["idtyp"] == "app"
    assert call(daemon)[0] == 200
    assert call(mint(state, "--scope", "Orders.Write", "--user", "bob", "--version", version))[0] == 403


def test_a_dev_token_names_its_tenant(entra: LocalEntraIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_FUNCTIONS_ENVIRONMENT", "Development")
    token = mint(entra.state_dir / "issuer.json", "--scope", "Orders.Read", "--tenant", STRANGER)
    claims = claims_of(token)
    assert (claims["tid"], claims["iss"]) == (STRANGER, f"{entra.url}/{STRANGER}/v2.0")


def test_a_dev_token_carries_only_what_was_asked_for(entra: LocalEntraIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_FUNCTIONS_ENVIRONMENT", "Development")
    state = entra.state_dir / "issuer.json"
    # --app-only without --app-role once added Orders.Read.All: "app-only, no roles -> 403" could not be shown.
    daemon = claims_of(mint(state, "--app-only"))
    assert daemon["idtyp"] == "app" and "roles" not in daemon
    bob = claims_of(mint(state, "--scope", "Orders.Read", "--user", "bob"))
    assert bob["scp"] == "Orders.Read" and "roles" not in bob
    # ada holds Orders.Writer when she signs in; a dev token carries a role only when it is named.
    assert "roles" not in claims_of(mint(state, "--scope", "Notes.Read"))
    ada_with_a_role = claims_of(mint(state, "--scope", "Orders.Read", "--role", "Orders.Reader"))
    assert ada_with_a_role["roles"] == ["Orders.Reader"]
    assert claims_of(mint(state, "--scope", "Orders.Read", "--acrs", "c1"))["acrs"] == ["c1"]
    with pytest.raises(ValueError, match="--scope"):
        mint(state)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scope", "Orders.Read", "--tenant", "not-a-guid"], "is not a GUID"),
        (["--scope", "Orders.Read", "--client-id", "orders-api"], "is not a GUID"),
        (["--scope", "Orders.Read", "--version", "3"], "invalid choice"),
        (["--scope", "Orders.Read", "--user", "mallory"], "invalid choice"),
    ],
)
def test_token_refuses_arguments_it_cannot_honour(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    token_command.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(arguments)
    assert message in capsys.readouterr().err


def test_an_authentication_context_is_c1_to_c99(entra: LocalEntraIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_FUNCTIONS_ENVIRONMENT", "Development")
    with pytest.raises(ValueError, match="c1 to c99"):
        mint(entra.state_dir / "issuer.json", "--scope", "Orders.Read", "--acrs", "c100")


def test_dev_tokens_are_refused_outside_development(entra: LocalEntraIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_FUNCTIONS_ENVIRONMENT", "Production")
    with pytest.raises(ConfigurationError) as caught:
        mint(entra.state_dir / "issuer.json")
    assert caught.value.setting == "AZURE_FUNCTIONS_ENVIRONMENT"


def test_dev_tokens_come_only_from_a_loopback_issuer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_FUNCTIONS_ENVIRONMENT", "Development")
    state = tmp_path / "issuer.json"
    IssuerState("https://login.microsoftonline.com", "ca.pem", API_CLIENT_ID, HOME_TENANT).save(state)
    with pytest.raises(ConfigurationError):
        mint(state)


def test_the_issuer_serves_entra_layout_for_any_tenant(entra: LocalEntraIssuer) -> None:
    assert entra.state is not None
    ca = entra.state.ca_bundle
    for tenant, issuer_v2, issuer_v1 in [
        (HOME_TENANT, f"{entra.url}/{HOME_TENANT}/v2.0", f"https://sts.windows.net/{HOME_TENANT}/"),
        ("organizations", f"{entra.url}/{{tenantid}}/v2.0", "https://sts.windows.net/{tenantid}/"),
    ]:
        v2 = requests.get(f"{entra.url}/{tenant}/v2.0/.well-known/openid-configuration", verify=ca, timeout=5).json()
        v1 = requests.get(f"{entra.url}/{tenant}/.well-known/openid-configuration", verify=ca, timeout=5).json()
        assert (v2["issuer"], v1["issuer"]) == (issuer_v2, issuer_v1)
        assert v2["authorization_endpoint"] == f"{entra.url}/{tenant}/oauth2/v2.0/authorize"
        assert requests.get(v2["jwks_uri"], verify=ca, timeout=5).json()["keys"]


def test_rotation_signs_with_the_new_key_and_keeps_the_old_one_published(entra: LocalEntraIssuer) -> None:
    assert entra.state is not None

    def signing_kid() -> str:
        header = entra.token(grant_type="client_credentials", client_id=DAEMON_CLIENT_ID).split(".")[0]
        return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])

    old = signing_kid()
    new = entra.rotate()
    assert signing_kid() == new
    keys = requests.get(f"{entra.url}/common/discovery/v2.0/keys", verify=entra.state.ca_bundle, timeout=5).json()
    assert {old, new} <= {key["kid"] for key in keys["keys"]}


def test_a_token_request_without_a_client_id_is_refused_as_entra_refuses_it(entra: LocalEntraIssuer) -> None:
    # Entra answers AADSTS900144: every token names the client that asked for it (azp or appid).
    assert entra.state is not None
    for grant in ({"grant_type": "client_credentials"}, {"grant_type": "password", "username": "ada"}):
        answer = requests.post(
            f"{entra.url}/{HOME_TENANT}/oauth2/v2.0/token",
            data={**grant, "scope": f"api://{API_CLIENT_ID}/Orders.Read"},
            verify=entra.state.ca_bundle,
            timeout=5,
        )
        assert answer.status_code == 400
        assert answer.json()["error"] == "invalid_request"


SPA_ORIGIN = "http://127.0.0.1:5173"
PAGE = "https://any-page.example"


def post_token(entra: LocalEntraIssuer, form: dict[str, str], origin: str | None = None) -> requests.Response:
    assert entra.state is not None
    return requests.post(
        f"{entra.url}/{HOME_TENANT}/oauth2/v2.0/token",
        data=form,
        headers={"Origin": origin} if origin else {},
        verify=entra.state.ca_bundle,
        timeout=5,
    )


def test_only_the_sample_spas_origin_may_read_the_issuers_answers(entra: LocalEntraIssuer) -> None:
    assert entra.state is not None
    entra.allow_origin(SPA_ORIGIN)
    keys = f"{entra.url}/common/discovery/v2.0/keys"
    for origin, allowed in ((SPA_ORIGIN, SPA_ORIGIN), (PAGE, None), ("null", None)):
        answer = requests.get(keys, headers={"Origin": origin}, verify=entra.state.ca_bundle, timeout=5)
        # Once "*": any page could read what the issuer answers, tokens included.
        assert answer.headers.get("Access-Control-Allow-Origin") == allowed, origin
        preflight = requests.options(
            f"{entra.url}/{HOME_TENANT}/oauth2/v2.0/token",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            verify=entra.state.ca_bundle,
            timeout=5,
        )
        assert preflight.headers.get("Access-Control-Allow-Origin") == allowed, origin


@pytest.mark.parametrize(
    "grant",
    [
        {"grant_type": "password", "username": "ada", "dev_roles": "Orders.Admin"},
        {"grant_type": "client_credentials", "dev_app_roles": "Orders.Write.All"},
    ],
    ids=["password", "client-credentials"],
)
def test_a_grant_that_takes_no_credential_is_refused_to_any_web_page(
    grant: dict[str, str], entra: LocalEntraIssuer
) -> None:
    form = {**grant, "client_id": DAEMON_CLIENT_ID, "scope": f"api://{API_CLIENT_ID}/.default"}
    entra.allow_origin(SPA_ORIGIN)
    # From a command line (no Origin): the development shortcut it is.
    assert post_token(entra, form).status_code == 200
    # From a page, even the SPA's: as Entra answers AADSTS9002326, only a browser client's grants cross origins.
    for origin in (PAGE, SPA_ORIGIN):
        refused = post_token(entra, form, origin)
        assert refused.status_code == 400 and "access_token" not in refused.text
        assert refused.json()["error"] == "invalid_request"


def test_rotation_cannot_be_driven_by_a_web_page_and_the_published_keys_are_bounded(
    tmp_path: Path, app_settings: dict[str, str]
) -> None:
    issuer = LocalEntraIssuer(tmp_path).start()
    try:
        assert issuer.state is not None
        rotate = f"{issuer.url}/_dev/rotate"
        published = requests.get(f"{issuer.url}/common/discovery/v2.0/keys", verify=issuer.state.ca_bundle, timeout=5)
        # A simple cross-origin request (what any page can send without asking): refused, nothing rotated.
        for _ in range(20):
            answer = requests.post(rotate, headers={"Origin": PAGE}, verify=issuer.state.ca_bundle, timeout=5)
            assert answer.status_code == 403
        after = requests.get(f"{issuer.url}/common/discovery/v2.0/keys", verify=issuer.state.ca_bundle, timeout=5)
        assert after.json() == published.json()
        # 600 rotations once pushed the JWKS past the app's 256 KiB cap: now the set stays at a handful.
        for _ in range(12):
            issuer.rotate()
        keys = requests.get(f"{issuer.url}/common/discovery/v2.0/keys", verify=issuer.state.ca_bundle, timeout=5)
        assert len(keys.json()["keys"]) <= 4 and len(keys.content) < 8 * 1024
        authorizer.configure(
            environ={**app_settings, "ENTRA_INSTANCE": issuer.url, "ENTRA_DEV_CA_BUNDLE": issuer.state.ca_bundle}
        )

        @require_auth()
        def me(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("me")

        token = issuer.token(
            grant_type="password",
            client_id=DAEMON_CLIENT_ID,
            username="ada",
            scope=f"api://{API_CLIENT_ID}/Orders.Read",
        )
        assert (
            me(
                func.HttpRequest(
                    "GET", "http://localhost/api/me", headers={"Authorization": f"Bearer {token}"}, body=b""
                )
            ).status_code
            == 200
        )
    finally:
        issuer.stop()


def test_a_dev_ca_bundle_is_refused_for_a_real_authority() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AuthSettings.from_environ(
            {"ENTRA_TENANT_ID": HOME_TENANT, "ENTRA_CLIENT_ID": API_CLIENT_ID, "ENTRA_DEV_CA_BUNDLE": "ca.pem"}
        )
    assert caught.value.setting == "ENTRA_DEV_CA_BUNDLE"


# --- the local server -------------------------------------------------------------------------


@pytest.fixture
def echo_server(app_settings: dict[str, str]) -> Iterator[DevServer]:
    app = authorizer.FunctionApp()

    @app.route(route="api/items/{item_id}", methods=["GET", "PUT"])
    @allow_anonymous
    def echo(req: func.HttpRequest) -> func.HttpResponse:
        seen = {
            "method": req.method,
            "url": req.url,
            "params": dict(req.params),
            "route_params": dict(req.route_params),
            "header": req.headers.get("X-Sample"),
            "body": req.get_body().decode(),
        }
        return func.HttpResponse(
            json.dumps(seen), status_code=207, headers={"X-Echo": "yes"}, mimetype="application/json"
        )

    @app.route(route="api/items/{item_id}", methods=["DELETE"])
    @allow_anonymous
    async def remove(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(status_code=204)

    server = DevServer(routes_of(app.get_functions(), ""), CorsPolicy(frozenset({"http://spa.local"}))).start()
    yield server
    server.stop()


def test_requests_and_responses_are_converted_as_the_worker_does(echo_server: DevServer) -> None:
    response = requests.put(
        f"{echo_server.url}/api/items/42?filter=open", data=b"hello", headers={"X-Sample": "a"}, timeout=5
    )
    assert response.status_code == 207
    assert response.headers["X-Echo"] == "yes"
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "method": "PUT",
        "url": f"http://{echo_server.url.removeprefix('http://')}/api/items/42?filter=open",
        "params": {"filter": "open"},
        "route_params": {"item_id": "42"},
        "header": "a",
        "body": "hello",
    }


def test_routing_by_method_path_and_async_functions(echo_server: DevServer) -> None:
    assert requests.delete(f"{echo_server.url}/api/items/1", timeout=5).status_code == 204
    assert requests.post(f"{echo_server.url}/api/items/1", timeout=5).status_code == 405
    assert requests.get(f"{echo_server.url}/api/nothing", timeout=5).status_code == 404


def test_preflights_are_answered_from_host_cors_and_never_reach_the_function(echo_server: DevServer) -> None:
    asks = {"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization"}
    allowed = requests.options(
        f"{echo_server.url}/api/items/1", headers={"Origin": "http://spa.local", **asks}, timeout=5
    )
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://spa.local"
    assert allowed.headers["Access-Control-Allow-Methods"] == "PUT"
    assert allowed.headers["Access-Control-Allow-Headers"] == "authorization"
    refused = requests.options(
        f"{echo_server.url}/api/items/1", headers={"Origin": "http://evil.example", **asks}, timeout=5
    )
    assert "Access-Control-Allow-Origin" not in refused.headers
    actual = requests.get(f"{echo_server.url}/api/items/1", headers={"Origin": "http://spa.local"}, timeout=5)
    assert actual.headers["Access-Control-Allow-Origin"] == "http://spa.local"
    assert ("OPTIONS", "/api/items/1") in echo_server.exchanges


def test_cors_and_the_route_prefix_come_from_the_project_files(tmp_path: Path) -> None:
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"Host": {"CORS": "http://a.local, http://b.local", "CORSCredentials": True}}))
    policy = CorsPolicy.from_local_settings(tmp_path / "missing.json", settings)
    assert policy == CorsPolicy(frozenset({"http://a.local", "http://b.local"}), credentials=True)
    assert policy.headers_for("http://a.local")["Access-Control-Allow-Credentials"] == "true"
    assert CorsPolicy.from_local_settings(REPO / "local.settings.example.json").allows("http://127.0.0.1:5173")
    assert route_prefix_of(REPO / "host.json") == ""
    assert route_prefix_of(tmp_path / "no-host.json") == "api"


# --- make demo --------------------------------------------------------------------------------


def test_make_demo_serves_and_its_printed_commands_work(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "DEMO_PORT": str(free_port()),
        "DEMO_SPA_PORT": str(free_port()),
        "LOCAL_ISSUER_PORT": str(free_port()),
        # The development CA and the issuer's address go to this user's data folder: a temporary one here.
        "XDG_DATA_HOME": str(tmp_path),
    }
    for name in [name for name in environment if name.startswith(("ENTRA_", "KEY_VAULT"))]:
        environment.pop(name)
    issuer_address = tmp_path / "entra-functions-authorizer" / "issuer.json"
    with running_demo(environment) as demo:
        # Running: the token command finds the issuer through this file.
        assert issuer_address.exists()
        commands = [line.strip() for line in demo.printed if line.startswith("curl ")]
        assert len(commands) == 2, "".join(demo.printed)
        outputs = [
            subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=30, check=True).stdout  # noqa: S603
            for command in commands
        ]
    assert outputs[0].startswith("HTTP/1.1 200")
    # The printed token names the client that asked for it, as every Entra token does.
    payload = commands[0].rsplit("Bearer ", 1)[1].rstrip('"').split(".")[1]
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["azp"] == DAEMON_CLIENT_ID
    assert outputs[1].startswith("HTTP/1.1 403")
    assert f'scope="api://{API_CLIENT_ID}/Orders.Write"' in outputs[1]
    assert any("not the Functions host" in line for line in demo.printed)
    assert any(line.strip() == "make trust-dev-ca" for line in demo.printed)
    assert demo.returncode == 0, demo.errors
    # Stopped: the token command must not find the address of an issuer that is gone.
    assert not issuer_address.exists()


def test_the_development_managed_identity_answers_only_its_secret_header_and_never_a_page(
    entra: LocalEntraIssuer,
) -> None:
    state = entra.started_state()
    endpoint = f"{state.identity_endpoint}?api-version=2019-08-01&resource=api://AzureADTokenExchange"

    def ask(headers: dict[str, str]) -> requests.Response:
        return requests.get(endpoint, headers=headers, verify=state.ca_bundle, timeout=5)

    assert ask({}).status_code == 401
    assert ask({"X-IDENTITY-HEADER": "guessed"}).status_code == 401
    # A page cannot send the header without a preflight, and a request carrying Origin is refused anyway.
    assert ask({"X-IDENTITY-HEADER": state.identity_header, "Origin": PAGE}).status_code == 401
    answered = ask({"X-IDENTITY-HEADER": state.identity_header})
    assert answered.status_code == 200
    claims = claims_of(answered.json()["access_token"])
    assert claims["aud"] == "api://AzureADTokenExchange" and claims["idtyp"] == "app"
    # The header is the same across runs of the issuer: a local.settings.json keeps working.
    assert state.settings()["IDENTITY_HEADER"] == state.identity_header
