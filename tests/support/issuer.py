"""A local Entra-shaped OpenID issuer on 127.0.0.1: metadata, JWKS, rotation and faults."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from .entra import CLIENT_ID, HOME_TENANT, V1_ISSUER_TEMPLATE, claims, v2_issuer
from .http_server import LoopbackServer, QuietHandler
from .tokens import SigningKey, compact, make_key

_ROUTES = [
    (re.compile(r"^/([^/]+)/v2\.0/\.well-known/openid-configuration$"), "metadata-v2"),
    (re.compile(r"^/([^/]+)/\.well-known/openid-configuration$"), "metadata-v1"),
    (re.compile(r"^/([^/]+)/discovery/v2\.0/keys$"), "jwks"),
    (re.compile(r"^/([^/]+)/discovery/keys$"), "jwks-v1"),
]
MULTI_TENANT_SEGMENTS = ("common", "organizations")


@dataclass
class Fault:
    """How one endpoint misbehaves: a status, a body, a stall, or a dropped connection."""

    status: int = 200
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False
    drop: bool = False
    # Wait for release_stalls(), then answer normally (to hold requests in flight).
    hold: bool = False
    # Serve the real document with an extra member of this many bytes.
    pad_bytes: int = 0
    # Send the status line and headers, or the body, one byte per TRICKLE_INTERVAL: every
    # socket read stays under any per-read timeout while the whole answer takes minutes.
    trickle_headers: bool = False
    trickle_body: bool = False


TRICKLE_INTERVAL = 0.1
STALL = Fault(stall=True)
HOLD = Fault(hold=True)
DROP = Fault(drop=True)
HTML = Fault(body=b"<html><body>Service unavailable</body></html>", content_type="text/html")
GARBAGE = Fault(body=b"\x00\xff not json {")
WRONG_SHAPE = Fault(body=b'{"keys": "not-a-list", "issuer": 7}')
OVERSIZE = Fault(body=b'{"pad": "' + b"x" * (10 * 1024 * 1024) + b'"}')


def status(code: int, **headers: str) -> Fault:
    return Fault(status=code, body=b'{"error": "fault"}', headers=dict(headers))


# Every way a metadata or key endpoint fails in the tests; None: nothing listens at all.
ENDPOINT_FAULTS: dict[str, Fault | None] = {
    "connection-refused": None,
    "stall-past-timeout": STALL,
    "http-500": status(500),
    "http-429-retry-after": status(429, **{"Retry-After": "30"}),
    "html-not-json": HTML,
    "binary-garbage": GARBAGE,
    "json-wrong-shape": WRONG_SHAPE,
    "10-mb-body": OVERSIZE,
    "dropped-connection": DROP,
    "padded-valid-document": Fault(pad_bytes=300 * 1024),
    "trickled-headers": Fault(trickle_headers=True),
    "trickled-body": Fault(trickle_body=True),
}


def break_endpoint(issuer: LocalIssuer, fault_name: str, kind: str) -> None:
    fault = ENDPOINT_FAULTS[fault_name]
    if fault is None:
        issuer.stop()
    else:
        issuer.fault(kind, fault)


def heal(issuer: LocalIssuer, fault_name: str) -> None:
    if ENDPOINT_FAULTS[fault_name] is None:
        issuer.start()
    issuer.heal()


class LocalIssuer:
    """Serves Entra's path layout for any tenant; start() and stop() own its lifetime."""

    def __init__(self, keys: list[SigningKey] | None = None) -> None:
        self.keys: list[SigningKey] = keys or [make_key(index=0, kid="key-2026-a")]
        self.signer: SigningKey = self.keys[0]
        self.counts: Counter[str] = Counter()
        self.paths: list[str] = []
        # The request headers of the latest request of each kind.
        self.request_headers: dict[str, dict[str, str]] = {}
        self.faults: dict[str, Fault] = {}
        # The issuer the JWKS names for a key, by kid (Entra's keys carry one; ours by default none).
        self.key_issuers: dict[str, str] = {}
        # Where the v2 metadata says tokens come from, when not this server itself.
        self.metadata_issuer_base: str | None = None
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._release = threading.Event()
        self._server = LoopbackServer(_handler_for(self))
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalIssuer:
        self._release.clear()
        self._server.start()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        """Stop listening and cut open connections (requests are then refused); release stalls."""
        self._release.set()
        self._server.stop()

    def release_stalls(self) -> None:
        self._release.set()

    # --- keys -----------------------------------------------------------------------------
    def rotate(self, key: SigningKey | None = None) -> SigningKey:
        """Publish a new key and sign with it from now on (the old one stays published)."""
        new_key = key or make_key(index=len(self.keys), kid=f"key-rotated-{len(self.keys)}")
        with self._lock:
            self.keys.append(new_key)
            self.signer = new_key
        return new_key

    def retire(self, kid: str) -> None:
        with self._lock:
            self.keys = [key for key in self.keys if key.kid != kid]

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            keys = [key.public_jwk for key in self.keys]
            for jwk in keys:
                if jwk["kid"] in self.key_issuers:
                    jwk["issuer"] = self.key_issuers[jwk["kid"]]
            return {"keys": keys}

    # --- faults and counts --------------------------------------------------------------------
    def fault(self, kind: str, fault: Fault | None) -> None:
        with self._lock:
            if fault is None:
                self.faults.pop(kind, None)
            else:
                self.faults[kind] = fault

    def heal(self) -> None:
        with self._lock:
            self.faults.clear()
        self._release.set()

    def count(self, kind: str) -> int:
        with self._lock:
            return self.counts[kind]

    def wait_for_requests(self, kind: str, count: int, timeout: float = 10) -> bool:
        """Block until ``count`` requests of ``kind`` have arrived (no polling, no sleeps)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: self.counts[kind] >= count, timeout)

    # --- tokens ---------------------------------------------------------------------------------
    def claims(self, now: float, **options: Any) -> dict[str, Any]:
        return claims(self.base_url, now, **options)

    def token(
        self, now: float, *, key: SigningKey | None = None, header: dict[str, Any] | None = None, **options: Any
    ) -> str:
        signer = key or self.signer
        return compact(header or {"alg": "RS256", "typ": "JWT", "kid": signer.kid}, self.claims(now, **options), signer)

    # --- serving ------------------------------------------------------------------------------
    def document(self, kind: str, tenant: str) -> dict[str, Any]:
        placeholder = "{tenantid}" if tenant in MULTI_TENANT_SEGMENTS else tenant
        if kind == "metadata-v2":
            return {
                "issuer": v2_issuer(self.metadata_issuer_base or self.base_url, placeholder),
                "jwks_uri": f"{self.base_url}/{tenant}/discovery/v2.0/keys",
                "authorization_endpoint": f"{self.base_url}/{tenant}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.base_url}/{tenant}/oauth2/v2.0/token",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        if kind == "metadata-v1":
            return {
                "issuer": V1_ISSUER_TEMPLATE.replace("{tenantid}", placeholder),
                "jwks_uri": f"{self.base_url}/{tenant}/discovery/keys",
                "authorization_endpoint": f"{self.base_url}/{tenant}/oauth2/authorize",
                "token_endpoint": f"{self.base_url}/{tenant}/oauth2/token",
            }
        return self.jwks()

    def _record(self, path: str, headers: dict[str, str] | None = None) -> tuple[str, str | None, Fault | None]:
        kind, tenant = "other", None
        for pattern, name in _ROUTES:
            match = pattern.match(path)
            if match:
                kind, tenant = name, match.group(1)
                break
        with self._lock:
            self.counts[kind] += 1
            self.paths.append(path)
            self.request_headers[kind] = headers or {}
            self._arrived.notify_all()
            return kind, tenant, self.faults.get(kind)

    def _wait_for_release(self) -> None:
        self._release.wait(timeout=60)


def _handler_for(issuer: LocalIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            path = self.path.split("?", 1)[0]
            kind, tenant, fault = issuer._record(path, dict(self.headers.items()))
            if fault is not None and fault.stall:
                issuer._wait_for_release()
                self.close_connection = True
                return
            if fault is not None and fault.hold:
                issuer._wait_for_release()
                fault = None
            if fault is not None and fault.drop:
                self.close_connection = True
                return
            if fault is not None and (fault.status != 200 or fault.body is not None):
                self._send(fault.status, fault.body or b"", fault.content_type, fault.headers)
                return
            if tenant is None:
                self._send(404, b'{"error": "not_found"}', "application/json", {})
                return
            document = issuer.document(kind, tenant)
            if fault is not None and fault.pad_bytes:
                document["padding"] = "x" * fault.pad_bytes
            body = json.dumps(document).encode()
            if fault is not None and (fault.trickle_headers or fault.trickle_body):
                self._trickle(fault, body)
                return
            self._send(200, body, "application/json", {})

        def _trickle(self, fault: Fault, body: bytes) -> None:
            self.close_connection = True
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            for part, slowly in ((head.encode(), fault.trickle_headers), (body, fault.trickle_body)):
                chunks = [part[index : index + 1] for index in range(len(part))] if slowly else [part]
                for chunk in chunks:
                    try:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    except OSError:
                        return
                    # Released (healed or stopped): stop dripping.
                    if slowly and issuer._release.wait(TRICKLE_INTERVAL):
                        return

        def _send(self, code: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
            self.answer(code, body, {"Content-Type": content_type, **headers})

    return Handler


def auth_environ(issuer: LocalIssuer, **overrides: str) -> dict[str, str]:
    """App settings pointing at the local issuer; overrides add or replace settings."""
    environ = {
        "ENTRA_TENANT_ID": HOME_TENANT,
        "ENTRA_CLIENT_ID": CLIENT_ID,
        "ENTRA_INSTANCE": issuer.base_url,
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
        "ENTRA_FETCH_TIMEOUT_SECONDS": "2",
    }
    environ.update(overrides)
    return environ
