"""The local Entra-shaped OpenID issuer: Entra's path layout for any tenant, over TLS, in Python.

Serves v1 and v2 metadata (`organizations` and `common` with `{tenantid}` issuers), the JWKS,
authorize and token endpoints (see ``oauth``) and key rotation on ``POST /_dev/rotate``.

It runs on the developer's machine, where any web page the browser opens can send it requests: CORS
lets only the configured SPA origins read its answers, a grant that takes no credential is refused to
any request a page sent (it carries an Origin), and rotation answers only a request no page can make.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._dev_ca import Certificates
from ._downstream_grants import managed_identity_token
from ._entra_shape import ServedApi, issuer_for
from ._oauth import OAuthFlows
from ._oauth_error import OAuthError
from ._signing import SigningKeys
from ._threaded import ThreadedHttpServer

MULTI_TENANT = frozenset({"common", "organizations"})
MAX_FORM_BYTES = 64 * 1024
# Rotation needs this header: a page cannot add it without a preflight, which /_dev/ never passes.
ROTATE_HEADER = "X-Local-Issuer"
# Where the development managed identity's endpoint answers (IDENTITY_ENDPOINT points here).
IDENTITY_PATH = "/_dev/managed-identity"
_METADATA = re.compile(r"^/([^/]+)(/v2\.0)?/\.well-known/openid-configuration$")
_KEYS = re.compile(r"^/([^/]+)/discovery(/v2\.0)?/keys$")
_OAUTH = re.compile(r"^/([^/]+)/oauth2(/v2\.0)?/(authorize|token|logout)$")


class LocalIssuerServer:
    """The issuer on 127.0.0.1; start() and stop() own it."""

    def __init__(
        self,
        certificates: Certificates,
        port: int = 0,
        origins: frozenset[str] = frozenset(),
        identity_header: str | None = None,
        api: ServedApi | None = None,
    ) -> None:
        # The browser pages (SPA origins) that may read its answers; never "*".
        self.origins = set(origins) - {"*"}
        # The secret App Service's identity endpoint asks for (IDENTITY_HEADER); None: no endpoint.
        self.identity_header = identity_header
        # Token requests by grant type: shows what a client's cache spared.
        self.token_requests: Counter[str] = Counter()
        # To see how a client lives with an authority that fails: every token request answers this
        # status, or waits until released.
        self.token_fault: int | None = None
        self.token_hold = threading.Event()
        self.token_hold.set()
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(str(certificates.cert), str(certificates.key))
        self.keys = SigningKeys()
        self._http = ThreadedHttpServer(_handler_for(self), port, tls=tls)
        # Its base URL is known once the port is: set in start().
        self.flows = OAuthFlows(self.keys, "", api=api)

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> LocalIssuerServer:
        """Listen.

        Raises:
            OSError: the port is taken.
        """
        self._http.start()
        self.flows.base_url = self.url
        return self

    def stop(self) -> None:
        self.token_hold.set()
        self._http.stop()

    def metadata(self, tenant: str, v2: bool) -> dict[str, Any]:
        named = "{tenantid}" if tenant in MULTI_TENANT else tenant
        base = self.url
        endpoint = f"{base}/{tenant}/oauth2{'/v2.0' if v2 else ''}"
        return {
            "issuer": issuer_for(base, named, "2.0" if v2 else "1.0"),
            "authorization_endpoint": f"{endpoint}/authorize",
            "token_endpoint": f"{endpoint}/token",
            "end_session_endpoint": f"{endpoint}/logout",
            "jwks_uri": f"{base}/{tenant}/discovery{'/v2.0' if v2 else ''}/keys",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_parameter_supported": True,
        }


def _handler_for(issuer: LocalIssuerServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_OPTIONS(self) -> None:  # noqa: N802 - the http.server naming
            # A preflight to /_dev/ gets no CORS headers: the browser then sends nothing.
            self._send(204, b"", {}, cors=not self.path.startswith("/_dev/"))

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            if match := _METADATA.match(parts.path):
                self._json(200, issuer.metadata(match[1], match[2] is not None))
            elif _KEYS.match(parts.path):
                self._json(200, issuer.keys.jwks())
            elif (match := _OAUTH.match(parts.path)) and match[3] == "authorize":
                self._authorize(query)
            elif match and match[3] == "logout" and "post_logout_redirect_uri" in query:
                self._send(302, b"", {"Location": query["post_logout_redirect_uri"]})
            elif match and match[3] == "logout":
                self._send(200, b"signed out", {"Content-Type": "text/plain"})
            elif parts.path == IDENTITY_PATH:
                self._managed_identity(query)
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:  # noqa: N802
            path = urlsplit(self.path).path
            form = self._form()
            if form is None:
                self._json(413, {"error": "invalid_request", "error_description": "the request is too large"})
            elif path == "/_dev/rotate":
                self._rotate()
            elif (match := _OAUTH.match(path)) and match[3] == "token":
                issuer.token_requests[form.get("grant_type", "")] += 1
                issuer.token_hold.wait(60)
                if issuer.token_fault is not None:
                    self._json(issuer.token_fault, {"error": "temporarily_unavailable", "error_description": "fault"})
                    return
                try:
                    # Any request a page sent carries Origin: only a browser client's grants answer it.
                    answer = issuer.flows.token(
                        form, from_page="Origin" in self.headers, tenant=match[1], endpoint=issuer.url + path
                    )
                    self._json(200, answer)
                except OAuthError as error:
                    self._json(error.status, error.body())
            else:
                self._json(404, {"error": "not_found"})

        def _managed_identity(self, query: dict[str, str]) -> None:
            # App Service's identity endpoint: only with its secret header, which no web page can send.
            secret = issuer.identity_header
            if "Origin" in self.headers or secret is None or self.headers.get("X-IDENTITY-HEADER") != secret:
                self._json(401, {"statusCode": 401, "message": "X-IDENTITY-HEADER is missing or wrong"})
            elif not query.get("resource"):
                self._json(400, {"statusCode": 400, "message": "resource is required"})
            else:
                self._json(200, managed_identity_token(query["resource"], issuer.keys, issuer.url, int(time.time())))

        def _rotate(self) -> None:
            if "Origin" in self.headers or self.headers.get(ROTATE_HEADER) != "rotate":
                self._json(
                    403, {"error": "forbidden", "error_description": f"send {ROTATE_HEADER}: rotate, from no page"}
                )
            else:
                self._json(200, {"kid": issuer.keys.rotate()})

        def _authorize(self, query: dict[str, str]) -> None:
            try:
                self._send(302, b"", {"Location": issuer.flows.authorize(query)})
            except OAuthError as error:
                self._json(error.status, error.body())

        def _form(self) -> dict[str, str] | None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_FORM_BYTES:
                return None
            return dict(parse_qsl(self.rfile.read(length).decode("utf-8", "replace"), keep_blank_values=True))

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

        def _send(self, status: int, body: bytes, headers: dict[str, str], cors: bool = True) -> None:
            self.send_response(status)
            origin = self.headers.get("Origin")
            allowed: dict[str, str] = {"Vary": "Origin"}
            if cors and origin in issuer.origins:
                allowed |= {
                    "Access-Control-Allow-Origin": str(origin),
                    "Access-Control-Allow-Headers": "Content-Type",
                    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                }
            for name, value in {
                **headers,
                **allowed,
                "Cache-Control": "no-store",
                "Content-Length": str(len(body)),
            }.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
