"""`python -m authorizer token`: print a token from the local issuer (development only)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._errors import ConfigurationError
from .._policy.requirements import AUTH_CONTEXT
from .._settings.app_settings import is_loopback_host
from .._settings.local_settings import FILE_NAME
from . import require_development
from ._app_folder import guid, served_api
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
    tenant = args.tenant
    prefix = api.scope_prefix
    form = {
        "client_id": args.client_app or DAEMON_CLIENT_ID,
        "token_version": args.version,
        # For the app folder's API; the user's own tenant unless --tenant names another.
        "dev_api": api.client_id,
        "dev_home_tenant": api.tenant,
    }
    if tenant:
        form["dev_tenant"] = tenant
    if args.group:
        form["dev_groups"] = ",".join(args.group)
    if args.app_only:
        form |= {"grant_type": "client_credentials", "scope": prefix + ".default"}
        form["dev_app_roles"] = ",".join(args.app_role)
    else:
        if not args.scope:
            raise ValueError("name at least one --scope: a delegated token carries the scopes its client asked for")
        form |= {"grant_type": "password", "username": args.user, "scope": " ".join(prefix + s for s in args.scope)}
        # Exactly the roles named: a dev user's own roles (ada's Orders.Writer) come only when asked for.
        form["dev_roles"] = ",".join(args.role)
    for value in args.acrs:
        if not AUTH_CONTEXT.fullmatch(value):
            raise ValueError(f"--acrs {value!r}: an authentication context id is c1 to c99")
    if args.acrs:
        form["claims"] = json.dumps({"access_token": {"acrs": {"essential": True, "values": args.acrs}}})
    response = requests.post(
        f"{state.url}/{tenant or api.tenant}/oauth2/v2.0/token",
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
