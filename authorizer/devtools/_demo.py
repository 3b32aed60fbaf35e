"""`make demo`: the sample app, the local issuer and the sample SPA, on embedded defaults.

This is a local development server, not the Functions host: `func start` stays the way to run
the real host. Ports: DEMO_PORT (7071) for the API, DEMO_SPA_PORT (5173) for the SPA.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
from dataclasses import replace
from types import FrameType

from . import require_development
from ._graph import LocalGraph, graph_settings
from ._issuer import API_CLIENT_ID, HOME_TENANT, SPA_CLIENT_ID, LocalEntraIssuer
from ._server import CorsPolicy, DevServer, route_prefix_of, routes_of
from ._spa import REPO, SpaServer, spa_config
from ._state import DAEMON_CLIENT_ID, issuer_port

PARTNER_TENANT = "22222222-2222-4222-8222-222222222222"


def main() -> int:
    # The demo's own processes run in Development, as func start's do; anything else set is refused.
    os.environ.setdefault("AZURE_FUNCTIONS_ENVIRONMENT", "Development")
    require_development()
    api_port, spa_port = int(os.environ.get("DEMO_PORT", "7071")), int(os.environ.get("DEMO_SPA_PORT", "5173"))
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, frame: _stop(stopping, number, frame))
    if not (REPO / "function_app.py").is_file() or not (REPO / "samples" / "spa").is_dir():
        print("the demo serves this repository's sample app: run `make demo` in a checkout of it")
        return 2
    listed = CorsPolicy.from_local_settings(REPO / "local.settings.json", REPO / "local.settings.example.json")
    # The demo's own SPA may call its API and its issuer, whatever port DEMO_SPA_PORT gave it.
    cors = replace(listed, origins=listed.origins | {f"http://127.0.0.1:{spa_port}", f"http://localhost:{spa_port}"})
    try:
        issuer = LocalEntraIssuer(port=issuer_port(), origins=cors.origins - {"*"}).start()
    except OSError as error:
        print(f"the local issuer cannot start: {error} (set LOCAL_ISSUER_PORT to use another port)")
        return 2
    api = spa = graph = None
    try:
        state = issuer.started_state()
        # Microsoft Graph, as far as the sample's profile and mail go: this library guards it too.
        graph = LocalGraph(graph_settings(issuer.url, state.ca_bundle, HOME_TENANT)).start()
        api_url = f"http://127.0.0.1:{api_port}"
        # The embedded defaults: the local issuer, a static allowed-tenants list, no Key Vault.
        os.environ.update(
            {
                "ENTRA_TENANT_ID": HOME_TENANT,
                "ENTRA_CLIENT_ID": API_CLIENT_ID,
                "ENTRA_INSTANCE": issuer.url,
                "ENTRA_DEV_CA_BUNDLE": issuer.started_state().ca_bundle,
                "ENTRA_ALLOWED_TENANTS": PARTNER_TENANT,
                "PROTECTED_RESOURCE_URL": api_url,
                # Downstream calls: the local Graph, and the issuer playing the function app's managed identity.
                "GRAPH_BASE_URL": graph.url,
                "IDENTITY_ENDPOINT": state.identity_endpoint,
                "IDENTITY_HEADER": state.identity_header,
            }
        )
        os.environ.pop("KEY_VAULT_URL", None)
        sys.path.insert(0, str(REPO))
        app = importlib.import_module("function_app").app
        routes = routes_of(app.get_functions(), route_prefix_of(REPO / "host.json"))
        api = DevServer(routes, cors, port=api_port).start()
        config = spa_config(issuer.url, api.url, SPA_CLIENT_ID, API_CLIENT_ID)
        spa = SpaServer(config, port=spa_port).start()
        print(banner(issuer, api.url, spa.url, graph.url), flush=True)
        stopping.wait()
    finally:
        for server in (spa, api, graph):
            if server is not None:
                server.stop()
        issuer.stop()
    return 0


def banner(issuer: LocalEntraIssuer, api_url: str, spa_url: str, graph_url: str) -> str:
    # Asked for as `python -m authorizer token` asks: the command line's client, ada's password grant.
    reader = issuer.user_token("Orders.Read", client_id=DAEMON_CLIENT_ID)
    return f"""
Local development server (not the Functions host; `func start` runs the real one)
  API         {api_url}   (function_app.py, converted as the Python worker does)
  SPA         {spa_url}/   (samples/spa, MSAL.js against the local issuer)
  issuer      {issuer.url}   (local Entra-shaped issuer; its CA: {issuer.started_state().ca_bundle})
  graph       {graph_url}   (Graph-shaped: /v1.0/me and /v1.0/me/messages, for on-behalf-of calls)

To sign in at {spa_url}/ in your browser, trust the issuer's CA once (then restart the browser):
  make trust-dev-ca

200 - list orders with a token for Orders.Read (valid for an hour):
curl -i {api_url}/api/orders -H "Authorization: Bearer {reader}"

403 - the same token may not create orders; the challenge names the scope to request:
curl -i -X POST {api_url}/api/orders -d '{{"item": "Tea"}}' -H "Authorization: Bearer {reader}"

More tokens: make token ARGS="--scope Orders.Write --role Orders.Writer"
ready - Ctrl-C stops everything
""".strip("\n")


def _stop(stopping: threading.Event, number: int, frame: FrameType | None) -> None:
    stopping.set()


if __name__ == "__main__":
    sys.exit(main())
