"""Serves samples/spa with a generated config.js and the MSAL.js bundles (development only)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from ._threaded import ThreadedHttpServer

# The sample app and SPA live in a checkout of the repository, not in the installed package.
REPO = Path(__file__).resolve().parents[2]

SPA = REPO / "samples" / "spa"
MSAL = REPO / "samples" / "node_modules" / "@azure" / "msal-browser" / "lib"
FILES = {
    "/": SPA / "index.html",
    "/index.html": SPA / "index.html",
    "/app.js": SPA / "app.js",
    "/redirect.html": SPA / "redirect.html",
    "/msal-browser.min.js": MSAL / "msal-browser.min.js",
    "/msal-redirect-bridge.min.js": MSAL / "redirect-bridge" / "msal-redirect-bridge.min.js",
}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
# Shown by the page when it cannot reach the issuer: to a page, an untrusted certificate and an
# issuer that is down look alike, so it names both, with what to do about each.
ISSUER_HELP = (
    "If `make demo` is running, this browser does not trust the local issuer's certificate yet: run "
    "`make trust-dev-ca`, restart the browser and reload this page. "
    "If it is not running, start it with `make demo`."
)


def spa_config(issuer_url: str, api_url: str, spa_client_id: str, api_client_id: str) -> dict[str, Any]:
    """The sample SPA's config.js for the local issuer and a local API."""
    return {
        "clientId": spa_client_id,
        "authority": f"{issuer_url}/organizations",
        # No instance discovery call to Microsoft: the local issuer is its own known authority.
        "knownAuthorities": [issuer_url.split("//", 1)[1]],
        "apiBase": api_url,
        "apiScopePrefix": f"api://{api_client_id}",
        "issuerHelp": ISSUER_HELP,
    }


class SpaServer:
    """The sample SPA on 127.0.0.1, configured for a given issuer and API."""

    def __init__(self, config: dict[str, Any], port: int = 0) -> None:
        self.config_js = f"window.SPA_CONFIG = {json.dumps(config, indent=2)};\n".encode()
        self._http = ThreadedHttpServer(_handler_for(self), port)

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> SpaServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()


def _handler_for(spa: SpaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            path = self.path.split("?", 1)[0]
            if path == "/config.js":
                self._send(200, "text/javascript; charset=utf-8", spa.config_js)
            elif path in FILES and FILES[path].is_file():
                self._send(200, TYPES.get(FILES[path].suffix, "application/octet-stream"), FILES[path].read_bytes())
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
