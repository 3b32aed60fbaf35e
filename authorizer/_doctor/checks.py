"""The doctor's checks, one function each: what is wrong, and the fix a user can apply right away."""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import azure.functions as func

from .._errors import ConfigurationError
from .._functions.app import FunctionApp, FunctionKeyRouteError, verify_protected
from .._functions.host_json import FILE_NAME as HOST_JSON
from .._functions.host_json import ROOT_ROUTES_FIX, route_prefix
from .._policy.rate_counter import CallerRateLimiter
from .._policy.rate_limits import RateLimitSettings
from .._remote.fetch import FetchError
from .._remote.jwks import parse_jwks
from .._remote.key_vault import INSTALL_COMMAND
from .._remote.metadata import parse_metadata
from .._remote.tenants import RefreshingTenantPolicy
from .._settings.app_settings import AuthSettings

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
    "KEY_VAULT_URL": "Set it to the vault's URL: https://<name>.vault.azure.net (loopback only in Development).",
    "routePrefix": ROOT_ROUTES_FIX,
    "RATE_LIMIT_STORAGE_URL": (
        "Write it as rediss://<name>.redis.cache.windows.net:6380 and put the access key in "
        "RATE_LIMIT_REDIS_PASSWORD (a Key Vault reference is best)."
    ),
}
LOCAL_SETTINGS_FIX = (
    'Start from local.settings.example.json: a JSON object with "IsEncrypted": false and string Values '
    "(an encrypted file can be read only on the machine that encrypted it: write the values again in plain text)."
)
REFERENCE_FIX = (
    "The platform could not resolve this Key Vault reference: enable the app's managed identity, grant it "
    "'Key Vault Secrets User' on the vault, and check the reference's vault and secret names."
)

INSTALL_FIX = (
    f"Install the Key Vault extra where the app's requirements are installed: {INSTALL_COMMAND} "
    "(in requirements.txt: entra-functions-authorizer[keyvault])"
)


@dataclass(frozen=True)
class Check:
    status: str  # "ok", "warn" or "FAIL"
    title: str
    detail: str
    fix: str = ""


def settings_checks(error: ConfigurationError, title: str = "settings") -> list[Check]:
    """One failed check per problem found: a user fixes them all in one go."""
    return [setting_failure(title, problem) for problem in error.problems]


def setting_failure(title: str, error: ConfigurationError) -> Check:
    if "Key Vault reference" in error.problem:
        fix = REFERENCE_FIX
    elif error.setting == "KEY_VAULT_URL" and INSTALL_COMMAND in error.problem:
        fix = INSTALL_FIX
    else:
        fix = SETTING_FIXES.get(error.setting, "")
    return Check("FAIL", title, f"{error.setting}: {error.problem}", fix)


def import_app(module_name: str) -> list[Check]:
    """Import and index the app as the worker does, with every check of ours; one check per problem."""
    sys.path.insert(0, os.getcwd())
    # Indexing twice fails in the SDK: always load the app afresh, as the worker does.
    sys.modules.pop(module_name, None)
    try:
        module = importlib.import_module(module_name)
        apps = [value for value in vars(module).values() if isinstance(value, func.FunctionRegister)]
        if len(apps) != 1:
            problem = f"{module_name} defines {len(apps)} function apps"
            return [Check("FAIL", "app", problem, "Define exactly one FunctionApp.")]
        functions = apps[0].get_functions()
        # A plain func.FunctionApp indexes without our checks: the doctor runs them for any app.
        verify_protected(functions, authorizer_app=isinstance(apps[0], FunctionApp))
    except ConfigurationError as error:
        return settings_checks(error, "app")
    except FunctionKeyRouteError as error:
        return [Check("FAIL", "app", str(error).split(":")[0], error.fix)]
    except TypeError as error:
        # Unprotected functions and decorators in the wrong order surface as TypeErrors at import.
        fix = "Stack @require_auth(...) or @allow_anonymous directly under @app.route."
        return [Check("FAIL", "app", str(error).splitlines()[0], fix)]
    except Exception as error:  # noqa: BLE001 - any import failure is a finding, not a crash
        problem = f"{module_name} does not load: {type(error).__name__}: {error}"
        return [Check("FAIL", "app", problem, _where(error, module_name))]
    finally:
        sys.path.remove(os.getcwd())
    summary = f"{module_name} indexes {len(functions)} functions, each protected or marked anonymous"
    return [Check("ok", "app", summary)]


def _where(error: Exception, module_name: str) -> str:
    # Where it broke, so that the fix needs no Core Tools: the last line of the app's own code.
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if not frame.filename.startswith(sys.prefix)]
    place = f" (raised at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"Fix the error{place}; `python -c 'import {module_name}'` in this folder shows the whole traceback."


def routes() -> Check:
    path = Path(HOST_JSON)
    if not path.is_file():
        return Check("warn", "host.json", f"none in {Path.cwd()}", "Run the doctor in the function app's folder.")
    try:
        prefix = route_prefix(path)
    except (OSError, ValueError) as error:
        return Check("FAIL", "host.json", f"cannot be read: {type(error).__name__}", "Make host.json a JSON object.")
    where = f"/{prefix}/<route>" if prefix else "/<route> (no route prefix)"
    return Check("ok", "host.json", f"HTTP functions answer at {where}")


def metadata(
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


def keys(jwks_uri: str, fetch: Callable[[str], dict[str, object]]) -> Check:
    try:
        keys = parse_jwks(fetch(jwks_uri))
    except FetchError as error:
        fix = f"The metadata names {jwks_uri}: check that this host may reach it."
        return Check("FAIL", "signing keys", str(error), fix)
    return Check("ok", "signing keys", f"{len(keys)} RSA signing keys at {jwks_uri}")


def tenants(tenants: object, settings: AuthSettings) -> Check:
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


def rate_limit_store(environ: Mapping[str, str]) -> Check | None:
    """The shared rate-limit store: readable settings, and one PING within the store's deadline."""
    try:
        settings = RateLimitSettings.from_environ(environ)
        if settings.storage_url.startswith("memory://"):
            return None
        answered = CallerRateLimiter(settings, time.monotonic).answers()
    except ConfigurationError as error:
        return setting_failure("rate limit store", error)
    where = settings.store_location
    if not answered:
        deadline = f"{settings.timeout_seconds * 1000:.0f} ms"
        fix = (
            f"Check that this host may reach {where} (firewall, private endpoint, TLS: Azure Cache takes rediss:// "
            "on 6380) and that RATE_LIMIT_REDIS_PASSWORD holds its access key."
        )
        return Check("FAIL", "rate limit store", f"{where} did not answer a PING within {deadline}", fix)
    return Check("ok", "rate limit store", f"{where} answers (shared by every instance)")


def advice(settings: AuthSettings) -> Iterator[Check]:
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
