"""The pytest plugin an adopter gets with the package: docs/testing.md's own files, run as they are.

The app and the test file are read out of docs/testing.md, so the page cannot drift from what works.
pytest runs in a folder of its own, as an adopter runs it, with the plugin as the package registers it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.adopter import DOCUMENTED_TESTS, write_documented_app

REPO = Path(__file__).resolve().parents[1]
THEIR_API = "5e1f0c3a-9b7d-4c2e-8a6f-0123456789ab"
THEIR_TENANT = "7a0b1c2d-3e4f-4a5b-9c6d-7e8f90a1b2c3"
PARTNER = "22222222-2222-4222-8222-222222222222"

# Beyond the page: the marker, a change of settings mid-test, guests, v1, groups and the tenant policy.
MORE_TESTS = f"""
import json

import azure.functions as func
import pytest

from authorizer import require_auth

from function_app import list_orders


@require_auth(scopes=["Orders.Read"], groups=["{PARTNER}"])
def in_group(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("ok")


def error_of(response):
    return json.loads(response.get_body())["error"] if response.status_code != 200 else None


def test_the_ids_come_from_local_settings(entra):
    assert (entra.client_id, entra.tenant_id) == ("{THEIR_API}", "{THEIR_TENANT}")


def test_a_v1_token_a_guest_and_a_group(entra):
    assert list_orders(entra.request(entra.token(["Orders.Read"], version=1))).status_code == 200
    assert error_of(list_orders(entra.request(entra.token(["Orders.Read"], guest=True)))) == "guest_not_allowed"
    assert in_group(entra.request(entra.token(["Orders.Read"], groups=["{PARTNER}"]))).status_code == 200
    assert error_of(in_group(entra.request(entra.token(["Orders.Read"])))) == "group_required"


def test_another_tenant_is_refused_until_the_settings_allow_it(entra):
    token = entra.token(["Orders.Read"], tenant="{PARTNER}")
    assert error_of(list_orders(entra.request(token))) == "tenant_not_allowed"
    entra.configure(ENTRA_ALLOWED_TENANTS="{PARTNER}")
    assert list_orders(entra.request(token)).status_code == 200


@pytest.mark.entra(ENTRA_ALLOWED_CLIENT_APPS="99999999-0000-4000-8000-000000000001")
def test_a_marker_sets_app_settings(entra):
    assert error_of(list_orders(entra.request(entra.token(["Orders.Read"])))) == "client_not_allowed"


def test_a_token_carries_only_what_is_named(entra):
    with pytest.raises(ValueError, match="not both"):
        entra.token(["Orders.Read"], app_roles=["Orders.Export.All"])
    with pytest.raises(ValueError, match="at least one"):
        entra.token()
"""


def adopters_app(folder: Path) -> None:
    """docs/testing.md's function_app.py and tests/test_orders.py, and a local.settings.json of the app's."""
    write_documented_app(folder)
    (folder / "tests" / "test_more.py").write_text(textwrap.dedent(MORE_TESTS))
    values = {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "ENTRA_TENANT_ID": THEIR_TENANT,
        "ENTRA_CLIENT_ID": THEIR_API,
        # Where the app points outside its tests: the fixture points it at its own issuer.
        "ENTRA_INSTANCE": "https://login.microsoftonline.com",
    }
    (folder / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": values}))


def test_the_documented_test_file_passes_against_the_documented_app(tmp_path: Path) -> None:
    adopters_app(tmp_path)
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(("ENTRA_", "AZURE_FUNCTIONS_"))
    }
    # This checkout's library, and the plugin as the package's entry point names it.
    environment["PYTHONPATH"] = str(REPO)
    completed = subprocess.run(  # noqa: S603 - our own interpreter and pytest
        [sys.executable, "-m", "pytest", "-p", "authorizer.devtools._pytest_plugin", "-q", "-W", "error"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"{DOCUMENTED_TESTS + 5} passed" in completed.stdout


def test_the_package_registers_the_plugin() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"entra": "authorizer.devtools._pytest_plugin"}
    assert any(requirement.startswith("pytest") for requirement in project["optional-dependencies"]["dev"])


def test_a_settings_file_the_plugin_cannot_read_stops_only_the_tests_that_ask_for_the_fixture(tmp_path: Path) -> None:
    # Encrypted by `func settings encrypt`: the plugin, loaded in every run, must not stop this one.
    (tmp_path / "local.settings.json").write_text('{"IsEncrypted": true, "Values": {"ENTRA_CLIENT_ID": "x"}}')
    (tmp_path / "test_other.py").write_text(
        "def test_unrelated():\n    assert True\n\n\ndef test_uses_it(entra):\n    pass\n"
    )
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(("ENTRA_", "AZURE_FUNCTIONS_"))
    }
    environment["PYTHONPATH"] = str(REPO)
    completed = subprocess.run(  # noqa: S603 - our own interpreter and pytest
        [sys.executable, "-m", "pytest", "-p", "authorizer.devtools._pytest_plugin", "-q", "-rE"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "1 passed, 1 error" in completed.stdout, completed.stdout + completed.stderr
    assert "IsEncrypted must be false" in completed.stdout
