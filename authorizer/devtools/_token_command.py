"""`python -m authorizer token`: print a token from the local issuer (development only)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._errors import ConfigurationError
from .._settings.app_settings import is_loopback_host
from .._settings.local_settings import FILE_NAME
from . import require_development
from ._app_folder import guid, served_api
from ._dev_token_form import dev_token_form
from ._entra_shape import DEV_USERS, ServedApi
from ._state import DAEMON_CLIENT_ID, STATE_FILE, IssuerState, dev_home


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scope", action="append", default=[], help="a delegated scope, e.g. Orders.Read (repeatable)")
    parser.add_argument(
        "--role", action="append", default=[], help="an app role the user holds (repeatable); none unless named"
    )
    parser.add_argument("--app-only", action="store_true", help="an app-only (daemon) token")
    parser.add_argument("--app-role", action="append", default=[], help="an application permission (repeatable)")
    parser.add_argument(
        "--tenant", type=guid, help="the token's tenant; default: the user's own (the API's, for ada, bob and gus)"
    )
    parser.add_argument(
        "--client-id", type=guid, help="the API the token is for; default: ENTRA_CLIENT_ID of ./local.settings.json"
    )
    parser.add_argument("--client-app", type=guid, help="the calling client app (azp / appid); default: a dev client")
    parser.add_argument("--group", action="append", default=[], help="a group object id for the groups claim")
    parser.add_argument(
        "--user",
        choices=sorted(DEV_USERS),
        default="ada",
        help="ada, bob, eve (another tenant), gus (a guest)",
    )
    parser.add_argument("--version", choices=["1", "2"], default="2", help="token version")
    parser.add_argument("--acrs", action="append", default=[], help="an authentication context met, e.g. c1")
    parser.add_argument("--state", type=Path, default=None, help="the running issuer's state file")


def _api(args: argparse.Namespace, state: IssuerState) -> ServedApi:
    """--client-id, else the API of this folder's local.settings.json, else the one the running issuer serves."""
    if Path(FILE_NAME).is_file():
        return served_api(args.client_id)
    return ServedApi(args.client_id or state.api_client_id, state.home_tenant)


def run(args: argparse.Namespace) -> int:
    """Print one access token; 2 when the development path is not available."""
    try:
        print(mint(args))
    except (ConfigurationError, FileNotFoundError, ValueError) as error:
        print(f"cannot mint a development token: {error}")
        return 2
    return 0


def mint(args: argparse.Namespace) -> str:
    """Ask the local issuer for a token shaped by the arguments, and nothing else.

    Raises:
        ConfigurationError: outside Development, or the issuer is not on loopback.
        FileNotFoundError: no local issuer is running for this user.
        ValueError: arguments that ask for no token at all (a delegated token without a scope).
    """
    require_development()
    import requests

    state = IssuerState.load(args.state or dev_home() / STATE_FILE)
    # Only ever a local issuer: this tool must not be pointed at anything real.
    if not is_loopback_host(urlsplit(state.url).hostname or ""):
        raise ConfigurationError("issuer", f"{state.url} is not a loopback address")
    api = _api(args, state)
    if not args.app_only and not args.scope:
        raise ValueError("name at least one --scope: a delegated token carries the scopes its client asked for")
    form = dev_token_form(
        api,
        client_id=args.client_app or DAEMON_CLIENT_ID,
        version=args.version,
        scopes=args.scope,
        user=args.user,
        roles=args.role,
        app_only=args.app_only,
        app_roles=args.app_role,
        groups=args.group,
        tenant=args.tenant,
        acrs=args.acrs,
    )
    response = requests.post(
        f"{state.url}/{args.tenant or api.tenant}/oauth2/v2.0/token",
        data=form,
        verify=state.ca_bundle,
        timeout=10,
    )
    if response.status_code != 200:
        # The issuer's own words, as Entra gives them (error_description), not a traceback.
        raise ValueError(f"the local issuer refused: {_description(response)}")
    return str(response.json()["access_token"])


def _description(response: Any) -> str:
    try:
        return str(response.json().get("error_description") or response.status_code)
    except ValueError:
        return str(response.status_code)
