"""Dev tokens for an adopter's own API: the issuer and the token command read the app folder's
local.settings.json, and `python -m authorizer local-settings` writes a starter one, never over another.
"""

from __future__ import annotations

import argparse
import base64
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

import authorizer
from authorizer import require_auth
from authorizer.__main__ import main
from authorizer._settings.local_settings import func_start_environ
from authorizer.devtools import _token_command as token_command
from authorizer.devtools._app_folder import served_api
from authorizer.devtools._entra_shape import ServedApi
from authorizer.devtools._issuer import API_CLIENT_ID, HOME_TENANT, LocalEntraIssuer

# An adopter's own registration and tenant: not the sample's.
THEIR_API = "5e1f0c3a-9b7d-4c2e-8a6f-0123456789ab"
THEIR_TENANT = "7a0b1c2d-3e4f-4a5b-9c6d-7e8f90a1b2c3"
OTHER_API = "0f0e0d0c-0b0a-4909-8807-060504030201"
GROUP = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
PARTNER_CLIENT = "c0ffee00-0000-4000-8000-00000000c1e7"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def write_settings(folder: Path, **values: str) -> Path:
    path = folder / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    return path


@pytest.fixture
def adopter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, LocalEntraIssuer]]:
    """An app folder of the adopter's, its tools' state in a folder of this test's, and the issuer running."""
    home = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    folder = tmp_path / "app"
    folder.mkdir()
    monkeypatch.chdir(folder)
    issuer = LocalEntraIssuer(home / "entra-functions-authorizer").start()
    monkeypatch.setenv("LOCAL_ISSUER_PORT", issuer.url.rsplit(":", 1)[1])
    yield folder, issuer
    issuer.stop()
    authorizer.configure(environ=None)


def mint(*arguments: str) -> str:
    parser = argparse.ArgumentParser()
    token_command.add_arguments(parser)
    return token_command.mint(parser.parse_args(list(arguments)))


def test_the_api_is_named_by_arguments_then_the_folders_settings_then_the_sample(tmp_path: Path) -> None:
    assert served_api(folder=tmp_path) == ServedApi(API_CLIENT_ID, HOME_TENANT)
    write_settings(tmp_path, ENTRA_CLIENT_ID=THEIR_API.upper(), ENTRA_TENANT_ID=THEIR_TENANT)
    assert served_api(folder=tmp_path) == ServedApi(THEIR_API, THEIR_TENANT)
    assert served_api(OTHER_API, folder=tmp_path) == ServedApi(OTHER_API, THEIR_TENANT)
    write_settings(tmp_path, ENTRA_CLIENT_ID="orders-api", ENTRA_TENANT_ID=THEIR_TENANT)
    with pytest.raises(ValueError, match="ENTRA_CLIENT_ID is not a GUID"):
        served_api(folder=tmp_path)


def test_dev_tokens_are_for_the_folders_own_api_and_its_app_admits_them(
    adopter: tuple[Path, LocalEntraIssuer], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, issuer = adopter
    assert issuer.state is not None
    settings = write_settings(
        folder,
        ENTRA_CLIENT_ID=THEIR_API,
        ENTRA_TENANT_ID=THEIR_TENANT,
        ENTRA_INSTANCE=issuer.url,
        ENTRA_DEV_CA_BUNDLE=issuer.state.ca_bundle,
    )
    monkeypatch.delenv("AZURE_FUNCTIONS_ENVIRONMENT", raising=False)
    # The app as func start runs it from this folder (Development, from the file's presence).
    authorizer.configure(environ=func_start_environ(settings, {})[1])

    @require_auth(scopes=["Things.Read"], app_roles=["Things.Read.All"])
    def things(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("things")

    def status(token: str) -> int:
        request = func.HttpRequest("GET", "/api/things", headers={"Authorization": f"Bearer {token}"}, body=b"")
        return int(things(request).status_code)

    user = mint("--scope", "Things.Read", "--group", GROUP, "--client-app", PARTNER_CLIENT)
    claims = claims_of(user)
    assert (claims["aud"], claims["tid"]) == (THEIR_API, THEIR_TENANT)
    assert claims["iss"] == f"{issuer.url}/{THEIR_TENANT}/v2.0"
    assert (claims["scp"], claims["groups"], claims["azp"]) == ("Things.Read", [GROUP], PARTNER_CLIENT)
    assert claims_of(mint("--scope", "Things.Read", "--version", "1"))["aud"] == f"api://{THEIR_API}"
    daemon = mint("--app-only", "--app-role", "Things.Read.All")
    assert (claims_of(daemon)["aud"], claims_of(daemon)["tid"]) == (THEIR_API, THEIR_TENANT)
    assert [status(user), status(daemon), status(mint("--scope", "Other.Read"))] == [200, 200, 403]
    # --client-id names another API: a token this app refuses as not its own.
    assert claims_of(mint("--scope", "Things.Read", "--client-id", OTHER_API))["aud"] == OTHER_API
    assert status(mint("--scope", "Things.Read", "--client-id", OTHER_API)) == 401


def test_a_starter_local_settings_points_the_app_at_the_local_issuer_and_is_never_replaced(
    adopter: tuple[Path, LocalEntraIssuer], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, issuer = adopter
    assert main(["local-settings", "--client-id", THEIR_API, "--tenant-id", THEIR_TENANT]) == 0
    written = folder / "local.settings.json"
    # Readable by its owner only: the file is where an app's secrets go next.
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    values = json.loads(written.read_text())["Values"]
    assert values["ENTRA_INSTANCE"] == issuer.url
    assert (values["ENTRA_CLIENT_ID"], values["ENTRA_TENANT_ID"]) == (THEIR_API, THEIR_TENANT)
    assert values["AZURE_FUNCTIONS_ENVIRONMENT"] == "Development"
    # The issuer's own CA: the one the tools keep for this user.
    assert issuer.state is not None and values["ENTRA_DEV_CA_BUNDLE"] == issuer.state.ca_bundle

    # The file as written serves: the app under it admits a dev token minted from this folder.
    monkeypatch.delenv("AZURE_FUNCTIONS_ENVIRONMENT", raising=False)
    authorizer.configure(environ=func_start_environ(written, {})[1])

    @require_auth(scopes=["Things.Read"])
    def things(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("things")

    token = mint("--scope", "Things.Read")
    request = func.HttpRequest("GET", "/api/things", headers={"Authorization": f"Bearer {token}"}, body=b"")
    assert things(request).status_code == 200

    mine = written.read_text().replace('"python"', '"python", "MY_SECRET": "kept"')
    written.write_text(mine)
    capsys.readouterr()
    assert main(["local-settings", "--client-id", OTHER_API]) == 1
    assert written.read_text() == mine
    assert "left as it is" in capsys.readouterr().out


def test_dot_default_is_refused_for_an_api_whose_scopes_the_issuer_does_not_know(
    adopter: tuple[Path, LocalEntraIssuer],
) -> None:
    folder, _ = adopter
    write_settings(folder, ENTRA_CLIENT_ID=THEIR_API, ENTRA_TENANT_ID=THEIR_TENANT)
    # It once answered the sample's own scopes (Orders.Read Orders.Write) for any API's .default.
    with pytest.raises(ValueError, match=r"does not know the delegated scopes of API .*name them"):
        mint("--scope", ".default")


def test_local_settings_reads_nothing_of_a_file_that_exists_and_names_a_folder_it_cannot_write(
    adopter: tuple[Path, LocalEntraIssuer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = adopter
    encrypted = '{"IsEncrypted": true, "Values": {"ENTRA_CLIENT_ID": "a1b2..."}}'
    (folder / "local.settings.json").write_text(encrypted)
    assert main(["local-settings"]) == 1
    assert (folder / "local.settings.json").read_text() == encrypted
    assert "left as it is" in capsys.readouterr().out
    assert main(["local-settings", "--folder", str(tmp_path / "no-such-app")]) == 2
    assert "cannot write" in capsys.readouterr().out


def test_the_fixture_plays_the_development_managed_identity_the_apps_settings_name(
    adopter: tuple[Path, LocalEntraIssuer], monkeypatch: pytest.MonkeyPatch
) -> None:
    from authorizer.devtools._entra_testing import Entra

    folder, issuer = adopter
    write_settings(
        folder,
        ENTRA_CLIENT_ID=THEIR_API,
        ENTRA_TENANT_ID=THEIR_TENANT,
        ENTRA_CLIENT_CREDENTIAL="managed_identity",
        IDENTITY_ENDPOINT="https://127.0.0.1:7443/_dev/managed-identity",
        IDENTITY_HEADER="the-users-own-issuers-secret",
        ENTRA_ALLOW_GUESTS="true",
    )
    # As func start: a non-empty variable of the environment wins over the file.
    monkeypatch.setenv("ENTRA_ALLOW_GUESTS", "false")
    testing = Entra.begin(issuer, folder=folder)
    try:
        state = issuer.started_state()
        assert testing.environ["IDENTITY_ENDPOINT"] == state.identity_endpoint
        assert testing.environ["IDENTITY_HEADER"] == state.identity_header
        assert testing.environ["ENTRA_ALLOW_GUESTS"] == "false"
    finally:
        testing.end()
