"""`python -m authorizer token`: print a token from the local issuer (development only)."""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from ..settings import is_loopback_host
from . import require_development
from .issuer import REPO, IssuerState

STATE = REPO / ".local-issuer" / "issuer.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scope", action="append", default=[], help="a delegated scope, e.g. Orders.Read (repeatable)")
    parser.add_argument("--role", action="append", default=[], help="an app role the user holds (repeatable)")
    parser.add_argument("--app-only", action="store_true", help="an app-only (daemon) token")
    parser.add_argument("--app-role", action="append", default=[], help="an application permission (repeatable)")
    parser.add_argument("--tenant", help="the token's tenant (GUID); default: the issuer's home tenant")
    parser.add_argument("--user", default="ada", help="dev user: ada (role Orders.Writer), bob, eve (another tenant)")
    parser.add_argument("--version", choices=["1", "2"], default="2", help="token version")
    parser.add_argument("--state", type=Path, default=STATE, help="the running issuer's state file")


def run(args: argparse.Namespace) -> int:
    """Print one access token; 2 when the development path is not available."""
    try:
        print(mint(args))
    except (ConfigurationError, FileNotFoundError) as error:
        print(f"cannot mint a development token: {error}")
        return 2
    return 0


def mint(args: argparse.Namespace) -> str:
    """Ask the local issuer for a token shaped by the arguments.

    Raises:
        ConfigurationError: outside Development, or the issuer is not on loopback.
        FileNotFoundError: no local issuer is running (start it with `make demo`).
    """
    require_development()
    import requests

    state = IssuerState.load(args.state)
    # Only ever a local issuer: this tool must not be pointed at anything real.
    if not is_loopback_host(urlsplit(state.url).hostname or ""):
        raise ConfigurationError("issuer", f"{state.url} is not a loopback address")
    prefix = f"api://{state.api_client_id}/"
    form = {"client_id": "cccccccc-0000-4000-8000-0000000000dd", "token_version": args.version}
    if args.tenant:
        form["dev_tenant"] = args.tenant
    if args.app_only:
        form |= {
            "grant_type": "client_credentials",
            "scope": prefix + ".default",
            "dev_app_roles": ",".join(args.app_role),
        }
    else:
        scopes = " ".join(prefix + scope for scope in args.scope or ["Orders.Read"])
        form |= {"grant_type": "password", "username": args.user, "scope": scopes}
        if args.role:
            form["dev_roles"] = ",".join(args.role)
    tenant = args.tenant or state.home_tenant
    response = requests.post(f"{state.url}/{tenant}/oauth2/v2.0/token", data=form, verify=state.ca_bundle, timeout=10)
    response.raise_for_status()
    return str(response.json()["access_token"])
