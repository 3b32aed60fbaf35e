"""`python -m authorizer doctor`: what is wrong with this deployment, and how to fix it.

It reads the settings as the app does (locally, with local.settings.json applied as `func start`
applies it), imports the app as the worker does, fetches what the validator would fetch, and prints
a checklist naming every problem it can find in one run. Exit code 1 when anything failed.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from .._errors import ConfigurationError
from .._functions import runtime
from .._remote.discovery import MULTI_TENANT_AUTHORITY
from .._remote.fetch import HttpJsonFetcher
from .._remote.metadata import metadata_url
from .._settings.app_settings import AuthSettings
from .._settings.local_settings import FILE_NAME, LocalSettingsError, func_start_environ
from .._token.validation import expected_issuer
from .checks import (
    LOCAL_SETTINGS_FIX,
    SETTING_FIXES,
    Check,
    advice,
    import_app,
    keys,
    metadata,
    rate_limit_store,
    routes,
    settings_checks,
    tenants,
)
from .downstream import downstream_checks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app", default="function_app", help="the module holding the FunctionApp (default: %(default)s)"
    )
    parser.add_argument(
        "--settings-file",
        help=f"Values to apply as `func start` does (default: ./{FILE_NAME} when there is one)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the checklist, then any log record the checks wrote; 0 when nothing failed, 1 otherwise."""
    checks, environ = local_settings(args.settings_file, os.environ)
    records: list[logging.LogRecord] = []
    if all(check.status != "FAIL" for check in checks):
        # The app's process gets them as environment variables, as under func start: the Azure
        # SDK's credentials read AZURE_CLIENT_ID and its friends from there.
        os.environ.update(environ)
        with _held_logs() as records:
            checks += diagnose(environ, args.app)
    code = report(checks, sys.stdout)
    if records:
        # Below the checklist, marked: what the app and our own fetches logged while being checked.
        sys.stdout.write("Log records written during the checks:\n")
        for record in records:
            sys.stdout.write(f"  | {record.levelname} {record.name}: {record.getMessage()}\n")
    return code


def local_settings(path: str | None, environ: Mapping[str, str]) -> tuple[list[Check], dict[str, str]]:
    """The environment the app would get (under `func start` beside a settings file), and a check saying so.

    Without a path, ./local.settings.json is read when there is one (there is none in Azure).
    """
    try:
        settings, merged = func_start_environ(Path(path) if path is not None else None, environ)
    except LocalSettingsError as error:
        return [Check("FAIL", "local settings", str(error), LOCAL_SETTINGS_FIX)], dict(environ)
    if settings is None:
        return [], merged
    detail = f"{len(settings.values)} values from {path or FILE_NAME}"
    overridden = settings.overridden_by(environ)
    check = Check("ok", "local settings", detail)
    if overridden:
        # func start warns of these too: a stale exported variable silently beats the file.
        detail += f"; the environment overrides {', '.join(overridden)}"
        fix = "Unset them in this shell if the file is meant to win: func start skips them too."
        check = Check("warn", "local settings", detail, fix)
    return [check], merged


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
    """Every check whose inputs are there; one that depends on a failed one is left out, not failed."""
    runtime.configure(environ=dict(environ))
    return list(_steps(environ, app_module))


def _steps(environ: Mapping[str, str], app_module: str) -> Iterator[Check]:
    yield routes()
    try:
        settings = AuthSettings.from_environ(environ)
    except ConfigurationError as error:
        yield from settings_checks(error)
        return
    yield Check(
        "ok", "settings", f"tenant {settings.tenant_id}, API {settings.app_id_uri}, instance {settings.instance}"
    )
    app_checks = import_app(app_module)
    yield from app_checks
    # The same trust as the app's own fetcher: a local issuer's development CA included.
    fetch = HttpJsonFetcher(settings.fetch_timeout_seconds, ca_bundle=settings.dev_ca_bundle)
    urls = _metadata_urls(settings, environ)
    issuers: dict[str, str] = {}
    jwks_uri = None
    for version in ("2.0", "1.0"):
        check, found = metadata(settings, urls[version], version, fetch)
        yield check
        if found is not None:
            issuers[version] = expected_issuer(found[0], settings.tenant_id)
            jwks_uri = jwks_uri or found[1]
    if jwks_uri is not None:
        yield keys(jwks_uri, fetch)
    for version, issuer in issuers.items():
        # Entra issuers name the tenant; a mismatch means another tenant's metadata.
        if settings.tenant_id not in issuer:
            problem = f"{issuer} does not name tenant {settings.tenant_id}"
            yield Check("warn", f"issuer (v{version})", problem, SETTING_FIXES["ENTRA_TENANT_ID"])
    if all(check.status != "FAIL" for check in app_checks):
        yield tenants(runtime.current().authenticator.tenants, settings)
    store = rate_limit_store(environ)
    if store is not None:
        yield store
    yield from downstream_checks(settings, environ)
    yield from advice(settings)


def _metadata_urls(settings: AuthSettings, environ: Mapping[str, str]) -> dict[str, str]:
    """Where the app reads its metadata; worked out from the settings when the app could not load."""
    try:
        return runtime.current().authenticator.authority.metadata_urls
    except ConfigurationError:
        others = bool(settings.allowed_tenants or environ.get("KEY_VAULT_URL"))
        tenant = MULTI_TENANT_AUTHORITY if others else settings.tenant_id
        return {version: metadata_url(settings.instance, tenant, version) for version in ("2.0", "1.0")}


class _Holding(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.WARNING)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _held_logs() -> Iterator[list[logging.LogRecord]]:
    """Hold back every log record written meanwhile, instead of letting it cut into the checklist."""
    records: list[logging.LogRecord] = []
    root = logging.getLogger()
    saved = root.handlers[:], logging.lastResort
    root.handlers = [_Holding(records)]
    logging.lastResort = None
    try:
        yield records
    finally:
        root.handlers, logging.lastResort = saved
