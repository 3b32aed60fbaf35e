"""`python -m authorizer token`: print a token from the local issuer (development only)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from urllib.parse import urlsplit

from .._errors import ConfigurationError
from .._policy.requirements import AUTH_CONTEXT
from .._settings.app_settings import GUID, is_loopback_host
from . import require_development
from ._entra_shape import DEV_USERS
from ._state import DAEMON_CLIENT_ID, STATE_FILE, IssuerState, dev_home


def _guid(value: str) -> str:
    if not GUID.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a tenant GUID")
    return value.lower()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scope", action="append", default=[], help="a delegated scope, e.g. Orders.Read (repeatable)")
    parser.add_argument(
        "--role", action="append", default=[], help="an app role the user holds (repeatable); none unless named"
    )
    parser.add_argument("--app-only", action="store_true", help="an app-only (daemon) token")
    parser.add_argument("--app-role", action="append", default=[], help="an application permission (repeatable)")
    parser.add_argument("--tenant", type=_guid, help="the token's tenant (GUID); default: the user's own")
    parser.add_argument(
        "--user",
        choices=sorted(DEV_USERS),
        default="ada",
        help="ada, bob, eve (another tenant), gus (a guest)",
    )
    parser.add_argument("--version", choices=["1", "2"], default="2", help="token version")
    parser.add_argument("--acrs", action="append", default=[], help="an authentication context met, e.g. c1")
    parser.add_argument("--state", type=Path, default=None, help="the running issuer's state file")


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
    prefix = f"api://{state.api_client_id}/"
    form = {"client_id": DAEMON_CLIENT_ID, "token_version": args.version}
    if args.tenant:
        form["dev_tenant"] = args.tenant
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
        f"{state.url}/{args.tenant or state.home_tenant}/oauth2/v2.0/token",
        data=form,
        verify=state.ca_bundle,
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])
