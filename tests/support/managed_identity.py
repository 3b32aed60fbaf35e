"""A local stand-in for the App Service managed-identity endpoint (IDENTITY_ENDPOINT)."""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .http_server import LoopbackServer, QuietHandler


class ManagedIdentityEndpoint:
    """Issues opaque access tokens for a resource, as App Service does for its identity."""

    def __init__(self) -> None:
        self.header_secret = secrets.token_hex(16)
        self.issued: set[str] = set()
        self.requests: list[dict[str, str]] = []
        self._lock = threading.Lock()
        # Set: answer at once. Cleared by hold(): each request waits until release() (a slow endpoint).
        self._answering = threading.Event()
        self._answering.set()
        self._arrived = threading.Condition(self._lock)
        self.arrivals = 0
        self._server = LoopbackServer(_handler_for(self))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}/msi/token"

    def start(self) -> ManagedIdentityEndpoint:
        self._server.start()
        return self

    def stop(self) -> None:
        self._answering.set()
        self._server.stop()

    def hold(self) -> None:
        self._answering.clear()

    def release(self) -> None:
        self._answering.set()

    def wait_for_requests(self, count: int, timeout: float = 10) -> bool:
        with self._arrived:
            return self._arrived.wait_for(lambda: self.arrivals >= count, timeout)

    def arrived(self) -> None:
        with self._arrived:
            self.arrivals += 1
            self._arrived.notify_all()
        self._answering.wait(timeout=60)

    def issue(self, query: dict[str, str]) -> dict[str, Any]:
        token = "mi-" + secrets.token_urlsafe(24)
        with self._lock:
            self.issued.add(token)
            self.requests.append(query)
        return {
            "access_token": token,
            "expires_on": str(int(time.time()) + 3600),
            "resource": query.get("resource", ""),
            "token_type": "Bearer",
            "client_id": query.get("client_id", "system-assigned"),
        }

    def is_valid(self, token: str) -> bool:
        with self._lock:
            return token in self.issued


def _handler_for(endpoint: ManagedIdentityEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            query = {name: values[0] for name, values in parse_qs(urlsplit(self.path).query).items()}
            endpoint.arrived()
            if self.headers.get("X-IDENTITY-HEADER") != endpoint.header_secret:
                self._send(401, {"error": "invalid_request", "error_description": "missing identity header"})
                return
            self._send(200, endpoint.issue(query))

        def _send(self, code: int, payload: dict[str, Any]) -> None:
            self.answer(code, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    return Handler
