"""A Graph-shaped downstream API for local development, protected by this very library.

``/v1.0/me`` (``User.Read``) and ``/v1.0/me/messages`` (``Mail.Read`` and, as a mailbox might demand
through Conditional Access, the authentication context c2). It answers what it was given: the user,
and the client app and scopes its token names, so that a test can see what on-behalf-of delivered.
Its settings are another API's (Graph's audience, any tenant), so it runs in a process of its own:
``LocalGraph`` starts and stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import azure.functions as func

GRAPH_CLIENT_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
READY = "local graph on "


class AnyTenant:
    """Graph serves every tenant's users."""

    accepts_other_tenants = True

    def check(self, tenant_id: str, *, allow_io: bool) -> None:
        return

    def prefetch(self) -> None:
        return


def graph_app() -> Any:
    """The Graph-shaped app; built after the process's settings are in place."""
    import authorizer
    from authorizer import Principal, require_auth

    authorizer.configure(tenant_policy=lambda context: AnyTenant())
    app = authorizer.FunctionApp()

    def answer(principal: Principal, **extra: object) -> func.HttpResponse:
        body = {
            "id": principal.oid,
            "displayName": principal.name,
            "userPrincipalName": principal.preferred_username,
            # What the caller's token said of who asked for it: the middle tier, with these scopes.
            "requestedBy": {"appId": principal.client_app_id, "scopes": sorted(principal.scopes)},
            **extra,
        }
        return func.HttpResponse(json.dumps(body), mimetype="application/json")

    @app.route(route="v1.0/me", methods=["GET"])
    @require_auth(scopes=["User.Read"])
    def me(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        return answer(principal)

    @app.route(route="v1.0/me/messages", methods=["GET"])
    @require_auth(scopes=["Mail.Read"], auth_context="c2")
    def messages(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        return answer(principal, value=[{"subject": "Your order shipped", "from": "orders@contoso.example"}])

    return app


def graph_settings(issuer_url: str, ca_bundle: str, home_tenant: str) -> dict[str, str]:
    """The environment of the Graph-shaped API: Graph's audience, behind the local issuer."""
    return {
        "ENTRA_TENANT_ID": home_tenant,
        "ENTRA_CLIENT_ID": GRAPH_CLIENT_ID,
        "ENTRA_APP_ID_URI": GRAPH_RESOURCE,
        "ENTRA_INSTANCE": issuer_url,
        "ENTRA_DEV_CA_BUNDLE": ca_bundle,
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
    }


class LocalGraph:
    """The Graph-shaped API in a process of its own on 127.0.0.1; start() and stop() own it."""

    def __init__(self, settings: Mapping[str, str], port: int = 0) -> None:
        self._environment = {**os.environ, **settings}
        self._port = port
        self._process: subprocess.Popen[str] | None = None
        self.url = ""
        # What it printed after its ready line (its log records), for a test that wants to look.
        self.said: list[str] = []
        self._drain: threading.Thread | None = None

    def start(self, timeout: float = 30) -> LocalGraph:
        """Start it and wait for its ready line.

        Raises:
            RuntimeError: it did not come up (its own words attached).
        """
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
            [sys.executable, "-m", "authorizer.devtools._graph", "--port", str(self._port)],
            env=self._environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = self._process.stdout
        if output is None:
            raise RuntimeError("the local graph has no output to read")
        said = self._read_until_ready(output, time.monotonic() + timeout)
        if not self.url:
            self.stop()
            raise RuntimeError(f"the local graph did not start: {said[-1000:]}")
        # Its logs keep coming: read on, or a full pipe would stall it.
        self._drain = threading.Thread(target=self.said.extend, args=(output,), daemon=True)
        self._drain.start()
        return self

    def _read_until_ready(self, output: Any, deadline: float) -> str:
        said = ""
        with selectors.DefaultSelector() as selector:
            selector.register(output, selectors.EVENT_READ)
            while selector.select(timeout=max(0.0, deadline - time.monotonic())):
                line = output.readline()
                if not line:
                    break
                said += line
                if line.startswith(READY):
                    self.url = line[len(READY) :].strip()
                    break
        return said

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        # Its output ends with it: the reader finishes, then the pipe is closed.
        if self._drain is not None:
            self._drain.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def main(argv: list[str] | None = None) -> int:
    from . import require_development
    from ._server import CorsPolicy, DevServer, routes_of

    parser = argparse.ArgumentParser(prog="python -m authorizer.devtools._graph")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    require_development()
    server = DevServer(routes_of(graph_app().get_functions(), ""), CorsPolicy(frozenset()), port=args.port).start()
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, frame: stopping.set())
    print(f"{READY}{server.url}", flush=True)
    try:
        stopping.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
