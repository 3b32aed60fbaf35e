"""Starts and stops the local Entra-shaped issuer, and `python -m authorizer issuer`."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._settings.local_settings import FILE_NAME as LOCAL_SETTINGS
from . import require_development
from ._app_folder import guid, served_api
from ._clients import Registrations
from ._dev_ca import ensure_certificates
from ._entra_shape import ServedApi
from ._local_issuer import IDENTITY_PATH, LocalIssuerServer
from ._server import CorsPolicy
from ._state import (
    API_CLIENT_ID,
    HOME_TENANT,
    SPA_CLIENT_ID,
    STATE_FILE,
    IssuerState,
    dev_home,
    identity_header,
    issuer_port,
)

__all__ = ["API_CLIENT_ID", "HOME_TENANT", "SPA_CLIENT_ID", "IssuerState", "LocalEntraIssuer"]


class LocalEntraIssuer:
    """The issuer over TLS with the user's development CA; start() and stop() own it."""

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        port: int = 0,
        origins: Iterable[str] = (),
        api: ServedApi | None = None,
    ) -> None:
        self.state_dir = state_dir or dev_home()
        self._port = port
        self._origins = frozenset(origins)
        # The API its tokens are for: the sample's, or an app's own (client id and tenant).
        self.api = api or ServedApi()
        self._server: LocalIssuerServer | None = None
        self.state: IssuerState | None = None

    def start(self) -> LocalEntraIssuer:
        """Make (or reuse) the certificates, listen, and record where this issuer is.

        Raises:
            OSError: the port is taken.
        """
        certificates = ensure_certificates(self.state_dir)
        header = identity_header(self.state_dir)
        self._server = LocalIssuerServer(certificates, self._port, self._origins, header, self.api).start()
        self.state = IssuerState(
            self._server.url,
            str(certificates.ca_bundle),
            self.api.client_id,
            self.api.tenant,
            identity_endpoint=self._server.url + IDENTITY_PATH,
            identity_header=header,
        )
        self.state.save(self.state_dir / STATE_FILE)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            # The token command must not find the address of an issuer that is gone.
            (self.state_dir / STATE_FILE).unlink(missing_ok=True)

    @property
    def url(self) -> str:
        return self._started().url

    def allow_origin(self, origin: str) -> None:
        """Let a browser page at ``origin`` (a sample SPA, say) read the issuer's answers."""
        self._started().origins.add(origin)

    @property
    def registrations(self) -> Registrations:
        """The local tenant's app registrations: secrets, certificates, consent, step-ups a resource demands."""
        return self._started().flows.registrations

    def rotate(self) -> str:
        """Sign with a new key from now on; every earlier key stays published."""
        return self._started().keys.rotate()

    def token(self, *, tenant: str = "organizations", **fields: str) -> str:
        """A token from the token endpoint (grant_type and the dev_* fields as form fields)."""
        return str(self._post(f"/{tenant}/oauth2/v2.0/token", fields)["access_token"])

    def user_token(self, *scopes: str, user: str = "ada", client_id: str = SPA_CLIENT_ID, **fields: str) -> str:
        """A signed-in dev user's token for this issuer's API, as a command line asks for one (password grant)."""
        scope = " ".join(self.api.scope_prefix + name for name in scopes)
        return self.token(
            tenant=self.api.tenant, grant_type="password", client_id=client_id, username=user, scope=scope, **fields
        )

    def started_state(self) -> IssuerState:
        if self.state is None:
            raise RuntimeError("start() the issuer first")
        return self.state

    def _started(self) -> LocalIssuerServer:
        if self._server is None:
            raise RuntimeError("start() the issuer first")
        return self._server

    def _post(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        import requests

        state = self.started_state()
        response = requests.post(state.url + path, data=form, verify=state.ca_bundle, timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=None, help="default: LOCAL_ISSUER_PORT or 7443")
    parser.add_argument(
        "--client-id", type=guid, help="the API tokens are for (default: ENTRA_CLIENT_ID of ./local.settings.json)"
    )
    parser.add_argument("--tenant-id", type=guid, help="its tenant (default: ENTRA_TENANT_ID of ./local.settings.json)")
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        help="a browser app's origin that may use the issuer (repeatable); Host.CORS of ./local.settings.json too",
    )


def page_origins(extra: Iterable[str]) -> frozenset[str]:
    """The SPA origins the issuer answers: the app's own (Host.CORS of local.settings.json) and any named."""
    listed = CorsPolicy.from_local_settings(Path(LOCAL_SETTINGS)).origins
    # "*" lets any page call an API; the issuer mints tokens, and is never that open.
    return frozenset({*listed, *extra} - {"*"})


def run(args: argparse.Namespace) -> int:
    """Run the issuer in the foreground until Ctrl-C; 2 when it cannot start."""
    require_development()
    try:
        origins = page_origins(args.cors_origin)
        api = served_api(args.client_id, args.tenant_id)
        port = args.port if args.port is not None else issuer_port()
        issuer = LocalEntraIssuer(port=port, origins=origins, api=api).start()
    except (OSError, ValueError) as error:
        print(f"the local issuer cannot start: {error}")
        return 2
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, frame: stopping.set())
    state = issuer.started_state()
    values = json.dumps(state.settings(), indent=2)
    print(
        f"local Entra issuer on {state.url} (development only)\n"
        f"Put these in local.settings.json Values, then `func start`:\n{values}\n"
        f"Tokens for API {api.client_id} in tenant {api.tenant}, for curl: "
        "python -m authorizer token --scope <a scope of the API>\n"
        "A browser signs in against it once it trusts its CA: python -m authorizer trust-dev-ca\n"
        f"Browser apps allowed to use it: {', '.join(sorted(origins)) or 'none'} (Host.CORS of local.settings.json, "
        "or --cors-origin)\n"
        "Ctrl-C stops the issuer",
        flush=True,
    )
    try:
        stopping.wait()
    finally:
        issuer.stop()
    return 0
