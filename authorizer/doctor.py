"""`python -m authorizer doctor`: what is wrong with this deployment, and how to fix it.

It reads the settings as the app does (locally, with local.settings.json applied as `func start`
applies it), imports the app as the worker does, fetches what the validator would fetch, and prints
a checklist. Exit code 1 when anything failed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import azure.functions as func

from . import runtime
from .app import FunctionKeyRouteError, verify_protected
from .discovery import parse_metadata
from .errors import ConfigurationError
from .fetch import FetchError, HttpJsonFetcher
from .host_json import FILE_NAME as HOST_JSON
from .host_json import route_prefix
from .keys import parse_jwks
from .local_settings import FILE_NAME, LocalSettings, LocalSettingsError
from .settings import AuthSettings
from .tenants import RefreshingTenantPolicy
from .validation import expected_issuer

SETTING_FIXES = {
    "ENTRA_TENANT_ID": "Set it to your tenant's GUID: az account show --query tenantId -o tsv",
    "ENTRA_CLIENT_ID": (
        "Set it to the API registration's client id: az ad app list --display-name <api> --query [].appId -o tsv"
    ),
    "ENTRA_INSTANCE": (
        "Use your cloud's authority host: https://login.microsoftonline.com (public), "
        "https://login.microsoftonline.us (US Government), https://login.partner.microsoftonline.cn (China), "
        "https://<tenant>.ciamlogin.com (External ID). A local issuer needs AZURE_FUNCTIONS_ENVIRONMENT=Development."
    ),
    "ENTRA_ALLOWED_TENANTS": "List tenant GUIDs separated by commas.",
    "PROTECTED_RESOURCE_URL": "Set it to the API's public https origin, e.g. https://<app>.azurewebsites.net",
    "KEY_VAULT_URL": "Install the Key Vault extra where the app's requirements are installed: "
    "pip install 'entra-functions-authorizer[keyvault]' (in requirements.txt: entra-functions-authorizer[keyvault])",
    "routePrefix": 'In host.json set "extensions": {"http": {"routePrefix": ""}} and write "api/..." in your routes, '
    "or drop serve_protected_resource_metadata().",
}
FUNCTION_KEY_FIX = (
    "Use authorizer.FunctionApp() (anonymous by default) and remove auth_level from the route: with a "
    "function key in front, a browser app's call is refused before its token is checked."
)
LOCAL_SETTINGS_FIX = (
    'Start from local.settings.example.json: a JSON object with "IsEncrypted": false and string Values '
    "(`func settings decrypt` undoes `func settings encrypt`)."
)
REFERENCE_FIX = (
    "The platform could not resolve this Key Vault reference: enable the app's managed identity, grant it "
    "'Key Vault Secrets User' on the vault, and check the reference's vault and secret names."
)


@dataclass(frozen=True)
class Check:
    status: str  # "ok", "warn" or "FAIL"
    title: str
    detail: str
    fix: str = ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app", default="function_app", help="the module holding the FunctionApp (default: %(default)s)"
    )
    parser.add_argument(
        "--settings-file",
        help=f"Values to apply as `func start` does (default: ./{FILE_NAME} when there is one)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the checklist; 0 when nothing failed, 1 otherwise."""
    checks, environ = local_settings(args.settings_file, os.environ)
    if all(check.status != "FAIL" for check in checks):
        # The app's process gets them as environment variables, as under func start: the Azure
        # SDK's credentials read AZURE_CLIENT_ID and its friends from there.
        os.environ.update(environ)
        checks += diagnose(environ, args.app)
    return report(checks, sys.stdout)


def local_settings(path: str | None, environ: Mapping[str, str]) -> tuple[list[Check], dict[str, str]]:
    """The environment `func start` would give the app, and a check saying where it came from.

    Without a path, ./local.settings.json is read when there is one (there is none in Azure).
    """
    if path is None:
        if not Path(FILE_NAME).is_file():
            return [], dict(environ)
        path = FILE_NAME
    try:
        settings = LocalSettings.read(Path(path))
    except LocalSettingsError as error:
        return [Check("FAIL", "local settings", str(error), LOCAL_SETTINGS_FIX)], dict(environ)
    detail = f"{len(settings.values)} values from {path}"
    overridden = settings.overridden_by(environ)
    check = Check("ok", "local settings", detail)
    if overridden:
        # func start warns of these too: a stale exported variable silently beats the file.
        detail += f"; the environment overrides {', '.join(overridden)}"
        fix = "Unset them in this shell if the file is meant to win: func start skips them too."
        check = Check("warn", "local settings", detail, fix)
    return [check], settings.under(environ)


def report(checks: list[Check], out: TextIO) -> int:
    out.write("Entra authorizer doctor\n")
    for check in checks:
        out.write(f"  [{check.status:>4}] {check.title}: {check.detail}\n")
        if check.fix:
            out.write(f"         fix: {check.fix}\n")
    failures = sum(check.status == "FAIL" for check in checks)
    out.write(f"{failures} problem{'s' if failures != 1 else ''} found\n")
    return 1 if failures else 0


def diagnose(environ: Mapping[str, str], app_module: str) -> list[Check]:
    """Run every check in order; stop early when nothing further could be checked."""
    runtime.configure(environ=dict(environ))
    checks: list[Check] = []
    for check in _steps(environ, app_module):
        checks.append(check)
        if check.status == "FAIL" and check.title in ("settings", "app"):
            break
    return checks


def _steps(environ: Mapping[str, str], app_module: str) -> Iterator[Check]:
    try:
        settings = AuthSettings.from_environ(environ)
    except ConfigurationError as error:
        yield _setting_failure("settings", error)
        return
    summary = f"tenant {settings.tenant_id}, API {settings.app_id_uri}, instance {settings.instance}"
    yield Check("ok", "settings", summary)
    yield _import_app(app_module)
    yield _routes()
    authenticator = runtime.current().authenticator
    fetch = HttpJsonFetcher(settings.fetch_timeout_seconds)
    issuers: dict[str, str] = {}
    jwks_uri = None
    for version in ("2.0", "1.0"):
        check, metadata = _metadata(settings, authenticator.authority.metadata_urls[version], version, fetch)
        yield check
        if metadata is not None:
            issuers[version] = expected_issuer(metadata[0], settings.tenant_id)
            jwks_uri = jwks_uri or metadata[1]
    if jwks_uri is not None:
        yield _keys(jwks_uri, fetch)
    for version, issuer in issuers.items():
        # Entra issuers name the tenant; a mismatch means another tenant's metadata.
        if settings.tenant_id not in issuer:
            problem = f"{issuer} does not name tenant {settings.tenant_id}"
            yield Check("warn", f"issuer (v{version})", problem, SETTING_FIXES["ENTRA_TENANT_ID"])
    yield _tenants(authenticator.tenants, settings)
    yield from _advice(settings)


def _setting_failure(title: str, error: ConfigurationError) -> Check:
    fix = REFERENCE_FIX if "Key Vault reference" in error.problem else SETTING_FIXES.get(error.setting, "")
    return Check("FAIL", title, str(error), fix)


def _import_app(module_name: str) -> Check:
    sys.path.insert(0, os.getcwd())
    # Indexing twice fails in the SDK: always load the app afresh, as the worker does.
    sys.modules.pop(module_name, None)
    try:
        module = importlib.import_module(module_name)
        apps = [value for value in vars(module).values() if isinstance(value, func.FunctionRegister)]
        if len(apps) != 1:
            problem = f"{module_name} defines {len(apps)} function apps"
            return Check("FAIL", "app", problem, "Define exactly one FunctionApp.")
        functions = apps[0].get_functions()
        # A plain func.FunctionApp indexes without our checks: the doctor runs them for any app.
        verify_protected(functions)
    except ConfigurationError as error:
        return _setting_failure("app", error)
    except FunctionKeyRouteError as error:
        return Check("FAIL", "app", str(error).split(":")[0], FUNCTION_KEY_FIX)
    except TypeError as error:
        # Unprotected functions and decorators in the wrong order surface as TypeErrors at import.
        fix = "Stack @require_auth(...) or @allow_anonymous directly under @app.route."
        return Check("FAIL", "app", str(error).splitlines()[0], fix)
    except Exception as error:  # noqa: BLE001 - any import failure is a finding, not a crash
        problem = f"{module_name} does not load: {type(error).__name__}: {error}"
        return Check("FAIL", "app", problem, "Run `func start` to see the full error.")
    finally:
        sys.path.remove(os.getcwd())
    summary = f"{module_name} indexes {len(functions)} functions, each protected or marked anonymous"
    return Check("ok", "app", summary)


def _routes() -> Check:
    path = Path(HOST_JSON)
    if not path.is_file():
        return Check("warn", "host.json", f"none in {Path.cwd()}", "Run the doctor in the function app's folder.")
    try:
        prefix = route_prefix(path)
    except (OSError, ValueError) as error:
        return Check("FAIL", "host.json", f"cannot be read: {type(error).__name__}", "Make host.json a JSON object.")
    where = f"/{prefix}/<route>" if prefix else "/<route> (no route prefix)"
    return Check("ok", "host.json", f"HTTP functions answer at {where}")


def _metadata(
    settings: AuthSettings, url: str, version: str, fetch: Callable[[str], dict[str, object]]
) -> tuple[Check, tuple[str, str] | None]:
    title = f"metadata (v{version})"
    try:
        metadata = parse_metadata(fetch(url), url)
    except FetchError as error:
        status = "FAIL" if version in settings.accepted_versions else "warn"
        fix = f"Check ENTRA_TENANT_ID and ENTRA_INSTANCE, and that this host may reach {settings.instance} over HTTPS."
        return Check(status, title, str(error), fix), None
    return Check("ok", title, f"issuer {metadata.issuer}"), (metadata.issuer, metadata.jwks_uri)


def _keys(jwks_uri: str, fetch: Callable[[str], dict[str, object]]) -> Check:
    try:
        keys = parse_jwks(fetch(jwks_uri))
    except FetchError as error:
        fix = f"The metadata names {jwks_uri}: check that this host may reach it."
        return Check("FAIL", "signing keys", str(error), fix)
    return Check("ok", "signing keys", f"{len(keys)} RSA signing keys at {jwks_uri}")


def _tenants(tenants: object, settings: AuthSettings) -> Check:
    if not isinstance(tenants, RefreshingTenantPolicy):
        extra = len(settings.allowed_tenants)
        listed = f" and {extra} from ENTRA_ALLOWED_TENANTS" if extra else " only"
        return Check("ok", "allowed tenants", f"home tenant{listed}")
    try:
        allowed = tenants.fetched.load_once()
    except FetchError as error:
        return Check("FAIL", "allowed tenants", str(error), _vault_fix(str(error)))
    except Exception as error:  # noqa: BLE001 - a credential or SDK failure is a finding
        return Check("FAIL", "allowed tenants", f"{type(error).__name__}", _vault_fix(type(error).__name__))
    return Check("ok", "allowed tenants", f"{len(allowed)} tenants in the Key Vault secret, plus the home tenant")


def _vault_fix(problem: str) -> str:
    if "401" in problem or "403" in problem:
        return (
            "Grant the app's managed identity 'Key Vault Secrets User' on the vault: az role assignment create "
            "--assignee-object-id <principal id> --role 'Key Vault Secrets User' --scope <vault id>"
        )
    if "no secret" in problem:
        return "Create it: az keyvault secret set --vault-name <vault> --name <secret> --value '[\"<tenant guid>\"]'"
    if "malformed" in problem:
        return "The secret must hold tenant GUIDs: a JSON array, or separated by commas, spaces or newlines."
    if "Credential" in problem or "Authentication" in problem:
        return "In Azure, enable the function app's managed identity; locally, run az login."
    return "Check KEY_VAULT_URL and that this host may reach the vault (firewall, private endpoint)."


def _advice(settings: AuthSettings) -> Iterator[Check]:
    if settings.uses_loopback_instance:
        yield Check("warn", "issuer", "a local development issuer; tokens from it are accepted only in Development")
    if settings.resource_url is None:
        yield Check(
            "warn",
            "resource metadata",
            "no PROTECTED_RESOURCE_URL or WEBSITE_HOSTNAME: 401 challenges carry no resource_metadata",
            SETTING_FIXES["PROTECTED_RESOURCE_URL"],
        )
    else:
        yield Check("ok", "resource metadata", f"{settings.resource_url}/.well-known/oauth-protected-resource")
