"""One rule for Development, everywhere: the app, the doctor and the dev tools read it alike.

Development means AZURE_FUNCTIONS_ENVIRONMENT says Development, in the environment the app gets:
under `func start` (a folder with local.settings.json) Core Tools sets it unless something else
does; anywhere else, unset means what it means in Azure, Production.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import authorizer
from authorizer import ConfigurationError
from authorizer._doctor import command as doctor
from authorizer._settings.app_settings import AuthSettings
from authorizer.devtools import require_development
from tests.support.entra import CLIENT_ID, HOME_TENANT

REPO = Path(__file__).resolve().parents[1]
VARIABLE = "AZURE_FUNCTIONS_ENVIRONMENT"
# A local issuer's settings: accepted only in Development.
LOCAL_ISSUER = {
    "ENTRA_TENANT_ID": HOME_TENANT,
    "ENTRA_CLIENT_ID": CLIENT_ID,
    "ENTRA_INSTANCE": "https://127.0.0.1:7443",
}


@pytest.fixture(autouse=True)
def restore_wiring() -> Iterator[None]:
    yield
    authorizer.configure(environ=None)


def without_variable() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != VARIABLE}


def token_command(cwd: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "authorizer", "token", "--scope", "Orders.Read", "--state", str(cwd / "none.json")],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**environment, "PYTHONPATH": str(REPO)},
        timeout=60,
    )


def test_the_dev_tools_refuse_to_run_when_nothing_says_development(tmp_path: Path) -> None:
    # Unset, in a folder that is no function app: what Azure means by unset, Production.
    refused = token_command(tmp_path, without_variable())
    assert refused.returncode == 2
    assert VARIABLE in refused.stdout and "local.settings.json" in refused.stdout
    # Beside a local.settings.json, as under func start: Development, and the command goes on (to find no issuer).
    (tmp_path / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": {}}))
    allowed = token_command(tmp_path, without_variable())
    assert allowed.returncode == 2 and "no local issuer has run" in allowed.stdout


@pytest.mark.parametrize("variable", [None, "Development", "Production", "development"])
@pytest.mark.parametrize("local_settings", [False, True])
def test_the_app_the_doctor_and_the_dev_tools_agree_on_development(
    variable: str | None, local_settings: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    if variable is not None:
        monkeypatch.setenv(VARIABLE, variable)
    if local_settings:
        (tmp_path / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": LOCAL_ISSUER}))
    else:
        for name, value in LOCAL_ISSUER.items():
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    environment = dict(os.environ)
    # The app, given the environment func start (or the platform) gives it.
    checks, app_environment = doctor.local_settings(None, environment)
    try:
        AuthSettings.from_environ(app_environment)
        app = True
    except ConfigurationError:
        app = False
    # The doctor's verdict on the same settings.
    output = io.StringIO()
    doctor.report(checks + doctor.diagnose(app_environment, "no_such_app"), output)
    doctor_passes_settings = "[  ok] settings:" in output.getvalue()
    try:
        require_development()
        tools = True
    except ConfigurationError:
        tools = False
    assert app == doctor_passes_settings == tools, output.getvalue()
    assert app == (variable == "Development" or (variable is None and local_settings))
