"""A local HTTPS Key Vault for the real SecretClient: challenge flow, versions and faults."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trustme

from .http_server import LoopbackServer, QuietHandler
from .managed_identity import ManagedIdentityEndpoint

ENTRA_AUTHORITY = "https://login.microsoftonline.com/11111111-1111-4111-8111-111111111111"


@dataclass
class VaultFault:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Hold the request until release(): past the client's timeout, or to keep reads in flight.
    stall: bool = False
    # After release, answer normally instead of dropping the connection.
    then_answer: bool = False
    # A 200 whose body is this instead of the secret (HTML, the wrong JSON, a huge document).
    body: bytes | None = None
    content_type: str = "application/json; charset=utf-8"
    # Close the connection without answering.
    drop: bool = False


class LocalKeyVault:
    """Serves GET /secrets/<name>[/<version>] over TLS with a throwaway CA, as Key Vault does."""

    def __init__(self, identity: ManagedIdentityEndpoint, directory: Path) -> None:
        self.identity = identity
        self.ca = trustme.CA()
        self.ca_bundle = directory / "local-vault-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_bundle))
        self.secrets: dict[str, list[tuple[str, str]]] = {}
        self.reads: Counter[str] = Counter()
        self.challenges = 0
        self.fault: VaultFault | None = None
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._release = threading.Event()
        self._server = LoopbackServer(_handler_for(self), tls=self._tls_context)
        self.untrusted_certificate = False

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.port}"

    def start(self) -> LocalKeyVault:
        self._release.clear()
        self._server.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.stop()

    def _tls_context(self) -> Any:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        issuer = trustme.CA() if self.untrusted_certificate else self.ca
        issuer.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        return context

    def set_secret(self, name: str, value: str) -> str:
        """Store a new version, as `az keyvault secret set` does; returns the version id."""
        version = uuid.uuid4().hex
        with self._lock:
            self.secrets.setdefault(name, []).append((version, value))
        return version

    def set_fault(self, fault: VaultFault | None) -> None:
        with self._lock:
            self.fault = fault
            self._release.clear()

    def release(self) -> None:
        self._release.set()

    def read_count(self, name: str) -> int:
        with self._lock:
            return self.reads[name]

    def wait_for_reads(self, name: str, count: int, timeout: float = 10) -> bool:
        with self._arrived:
            return self._arrived.wait_for(lambda: self.reads[name] >= count, timeout)

    def answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, str], dict[str, Any] | bytes | None]:
        parts = [part for part in urlsplit(path).path.split("/") if part]
        if len(parts) not in (2, 3) or parts[0] != "secrets":
            return 404, {}, {"error": {"code": "BadParameter", "message": "unknown path"}}
        token = (authorization or "").removeprefix("Bearer ")
        if not self.identity.is_valid(token):
            # The challenge that starts the SDK's flow: where to get a token, and for what.
            with self._lock:
                self.challenges += 1
            challenge = f'Bearer authorization="{ENTRA_AUTHORITY}", resource="https://vault.azure.net"'
            return 401, {"WWW-Authenticate": challenge}, {"error": {"code": "Unauthorized", "message": "no token"}}
        name = parts[1]
        with self._lock:
            self.reads[name] += 1
            self._arrived.notify_all()
            fault = self.fault
            versions = list(self.secrets.get(name, []))
        if fault is not None and fault.stall:
            self._release.wait(timeout=60)
            if not fault.then_answer:
                return -1, {}, None
        elif fault is not None and fault.drop:
            return -1, {}, None
        elif fault is not None and fault.body is not None:
            return 200, {"Content-Type": fault.content_type}, fault.body
        elif fault is not None:
            return fault.status, fault.headers, {"error": {"code": "Fault", "message": f"fault {fault.status}"}}
        wanted = parts[2] if len(parts) == 3 else None
        match = [item for item in versions if wanted in (None, item[0])]
        if not match:
            return (
                404,
                {},
                {"error": {"code": "SecretNotFound", "message": f"A secret with (name/id) {name} was not found"}},
            )
        version, value = match[-1]
        return (
            200,
            {},
            {
                "value": value,
                "id": f"{self.url}/secrets/{name}/{version}",
                "attributes": {"enabled": True, "created": 1_800_000_000, "updated": 1_800_000_000},
            },
        )


def _handler_for(vault: LocalKeyVault) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            status, headers, payload = vault.answer(self.path, self.headers.get("Authorization"))
            if status < 0:
                self.close_connection = True
                return
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.answer(status, body, {"Content-Type": "application/json; charset=utf-8", **headers})

    return Handler
