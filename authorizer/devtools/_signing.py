"""The local issuer's signing keys: RS256, published as a JWKS, rotated on request."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def _b64url_int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


# Keys published at once, as Entra publishes a handful: older ones retire, so the JWKS stays small
# however often a developer rotates.
MAX_PUBLISHED_KEYS = 4


class SigningKeys:
    """Signs with the newest key; the few before it stay published, so recent tokens still verify."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._published: list[dict[str, str]] = []
        self._count = 0
        self._kid, self._key = self._publish_new_key()

    def rotate(self) -> str:
        """Sign with a new key from now on; returns its kid."""
        kid, key = self._publish_new_key()
        with self._lock:
            self._kid, self._key = kid, key
        return kid

    def _publish_new_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = key.public_key().public_numbers()
        with self._lock:
            kid = f"dev-key-{self._count + 1}-{uuid.uuid4().hex[:8]}"
            jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid}
            self._published.append({**jwk, "n": _b64url_int(numbers.n), "e": _b64url_int(numbers.e)})
            del self._published[:-MAX_PUBLISHED_KEYS]
            self._count += 1
        return kid, key

    def public_key(self, kid: str) -> rsa.RSAPublicKey:
        """A published key, by kid, to verify what this issuer signed.

        Raises:
            KeyError: no key of that kid is published (any more).
        """
        with self._lock:
            published = next(jwk for jwk in self._published if jwk["kid"] == kid) if self._has(kid) else None
        if published is None:
            raise KeyError(kid)
        numbers = rsa.RSAPublicNumbers(_int(published["e"]), _int(published["n"]))
        return numbers.public_key()

    def _has(self, kid: str) -> bool:
        return any(jwk["kid"] == kid for jwk in self._published)

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [dict(jwk) for jwk in self._published]}

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact RS256 JWS of ``claims``, under the current key."""
        with self._lock:
            kid, key = self._kid, self._key
        header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}, separators=(",", ":")).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode("ascii")
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{b64url(signature)}"
