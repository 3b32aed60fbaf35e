"""The app folder the tools run in: its API (client id, tenant) from local.settings.json, and a starter file.

`python -m authorizer local-settings` writes a local.settings.json that points an app at the local
issuer; it never replaces one that exists. The issuer and the token command read the API's client id
and tenant from the folder's local.settings.json, so that dev tokens are for the adopter's own app.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from .._settings.app_settings import DEVELOPMENT, GUID
from .._settings.local_settings import ENVIRONMENT, FILE_NAME, LocalSettings, LocalSettingsError
from ._dev_ca import ensure_certificates
from ._entra_shape import ServedApi
from ._state import API_CLIENT_ID, HOME_TENANT, dev_home, issuer_port


def guid(value: str) -> str:
    """An argparse type: a client or tenant id."""
    if not GUID.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a GUID")
    return value.lower()


def served_api(client_id: str | None = None, tenant_id: str | None = None, folder: Path | None = None) -> ServedApi:
    """The API named by the arguments, else by ENTRA_CLIENT_ID / ENTRA_TENANT_ID of the folder's
    local.settings.json, else the sample's.

    Raises:
        ValueError: the file names a client or tenant id that is not a GUID, or cannot be read.
    """
    values: dict[str, str] = {}
    path = (folder or Path.cwd()) / FILE_NAME
    if path.is_file():
        try:
            values = dict(LocalSettings.read(path).values)
        except LocalSettingsError as error:
            raise ValueError(str(error)) from None
    chosen = {}
    for name, given, default in (
        ("ENTRA_CLIENT_ID", client_id, API_CLIENT_ID),
        ("ENTRA_TENANT_ID", tenant_id, HOME_TENANT),
    ):
        value = given or values.get(name) or default
        if not GUID.fullmatch(value):
            raise ValueError(f"{path}: {name} is not a GUID")
        chosen[name] = value.lower()
    return ServedApi(chosen["ENTRA_CLIENT_ID"], chosen["ENTRA_TENANT_ID"])


def starter_values(api: ServedApi, ca_bundle: Path, port: int) -> dict[str, str]:
    """The Values of a starter local.settings.json: the app's API, against the local issuer."""
    return {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": "",
        ENVIRONMENT: DEVELOPMENT,
        "ENTRA_TENANT_ID": api.tenant,
        "ENTRA_CLIENT_ID": api.client_id,
        "ENTRA_INSTANCE": _instance(port),
        "ENTRA_DEV_CA_BUNDLE": str(ca_bundle),
    }


def _instance(port: int | None = None) -> str:
    return f"https://127.0.0.1:{issuer_port() if port is None else port}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--client-id", type=guid, help="your API's app registration (default: the sample's)")
    parser.add_argument("--tenant-id", type=guid, help="your tenant (default: the sample's)")
    parser.add_argument("--folder", type=Path, default=Path("."), help="the function app's folder (default: here)")


def run(args: argparse.Namespace) -> int:
    """Write the starter file; 1 when one exists (it is never replaced)."""
    path = args.folder / FILE_NAME
    try:
        if path.exists() or path.is_symlink():
            # Read nothing of it: a file that exists is the app's own, whatever it holds.
            ca_bundle = ensure_certificates(dev_home()).ca_bundle
            print(f"{path} exists and is left as it is; to use the local issuer, set these of its Values:")
            print(json.dumps({"ENTRA_INSTANCE": _instance(), "ENTRA_DEV_CA_BUNDLE": str(ca_bundle)}, indent=2))
            return 1
        api = served_api(args.client_id, args.tenant_id, folder=args.folder)
        values = starter_values(api, ensure_certificates(dev_home()).ca_bundle, issuer_port())
        # Exclusive creation: a file that appeared meanwhile is not replaced either.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (OSError, ValueError) as error:
        print(f"cannot write {path}: {error}")
        return 2
    document = json.dumps({"IsEncrypted": False, "Values": values}, indent=2) + "\n"
    with os.fdopen(descriptor, "w") as file:
        file.write(document)
    print(
        f"wrote {path} for API {api.client_id} in tenant {api.tenant}, against the local issuer.\n"
        "Next: python -m authorizer issuer (in this folder), then func start, then "
        "python -m authorizer token --scope <a scope of your API>"
    )
    return 0
