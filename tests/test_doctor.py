"""`python -m authorizer doctor`: a clear finding and a concrete fix for each broken setting."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

import authorizer
from authorizer._doctor import command as doctor
from authorizer.devtools._issuer import LocalEntraIssuer
from tests.conftest import VAULT_SECRET, vault_environ
from tests.support.entra import HOME_TENANT, PARTNER_TENANT
from tests.support.issuer import Fault, LocalIssuer, auth_environ, status
from tests.support.keyvault import LocalKeyVault, VaultFault
from tests.support.redis_server import LocalRedis, SilentServer

REPO = Path(__file__).resolve().parents[1]

VAULT_APP = """
    import azure.functions as func
    import authorizer

    # No wiring: KEY_VAULT_URL alone turns the vault's list on.
    app = authorizer.FunctionApp()

    @app.route(route="api/me")
    @authorizer.require_auth()
    def me(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("me")
"""
UNPROTECTED_APP = """
    import azure.functions as func
    import authorizer

    app = authorizer.FunctionApp()

    @app.route(route="api/open")
    def forgotten(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("open")
"""


@pytest.fixture(autouse=True)
def restore_wiring() -> Iterator[None]:
    yield
    authorizer.configure(environ=None, clock=None, tenant_policy=None)


def checkup(environ: dict[str, str], app: str = "function_app") -> tuple[int, str]:
    output = io.StringIO()
    code = doctor.report(doctor.diagnose(environ, app), output)
    return code, output.getvalue()


def doctor_command(cwd: Path, environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m authorizer doctor` run in ``cwd``, with this repository importable."""
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "authorizer", "doctor", *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**environment, "PYTHONPATH": str(REPO)},
    )


def environment_without(names: Iterable[str]) -> dict[str, str]:
    """This process's environment less ``names``: settings a test puts only in local.settings.json."""
    left_out = set(names)
    return {name: value for name, value in os.environ.items() if name not in left_out}


def finding(text: str, title: str) -> str:
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if f"] {title}:" in line)
    following = lines[index + 1] if index + 1 < len(lines) and "fix:" in lines[index + 1] else ""
    return lines[index] + "\n" + following


def test_a_healthy_setup_passes(issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, text = checkup(auth_environ(issuer, PROTECTED_RESOURCE_URL="https://orders.contoso.example"))
    assert code == 0, text
    for title in ("settings", "app", "metadata (v2.0)", "metadata (v1.0)", "signing keys", "allowed tenants"):
        assert "[  ok]" in finding(text, title), title
    assert "0 problems found" in text


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("ENTRA_TENANT_ID", "", "az account show --query tenantId"),
        ("ENTRA_CLIENT_ID", "not-a-guid", "az ad app list"),
        (
            "ENTRA_CLIENT_ID",
            "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/c/)",
            "Key Vault Secrets User",
        ),
        ("ENTRA_INSTANCE", "http://login.microsoftonline.com", "https://login.microsoftonline.us"),
        ("AZURE_FUNCTIONS_ENVIRONMENT", "Production", "AZURE_FUNCTIONS_ENVIRONMENT=Development"),
        ("ENTRA_ALLOWED_TENANTS", "contoso.onmicrosoft.com", "tenant GUIDs"),
    ],
)
def test_each_broken_setting_fails_naming_it_with_a_fix(
    setting: str, value: str, expected: str, issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    code, text = checkup(auth_environ(issuer, **{setting: value}))
    assert code == 1
    line = finding(text, "settings")
    assert "[FAIL]" in line
    assert (setting in line) or (setting == "AZURE_FUNCTIONS_ENVIRONMENT" and "ENTRA_INSTANCE" in line)
    assert expected in line


@pytest.mark.parametrize(
    ("kind", "fault", "title"),
    [
        ("metadata-v2", status(404), "metadata (v2.0)"),
        ("metadata-v2", Fault(body=b"<html>sign in</html>", content_type="text/html"), "metadata (v2.0)"),
        ("jwks", status(500), "signing keys"),
        ("jwks", Fault(body=b'{"keys": []}'), "signing keys"),
    ],
)
def test_discovery_and_key_failures_are_found(
    kind: str, fault: Fault, title: str, issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    issuer.fault(kind, fault)
    code, text = checkup(auth_environ(issuer))
    assert code == 1
    line = finding(text, title)
    assert "[FAIL]" in line and "fix:" in line


def test_an_instance_that_serves_no_metadata_fails(issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    issuer.stop()
    code, text = checkup(auth_environ(issuer))
    assert code == 1
    assert "ENTRA_INSTANCE" in finding(text, "metadata (v2.0)")


def test_metadata_of_another_tenant_is_flagged(issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    other = issuer.document("metadata-v2", PARTNER_TENANT)
    issuer.fault("metadata-v2", Fault(body=json.dumps(other).encode()))
    _, text = checkup(auth_environ(issuer))
    assert "[warn]" in finding(text, "issuer (v2.0)")
    assert f"does not name tenant {HOME_TENANT}" in text


def test_an_unprotected_function_fails_the_app_check(
    issuer: LocalIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "unprotected_app.py").write_text(textwrap.dedent(UNPROTECTED_APP))
    monkeypatch.chdir(tmp_path)
    code, text = checkup(auth_environ(issuer), "unprotected_app")
    assert code == 1
    line = finding(text, "app")
    assert "'forgotten'" in line and "@require_auth" in line


@pytest.mark.parametrize(
    ("fault", "secret", "expected"),
    [
        (None, json.dumps([PARTNER_TENANT]), "1 tenants in the Key Vault secret"),
        (VaultFault(status=403), None, "Key Vault Secrets User"),
        (VaultFault(status=404), None, "az keyvault secret set"),
        (None, "contoso, fabrikam", "must hold tenant GUIDs"),
    ],
    ids=["readable", "forbidden", "missing", "malformed"],
)
def test_the_key_vault_secret_is_read_once_with_the_real_sdk(
    fault: VaultFault | None,
    secret: str | None,
    expected: str,
    issuer: LocalIssuer,
    vault: LocalKeyVault,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "vault_app.py").write_text(textwrap.dedent(VAULT_APP))
    monkeypatch.chdir(tmp_path)
    if secret is not None:
        vault.set_secret(VAULT_SECRET, secret)
    vault.set_fault(fault)
    code, text = checkup(auth_environ(issuer, **vault_environ(vault), KEY_VAULT_TIMEOUT_SECONDS="2"), "vault_app")
    assert expected in finding(text, "allowed tenants")
    assert code == (0 if fault is None and secret and secret.startswith("[") else 1)


def test_the_command_line_runs_as_a_user_would(issuer: LocalIssuer, tmp_path: Path) -> None:
    # Run outside the repository, so that a developer's own local.settings.json plays no part.
    environment = {**os.environ, **auth_environ(issuer)}
    good = doctor_command(tmp_path, environment)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.startswith("Entra authorizer doctor")
    assert "local settings" not in good.stdout
    environment["ENTRA_CLIENT_ID"] = ""
    broken = doctor_command(tmp_path, environment)
    assert broken.returncode == 1
    assert "ENTRA_CLIENT_ID: is required" in broken.stdout


def test_the_command_line_applies_local_settings_as_func_start_does(issuer: LocalIssuer, tmp_path: Path) -> None:
    settings = auth_environ(issuer)
    (tmp_path / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": settings}))
    bare = environment_without(settings)
    found = doctor_command(tmp_path, bare)
    assert found.returncode == 0, found.stdout + found.stderr
    assert f"[  ok] local settings: {len(settings)} values from local.settings.json" in found.stdout
    # An empty variable does not beat the file (Core Tools overrides only a non-empty one).
    emptied = doctor_command(tmp_path, {**bare, "ENTRA_CLIENT_ID": ""})
    assert emptied.returncode == 0, emptied.stdout
    missing = doctor_command(tmp_path, bare, "--settings-file", "elsewhere.json")
    assert missing.returncode == 1
    assert "[FAIL] local settings: elsewhere.json cannot be read" in missing.stdout


def test_the_process_gets_local_settings_as_environment_variables_as_under_func_start(
    issuer: LocalIssuer, vault: LocalKeyVault, tmp_path: Path
) -> None:
    # The managed identity endpoint is only in the file: the Azure SDK's credential reads it from
    # the process environment, not from our settings.
    moved = {"IDENTITY_ENDPOINT", "IDENTITY_HEADER"}
    values = {
        **auth_environ(issuer, **vault_environ(vault), KEY_VAULT_TIMEOUT_SECONDS="2"),
        **{name: os.environ[name] for name in moved},
    }
    (tmp_path / "vault_app.py").write_text(textwrap.dedent(VAULT_APP))
    (tmp_path / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    found = doctor_command(tmp_path, environment_without(values), "--app", "vault_app")
    assert found.returncode == 0, found.stdout + found.stderr
    assert "1 tenants in the Key Vault secret" in found.stdout


def test_the_environment_wins_over_local_settings_only_where_it_is_not_empty(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    values = {"ENTRA_TENANT_ID": "from-file", "ENTRA_CLIENT_ID": "from-file", "ENTRA_CLOCK_SKEW_SECONDS": 120}
    path.write_text(json.dumps({"IsEncrypted": False, "Values": {**values, "UNSET": None}}))
    environ = {"ENTRA_TENANT_ID": "", "ENTRA_CLIENT_ID": "exported-secret-value", "PATH": "/bin"}
    checks, merged = doctor.local_settings(str(path), environ)
    assert merged == {
        "ENTRA_TENANT_ID": "from-file",
        "ENTRA_CLIENT_ID": "exported-secret-value",
        # Core Tools turns a number into its text.
        "ENTRA_CLOCK_SKEW_SECONDS": "120",
        "PATH": "/bin",
        # Core Tools runs the app in Development, and so does the doctor beside the file.
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
    }
    [check] = checks
    assert (check.status, check.title) == ("warn", "local settings")
    assert check.detail.endswith("the environment overrides ENTRA_CLIENT_ID")
    # Names only, never a value.
    assert "from-file" not in check.detail + check.fix
    assert "exported-secret-value" not in check.detail + check.fix


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"IsEncrypted": false, "Values": {', "is not JSON (line 1"),
        ('{"Values": {"ENTRA_TENANT_ID": "x"}}', "IsEncrypted must be false"),
        ('{"IsEncrypted": true, "Values": {"ENTRA_TENANT_ID": "AQAAANCMnd8="}}', "IsEncrypted must be false"),
        ('["IsEncrypted", false]', "must hold a JSON object"),
        ('{"IsEncrypted": false, "Values": ["ENTRA_TENANT_ID"]}', "Values must be a JSON object"),
        (
            '{"IsEncrypted": false, "Values": {"ENTRA_AUDIENCES": ["api://a"]}}',
            "Values.ENTRA_AUDIENCES must be a string",
        ),
    ],
)
def test_a_local_settings_file_func_start_cannot_use_fails_with_its_fix(
    content: str, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(content)
    checks, environ = doctor.local_settings(str(path), {"PATH": "/bin"})
    [check] = checks
    assert check.status == "FAIL"
    assert problem in check.detail
    assert "local.settings.example.json" in check.fix
    assert environ == {"PATH": "/bin"}


def test_without_a_local_settings_file_the_environment_is_taken_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert doctor.local_settings(None, {"ENTRA_TENANT_ID": "t"}) == ([], {"ENTRA_TENANT_ID": "t"})
    (tmp_path / "local.settings.json").write_text('{"IsEncrypted": false, "Values": {"ENTRA_TENANT_ID": "f"}}')
    checks, environ = doctor.local_settings(None, {})
    assert environ == {"ENTRA_TENANT_ID": "f", "AZURE_FUNCTIONS_ENVIRONMENT": "Development"}
    assert [check.status for check in checks] == ["ok"]


KEYED_APP = """
    import azure.functions as func
    import authorizer

    app = func.FunctionApp()

    @app.route(route="orders")
    @authorizer.require_auth(scopes=["Orders.Read"])
    def orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")
"""
PREFIXED_METADATA_APP = """
    import authorizer

    app = authorizer.FunctionApp()
    app.serve_protected_resource_metadata()
"""


def test_a_protected_route_behind_a_function_key_fails_the_app_check(
    issuer: LocalIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "keyed_app.py").write_text(textwrap.dedent(KEYED_APP))
    monkeypatch.chdir(tmp_path)
    code, text = checkup(auth_environ(issuer), "keyed_app")
    assert code == 1
    line = finding(text, "app")
    assert "[FAIL]" in line and "'orders'" in line and "authorizer.FunctionApp()" in line


def test_host_json_is_checked_against_the_metadata_document(
    issuer: LocalIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "prefixed_app.py").write_text(textwrap.dedent(PREFIXED_METADATA_APP))
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0"}))
    monkeypatch.chdir(tmp_path)
    code, text = checkup(auth_environ(issuer), "prefixed_app")
    assert code == 1
    assert '"routePrefix": ""' in finding(text, "app")
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}))
    code, text = checkup(auth_environ(issuer), "prefixed_app")
    assert code == 0, text
    assert "no route prefix" in finding(text, "host.json")


def test_with_two_settings_missing_it_names_both(issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    environ = {**auth_environ(issuer), "ENTRA_TENANT_ID": "", "ENTRA_CLIENT_ID": "", "ENTRA_CLOCK_SKEW_SECONDS": "x"}
    code, text = checkup(environ)
    assert code == 1
    failed = [line for line in text.splitlines() if "[FAIL] settings:" in line]
    # Once only the first: a user fixed one, restarted, and met the next.
    assert len(failed) == 3, text
    assert "ENTRA_TENANT_ID" in failed[0] and "ENTRA_CLIENT_ID" in failed[1] and "ENTRA_CLOCK_SKEW_SECONDS" in failed[2]
    assert "3 problems found" in text


LOGGING_APP = """
    import logging

    import azure.functions as func
    import authorizer

    logging.getLogger("orders").warning("connecting to the orders database")
    app = authorizer.FunctionApp()

    @app.route(route="api/me")
    @authorizer.require_auth()
    def me(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("me")
"""
BROKEN_APP = """
    import azure.functions as func
    import authorizer

    app = authorizer.FunctionApp()
    settings = {}["missing"]
"""


def test_beside_the_local_issuers_settings_the_doctor_passes_with_nothing_exported(tmp_path: Path) -> None:
    issuer = LocalEntraIssuer(tmp_path / "dev-data").start()
    try:
        app = tmp_path / "app"
        app.mkdir()
        (app / "function_app.py").write_text(textwrap.dedent(LOGGING_APP))
        (app / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}))
        # Exactly what `python -m authorizer issuer` prints: nothing says Development, func start does.
        values = issuer.started_state().settings()
        (app / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": values}))
        environment = environment_without([*values, "AZURE_FUNCTIONS_ENVIRONMENT"])
        found = doctor_command(app, environment)
    finally:
        issuer.stop()
    assert found.returncode == 0, found.stdout + found.stderr
    for title in ("settings", "app", "metadata (v2.0)", "metadata (v1.0)", "signing keys"):
        assert "[  ok]" in finding(found.stdout, title), title
    # The app's own log line comes after the checklist, marked as such, not in the middle of it.
    checklist, _, logs = found.stdout.partition("Log records written during the checks:")
    assert "0 problems found" in checklist and "connecting to the orders database" not in checklist
    assert "| WARNING orders: connecting to the orders database" in logs


def test_an_app_that_does_not_load_is_shown_where_with_a_fix_needing_no_core_tools(
    issuer: LocalIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_app.py").write_text(textwrap.dedent(BROKEN_APP))
    monkeypatch.chdir(tmp_path)
    code, text = checkup(auth_environ(issuer), "broken_app")
    assert code == 1
    line = finding(text, "app")
    assert "KeyError" in line and "broken_app.py:6" in line
    assert "python -c 'import broken_app'" in line and "func start" not in line


def test_the_rate_limit_store_is_read_and_pinged_within_its_deadline(
    issuer: LocalIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    redis = LocalRedis(tmp_path).start()
    silent = SilentServer().start()
    try:
        code, text = checkup(auth_environ(issuer, RATE_LIMIT_STORAGE_URL=redis.url))
        assert code == 0, text
        assert f"[  ok] rate limit store: redis://127.0.0.1:{redis.port} answers" in text
        code, text = checkup(auth_environ(issuer, RATE_LIMIT_STORAGE_URL=silent.url))
        assert code == 1
        line = finding(text, "rate limit store")
        assert "[FAIL]" in line and "did not answer a PING within 50 ms" in line and "fix:" in line
    finally:
        silent.stop()
        redis.stop()
    code, text = checkup(auth_environ(issuer, RATE_LIMIT_STORAGE_URL="rediss://:k3y/with+slash=@cache.example:6380"))
    line = finding(text, "rate limit store")
    assert code == 1 and "RATE_LIMIT_STORAGE_URL" in line and "RATE_LIMIT_REDIS_PASSWORD" in line
    assert "k3y" not in text


def test_the_downstream_chain_is_checked_once_a_setting_says_the_app_calls_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, issuer: LocalIssuer
) -> None:
    monkeypatch.chdir(REPO)
    entra = LocalEntraIssuer(tmp_path / "issuer").start()
    try:
        state = entra.started_state()
        local = {**state.settings(), "AZURE_FUNCTIONS_ENVIRONMENT": "Development"}
        # The identity endpoint reaches the process as the platform's variables (func start's, here).
        monkeypatch.setenv("IDENTITY_ENDPOINT", state.identity_endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", state.identity_header)
        code, text = checkup(local)
        assert code == 0, text
        assert "[  ok] downstream credential: managed_identity: Entra answered a token request" in text
        # No managed identity enabled: the fix says how.
        monkeypatch.delenv("IDENTITY_ENDPOINT")
        code, text = checkup(local)
        line = finding(text, "downstream credential")
        assert code == 1 and "[FAIL]" in line and "az functionapp identity assign" in line
        # A secret Entra refuses: named, never shown; outside Development a secret is warned about too.
        secret = {**local, "ENTRA_CLIENT_CREDENTIAL": "secret", "ENTRA_CLIENT_SECRET": "not-the-secret"}
        code, text = checkup(secret)
        assert code == 1 and "not-the-secret" not in text
        assert "invalid_client" in finding(text, "downstream credential")
        entra.registrations.add_secret(state.api_client_id, "not-the-secret")
        code, text = checkup(secret)
        assert code == 0, text
        assert "[warn] downstream credential" not in text
    finally:
        entra.stop()
    # Nothing says the app calls downstream APIs: nothing to check.
    code, text = checkup(auth_environ(issuer))
    assert "downstream credential" not in text


def test_a_client_secret_outside_development_is_warned_about() -> None:
    from authorizer._doctor.downstream import downstream_checks
    from authorizer._settings.app_settings import AuthSettings

    environ = {
        "ENTRA_TENANT_ID": HOME_TENANT,
        "ENTRA_CLIENT_ID": "aaaaaaaa-0000-4000-8000-00000000a91e",
        "ENTRA_CLIENT_CREDENTIAL": "secret",
        "ENTRA_CLIENT_SECRET": "a-secret",
    }
    # The first finding, before any request is made: a secret works, and is warned about in Production.
    first = next(downstream_checks(AuthSettings.from_environ(environ), environ))
    assert first.status == "warn" and "managed_identity" in first.fix and "a-secret" not in first.detail
